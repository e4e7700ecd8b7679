use super::*;

fn hexs(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn parses_case1_and_short_cases() {
    let a = CommandApdu::parse(&[0, 3, 0, 0]).unwrap();
    assert_eq!((a.ins, a.data.len(), a.ne), (3, 0, None));
    // Case 2S: Le = 00 means 256.
    assert_eq!(CommandApdu::parse(&[0, 3, 0, 0, 0]).unwrap().ne, Some(256));
    // Case 3S.
    let a = CommandApdu::parse(&[0, 1, 2, 3, 2, 0xaa, 0xbb]).unwrap();
    assert_eq!(
        (a.p1, a.p2, a.data.as_slice(), a.ne),
        (2, 3, &[0xaa, 0xbb][..], None)
    );
    // Case 4S.
    let a = CommandApdu::parse(&[0, 1, 0, 0, 1, 0xaa, 0x10]).unwrap();
    assert_eq!((a.data.as_slice(), a.ne), (&[0xaa][..], Some(16)));
    assert_eq!(
        CommandApdu::parse(&[0, 1, 0, 0, 3, 0xaa]),
        Err(ApduError::LengthMismatch)
    );
    assert_eq!(CommandApdu::parse(&[0, 1, 0]), Err(ApduError::TooShort));
}

#[test]
fn parses_extended_cases() {
    // Case 2E with Le = 0000 → 65536.
    assert_eq!(
        CommandApdu::parse(&[0, 3, 0, 0, 0, 0, 0]).unwrap().ne,
        Some(65_536)
    );
    // Case 3E.
    let a = CommandApdu::parse(&[0, 1, 0, 0, 0, 0, 2, 7, 8]).unwrap();
    assert_eq!((a.data.as_slice(), a.ne), (&[7, 8][..], None));
    // Case 4E.
    let a = CommandApdu::parse(&[0, 1, 0, 0, 0, 0, 1, 7, 0x01, 0x00]).unwrap();
    assert_eq!((a.data.as_slice(), a.ne), (&[7][..], Some(256)));
    // python-fido2's U2F_VERSION: Lc = 0000 and a two-byte Le.
    let a = CommandApdu::parse(&[0, 3, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    assert_eq!((a.ins, a.data.len(), a.ne), (3, 0, Some(65_536)));
    assert_eq!(
        CommandApdu::parse(&[0, 1, 0, 0, 0, 0, 5, 1]),
        Err(ApduError::LengthMismatch)
    );
    assert_eq!(
        CommandApdu::parse(&[0, 1, 0, 0, 0, 1]),
        Err(ApduError::LengthMismatch)
    );
}

#[test]
fn encodes_both_lengths_and_round_trips() {
    let a = CommandApdu {
        cla: 0,
        ins: 2,
        p1: 3,
        p2: 0,
        data: vec![1, 2, 3],
        ne: Some(65_536),
    };
    let ext = a.to_extended_bytes().unwrap();
    assert_eq!(ext, [0, 2, 3, 0, 0, 0, 3, 1, 2, 3, 0, 0]);
    assert_eq!(CommandApdu::parse(&ext).unwrap(), a);
    assert_eq!(a.to_short_bytes(), Err(ApduError::TooLong));
    let s = CommandApdu { ne: Some(256), ..a };
    let short = s.to_short_bytes().unwrap();
    assert_eq!(short, [0, 2, 3, 0, 3, 1, 2, 3, 0]);
    assert_eq!(CommandApdu::parse(&short).unwrap(), s);
    let no_data = CommandApdu {
        cla: 0,
        ins: 3,
        p1: 0,
        p2: 0,
        data: vec![],
        ne: Some(65_536),
    };
    assert_eq!(no_data.to_extended_bytes().unwrap(), [0, 3, 0, 0, 0, 0, 0]);
    let big = CommandApdu {
        data: vec![0; 256],
        ne: None,
        ..no_data
    };
    assert_eq!(big.to_short_bytes(), Err(ApduError::TooLong));
    let ext = big.to_extended_bytes().unwrap();
    assert_eq!(&ext[4..7], &[0, 1, 0]);
    assert_eq!(ext.len(), 7 + 256);
}

#[test]
fn response_apdu_splits_status() {
    let r = ResponseApdu::parse(&[b'U', b'2', 0x90, 0x00]).unwrap();
    assert_eq!(r.data, b"U2");
    assert_eq!(r.status, StatusWord::NO_ERROR);
    assert_eq!(r.to_bytes(), [b'U', b'2', 0x90, 0x00]);
    assert_eq!(ResponseApdu::parse(&[0x90]), None);
    assert_eq!(
        ResponseApdu::status(StatusWord::CONDITIONS_NOT_SATISFIED).to_bytes(),
        [0x69, 0x85]
    );
    assert_eq!(StatusWord::WRONG_DATA.to_string(), "6A80");
}

#[test]
fn register_request_round_trips() {
    let req = Request::Register(RegisterRequest {
        challenge: [0x11; 32],
        application: [0x22; 32],
    });
    let bytes = req.to_bytes();
    assert_eq!(&bytes[..7], &[0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x40]);
    assert_eq!(&bytes[7..39], &[0x11; 32]);
    assert_eq!(&bytes[39..71], &[0x22; 32]);
    assert_eq!(&bytes[71..], &[0, 0]);
    assert_eq!(Request::parse(&bytes).unwrap(), req);
    // Short encoding with P1 = 0x03 (as some browsers send) is accepted too.
    let mut short = vec![0x00, 0x01, 0x03, 0x00, 64];
    short.extend_from_slice(&[0x11; 32]);
    short.extend_from_slice(&[0x22; 32]);
    assert_eq!(Request::parse(&short).unwrap(), req);
}

#[test]
fn authenticate_request_round_trips() {
    for control in [
        AuthenticateControl::CheckOnly,
        AuthenticateControl::EnforceUserPresenceAndSign,
        AuthenticateControl::DontEnforceUserPresenceAndSign,
    ] {
        let req = Request::Authenticate(AuthenticateRequest {
            control,
            challenge: [1; 32],
            application: [2; 32],
            key_handle: KeyHandle::new(vec![9; 70]).unwrap(),
        });
        let bytes = req.to_bytes();
        assert_eq!(bytes[2], control.to_byte());
        assert_eq!(bytes[7 + 64], 70);
        assert_eq!(Request::parse(&bytes).unwrap(), req);
    }
}

#[test]
fn request_errors_map_to_status_words() {
    let sw = |b: &[u8]| Request::parse(b).unwrap_err().status_word();
    assert_eq!(sw(&[0x80, 0x03, 0, 0]), StatusWord::CLA_NOT_SUPPORTED);
    assert_eq!(sw(&[0x00, 0x44, 0, 0]), StatusWord::INS_NOT_SUPPORTED);
    assert_eq!(sw(&[0x00, 0x01, 0, 0, 1, 0]), StatusWord::WRONG_LENGTH);
    assert_eq!(sw(&[0x00, 0x03, 0, 0, 1, 0]), StatusWord::WRONG_LENGTH);
    assert_eq!(sw(&[0x00, 0x01]), StatusWord::WRONG_LENGTH);
    let mut auth = Request::Authenticate(AuthenticateRequest {
        control: AuthenticateControl::CheckOnly,
        challenge: [1; 32],
        application: [2; 32],
        key_handle: KeyHandle::new(vec![9; 4]).unwrap(),
    })
    .to_apdu();
    auth.p1 = 0x05;
    assert_eq!(
        Request::from_apdu(&auth),
        Err(RequestError::InvalidControl(5))
    );
    auth.p1 = 0x07;
    auth.data[64] = 5; // says 5 bytes of key handle, 4 follow
    assert_eq!(
        Request::from_apdu(&auth).unwrap_err().status_word(),
        StatusWord::WRONG_LENGTH
    );
    auth.data.truncate(65);
    auth.data[64] = 0;
    assert_eq!(Request::from_apdu(&auth), Err(RequestError::EmptyKeyHandle));
    assert_eq!(
        RequestError::EmptyKeyHandle.to_response().to_bytes(),
        [0x6a, 0x80]
    );
    assert_eq!(
        Request::parse(&Request::Version.to_bytes()),
        Ok(Request::Version)
    );
}

#[test]
fn key_handle_bounds() {
    assert_eq!(KeyHandle::new(vec![]), Err(KeyHandleError::Empty));
    assert_eq!(
        KeyHandle::new(vec![0; 256]),
        Err(KeyHandleError::TooLong(256))
    );
    assert_eq!(KeyHandle::new(vec![0; 255]).unwrap().len_byte(), 255);
    assert_eq!(
        format!("{:?}", KeyHandle::new(vec![1, 2]).unwrap()),
        "KeyHandle(2 bytes)"
    );
}

fn sample_register() -> RegisterResponse {
    let mut public_key = [0x33; 65];
    public_key[0] = 0x04;
    // A DER SEQUENCE with a long-form length (0x81 0x90 = 144 content bytes).
    let mut certificate = vec![0x30, 0x81, 0x90];
    certificate.extend_from_slice(&[0x44; 144]);
    RegisterResponse {
        public_key,
        key_handle: KeyHandle::new(vec![0x55; 64]).unwrap(),
        certificate,
        signature: hexs("3045022100aa"),
    }
}

#[test]
fn register_response_layout_and_parse() {
    let r = sample_register();
    let bytes = r.to_bytes();
    assert_eq!(bytes[0], 0x05);
    assert_eq!(bytes[1], 0x04);
    assert_eq!(bytes[66], 64);
    assert_eq!(&bytes[67..131], &[0x55; 64]);
    assert_eq!(&bytes[131..134], &[0x30, 0x81, 0x90]);
    assert_eq!(&bytes[134 + 144..], &hexs("3045022100aa")[..]);
    assert_eq!(RegisterResponse::parse(&bytes).unwrap(), r);
}

#[test]
fn register_response_rejects_malformed() {
    let good = sample_register().to_bytes();
    let mut b = good.clone();
    b[0] = 0x04;
    assert_eq!(
        RegisterResponse::parse(&b),
        Err(ResponseError::BadReservedByte(4))
    );
    let mut b = good.clone();
    b[1] = 0x02;
    assert_eq!(
        RegisterResponse::parse(&b),
        Err(ResponseError::BadPublicKey)
    );
    let mut b = good.clone();
    b[66] = 0;
    assert_eq!(
        RegisterResponse::parse(&b),
        Err(ResponseError::BadKeyHandle)
    );
    let mut b = good.clone();
    b[131] = 0x31;
    assert_eq!(
        RegisterResponse::parse(&b),
        Err(ResponseError::BadCertificate)
    );
    let mut b = good.clone();
    b[133] = 0xff; // certificate claims more than there is
    assert_eq!(
        RegisterResponse::parse(&b),
        Err(ResponseError::BadCertificate)
    );
    let b = &good[..134 + 144];
    assert_eq!(
        RegisterResponse::parse(b),
        Err(ResponseError::MissingSignature)
    );
    assert_eq!(
        RegisterResponse::parse(&good[..30]),
        Err(ResponseError::TooShort)
    );
    assert_eq!(RegisterResponse::parse(&[]), Err(ResponseError::TooShort));
}

#[test]
fn authenticate_response_layout_and_parse() {
    let r = AuthenticateResponse {
        user_presence: USER_PRESENCE_FLAG,
        counter: 0x0102_0304,
        signature: vec![0x30, 0x02, 0, 0],
    };
    let bytes = r.to_bytes();
    assert_eq!(bytes, [1, 1, 2, 3, 4, 0x30, 2, 0, 0]);
    let parsed = AuthenticateResponse::parse(&bytes).unwrap();
    assert_eq!(parsed, r);
    assert!(parsed.user_present());
    assert_eq!(
        AuthenticateResponse::parse(&bytes[..5]),
        Err(ResponseError::MissingSignature)
    );
    assert_eq!(
        AuthenticateResponse::parse(&bytes[..3]),
        Err(ResponseError::TooShort)
    );
}

#[test]
fn signed_data_layouts() {
    let kh = KeyHandle::new(vec![7; 3]).unwrap();
    let mut pk = [5; 65];
    pk[0] = 4;
    let d = register_signed_data(&[1; 32], &[2; 32], &kh, &pk);
    assert_eq!(d.len(), 1 + 32 + 32 + 3 + 65);
    assert_eq!(d[0], 0);
    assert_eq!(&d[1..33], &[1; 32]);
    assert_eq!(&d[33..65], &[2; 32]);
    assert_eq!(&d[65..68], &[7; 3]);
    assert_eq!(&d[68..], &pk[..]);
    let d = authenticate_signed_data(&[1; 32], 1, 0x0a0b0c0d, &[2; 32]);
    assert_eq!(&d[32..37], &[1, 0x0a, 0x0b, 0x0c, 0x0d]);
    assert_eq!(&d[37..], &[2; 32]);
}
