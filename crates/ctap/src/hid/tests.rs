use super::*;

const NONCE: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

fn reports(events: &[Event]) -> Vec<Report> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Send(r) => Some(*r),
            _ => None,
        })
        .collect()
}

/// Reassembles the reports the device sent into messages.
fn messages(events: &[Event]) -> Vec<Message> {
    let mut out = Vec::new();
    let mut rx: Option<Reassembler> = None;
    for r in reports(events) {
        let progress = match Packet::parse(&r) {
            Packet::Init {
                cid,
                cmd,
                bcnt,
                data,
            } => Reassembler::start(cid, cmd, bcnt, data).unwrap(),
            Packet::Cont { seq, data, .. } => rx.take().unwrap().push(seq, data).unwrap(),
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
    assert_eq!(m.cmd, Command::ERROR);
    assert_eq!(m.payload.len(), 1);
    (m.cid, ErrorCode(m.payload[0]))
}

fn frames(cid: ChannelId, cmd: Command, payload: &[u8]) -> Vec<Report> {
    fragment(cid, cmd, payload).unwrap().collect()
}

fn feed(dev: &mut Device, now: u64, reports: &[Report]) -> Vec<Event> {
    reports.iter().flat_map(|r| dev.on_report(now, r)).collect()
}

fn init(dev: &mut Device) -> ChannelId {
    let hs = InitHandshake::new(NONCE);
    let events = dev.on_report(0, &hs.report());
    let r = reports(&events);
    assert_eq!(r.len(), 1);
    hs.on_report(&r[0]).unwrap().unwrap().cid
}

#[test]
fn fragment_and_reassemble_round_trip() {
    for len in [0, 1, 57, 58, 116, 117, 1000, MAX_MESSAGE] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let r = frames(ChannelId(9), Command::PING, &payload);
        let expect = if len <= INIT_DATA {
            1
        } else {
            1 + (len - INIT_DATA).div_ceil(CONT_DATA)
        };
        assert_eq!(r.len(), expect, "len {len}");
        assert_eq!(&r[0][..7], &[0, 0, 0, 9, 0x81, (len >> 8) as u8, len as u8]);
        for (i, c) in r.iter().enumerate().skip(1) {
            assert_eq!(c[4] as usize, i - 1);
        }
        let events: Vec<Event> = r.into_iter().map(Event::Send).collect();
        assert_eq!(one(&events).payload, payload);
    }
    assert_eq!(MAX_MESSAGE, 7609);
    assert_eq!(
        fragment(ChannelId(1), Command::PING, &[0; 7610]).err(),
        Some(FrameError::TooLong(7610))
    );
}

#[test]
fn init_allocates_channels_with_exact_response() {
    let mut dev = Device::new(DeviceConfig::default());
    let events = dev.on_report(0, &InitHandshake::new(NONCE).report());
    let r = reports(&events);
    assert_eq!(r.len(), 1);
    let mut expect = [0u8; 64];
    expect[..7].copy_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x86, 0, 17]);
    expect[7..15].copy_from_slice(&NONCE);
    expect[15..19].copy_from_slice(&[0, 0, 0, 1]);
    // protocol 2, version 0.1.0, WINK | CBOR and NMSG clear.
    expect[19..24].copy_from_slice(&[2, 0, 1, 0, 0x05]);
    assert_eq!(r[0], expect);
    let second = init(&mut dev);
    assert_eq!(second, ChannelId(2));
}

#[test]
fn init_with_wrong_length_is_invalid_len() {
    let mut dev = Device::new(DeviceConfig::default());
    let r = frames(ChannelId::BROADCAST, Command::INIT, &[0; 7]);
    assert_eq!(
        error_of(&dev.on_report(0, &r[0])),
        (ChannelId::BROADCAST, ErrorCode::INVALID_LEN)
    );
}

#[test]
fn ping_echoes_the_largest_message() {
    let mut dev = Device::new(DeviceConfig::default());
    let cid = init(&mut dev);
    let payload: Vec<u8> = (0..MAX_MESSAGE).map(|i| (i % 251) as u8).collect();
    let events = feed(&mut dev, 1, &frames(cid, Command::PING, &payload));
    let m = one(&events);
    assert_eq!((m.cid, m.cmd), (cid, Command::PING));
    assert_eq!(m.payload, payload);
    assert!(!dev.is_busy());
}

#[test]
fn over_long_message_is_invalid_len() {
    let mut dev = Device::new(DeviceConfig::default());
    let cid = init(&mut dev);
    let mut r = frames(cid, Command::PING, &[0; 10])[0];
    r[5..7].copy_from_slice(&7610u16.to_be_bytes());
    assert_eq!(
        error_of(&dev.on_report(0, &r)),
        (cid, ErrorCode::INVALID_LEN)
    );
}

