use super::*;
use std::path::Path;

/// The value of the one line starting with `key` in `text`, as bytes.
fn value<'a>(text: &'a [u8], key: &str) -> &'a [u8] {
    let lines: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .filter(|l| l.starts_with(key.as_bytes()))
        .collect();
    assert_eq!(lines.len(), 1, "one {key} line");
    &lines[0][key.len()..]
}

#[test]
fn installed_prompt_files_start_the_executable_the_shipped_policy_trusts() {
    assert!(shipped_policy_trusts(Path::new(TRUSTED_UI)));
    assert!(!shipped_policy_trusts(Path::new(
        "/usr/local/bin/latchkey-ui"
    )));
    let t = tempfile::tempdir().unwrap();
    let dirs = UserDirs {
        data_home: t.path().join("data"),
        config_home: t.path().join("config"),
    };
    let files = install_prompt(&dirs).unwrap();
    assert_eq!(
        files,
        [
            t.path()
                .join("data/dbus-1/services/dev.latchkey.Prompt.service"),
            t.path().join("config/systemd/user/latchkey-ui.service"),
            t.path()
                .join("data/applications/dev.latchkey.Passkeys.desktop"),
        ]
    );
    let read = |p: &PathBuf| std::fs::read(p).unwrap();
    let (service, unit, desktop) = (read(&files[0]), read(&files[1]), read(&files[2]));
    let trusted = b"/usr/libexec/latchkey-ui";
    assert_eq!(value(&service, "Exec="), trusted);
    assert_eq!(value(&unit, "ExecStart="), trusted);
    assert_eq!(
        value(&desktop, "Exec="),
        b"/usr/libexec/latchkey-ui --manage"
    );
    // Activation goes through systemd --user (the policy's bus_started), for the same bus name.
    assert_eq!(value(&service, "SystemdService="), b"latchkey-ui.service");
    assert_eq!(value(&service, "Name="), b"dev.latchkey.Prompt");
    assert_eq!(value(&unit, "BusName="), b"dev.latchkey.Prompt");
    assert_eq!(value(&unit, "Type="), b"dbus");
    let text = String::from_utf8(unit.clone()).unwrap();
    for line in ["NoNewPrivileges=yes", "RestrictAddressFamilies=AF_UNIX"] {
        assert!(text.lines().any(|l| l == line), "{line} missing");
    }
    // A user manager cannot drop the bounding set: a user unit naming either of these fails to
    // start (218/CAPABILITIES).
    for setting in ["CapabilityBoundingSet", "AmbientCapabilities"] {
        assert!(
            !text.lines().any(|l| l.starts_with(&format!("{setting}="))),
            "{setting}= in:\n{text}"
        );
    }
    assert!(
        !String::from_utf8(desktop).unwrap().contains('@'),
        "template fully filled"
    );
    assert_eq!(uninstall_prompt(&dirs).unwrap(), files);
    assert!(files.iter().all(|f| !f.exists()));
    assert!(uninstall_prompt(&dirs).unwrap().is_empty());
}
