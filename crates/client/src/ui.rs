//! What a ceremony asks of the person in front of the machine: a PIN, a choice of account, and
//! what to show while the authenticator works.

use std::fmt;

use zeroize::Zeroizing;

pub use crate::device::KeepaliveStatus;

/// A PIN in Unicode Normalization Form C (UTF-8, CTAP 2.1 §6.5.1), zeroised on drop, never
/// printed.
pub struct Pin(Zeroizing<String>);

impl Pin {
    /// Wraps a PIN as typed, brought to Normalization Form C: platforms collect PINs "as
    /// Unicode characters in Normalization Form C" (CTAP 2.1 §6.5.5.5, §6.5.5.6), so the same
    /// PIN typed with precomposed or with combining characters hashes alike on every client,
    /// and its length in code points is the one the authenticator counts. A PIN already in NFC
    /// (every ASCII PIN) is kept as is; otherwise the normalizer's own small working buffer is
    /// the one copy that is not zeroised.
    pub fn new(pin: Zeroizing<String>) -> Self {
        if unicode_normalization::is_nfc(&pin) {
            return Self(pin);
        }
        // NFC is at most three times as long in UTF-8 (Unicode's stability policy), so the
        // string never reallocates and leaves no copy behind.
        let mut nfc = Zeroizing::new(String::with_capacity(pin.len() * 3));
        nfc.extend(unicode_normalization::UnicodeNormalization::nfc(
            pin.as_str(),
        ));
        Self(nfc)
    }

    /// The PIN's UTF-8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The length in Unicode code points, as CTAP 2.1 §6.5.1 counts it for minPINLength.
    pub fn code_points(&self) -> usize {
        self.0.chars().count()
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

/// Why a PIN is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinReason {
    /// To verify the user (getPinUvAuthToken).
    Verify,
    /// The previous PIN was wrong; ask again.
    Retry,
    /// A new PIN: the first one when none is set yet (set with clientPIN setPIN before the
    /// ceremony goes on), or the one replacing the current PIN.
    New,
    /// The current PIN, to change it.
    Current,
    /// The authenticator requires its PIN changed before it is used again (getInfo
    /// `forcePINChange`, CTAP 2.1 §6.4): the current PIN; the new one is asked next
    /// ([`PinReason::New`]).
    ChangeRequired,
}

/// A request for a PIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinRequest {
    /// Why.
    pub reason: PinReason,
    /// Attempts left before the PIN blocks, if the authenticator said.
    pub retries_left: Option<u64>,
    /// The shortest PIN the authenticator accepts (code points), for a new PIN.
    pub min_length: u64,
    /// Which authenticator asks (shown to the user).
    pub device: String,
}

/// Why the authenticator's built-in user verification (a fingerprint reader) is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UvReason {
    /// The first attempt: put the enrolled finger on the key.
    Verify,
    /// The previous finger was not recognised; try again.
    Retry,
}

/// Built-in user verification is about to be asked of the authenticator (clientPIN
/// getPinUvAuthTokenUsingUvWithPermissions, CTAP 2.1 §6.5.5.7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UvRequest {
    /// Why.
    pub reason: UvReason,
    /// Attempts left before built-in UV blocks (getUVRetries), once an attempt failed.
    pub retries_left: Option<u64>,
    /// Which authenticator asks (shown to the user).
    pub device: String,
}

/// How the authenticator's built-in user verification ended without a token, so that the PIN
/// takes over or the ceremony fails ([`crate::uv_token`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltInUvEnd {
    /// Built-in UV is blocked (uvRetries is 0): a right PIN unblocks it.
    Blocked,
    /// Not set up, PIN blocked for this power cycle, or the attempts used up.
    GaveUp,
}

/// The user (or the caller) gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled by the user")]
pub struct Cancelled;

/// A discoverable credential to choose from (CTAP 2.1 §6.2 `user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The credential ID.
    pub credential_id: Vec<u8>,
    /// `user.id`.
    pub user_id: Vec<u8>,
    /// `user.name`, if the authenticator returned it.
    pub name: Option<String>,
    /// `user.displayName`, if the authenticator returned it.
    pub display_name: Option<String>,
}

/// Something to show while the ceremony runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The authenticator waits for a touch.
    TouchNeeded,
    /// The authenticator is working.
    Processing,
    /// A new PIN was set (first use).
    PinSet,
}

impl From<KeepaliveStatus> for Status {
    fn from(k: KeepaliveStatus) -> Self {
        match k {
            KeepaliveStatus::UpNeeded => Self::TouchNeeded,
            KeepaliveStatus::Processing => Self::Processing,
        }
    }
}

