//! `latchkey demo`: a passkey registered and used end to end, explained step by step.
//!
//! A throwaway platform store (a temporary directory unless `--store`), a demo PIN set
//! non-interactively, a registration for `https://demo.latchkey.dev` and a sign-in, each response
//! verified as a relying party would.

use std::path::PathBuf;
use std::process::ExitCode;

use latchkey_client::device::{
    CancelHandle, Device, DeviceDescription, DeviceError, KeepaliveStatus,
};
use latchkey_client::platform::PlatformDevice;
use latchkey_client::{CreateRequest, GetRequest, ScriptedUi};
use latchkey_ctap::authdata::{AuthenticatorData, Flags};
use latchkey_ctap::command::Command as CtapCommand;
use latchkey_webauthn::{b64, WebAuthnError};

use crate::common::fail;

/// The demo relying party's origin.
pub const ORIGIN: &str = "https://demo.latchkey.dev";
/// The demo relying party's RP ID.
pub const RP_ID: &str = "demo.latchkey.dev";
/// The demo platform PIN.
pub const DEMO_PIN: &str = "246810";

/// Options of `latchkey demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Use this directory as the platform store instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
    /// Keep the temporary store (its path is printed).
    #[arg(long)]
    keep: bool,
}

/// A device that remembers which CTAP commands it was sent.
struct Recording<D> {
    inner: D,
    log: Vec<String>,
}

fn describe(request: &[u8]) -> String {
    let Some((&code, body)) = request.split_first() else {
        return "(empty request)".to_owned();
    };
    let name = match CtapCommand::try_from(code) {
        Ok(CtapCommand::MakeCredential) => "authenticatorMakeCredential",
        Ok(CtapCommand::GetAssertion) => "authenticatorGetAssertion",
        Ok(CtapCommand::GetInfo) => "authenticatorGetInfo",
        Ok(CtapCommand::ClientPin) => "authenticatorClientPIN",
        Ok(CtapCommand::GetNextAssertion) => "authenticatorGetNextAssertion",
        Ok(CtapCommand::LargeBlobs) => "authenticatorLargeBlobs",
        Ok(CtapCommand::CredentialManagement) => "authenticatorCredentialManagement",
        Ok(CtapCommand::Selection) => "authenticatorSelection",
        Ok(_) | Err(_) => "another command",
    };
    let detail = match latchkey_ctap::command::Request::decode(request) {
        Ok(latchkey_ctap::command::Request::ClientPin(p)) => match p.subcommand() {
            0x01 => " (getPINRetries)",
            0x02 => " (getKeyAgreement)",
            0x03 => " (setPIN)",
            0x04 => " (changePIN)",
            0x05 => " (getPinToken)",
            0x09 => " (getPinUvAuthTokenUsingPinWithPermissions)",
            _ => "",
        }
        .to_owned(),
        Ok(latchkey_ctap::command::Request::MakeCredential(m)) => format!(
            " (rk={}, pinUvAuthParam {}, algorithms {:?})",
            m.options.rk.unwrap_or(false),
            if m.pin_uv_auth_param.is_some() {
                "present"
            } else {
                "absent"
            },
            m.pub_key_cred_params
                .iter()
                .map(|p| p.alg.0)
                .collect::<Vec<_>>()
        ),
        Ok(latchkey_ctap::command::Request::GetAssertion(g)) => format!(
            " (up={}, allowList {}, pinUvAuthParam {})",
            g.options.up.unwrap_or(true),
            g.allow_list.as_ref().map_or(0, Vec::len),
            if g.pin_uv_auth_param.is_some() {
                "present"
            } else {
                "absent"
            }
        ),
        _ => String::new(),
    };
    let _ = body;
    format!("{name}{detail}")
}

impl<D: Device> Device for Recording<D> {
    fn info(&self) -> DeviceDescription {
        self.inner.info()
    }
    fn cbor(
        &mut self,
        request: &[u8],
        status: &mut dyn FnMut(KeepaliveStatus),
    ) -> Result<Vec<u8>, DeviceError> {
        self.log.push(describe(request));
        self.inner.cbor(request, status)
    }
    fn msg(&mut self, apdu: &[u8]) -> Result<Vec<u8>, DeviceError> {
        self.log.push("U2F message".to_owned());
        self.inner.msg(apdu)
    }
    fn cancel_handle(&self) -> CancelHandle {
        self.inner.cancel_handle()
    }
}

impl<D> Recording<D> {
    fn drain(&mut self) -> Vec<String> {
        std::mem::take(&mut self.log)
    }
}

fn random(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    // A demo challenge: if the system RNG fails, zeros still demonstrate the flow.
    let _ = aws_lc_rs::rand::fill(&mut b);
    b
}

