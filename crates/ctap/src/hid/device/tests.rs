//! The corner cases of CTAP 2.1 §11.2.9 as shipped keys and the conformance suites show them:
//! interleaved channels, timeouts driven by the deadline, busy answers, adopted channels and the
//! firmware restart.

use crate::hid::packet::{fragment, Message, Progress, Reassembler};
use crate::hid::{
    ChannelId, Command, Device, DeviceConfig, ErrorCode, Event, InitHandshake, KeepaliveStatus,
    Report, KEEPALIVE_INTERVAL_MS, MAX_ADOPTED, MESSAGE_TIMEOUT_MS,
};

const NONCE: [u8; 8] = [8, 7, 6, 5, 4, 3, 2, 1];

/// Every message the device sent, reassembled (each message's packets are contiguous).
fn messages(events: &[Event]) -> Vec<Message> {
    let mut out = Vec::new();
    let mut rx: Option<Reassembler> = None;
    for event in events {
        let Event::Send(report) = event else { continue };
        let progress = match crate::hid::Packet::parse(report) {
            crate::hid::Packet::Init {
                cid,
                cmd,
                bcnt,
                data,
            } => Reassembler::start(cid, cmd, bcnt, data).unwrap(),
            crate::hid::Packet::Cont { seq, data, .. } => {
                rx.take().unwrap().push(seq, data).unwrap()
            }
        };
        match progress {
            Progress::Complete(m) => out.push(m),
            Progress::Incomplete(r) => rx = Some(r),
        }
    }
    assert!(rx.is_none(), "incomplete message sent");
    out
}

fn one(events: &[Event]) -> Message {
    let m = messages(events);
    assert_eq!(m.len(), 1, "{events:?}");
    m.into_iter().next().unwrap()
}

fn error_of(events: &[Event]) -> (ChannelId, ErrorCode) {
    let m = one(events);
    assert_eq!(m.cmd, Command::ERROR, "{m:?}");
    (m.cid, ErrorCode(m.payload[0]))
}

fn frames(cid: ChannelId, cmd: Command, payload: &[u8]) -> Vec<Report> {
    fragment(cid, cmd, payload).unwrap().collect()
}

/// CTAPHID_INIT on `cid` (the broadcast channel allocates); returns the channel answered.
fn init_on(dev: &mut Device, now: u64, cid: ChannelId) -> ChannelId {
    let hs = if cid == ChannelId::BROADCAST {
        InitHandshake::new(NONCE)
    } else {
        InitHandshake::resync(cid, NONCE)
    };
    let events = dev.on_report(now, &hs.report());
    let Event::Send(r) = &events[events.len() - 1] else {
        panic!("{events:?}")
    };
    hs.on_report(r).unwrap().unwrap().cid
}

fn init(dev: &mut Device) -> ChannelId {
    init_on(dev, 0, ChannelId::BROADCAST)
}

#[test]
fn init_on_another_channel_is_answered_while_a_message_is_partly_received() {
    let mut dev = Device::new(DeviceConfig::default());
    let a = init(&mut dev);
    let b = init(&mut dev);
    let ping = frames(a, Command::PING, &[0x44; 150]);
    assert!(dev.on_report(10, &ping[0]).is_empty());
    assert!(dev.on_report(11, &ping[1]).is_empty());
    // An allocated channel and one the host made up are both answered at once, in one packet.
    for other in [b, ChannelId(0x1122_3344)] {
        let events = dev.on_report(12, &InitHandshake::resync(other, NONCE).report());
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(init_on(&mut dev, 12, other), other);
    }
    // The interrupted message is still there and completes.
    let m = one(&dev.on_report(13, &ping[2]));
    assert_eq!(
        (m.cid, m.cmd, m.payload),
        (a, Command::PING, vec![0x44; 150])
    );
    // The channel the host made up is now a channel like any other.
    let m = one(&dev.on_report(14, &frames(ChannelId(0x1122_3344), Command::PING, &[1])[0]));
    assert_eq!(m.payload, vec![1]);
}

