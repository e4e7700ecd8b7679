//! CTAP over NFC: APDU parsing and response reassembly, on both sides.
//!
//! First the ISO 7816-4 parsers on the raw input: a command APDU that parses re-encodes, short
//! and extended wherever it fits, to bytes that parse to the same APDU; a response re-encodes to
//! the input. Then the input is a script. The host's exchange (a CTAP request or a passed-through APDU, short
//! or extended) is fed card answers taken from the input, with time passing and polls or
//! cancels on status updates; the card's applet is fed command APDUs from the input, with the
//! application answering or still running. Nothing may panic; a finished exchange never holds
//! more than its limit; the applet never answers more than its Ne allows. Then a clean round
//! trip: a request and an answer from the input, through the host exchange and the applet
//! together, must arrive unchanged.
#![no_main]

use latchkey_ctap::iso7816::{CommandApdu, ResponseApdu};
use latchkey_ctap::nfc::{
    Action, Applet, AppletConfig, Encoding, Exchange, Job, Limits, Next, UpdateStatus,
};
use libfuzzer_sys::fuzz_target;

/// Takes a length byte and that many bytes (fewer if the input ends).
fn chunk<'a>(rest: &mut &'a [u8], scale: usize) -> &'a [u8] {
    let n = rest.first().map_or(0, |b| usize::from(*b) * scale);
    *rest = rest.get(1..).unwrap_or_default();
    let n = n.min(rest.len());
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    head
}

fn small_limits() -> Limits {
    Limits {
        max_response: 4096,
        max_rounds: 32,
        max_status_wait_ms: 2_000,
        max_polls_after_cancel: 4,
    }
}

/// The host's exchange against answers from the input.
fn host(rest: &mut &[u8], op: u8) {
    let encoding = if op & 1 == 0 { Encoding::Short } else { Encoding::Extended };
    let limits = small_limits();
    let request = chunk(rest, 4);
    let start = if op & 2 == 0 {
        Exchange::ctap(request, encoding, limits)
    } else {
        match CommandApdu::parse(request) {
            Ok(apdu) => Exchange::apdu(&apdu, encoding, limits),
            Err(_) => return,
        }
    };
    let Ok((mut exchange, _)) = start else { return };
    let mut now = 0u64;
    loop {
        let step = rest.first().copied().unwrap_or(0);
        now += u64::from(step) * 10;
        let answer = chunk(rest, 2);
        match exchange.on_response(now, answer) {
            Next::Transmit(next, apdu) => {
                assert!(apdu.len() <= 4 + 3 + 65_535 + 2);
                exchange = next;
            }
            Next::StatusUpdate(polling, _) => {
                let (next, _) = if step & 1 == 0 { polling.poll() } else { polling.cancel() };
                exchange = next;
            }
            Next::Done(response) => {
                assert!(response.len() <= limits.max_response + 2);
                return;
            }
            Next::Failed(_) => return,
        }
        if rest.is_empty() {
            return;
        }
    }
}

/// The card's applet against command APDUs from the input.
fn card(applet: &mut Applet, rest: &mut &[u8], op: u8) {
    let apdu = chunk(rest, 2);
    let ne = CommandApdu::parse(apdu).ok().and_then(|a| a.ne).map_or(256, |n| n as usize);
    let check = |reply: &[u8]| assert!(reply.len() <= ne.max(256).min(65_536) + 2);
    match applet.on_apdu(apdu) {
        Action::Reply(reply) | Action::Abandon(reply) => check(&reply),
        Action::Run { .. } | Action::Poll { .. } => {
            if op & 4 == 0 {
                if let Some(reply) = applet.finish(chunk(rest, 8).to_vec()) {
                    check(&reply);
                }
            } else if let Some(reply) = applet.still_running(UpdateStatus::UpNeeded) {
                assert_eq!(reply.len(), 3);
            }
        }
    }
    if op & 8 != 0 {
        applet.reset();
    }
}

/// A request and an answer from the input through both sides: they must arrive unchanged.
fn round_trip(rest: &mut &[u8], op: u8) {
    let encoding = if op & 1 == 0 { Encoding::Short } else { Encoding::Extended };
    let mut request = chunk(rest, 8).to_vec();
    if request.is_empty() {
        request.push(0x04);
    }
    let answer = chunk(rest, 16).to_vec();
    let mut applet = Applet::new(AppletConfig::default());
    let select = latchkey_ctap::nfc::select_command().to_short_bytes().unwrap_or_default();
    let selected = applet.on_apdu(&select);
    assert!(matches!(selected, Action::Reply(ref r) if ResponseApdu::parse(r).is_some()));
    let Ok((mut exchange, mut apdu)) = Exchange::ctap(&request, encoding, Limits::default()) else {
        return;
    };
    let mut busy = usize::from(op >> 4);
    for now in 0.. {
        let reply = match applet.on_apdu(&apdu) {
            Action::Reply(r) | Action::Abandon(r) => r,
            Action::Run { job, .. } => {
                assert_eq!(job, Job::Ctap(request.clone()));
                if busy > 0 {
                    busy -= 1;
                    applet.still_running(UpdateStatus::Processing).unwrap_or_default()
                } else {
                    applet.finish(answer.clone()).unwrap_or_default()
                }
            }
            Action::Poll { .. } => {
                if busy > 0 {
                    busy -= 1;
                    applet.still_running(UpdateStatus::Processing).unwrap_or_default()
                } else {
                    applet.finish(answer.clone()).unwrap_or_default()
                }
            }
        };
        match exchange.on_response(now * 100, &reply) {
            Next::Transmit(next, a) => (exchange, apdu) = (next, a),
            Next::StatusUpdate(polling, _) => (exchange, apdu) = polling.poll(),
            Next::Done(response) => {
                assert_eq!(response, answer);
                return;
            }
            Next::Failed(e) => {
                let too_long = answer.len() > Limits::default().max_response;
                assert!(too_long, "a clean round trip failed: {e}");
                return;
            }
        }
    }
}

/// The parsers on the raw input (module doc).
fn parsers(data: &[u8]) {
    if let Ok(apdu) = CommandApdu::parse(data) {
        for bytes in [apdu.to_short_bytes(), apdu.to_extended_bytes()].into_iter().flatten() {
            assert_eq!(CommandApdu::parse(&bytes).as_ref(), Ok(&apdu), "{bytes:02x?}");
        }
    }
    if let Some(response) = ResponseApdu::parse(data) {
        assert_eq!(response.to_bytes(), data);
    }
}

fuzz_target!(|data: &[u8]| {
    parsers(data);
    let mut rest = data;
    let mut applet = Applet::new(AppletConfig::default());
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        match op % 4 {
            0 => host(&mut rest, op >> 2),
            1 | 2 => card(&mut applet, &mut rest, op >> 2),
            _ => round_trip(&mut rest, op >> 2),
        }
    }
});