#[test]
fn cbor_dispatch_keepalives_and_response() {
    let mut dev = Device::new(DeviceConfig::default());
    let cid = init(&mut dev);
    let events = feed(&mut dev, 1000, &frames(cid, Command::CBOR, &[0x04]));
    assert_eq!(
        events,
        vec![Event::Dispatch(Request {
            cid,
            cmd: Command::CBOR,
            payload: vec![0x04]
        })]
    );
    assert!(dev.on_tick(1099).is_empty());
    let ka = one(&dev.on_tick(1100));
    assert_eq!(
        (ka.cid, ka.cmd, ka.payload),
        (cid, Command::KEEPALIVE, vec![1])
    );
    // A status change is announced at once.
    dev.set_keepalive_status(KeepaliveStatus::UpNeeded);
    let ka = one(&dev.on_tick(1101));
    assert_eq!(ka.payload, vec![2]);
    assert!(dev.on_tick(1150).is_empty());
    assert_eq!(one(&dev.on_tick(1201)).payload, vec![2]);
    let answer: Vec<u8> = (0..300).map(|i| i as u8).collect();
    let m = one(&dev.on_app_response(cid, &answer));
    assert_eq!((m.cid, m.cmd, m.payload), (cid, Command::CBOR, answer));
    assert!(!dev.is_busy());
    assert!(dev.on_tick(5000).is_empty());
    // A late or foreign answer is ignored.
    assert!(dev.on_app_response(cid, &[0]).is_empty());
}

#[test]
fn empty_cbor_and_msg_are_invalid_len() {
    let mut dev = Device::new(DeviceConfig::default());
    let cid = init(&mut dev);
    for cmd in [Command::CBOR, Command::MSG] {
        let events = feed(&mut dev, 0, &frames(cid, cmd, &[]));
        assert_eq!(error_of(&events), (cid, ErrorCode::INVALID_LEN));
    }
}

#[test]
fn other_channel_is_busy_while_receiving_and_processing() {
    let mut dev = Device::new(DeviceConfig::default());
    let a = init(&mut dev);
    let b = init(&mut dev);
    let msg = frames(a, Command::CBOR, &[7; 200]);
    assert!(dev.on_report(0, &msg[0]).is_empty());
    let ping_b = frames(b, Command::PING, &[1]);
    assert_eq!(
        error_of(&dev.on_report(1, &ping_b[0])),
        (b, ErrorCode::CHANNEL_BUSY)
    );
    // INIT on the broadcast channel is still answered.
    assert_eq!(
        one(&dev.on_report(1, &InitHandshake::new(NONCE).report())).cid,
        ChannelId::BROADCAST
    );
    let events = feed(&mut dev, 2, &msg[1..]);
    assert!(matches!(&events[..], [Event::Dispatch(r)] if r.payload == vec![7; 200]));
    assert_eq!(
        error_of(&dev.on_report(3, &ping_b[0])),
        (b, ErrorCode::CHANNEL_BUSY)
    );
    // The same channel sending again while its request runs is busy too.
    let ping_a = frames(a, Command::PING, &[1]);
    assert_eq!(
        error_of(&dev.on_report(3, &ping_a[0])),
        (a, ErrorCode::CHANNEL_BUSY)
    );
    dev.on_app_response(a, &[0]);
    assert_eq!(one(&dev.on_report(4, &ping_b[0])).cmd, Command::PING);
}

#[test]
fn out_of_sequence_continuation_drops_the_transaction() {
    let mut dev = Device::new(DeviceConfig::default());
    let cid = init(&mut dev);
    let msg = frames(cid, Command::PING, &[3; 200]);
    assert!(dev.on_report(0, &msg[0]).is_empty());
    assert_eq!(
        error_of(&dev.on_report(0, &msg[2])),
        (cid, ErrorCode::INVALID_SEQ)
    );
    assert!(!dev.is_busy());
    // The rest of the old message is ignored, then a new one works.
    assert!(dev.on_report(0, &msg[1]).is_empty());
    assert_eq!(one(&feed(&mut dev, 0, &msg)).payload, vec![3; 200]);
}

#[test]
fn new_message_where_continuation_due_is_invalid_seq() {
    let mut dev = Device::new(DeviceConfig::default());
    let cid = init(&mut dev);
    let msg = frames(cid, Command::PING, &[3; 100]);
    assert!(dev.on_report(0, &msg[0]).is_empty());
    assert_eq!(
        error_of(&dev.on_report(0, &msg[0])),
        (cid, ErrorCode::INVALID_SEQ)
    );
    assert!(!dev.is_busy());
}