#[test]
fn a_partial_message_times_out_at_its_deadline() {
    let mut dev = Device::new(DeviceConfig::default());
    assert_eq!(dev.next_deadline(), None);
    let a = init(&mut dev);
    let ping = frames(a, Command::PING, &[1; 100]);
    dev.on_report(1000, &ping[0]);
    assert_eq!(dev.next_deadline(), Some(1000 + MESSAGE_TIMEOUT_MS));
    assert!(dev.on_tick(1000 + MESSAGE_TIMEOUT_MS - 1).is_empty());
    assert_eq!(
        error_of(&dev.on_tick(1000 + MESSAGE_TIMEOUT_MS)),
        (a, ErrorCode::MSG_TIMEOUT)
    );
    assert_eq!(dev.next_deadline(), None);
    assert!(!dev.is_busy());
    // Between half a second and a second, as the conformance suites check.
    assert!((500..=1000).contains(&MESSAGE_TIMEOUT_MS));
}

#[test]
fn init_packet_where_a_continuation_is_due_and_a_skipped_sequence_are_invalid_seq() {
    let mut dev = Device::new(DeviceConfig::default());
    let a = init(&mut dev);
    let ping = frames(a, Command::PING, &[2; 300]);
    dev.on_report(0, &ping[0]);
    dev.on_report(0, &ping[1]);
    // A CBOR initialization packet on the same channel.
    let cbor = frames(a, Command::CBOR, &[4]);
    assert_eq!(
        error_of(&dev.on_report(1, &cbor[0])),
        (a, ErrorCode::INVALID_SEQ)
    );
    assert!(!dev.is_busy());
    // Sequence 0, 1, then 3.
    dev.on_report(2, &ping[0]);
    dev.on_report(2, &ping[1]);
    dev.on_report(2, &ping[2]);
    assert_eq!(
        error_of(&dev.on_report(2, &ping[4])),
        (a, ErrorCode::INVALID_SEQ)
    );
    assert!(!dev.is_busy());
    assert_eq!(dev.next_deadline(), None);
}

#[test]
fn another_channel_is_busy_while_a_message_arrives_interleaved_or_not() {
    let mut dev = Device::new(DeviceConfig::default());
    let a = init(&mut dev);
    let b = init(&mut dev);
    let ping_a = frames(a, Command::PING, &[0xa; 99]);
    let ping_b = frames(b, Command::PING, &[0xb; 99]);
    assert!(dev.on_report(0, &ping_a[0]).is_empty());
    // Interleaved: b's initialization packet is busy, its continuation ignored.
    assert_eq!(
        error_of(&dev.on_report(1, &ping_b[0])),
        (b, ErrorCode::CHANNEL_BUSY)
    );
    assert!(dev.on_report(2, &ping_b[1]).is_empty());
    // A channel nobody allocated is busy too: busy is answered before the channel is looked up.
    let stranger = ChannelId(0x0122_3344);
    let ping_s = frames(stranger, Command::PING, &[1]);
    assert_eq!(
        error_of(&dev.on_report(3, &ping_s[0])),
        (stranger, ErrorCode::CHANNEL_BUSY)
    );
    let m = one(&dev.on_report(4, &ping_a[1]));
    assert_eq!((m.cid, m.payload), (a, vec![0xa; 99]));
    // Idle again: the stranger is told its channel is not allocated.
    assert_eq!(
        error_of(&dev.on_report(5, &ping_s[0])),
        (stranger, ErrorCode::INVALID_CHANNEL)
    );
}

