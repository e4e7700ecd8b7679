//! CTAPHID packets through the channel state machine.
//!
//! The input is a script of operations on one device: reports (with the CID optionally
//! replaced by a channel the device really allocated, so the fuzzer gets past channel checks),
//! ticks (by a given step, or straight to the device's next deadline), application answers,
//! keepalive status changes, restarts (channels kept) and power cycles (channels forgotten).
//! Every report the device sends is also fed to the host-side handshake and transaction
//! parsers. Nothing may panic, every message the device sends must announce a length within
//! the CTAPHID limit, and a deadline the device names is never in the past after a tick at it.
#![no_main]

use latchkey_ctap::hid::{
    ChannelId, Command, Device, DeviceConfig, Event, InitHandshake, InitResponse,
    KeepaliveStatus, Packet, Step, Transaction, MAX_MESSAGE, REPORT_SIZE,
};
use libfuzzer_sys::fuzz_target;

fn check_sent(events: &[Event], known: &mut Vec<ChannelId>) {
    for event in events {
        let Event::Send(report) = event else { continue };
        if let Packet::Init { cid, cmd, bcnt, data } = Packet::parse(report) {
            assert!(usize::from(bcnt) <= MAX_MESSAGE);
            if cmd == Command::INIT {
                if let Some(r) = InitResponse::parse(&data[..usize::from(bcnt).min(data.len())]) {
                    if cid == ChannelId::BROADCAST && known.len() < 16 {
                        known.push(r.cid);
                    }
                }
            }
        }
        let _ = InitHandshake::new([0; 8]).on_report(report);
        let cid = ChannelId(u32::from_be_bytes([report[0], report[1], report[2], report[3]]));
        if let Ok((tx, _)) = Transaction::start(cid, Command::CBOR, &[]) {
            match tx.on_report(report) {
                Step::Pending(_) | Step::Keepalive(..) | Step::Done(_) | Step::Failed(_) => {}
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut dev = Device::new(DeviceConfig::default());
    let mut now = 0u64;
    let mut known: Vec<ChannelId> = Vec::new();
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let events = match op % 8 {
            // A full report, CID as given or replaced by an allocated / the broadcast channel.
            0..=3 => {
                let n = rest.len().min(REPORT_SIZE);
                let mut report = [0u8; REPORT_SIZE];
                report[..n].copy_from_slice(&rest[..n]);
                rest = &rest[n..];
                match op % 4 {
                    1 if !known.is_empty() => {
                        let cid = known[usize::from(op >> 3) % known.len()];
                        report[..4].copy_from_slice(&cid.to_bytes());
                    }
                    2 => report[..4].copy_from_slice(&ChannelId::BROADCAST.to_bytes()),
                    _ => {}
                }
                dev.on_report(now, &report)
            }
            // A report of any size (report-ID prefixed, truncated, oversized).
            4 => {
                let n = rest.first().map_or(0, |b| usize::from(*b) % 80);
                rest = rest.get(1..).unwrap_or_default();
                let n = n.min(rest.len());
                let (raw, tail) = rest.split_at(n);
                rest = tail;
                dev.on_report(now, raw)
            }
            // Time passes.
            5 => {
                let step = rest.first().map_or(1, |b| u64::from(*b) * 8);
                rest = rest.get(1..).unwrap_or_default();
                now += step;
                dev.on_tick(now)
            }
            // The application answers (the running request, or a stray channel).
            6 => {
                let n = rest.first().map_or(0, |b| usize::from(*b));
                rest = rest.get(1..).unwrap_or_default();
                let n = n.min(rest.len());
                let (payload, tail) = rest.split_at(n);
                rest = tail;
                let cid = dev.processing().unwrap_or(ChannelId(u32::from(op)));
                dev.on_app_response(cid, payload)
            }
            _ => {
                match op >> 3 {
                    0 => dev.set_keepalive_status(KeepaliveStatus::UpNeeded),
                    1 => dev.set_keepalive_status(KeepaliveStatus::Processing),
                    2 => {
                        dev.power_cycle();
                        known.clear();
                    }
                    3 => dev.restart(),
                    4 => {
                        if let Some(due) = dev.next_deadline() {
                            now = now.max(due);
                            let events = dev.on_tick(now);
                            // Ticking at the deadline does what was due: the next one is later.
                            assert!(dev.next_deadline().is_none_or(|next| next > now));
                            check_sent(&events, &mut known);
                        }
                    }
                    _ => {}
                }
                Vec::new()
            }
        };
        check_sent(&events, &mut known);
    }
});
