//! Whether a secret (a PIN) shows in a log or a record. A short PIN such as "4321" is also a
//! substring of many numbers a log rightly holds (process IDs, ports, durations), so a plain
//! `contains` fails a correct run by chance; a leak is the secret as a whole token, not inside a
//! longer run of letters or digits.

/// The lines of `text` in which `secret` appears as a whole token; empty when it does not.
pub fn leaks<'a>(text: &'a str, secret: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|line| {
            line.match_indices(secret).any(|(at, _)| {
                let before = line[..at].chars().next_back();
                let after = line[at + secret.len()..].chars().next();
                !before.is_some_and(char::is_alphanumeric)
                    && !after.is_some_and(char::is_alphanumeric)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::leaks;

    #[test]
    fn a_secret_inside_a_longer_number_is_no_leak_and_a_whole_one_is() {
        let log = "pid=143215 port 43210\nclient 14321\npin=4321 sent\n\"4321\"";
        assert_eq!(leaks(log, "4321"), ["pin=4321 sent", "\"4321\""]);
        assert!(leaks("elapsed 0.432100 s", "4321").is_empty());
        assert_eq!(leaks("4321", "4321"), ["4321"]);
    }
}