#[test]
fn another_channel_is_busy_while_a_request_is_processed_and_the_first_completes() {
    let mut dev = Device::new(DeviceConfig::default());
    let a = init(&mut dev);
    let b = init(&mut dev);
    let cbor_a = frames(a, Command::CBOR, &[0x04; 80]);
    dev.on_report(0, &cbor_a[0]);
    let events = dev.on_report(0, &cbor_a[1]);
    assert!(matches!(&events[..], [Event::Dispatch(r)] if r.cid == a));
    for (t, report) in [
        frames(b, Command::PING, &[1])[0],
        frames(b, Command::CBOR, &[0x04])[0],
        frames(b, Command::MSG, &[0; 70])[0],
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(
            error_of(&dev.on_report(1 + t as u64, report)),
            (b, ErrorCode::CHANNEL_BUSY)
        );
    }
    let m = one(&dev.on_app_response(a, &[0x00, 0xa0]));
    assert_eq!(
        (m.cid, m.cmd, m.payload),
        (a, Command::CBOR, vec![0x00, 0xa0])
    );
    assert_eq!(
        one(&dev.on_report(5, &frames(b, Command::PING, &[1])[0])).cid,
        b
    );
}

#[test]
fn restart_keeps_channels_and_drops_the_transaction_and_lock() {
    let mut dev = Device::new(DeviceConfig::default());
    let a = init(&mut dev);
    let adopted = init_on(&mut dev, 0, ChannelId(0x0505_0505));
    one(&dev.on_report(0, &frames(a, Command::LOCK, &[5])[0]));
    dev.on_report(1, &frames(a, Command::CBOR, &[1])[0]);
    assert_eq!(dev.processing(), Some(a));
    dev.restart();
    assert!(!dev.is_busy());
    assert_eq!(dev.next_deadline(), None);
    // The request's answer is gone with the firmware that computed it.
    assert!(dev.on_app_response(a, &[0]).is_empty());
    for cid in [a, adopted] {
        assert_eq!(
            one(&dev.on_report(2, &frames(cid, Command::PING, &[3])[0])).cid,
            cid
        );
    }
    // Numbering goes on: no host is handed a channel another host holds.
    assert_eq!(init(&mut dev), ChannelId(a.0 + 1));
}

#[test]
fn adopted_channels_are_bounded_and_never_handed_out_again() {
    let mut dev = Device::new(DeviceConfig::default());
    // CIDs a host picked that the counter would reach next.
    for n in 0..=MAX_ADOPTED as u32 {
        init_on(&mut dev, 0, ChannelId(2 + n));
    }
    // The oldest adoption was forgotten; the counter skips the adopted ones.
    assert_eq!(init(&mut dev), ChannelId(1));
    assert_eq!(init(&mut dev), ChannelId(2));
    assert_eq!(init(&mut dev), ChannelId(MAX_ADOPTED as u32 + 3));
    let forgotten = ChannelId(0x7000_0000);
    init_on(&mut dev, 0, forgotten);
    for n in 0..MAX_ADOPTED as u32 {
        init_on(&mut dev, 0, ChannelId(0x7100_0000 + n));
    }
    assert_eq!(
        error_of(&dev.on_report(0, &frames(forgotten, Command::PING, &[1])[0])),
        (forgotten, ErrorCode::INVALID_CHANNEL)
    );
}

#[test]
fn keepalive_and_lock_deadlines() {
    let mut dev = Device::new(DeviceConfig::default());
    let a = init(&mut dev);
    dev.on_report(100, &frames(a, Command::CBOR, &[1])[0]);
    assert_eq!(dev.next_deadline(), Some(100 + KEEPALIVE_INTERVAL_MS));
    // A status change is due at once.
    dev.set_keepalive_status(KeepaliveStatus::UpNeeded);
    assert_eq!(dev.next_deadline(), Some(100));
    let m = one(&dev.on_tick(120));
    assert_eq!((m.cmd, m.payload), (Command::KEEPALIVE, vec![2]));
    assert_eq!(dev.next_deadline(), Some(120 + KEEPALIVE_INTERVAL_MS));
    one(&dev.on_app_response(a, &[0]));
    assert_eq!(dev.next_deadline(), None);
    one(&dev.on_report(300, &frames(a, Command::LOCK, &[3])[0]));
    assert_eq!(dev.next_deadline(), Some(3300));
    dev.on_tick(3300);
    assert_eq!(dev.next_deadline(), None);
}