#[test]
fn stray_continuation_is_ignored() {
    let mut dev = Device::new(DeviceConfig::default());
    let cid = init(&mut dev);
    let msg = frames(cid, Command::PING, &[3; 100]);
    assert!(dev.on_report(0, &msg[1]).is_empty());
    assert!(!dev.is_busy());
}

#[test]
fn stalled_message_times_out() {
    let mut dev = Device::new(DeviceConfig::default());
    let cid = init(&mut dev);
    let msg = frames(cid, Command::PING, &[3; 200]);
    dev.on_report(1000, &msg[0]);
    dev.on_report(1400, &msg[1]);
    // MESSAGE_TIMEOUT_MS (750) after the last packet, not the first.
    assert!(dev.on_tick(2149).is_empty());
    assert_eq!(error_of(&dev.on_tick(2150)), (cid, ErrorCode::MSG_TIMEOUT));
    assert!(!dev.is_busy());
    // A late continuation is then ignored.
    assert!(dev.on_report(2151, &msg[2]).is_empty());
}

#[test]
fn timeout_fires_before_a_late_packet_is_considered() {
    let mut dev = Device::new(DeviceConfig::default());
    let cid = init(&mut dev);
    let msg = frames(cid, Command::PING, &[3; 100]);
    dev.on_report(0, &msg[0]);
    let events = dev.on_report(MESSAGE_TIMEOUT_MS + 50, &msg[1]);
    assert_eq!(error_of(&events), (cid, ErrorCode::MSG_TIMEOUT));
}

#[test]
fn wrong_channels_are_invalid_channel() {
    let mut dev = Device::new(DeviceConfig::default());
    let cid = init(&mut dev);
    for bad in [ChannelId(0), ChannelId(cid.0 + 1), ChannelId::BROADCAST] {
        let events = feed(&mut dev, 0, &frames(bad, Command::PING, &[1]));
        assert_eq!(
            error_of(&events),
            (bad, ErrorCode::INVALID_CHANNEL),
            "{bad:?}"
        );
    }
    // INIT on the reserved channel too (INIT on a never-allocated channel adopts it: see
    // device/tests.rs).
    let hs = InitHandshake::resync(ChannelId(0), NONCE);
    assert_eq!(
        error_of(&dev.on_report(0, &hs.report())),
        (ChannelId(0), ErrorCode::INVALID_CHANNEL)
    );
}

#[test]
fn unknown_and_host_only_commands_are_invalid_cmd() {
    let mut dev = Device::new(DeviceConfig::default());
    let cid = init(&mut dev);
    for cmd in [Command(0x55), Command::KEEPALIVE, Command::ERROR] {
        let events = feed(&mut dev, 0, &frames(cid, cmd, &[1]));
        assert_eq!(error_of(&events), (cid, ErrorCode::INVALID_CMD));
    }
}

#[test]
fn cancel_asks_the_app_and_has_no_response() {
    let mut dev = Device::new(DeviceConfig::default());
    let a = init(&mut dev);
    let b = init(&mut dev);
    feed(&mut dev, 0, &frames(a, Command::CBOR, &[1]));
    // CANCEL on another channel is ignored.
    assert!(feed(&mut dev, 1, &frames(b, Command::CANCEL, &[])).is_empty());
    assert_eq!(
        feed(&mut dev, 1, &frames(a, Command::CANCEL, &[])),
        vec![Event::Cancel(a)]
    );
    let m = one(&dev.on_app_response(a, &[CTAP2_ERR_KEEPALIVE_CANCEL]));
    assert_eq!((m.cmd, m.payload), (Command::CBOR, vec![0x2d]));
    // CANCEL with nothing running: nothing happens.
    assert!(feed(&mut dev, 2, &frames(a, Command::CANCEL, &[])).is_empty());
}

#[test]
fn init_resync_aborts_the_running_request() {
    let mut dev = Device::new(DeviceConfig::default());
    let a = init(&mut dev);
    feed(&mut dev, 0, &frames(a, Command::CBOR, &[1]));
    let hs = InitHandshake::resync(a, NONCE);
    let events = dev.on_report(1, &hs.report());
    assert_eq!(events[0], Event::Cancel(a));
    let r = reports(&events);
    assert_eq!(hs.on_report(&r[0]).unwrap().unwrap().cid, a);
    // No keepalives for the abandoned request, and its answer is dropped.
    assert!(dev.on_tick(500).is_empty());
    assert!(dev.on_app_response(a, &[0]).is_empty());
    assert_eq!(
        one(&feed(&mut dev, 2, &frames(a, Command::PING, &[9]))).payload,
        vec![9]
    );
}