/// A keepalive callback that shows `ui` each change of status once: keepalives arrive every
/// 100 ms while a key waits (CTAP 2.1 §11.2.9.1.5), and the user needs to be told once.
pub fn on_change<'a>(ui: &'a mut dyn CeremonyUi) -> impl FnMut(KeepaliveStatus) + 'a {
    let mut last: Option<Status> = None;
    move |k| {
        let status = Status::from(k);
        if last.as_ref() != Some(&status) {
            ui.status(status.clone());
            last = Some(status);
        }
    }
}

/// The person in front of the machine, as a ceremony sees them.
pub trait CeremonyUi {
    /// Asks for a PIN.
    fn pin(&mut self, request: &PinRequest) -> Result<Pin, Cancelled>;

    /// Asks which of `accounts` to sign in with; returns its index.
    fn choose_credential(&mut self, accounts: &[Account]) -> Result<usize, Cancelled>;

    /// Shows a status.
    fn status(&mut self, status: Status);

    /// The authenticator is about to verify the user with its built-in method (a fingerprint):
    /// tell them to use it, and after a failed attempt how many are left. A finger on the sensor
    /// is a touch, so by default this shows [`Status::TouchNeeded`].
    fn user_verification(&mut self, request: &UvRequest) {
        let _ = request;
        self.status(Status::TouchNeeded);
    }

    /// The authenticator's built-in user verification ended without a token (`end`), before
    /// the PIN was asked. A UI that runs a ceremony again after a question it could not answer
    /// at once keeps this for [`Self::earlier_built_in_uv_end`].
    fn built_in_uv_ended(&mut self, end: BuiltInUvEnd) {
        let _ = end;
    }

    /// How built-in user verification ended in an earlier run of this same ceremony on this
    /// same authenticator, if it ended without a token: then its attempts are not made again —
    /// each one costs an attempt of the key's real UV counter and asks the user's finger again.
    fn earlier_built_in_uv_end(&mut self) -> Option<BuiltInUvEnd> {
        None
    }
}

/// A UI that answers from fixed values: PINs in order (then cancels), the first account. For tests
/// and non-interactive use (`--pin-fd`).
#[derive(Debug, Default)]
pub struct ScriptedUi {
    pins: Vec<Pin>,
    /// Every PIN request seen, in order.
    pub pin_requests: Vec<PinRequest>,
    /// Every status shown, in order.
    pub statuses: Vec<Status>,
    /// The account index to choose.
    pub choice: usize,
    /// Every account list offered.
    pub choices_offered: Vec<Vec<Account>>,
    /// Every built-in user verification announced, in order.
    pub uv_requests: Vec<UvRequest>,
}

impl ScriptedUi {
    /// A UI that answers PIN requests with `pins`, in order.
    pub fn with_pins<I: IntoIterator<Item = S>, S: AsRef<str>>(pins: I) -> Self {
        let mut pins: Vec<Pin> = pins
            .into_iter()
            .map(|p| Pin::new(Zeroizing::new(p.as_ref().to_owned())))
            .collect();
        pins.reverse();
        Self {
            pins,
            ..Self::default()
        }
    }

    /// The PIN requests seen, in order, as (why, retries left): what a test asserts on.
    pub fn pins_asked(&self) -> Vec<(PinReason, Option<u64>)> {
        self.pin_requests
            .iter()
            .map(|r| (r.reason, r.retries_left))
            .collect()
    }
}

impl CeremonyUi for ScriptedUi {
    fn pin(&mut self, request: &PinRequest) -> Result<Pin, Cancelled> {
        self.pin_requests.push(request.clone());
        self.pins.pop().ok_or(Cancelled)
    }

    fn choose_credential(&mut self, accounts: &[Account]) -> Result<usize, Cancelled> {
        self.choices_offered.push(accounts.to_vec());
        if self.choice < accounts.len() {
            Ok(self.choice)
        } else {
            Err(Cancelled)
        }
    }

    fn status(&mut self, status: Status) {
        self.statuses.push(status);
    }

    fn user_verification(&mut self, request: &UvRequest) {
        self.uv_requests.push(request.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalives_reach_the_ui_once_per_change() {
        let mut ui = ScriptedUi::default();
        {
            let mut show = on_change(&mut ui);
            for k in [
                KeepaliveStatus::Processing,
                KeepaliveStatus::Processing,
                KeepaliveStatus::UpNeeded,
                KeepaliveStatus::UpNeeded,
                KeepaliveStatus::UpNeeded,
                KeepaliveStatus::Processing,
            ] {
                show(k);
            }
        }
        assert_eq!(
            ui.statuses,
            [Status::Processing, Status::TouchNeeded, Status::Processing]
        );
    }
}
