//! `ChangePlatformPin`: the platform authenticator's PIN changed from the Passkeys window (or any
//! caller management is allowed to). latchkeyd asks the *trusted* prompt's `ChangePin` (Prompt1
//! version 2) for the current and the new PIN, each through a pipe of its own, never as a D-Bus
//! string; it then changes the PIN in the platform authenticator (CTAP 2.1 §6.5.5.6
//! changePIN, through `latchkey_client::manage::change_pin`). A caller-controlled prompt is never
//! asked: like a first platform PIN (see [`crate::platform_pin`]), a new one is set only where
//! the user is sure to be talking to latchkeyd.

use std::collections::HashMap;

use latchkey_api::Error;
use latchkey_prompt::{pin, response};
use zbus::zvariant::Value;
use zbus::Connection;
use zeroize::Zeroizing;

use crate::identity::CallerIdentity;
use crate::prompt::{ChosenPrompt, Trust};
use crate::queue::caller_key;
use crate::state::Shared;

/// The shortest platform PIN the prompt lets the user choose (CTAP 2.1's minimum).
const MIN_PIN_LENGTH: u32 = 4;

/// The trusted prompt for a management call that asks the user for secrets (PINs, a touch), or
/// `CallerRefused` when none runs: a caller-controlled prompt is never asked.
pub(crate) async fn trusted_prompt(
    shared: &Shared,
    conn: &Connection,
    caller: &CallerIdentity,
) -> Result<ChosenPrompt, Error> {
    crate::request::choose_prompt(shared, conn, caller)
        .await
        .filter(|p| p.trust == Trust::Trusted)
        .ok_or_else(|| {
            Error::CallerRefused("no trusted prompt is available to ask for the PINs".into())
        })
}

/// Tells the prompt request `id` is over (its dialog closes).
pub(crate) async fn dismiss(prompt: &ChosenPrompt, id: &str) {
    if let Err(e) = prompt.proxy.dismiss(id).await {
        tracing::debug!(error = %e, "dismissing the prompt failed");
    }
}

/// Asks `prompt`'s `ChangePin` for the current and the new PIN of the authenticator `details`
/// describe, each through a pipe of its own. On failure the prompt is dismissed; on success the
/// caller dismisses it when the change is done.
pub(crate) async fn ask_pins(
    prompt: &ChosenPrompt,
    id: &str,
    details: HashMap<&str, Value<'_>>,
) -> Result<(Zeroizing<String>, Zeroizing<String>), Error> {
    let fail = |what: &str, e: std::io::Error| Error::Failed(format!("{what}: {e}"));
    let (current_r, current_w) = pin::pipe().map_err(|e| fail("pipe", e))?;
    let (new_r, new_w) = pin::pipe().map_err(|e| fail("pipe", e))?;
    let code = {
        use std::os::fd::AsFd as _;
        let current = zbus::zvariant::Fd::from(current_w.as_fd());
        let new = zbus::zvariant::Fd::from(new_w.as_fd());
        prompt
            .answer(prompt.proxy.change_pin(id, details, current, new))
            .await
    };
    drop((current_w, new_w));
    let code = match code {
        Ok(c) => c,
        Err(e) => {
            dismiss(prompt, id).await;
            return Err(Error::from_webauthn(&e));
        }
    };
    if code != response::APPROVED {
        dismiss(prompt, id).await;
        return Err(Error::CallerRefused(
            "the user did not change the PIN".into(),
        ));
    }
    let pins = pin::read_pin(current_r).and_then(|c| pin::read_pin(new_r).map(|n| (c, n)));
    let (current, new) = match pins {
        Ok(p) => p,
        Err(e) => {
            dismiss(prompt, id).await;
            return Err(Error::CallerRefused(format!(
                "reading the PINs failed: {e}"
            )));
        }
    };
    let text = |p: &latchkey_prompt::Pin| {
        std::str::from_utf8(p.expose())
            .map(|s| Zeroizing::new(s.to_owned()))
            .map_err(|_| Error::InvalidArgument("a PIN is not UTF-8".into()))
    };
    match (text(&current), text(&new)) {
        (Ok(c), Ok(n)) => Ok((c, n)),
        (Err(e), _) | (_, Err(e)) => {
            dismiss(prompt, id).await;
            Err(e)
        }
    }
}

/// Asks the trusted prompt for the PINs and changes the platform authenticator's PIN.
pub(crate) async fn change_platform_pin(
    shared: &Shared,
    conn: &Connection,
    caller: &CallerIdentity,
) -> Result<(), Error> {
    let prompt = trusted_prompt(shared, conn, caller).await?;
    let id = shared.next_request_id().to_string();
    let details: HashMap<&str, Value<'_>> = HashMap::from([
        ("authenticator", Value::from("This device")),
        ("authenticator_kind", Value::from("platform")),
        ("min_length", Value::from(MIN_PIN_LENGTH)),
    ]);
    let (current, new) = ask_pins(&prompt, &id, details).await?;
    let store = shared.settings.backends.store.clone();
    let changed = shared
        .calls
        .call(caller_key(caller, shared.settings.uid), "PIN", move || {
            store.change_pin(&current, &new)
        })
        .await;
    dismiss(&prompt, &id).await;
    match changed? {
        Err(e) => {
            tracing::info!(
                error = e.name(),
                message = e.message(),
                "platform PIN not changed"
            );
            Err(Error::from_webauthn(&e))
        }
        Ok(()) => {
            tracing::info!(by = %caller.display_name(), "platform PIN changed");
            Ok(())
        }
    }
}