#[test]
fn init_resync_drops_a_partial_message() {
    let mut dev = Device::new(DeviceConfig::default());
    let a = init(&mut dev);
    dev.on_report(0, &frames(a, Command::PING, &[1; 100])[0]);
    let events = dev.on_report(1, &InitHandshake::resync(a, NONCE).report());
    assert_eq!(one(&events).cmd, Command::INIT);
    assert!(!dev.is_busy());
}

#[test]
fn wink_event_and_empty_response() {
    let mut dev = Device::new(DeviceConfig::default());
    let cid = init(&mut dev);
    let events = feed(&mut dev, 0, &frames(cid, Command::WINK, &[]));
    assert_eq!(events[0], Event::Wink(cid));
    let m = one(&events);
    assert_eq!((m.cmd, m.payload.len()), (Command::WINK, 0));
    let mut nowink = Device::new(DeviceConfig {
        capabilities: Capabilities(Capabilities::CBOR | Capabilities::NMSG),
        ..DeviceConfig::default()
    });
    let cid = init(&mut nowink);
    for cmd in [Command::WINK, Command::MSG] {
        let events = feed(&mut nowink, 0, &frames(cid, cmd, &[0]));
        assert_eq!(error_of(&events), (cid, ErrorCode::INVALID_CMD));
    }
}

#[test]
fn lock_keeps_other_channels_out_until_it_expires() {
    let mut dev = Device::new(DeviceConfig::default());
    let a = init(&mut dev);
    let b = init(&mut dev);
    assert_eq!(
        one(&feed(&mut dev, 0, &frames(a, Command::LOCK, &[2]))).cmd,
        Command::LOCK
    );
    let ping_b = frames(b, Command::PING, &[1]);
    assert_eq!(
        error_of(&feed(&mut dev, 100, &ping_b)),
        (b, ErrorCode::CHANNEL_BUSY)
    );
    assert_eq!(
        one(&feed(&mut dev, 100, &frames(a, Command::PING, &[1]))).cmd,
        Command::PING
    );
    assert_eq!(one(&feed(&mut dev, 2000, &ping_b)).cmd, Command::PING);
    let events = feed(&mut dev, 2000, &frames(a, Command::LOCK, &[11]));
    assert_eq!(error_of(&events), (a, ErrorCode::INVALID_PAR));
    feed(&mut dev, 2000, &frames(a, Command::LOCK, &[10]));
    feed(&mut dev, 2001, &frames(a, Command::LOCK, &[0]));
    assert_eq!(one(&feed(&mut dev, 2002, &ping_b)).cmd, Command::PING);
}

#[test]
fn report_sizes() {
    let mut dev = Device::new(DeviceConfig::default());
    let cid = init(&mut dev);
    let ping = frames(cid, Command::PING, &[5])[0];
    let mut with_id = vec![0u8];
    with_id.extend_from_slice(&ping);
    assert_eq!(one(&dev.on_report(0, &with_id)).payload, vec![5]);
    assert_eq!(
        error_of(&dev.on_report(0, &ping[..63])),
        (cid, ErrorCode::INVALID_LEN)
    );
    with_id[0] = 1;
    assert_eq!(
        error_of(&dev.on_report(0, &with_id[..])).1,
        ErrorCode::INVALID_LEN
    );
    assert!(dev.on_report(0, &ping[..3]).is_empty());
}

#[test]
fn power_cycle_forgets_channels_and_requests() {
    let mut dev = Device::new(DeviceConfig::default());
    let cid = init(&mut dev);
    feed(&mut dev, 0, &frames(cid, Command::CBOR, &[1]));
    dev.power_cycle();
    assert!(!dev.is_busy());
    assert!(dev.on_app_response(cid, &[0]).is_empty());
    let events = feed(&mut dev, 0, &frames(cid, Command::PING, &[1]));
    assert_eq!(error_of(&events), (cid, ErrorCode::INVALID_CHANNEL));
}