fn flags(auth_data: &[u8]) -> Result<(String, u32), WebAuthnError> {
    let ad = AuthenticatorData::parse(auth_data)
        .map_err(|e| WebAuthnError::unknown(format!("authenticatorData: {e}")))?;
    let f = ad.flags;
    let bit = |mask: u8, name: &str| format!("{name}={}", u8::from(f.has(mask)));
    Ok((
        [
            bit(Flags::UP, "UP"),
            bit(Flags::UV, "UV"),
            bit(Flags::BE, "BE"),
            bit(Flags::BS, "BS"),
        ]
        .join(" "),
        ad.sign_count,
    ))
}

fn step(n: u32, title: &str) {
    println!("\n{n}. {title}");
}

fn asked(log: &[String]) {
    for line in log {
        println!("   → authenticator asked: {line}");
    }
}

fn run_demo(dir: &std::path::Path) -> Result<(), WebAuthnError> {
    println!("Latchkey demo: a passkey for {ORIGIN}, with the platform authenticator");
    println!("Credential store: {}", dir.display());
    let platform = PlatformDevice::open(Some(dir), |_| true)
        .map_err(|e| WebAuthnError::unknown(e.to_string()))?;
    let mut device = Recording {
        inner: platform,
        log: Vec::new(),
    };
    // One PIN for first use (set, then used for the token), one for the sign-in.
    let mut ui = ScriptedUi::with_pins([DEMO_PIN, DEMO_PIN]);

    step(1, "Register a passkey (navigator.credentials.create)");
    let user_id = random(16);
    let challenge = random(32);
    let options = serde_json::json!({
        "rp": {"id": RP_ID, "name": "Latchkey demo"},
        "user": {"id": b64::encode(&user_id), "name": "alice@demo.latchkey.dev", "displayName": "Alice"},
        "challenge": b64::encode(&challenge),
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -8}],
        "authenticatorSelection": {"residentKey": "required", "userVerification": "required"},
        "attestation": "none",
        "extensions": {"credProps": true}
    });
    let options_bytes = options.to_string().into_bytes();
    let request = CreateRequest::new(&options_bytes, ORIGIN, None)?;
    println!(
        "   origin {ORIGIN}, RP ID {}, user alice@demo.latchkey.dev",
        request.rp_id
    );
    println!("   No platform PIN is set in this store: the demo sets the demo PIN {DEMO_PIN:?} (non-interactive).");
    let registration = latchkey_client::register(&mut device, &request, &mut ui)?;
    asked(&device.drain());
    let (flag_text, count) = flags(&registration.authenticator_data)?;
    let response = registration.to_response()?;
    println!("   flags: {flag_text}");
    println!("   credential ID: {}", response.id);
    println!(
        "   public key algorithm: {} ({})",
        response.response.public_key_algorithm,
        match response.response.public_key_algorithm {
            -7 => "ES256",
            -8 => "EdDSA",
            _ => "other",
        }
    );
    println!("   sign count: {count}");
    println!(
        "   credProps.rk: {}",
        registration
            .extensions
            .cred_props
            .as_ref()
            .and_then(|c| c.rk)
            .unwrap_or(false)
    );
    let stored = crate::demo_verify::registration(&registration, &challenge, &user_id)?;
    println!("   relying party: registration verified (RP ID hash, origin, challenge, flags)");

    step(
        2,
        "Sign in with the passkey (navigator.credentials.get, no allowCredentials)",
    );
    let challenge = random(32);
    let options = serde_json::json!({
        "challenge": b64::encode(&challenge),
        "rpId": RP_ID,
        "userVerification": "required"
    });
    let options_bytes = options.to_string().into_bytes();
    let request = GetRequest::new(&options_bytes, ORIGIN, None)?;
    println!("   origin {ORIGIN}, RP ID {}", request.rp_id);
    let assertion = latchkey_client::authenticate(&mut device, &request, &mut ui)?;
    asked(&device.drain());
    let (flag_text, count) = flags(&assertion.authenticator_data)?;
    println!("   flags: {flag_text}");
    println!(
        "   credential ID: {}",
        b64::encode(&assertion.credential_id)
    );
    println!(
        "   user handle: {}",
        assertion
            .user_handle
            .as_deref()
            .map(b64::encode)
            .unwrap_or_default()
    );
    println!("   sign count: {count}");
    crate::demo_verify::assertion(&assertion, &challenge, &stored)?;
    println!("   relying party: assertion verified (signature with the registered public key)");
    println!("\nDone: the passkey was created and used, and both responses verified.");
    Ok(())
}

/// Runs `latchkey demo`.
pub fn run(args: Args) -> ExitCode {
    let dir = match &args.store {
        Some(d) => d.clone(),
        None => match tempfile::Builder::new().prefix("latchkey-demo-").tempdir() {
            Ok(t) => t.keep(),
            Err(e) => {
                return fail(
                    &WebAuthnError::unknown(format!("cannot make a temporary store: {e}")),
                    false,
                )
            }
        },
    };
    let result = run_demo(&dir);
    if args.store.is_none() {
        if args.keep {
            println!("Kept the store at {}.", dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e, false),
    }
}
