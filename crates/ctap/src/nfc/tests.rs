use super::*;
use crate::iso7816::ResponseApdu;

fn hexs(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// What a simulated card run produced.
#[derive(Debug)]
struct Run {
    result: Result<Vec<u8>, NfcError>,
    updates: Vec<UpdateStatus>,
    apdus: Vec<Vec<u8>>,
    jobs: Vec<Job>,
    cancelled: bool,
}

/// A simulated application: answers `answer(job)` after `busy` polls (UPNEEDED while busy),
/// or KEEPALIVE_CANCEL once cancelled.
struct App<F> {
    answer: F,
    busy: usize,
}

/// Drives a host exchange against an applet in memory, the way the transports do. The client
/// cancels after `cancel_after` status updates, if given.
fn drive<F: FnMut(&Job) -> Vec<u8>>(
    start: Result<(Exchange, Vec<u8>), NfcError>,
    applet: &mut Applet,
    mut app: App<F>,
    cancel_after: Option<usize>,
) -> Run {
    let mut run = Run {
        result: Err(NfcError::BadStatusUpdate),
        updates: Vec::new(),
        apdus: Vec::new(),
        jobs: Vec::new(),
        cancelled: false,
    };
    let (mut exchange, mut apdu) = match start {
        Ok(s) => s,
        Err(e) => {
            run.result = Err(e);
            return run;
        }
    };
    let mut job: Option<Job> = None;
    let mut now = 0;
    for _ in 0..10_000 {
        run.apdus.push(apdu.clone());
        let mut answer_job = |applet: &mut Applet, job: &Job, run: &mut Run| {
            if run.cancelled {
                return applet.finish(vec![0x2D]).unwrap();
            }
            if app.busy > 0 {
                app.busy -= 1;
                if let Some(update) = applet.still_running(UpdateStatus::UpNeeded) {
                    return update;
                }
            }
            applet.finish((app.answer)(job)).unwrap()
        };
        let reply = match applet.on_apdu(&apdu) {
            Action::Reply(r) => r,
            Action::Run { job: j, .. } => {
                run.jobs.push(j.clone());
                job = Some(j);
                answer_job(applet, job.as_ref().unwrap(), &mut run)
            }
            Action::Poll { cancel } => {
                run.cancelled |= cancel;
                answer_job(applet, job.as_ref().unwrap(), &mut run)
            }
            Action::Abandon(r) => r,
        };
        now += POLL_INTERVAL_MS;
        match exchange.on_response(now, &reply) {
            Next::Transmit(e, a) => (exchange, apdu) = (e, a),
            Next::StatusUpdate(polling, status) => {
                run.updates.push(status);
                (exchange, apdu) = if cancel_after.is_some_and(|n| run.updates.len() >= n) {
                    polling.cancel()
                } else {
                    polling.poll()
                };
            }
            Next::Done(r) => {
                run.result = Ok(r);
                return run;
            }
            Next::Failed(e) => {
                run.result = Err(e);
                return run;
            }
        }
    }
    panic!("the exchange did not end");
}

fn echo(job: &Job) -> Vec<u8> {
    match job {
        Job::Ctap(r) => {
            let mut out = vec![0x00];
            out.extend(r.iter().rev());
            out
        }
        Job::U2f(a) => {
            let mut out = a.clone();
            out.extend_from_slice(&[0x90, 0x00]);
            out
        }
    }
}

fn selected() -> Applet {
    let mut applet = Applet::new(AppletConfig::default());
    let select = select_command().to_short_bytes().unwrap();
    assert_eq!(
        applet.on_apdu(&select),
        Action::Reply(hexs("5532465f5632 9000"))
    );
    applet
}

#[test]
fn select_is_the_ctap_2_1_command() {
    assert_eq!(
        select_command().to_short_bytes().unwrap(),
        hexs("00a40400 08 a0000006472f0001 00")
    );
    assert_eq!(AppletVersion::parse(b"U2F_V2"), Ok(AppletVersion::U2f));
    assert_eq!(AppletVersion::parse(b"FIDO_2_0"), Ok(AppletVersion::Fido2));
    assert_eq!(
        AppletVersion::parse(b"FIDO_2_1"),
        Err(NfcError::UnknownVersion { len: 8 })
    );
    let mut ctap2_only = Applet::new(AppletConfig {
        u2f: false,
        ..AppletConfig::default()
    });
    let select = select_command().to_short_bytes().unwrap();
    assert_eq!(
        ctap2_only.on_apdu(&select),
        Action::Reply(hexs("4649444f5f325f30 9000"))
    );
}

#[test]
fn a_short_request_is_one_apdu_announcing_status_updates() {
    let (_, apdu) = Exchange::ctap(&[0x04], Encoding::Short, Limits::default()).unwrap();
    assert_eq!(apdu, hexs("80108000 01 04 00"));
    let (_, apdu) = Exchange::ctap(&[0x04], Encoding::Extended, Limits::default()).unwrap();
    assert_eq!(apdu, hexs("80108000 000001 04 0000"));
}

#[test]
fn a_long_request_is_chained_in_short_apdus() {
    let request: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
    let mut applet = selected();
    let run = drive(
        Exchange::ctap(&request, Encoding::Short, Limits::default()),
        &mut applet,
        App {
            answer: echo,
            busy: 0,
        },
        None,
    );
    assert_eq!(run.apdus.len(), 5);
    assert_eq!(run.apdus[0][..5], hexs("90108000ff"));
    assert_eq!(run.apdus[0].len(), 5 + 255);
    assert_eq!(run.apdus[1][..5], hexs("90108000ff"));
    assert_eq!(run.apdus[2][..5], hexs("80108000 5a"));
    assert_eq!(run.apdus[2].len(), 5 + 90 + 1);
    assert_eq!(run.jobs, vec![Job::Ctap(request.clone())]);
    // The 601-byte answer comes back in three pieces: 256 + 61XX, twice, then the rest.
    assert_eq!(run.apdus[3..], [hexs("00c00000 00"), hexs("00c00000 59")]);
    let mut expected = vec![0x00];
    expected.extend(request.iter().rev());
    assert_eq!(run.result.unwrap(), expected);
}

#[test]
fn a_long_answer_is_fetched_with_get_response() {
    let mut applet = selected();
    let run = drive(
        Exchange::ctap(&[0x04], Encoding::Short, Limits::default()),
        &mut applet,
        App {
            answer: |_: &Job| vec![0x5A; 700],
            busy: 0,
        },
        None,
    );
    assert_eq!(run.result.unwrap(), vec![0x5A; 700]);
    assert_eq!(
        run.apdus[1..],
        [hexs("00c00000 00"), hexs("00c00000 bc")],
        "GET RESPONSE asks for what 61XX announced: 256, then 188"
    );
}

#[test]
fn extended_length_carries_both_ways_in_one_apdu() {
    let request = vec![0x01; 3000];
    let mut applet = selected();
    let run = drive(
        Exchange::ctap(&request, Encoding::Extended, Limits::default()),
        &mut applet,
        App {
            answer: |_: &Job| vec![0x00; 5000],
            busy: 0,
        },
        None,
    );
    assert_eq!(run.apdus.len(), 1);
    assert_eq!(run.apdus[0][..7], hexs("80108000 000bb8"));
    assert_eq!(run.result.unwrap().len(), 5000);
}

#[test]
fn status_updates_are_reported_until_the_answer() {
    let mut applet = selected();
    let run = drive(
        Exchange::ctap(&[0x01, 0xA0], Encoding::Short, Limits::default()),
        &mut applet,
        App {
            answer: echo,
            busy: 3,
        },
        None,
    );
    assert_eq!(run.result.unwrap(), vec![0x00, 0xA0, 0x01]);
    assert_eq!(run.updates, vec![UpdateStatus::UpNeeded; 3]);
    assert_eq!(run.apdus[1], hexs("80110000 00"), "NFCCTAP_GETRESPONSE");
}

#[test]
fn a_cancel_is_sent_as_getresponse_p1_11() {
    let mut applet = selected();
    let run = drive(
        Exchange::ctap(&[0x01, 0xA0], Encoding::Short, Limits::default()),
        &mut applet,
        App {
            answer: echo,
            busy: 100,
        },
        Some(2),
    );
    assert!(run.cancelled);
    assert_eq!(
        run.result.unwrap(),
        vec![0x2D],
        "CTAP2_ERR_KEEPALIVE_CANCEL"
    );
    assert_eq!(run.apdus.last().unwrap(), &hexs("80111100 00"));
}

#[test]
fn u2f_apdus_pass_through_with_their_status_words() {
    let register = crate::iso7816::CommandApdu {
        cla: 0,
        ins: crate::u2f::INS_REGISTER,
        p1: 0,
        p2: 0,
        data: vec![0x11; 64],
        ne: None,
    };
    let mut applet = selected();
    let run = drive(
        Exchange::apdu(&register, Encoding::Short, Limits::default()),
        &mut applet,
        App {
            answer: |_: &Job| {
                let mut r = vec![0x05; 800];
                r.extend_from_slice(&[0x90, 0x00]);
                r
            },
            busy: 0,
        },
        None,
    );
    assert_eq!(
        run.apdus[0],
        hexs(&format!("00010000 40 {} 00", "11".repeat(64)))
    );
    let mut expected_job = hexs("00010000 000040");
    expected_job.extend_from_slice(&[0x11; 64]);
    assert_eq!(run.jobs, vec![Job::U2f(expected_job)]);
    let mut expected = vec![0x05; 800];
    expected.extend_from_slice(&[0x90, 0x00]);
    assert_eq!(run.result.unwrap(), expected);

    let run = drive(
        Exchange::apdu(&register, Encoding::Extended, Limits::default()),
        &mut applet,
        App {
            answer: |_: &Job| vec![0x69, 0x85],
            busy: 0,
        },
        None,
    );
    assert_eq!(run.result.unwrap(), vec![0x69, 0x85], "presence required");
}

/// Feeds `answers` in turn to an exchange, at 100 ms intervals, polling on every status update.
fn against(answers: impl IntoIterator<Item = Vec<u8>>, limits: Limits, cancel: bool) -> NfcError {
    let (mut exchange, _) = Exchange::ctap(&[0x04], Encoding::Short, limits).unwrap();
    let mut now = 0;
    for answer in answers {
        now += POLL_INTERVAL_MS;
        match exchange.on_response(now, &answer) {
            Next::Transmit(e, _) => exchange = e,
            Next::StatusUpdate(p, _) => exchange = if cancel { p.cancel().0 } else { p.poll().0 },
            Next::Done(r) => panic!("a hostile card's exchange ended with {r:02x?}"),
            Next::Failed(e) => return e,
        }
    }
    panic!("the exchange outlived the card's answers");
}

#[test]
fn hostile_answers_fail_with_named_errors() {
    let limits = Limits::default();
    assert_eq!(
        against([vec![0x90]], limits, false),
        NfcError::Truncated { len: 1 }
    );
    assert_eq!(
        against([vec![]], limits, false),
        NfcError::Truncated { len: 0 }
    );
    assert_eq!(
        against([hexs("6f00")], limits, false),
        NfcError::Status(StatusWord::NO_PRECISE_DIAGNOSIS)
    );
    assert_eq!(
        against([hexs("0102 6d00")], limits, false),
        NfcError::Status(StatusWord::INS_NOT_SUPPORTED)
    );
    // 61 00 with nothing, forever.
    assert_eq!(
        against(std::iter::repeat(hexs("6100")), limits, false),
        NfcError::EndlessChain { rounds: 1024 }
    );
    // 256 bytes at a time, forever: the size bound comes first.
    let mut piece = vec![0xAB; 256];
    piece.extend_from_slice(&[0x61, 0x00]);
    assert_eq!(
        against(std::iter::repeat(piece), limits, false),
        NfcError::ResponseTooLong { limit: 65_536 }
    );
    // One oversized answer.
    let mut huge = vec![0; 65_537];
    huge.extend_from_slice(&[0x90, 0x00]);
    assert_eq!(
        against([huge], limits, false),
        NfcError::ResponseTooLong { limit: 65_536 }
    );
    // Status updates forever: two minutes of them, then a named error.
    assert_eq!(
        against(std::iter::repeat(hexs("01 9100")), limits, false),
        NfcError::StatusUpdatesTooLong { waited_ms: 120_100 }
    );
    assert_eq!(
        against(std::iter::repeat(hexs("02 9100")), limits, true),
        NfcError::CancelIgnored
    );
    for bad in [hexs("9100"), hexs("0102 9100"), hexs("07 9100")] {
        assert_eq!(
            against([bad.clone()], limits, false),
            NfcError::BadStatusUpdate,
            "{bad:02x?}"
        );
    }
    // A status update at the end of a GET RESPONSE chain.
    assert_eq!(
        against([hexs("aa 6101"), hexs("01 9100")], limits, false),
        NfcError::BadStatusUpdate
    );
}

#[test]
fn a_refused_chain_piece_ends_the_exchange() {
    let (exchange, _) = Exchange::ctap(&[0; 300], Encoding::Short, Limits::default()).unwrap();
    match exchange.on_response(0, &hexs("6700")) {
        Next::Failed(e) => assert_eq!(e, NfcError::Status(StatusWord::WRONG_LENGTH)),
        other => panic!("{other:?}"),
    }
    let apdu = crate::iso7816::CommandApdu {
        cla: 0,
        ins: 2,
        p1: 3,
        p2: 0,
        data: vec![0; 300],
        ne: None,
    };
    let (exchange, _) = Exchange::apdu(&apdu, Encoding::Short, Limits::default()).unwrap();
    match exchange.on_response(0, &hexs("6a80")) {
        Next::Done(r) => assert_eq!(r, hexs("6a80")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn requests_too_long_for_any_apdu_are_refused() {
    assert_eq!(
        Exchange::ctap(&vec![0; 65_536], Encoding::Extended, Limits::default()).unwrap_err(),
        NfcError::RequestTooLong { len: 65_536 }
    );
    assert_eq!(
        Exchange::ctap(&vec![0; 65_536], Encoding::Short, Limits::default()).unwrap_err(),
        NfcError::RequestTooLong { len: 65_536 }
    );
}

fn reply(action: Action) -> Vec<u8> {
    match action {
        Action::Reply(r) => r,
        other => panic!("expected a reply, got {other:?}"),
    }
}

#[test]
fn the_applet_refuses_what_it_does_not_know() {
    let mut applet = Applet::new(AppletConfig::default());
    assert_eq!(
        reply(applet.on_apdu(&hexs("80108000 01 04 00"))),
        hexs("6986"),
        "not selected"
    );
    assert_eq!(
        reply(applet.on_apdu(&hexs("00a40400 05 a000000001 00"))),
        hexs("6a82"),
        "another AID"
    );
    let mut applet = selected();
    assert_eq!(reply(applet.on_apdu(&hexs("8050 0000 00"))), hexs("6d00"));
    assert_eq!(
        reply(applet.on_apdu(&hexs("a010 8000 01 04"))),
        hexs("6e00")
    );
    assert_eq!(
        reply(applet.on_apdu(&hexs("80"))),
        hexs("6700"),
        "malformed"
    );
    assert_eq!(reply(applet.on_apdu(&hexs("80108000 00"))), hexs("6700"));
    assert_eq!(reply(applet.on_apdu(&hexs("00c00000 00"))), hexs("6986"));
    assert_eq!(reply(applet.on_apdu(&hexs("80110000 00"))), hexs("6986"));
    // A chain continued by another command.
    assert_eq!(reply(applet.on_apdu(&hexs("90108000 01 04"))), hexs("9000"));
    assert_eq!(reply(applet.on_apdu(&hexs("00010000 01 04"))), hexs("6883"));
    // A chain longer than a request may be.
    let piece = {
        let mut p = hexs("90108000 ff");
        p.extend_from_slice(&[0; 255]);
        p
    };
    let mut last = hexs("9000");
    for _ in 0..40 {
        last = reply(applet.on_apdu(&piece));
        if last != hexs("9000") {
            break;
        }
    }
    assert_eq!(last, hexs("6700"));
}

#[test]
fn the_applet_tracks_a_running_job() {
    let mut applet = selected();
    assert_eq!(
        applet.on_apdu(&hexs("80100000 01 04 00")),
        Action::Run {
            job: Job::Ctap(vec![0x04]),
            updates: false
        }
    );
    assert_eq!(applet.still_running(UpdateStatus::Processing), None);
    assert_eq!(
        reply(applet.on_apdu(&hexs("80110000 00"))),
        hexs("6986"),
        "no GETRESPONSE without P1 bit 0x80"
    );
    assert_eq!(applet.finish(vec![0x00, 0xA0]), Some(hexs("00a0 9000")));
    assert_eq!(applet.finish(vec![0x00]), None, "nothing runs any more");

    assert!(matches!(
        applet.on_apdu(&hexs("80108000 01 04 00")),
        Action::Run { updates: true, .. }
    ));
    assert_eq!(
        applet.still_running(UpdateStatus::Processing),
        Some(hexs("01 9100"))
    );
    assert_eq!(
        reply(applet.on_apdu(&hexs("00010000 01 04"))),
        hexs("6986"),
        "busy"
    );
    assert!(applet.running());
    let select = select_command().to_short_bytes().unwrap();
    assert_eq!(
        applet.on_apdu(&select),
        Action::Abandon(hexs("5532465f5632 9000"))
    );
    assert!(!applet.running());

    assert!(matches!(
        applet.on_apdu(&hexs("80108000 01 04 00")),
        Action::Run { .. }
    ));
    assert!(applet.reset(), "a power-off drops the running job");
    assert!(!applet.reset());
    assert_eq!(
        reply(applet.on_apdu(&hexs("80108000 01 04 00"))),
        hexs("6986")
    );
}

#[test]
fn an_answer_too_short_for_a_status_word_is_a_card_error() {
    let mut applet = selected();
    assert!(matches!(
        applet.on_apdu(&hexs("00030000 00")),
        Action::Run { .. }
    ));
    assert_eq!(applet.finish(vec![0x90]), Some(hexs("6f00")));
    let response = ResponseApdu::parse(&hexs("6f00")).unwrap();
    assert_eq!(response.status, StatusWord::NO_PRECISE_DIAGNOSIS);
}

#[test]
fn sixty_one_xx_counts_remaining_bytes() {
    assert_eq!(StatusWord::more_data_of(5), StatusWord(0x6105));
    assert_eq!(StatusWord::more_data_of(255), StatusWord(0x61FF));
    assert_eq!(StatusWord::more_data_of(256), StatusWord(0x6100));
    assert_eq!(StatusWord::more_data_of(70_000), StatusWord(0x6100));
    assert_eq!(StatusWord(0x6100).more_data(), Some(256));
    assert_eq!(StatusWord(0x6110).more_data(), Some(16));
    assert_eq!(StatusWord(0x9000).more_data(), None);
    assert_eq!(StatusWord(0x6210).more_data(), None);
}