/// Host and device state machines talking to each other.
#[test]
fn host_transaction_against_device() {
    let mut dev = Device::new(DeviceConfig::default());
    let cid = init(&mut dev);
    let (mut tx, out) = Transaction::start(cid, Command::CBOR, &[4; 100]).unwrap();
    let events = feed(&mut dev, 0, &out);
    assert!(matches!(&events[..], [Event::Dispatch(r)] if r.payload == vec![4; 100]));
    // A keepalive, then a report for another channel, then the answer.
    let mut seen = Vec::new();
    let mut incoming = reports(&dev.on_tick(100));
    incoming.extend(frames(ChannelId(99), Command::CBOR, &[0]));
    let answer = vec![0u8; 500];
    incoming.extend(reports(&dev.on_app_response(cid, &answer)));
    let mut done = None;
    for r in incoming {
        tx = match tx.on_report(&r) {
            Step::Pending(t) => t,
            Step::Keepalive(t, s) => {
                seen.push(s);
                t
            }
            Step::Done(p) => {
                done = Some(p);
                break;
            }
            Step::Failed(e) => panic!("{e}"),
        };
    }
    assert_eq!(seen, vec![KeepaliveStatus::Processing]);
    assert_eq!(done.unwrap(), answer);
}

#[test]
fn host_sees_device_errors_and_builds_cancel() {
    let mut dev = Device::new(DeviceConfig::default());
    let cid = init(&mut dev);
    let (tx, out) = Transaction::start(cid, Command::CBOR, &[]).unwrap();
    let r = reports(&feed(&mut dev, 0, &out));
    assert!(matches!(
        tx.clone().on_report(&r[0]),
        Step::Failed(HostError::Device(ErrorCode::INVALID_LEN))
    ));
    let wink = frames(cid, Command::WINK, &[])[0];
    assert!(matches!(
        tx.clone().on_report(&wink),
        Step::Failed(HostError::UnexpectedCommand(Command::WINK))
    ));
    let cancel = tx.cancel_report();
    assert_eq!(&cancel[..7], &[0, 0, 0, 1, 0x91, 0, 0]);
    // A handshake ignores INIT answers carrying someone else's nonce.
    let other = InitHandshake::new([9; 8]);
    let answer = reports(&dev.on_report(0, &other.report()));
    assert!(InitHandshake::new(NONCE).on_report(&answer[0]).is_none());
}

/// Tiny deterministic generator so the stress test needs no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Random reports, biased towards valid channels and commands, never panic the device, and
/// every report it sends parses as a complete, well-formed message.
#[test]
fn random_reports_never_break_the_device() {
    for seed in 1..=20u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut dev = Device::new(DeviceConfig::default());
        let mut now = 0u64;
        let mut sent = Vec::new();
        for _ in 0..3000 {
            now += rng.next() % 200;
            let mut r = [0u8; 64];
            for b in r.iter_mut() {
                *b = rng.next() as u8;
            }
            match rng.next() % 4 {
                0 => r[..4].copy_from_slice(&ChannelId::BROADCAST.to_bytes()),
                1 => r[..4].copy_from_slice(&(rng.next() % 4).to_be_bytes()[4..]),
                _ => {}
            }
            if rng.next() % 2 == 0 {
                let cmds = [0x81, 0x83, 0x84, 0x86, 0x88, 0x90, 0x91, 0x3b, 0x00, 0x01];
                r[4] = cmds[(rng.next() % cmds.len() as u64) as usize];
                r[5] = (rng.next() % 3) as u8;
            }
            let events = match rng.next() % 10 {
                0 => dev.on_tick(now),
                1 => match dev.processing() {
                    Some(cid) => dev.on_app_response(cid, &r),
                    None => {
                        let mut padded = vec![0u8];
                        padded.extend_from_slice(&r);
                        dev.on_report(now, &padded[..(rng.next() % 66) as usize])
                    }
                },
                2 => {
                    dev.set_keepalive_status(KeepaliveStatus::UpNeeded);
                    dev.on_report(now, &r)
                }
                _ => dev.on_report(now, &r),
            };
            sent.extend(events);
        }
        // Everything the device said reassembles cleanly.
        messages(&sent);
    }
}

/// A CTAPHID_INIT answer that allocates channel 0 (reserved) or the broadcast channel is
/// refused: a host on either would talk past every other host's channel.
#[test]
fn init_refuses_an_allocated_channel_no_host_may_use() {
    let hs = InitHandshake::new(NONCE);
    for (cid, refused) in [(0u32, true), (0xffff_ffff, true), (0x0102_0304, false)] {
        let mut payload = NONCE.to_vec();
        payload.extend_from_slice(&cid.to_be_bytes());
        payload.extend_from_slice(&[2, 1, 0, 0, 0x04]);
        let answer = frames(ChannelId::BROADCAST, Command::INIT, &payload);
        let got = hs.on_report(&answer[0]).unwrap();
        if refused {
            assert!(
                matches!(got, Err(HostError::BadChannel(c)) if c == ChannelId(cid)),
                "{cid:#x}: {got:?}"
            );
        } else {
            assert_eq!(got.unwrap().cid, ChannelId(cid));
        }
    }
}
