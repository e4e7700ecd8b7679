#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
//! The W3C WebAuthn Level 3 test vectors (WebAuthn L3 §"Test Vectors", `#sctn-test-vectors`,
//! w3c/webauthn `index.bs`), replayed through `handle_cbor`.
//!
//! The vectors derive every random value from a seed; we inject the vector's credential private
//! key (`MemoryStore::inject_next_key`), credential ID (`Authenticator::push_credential_id`),
//! AAGUID, counter (`SignCountMode::AlwaysZero`) and BE/BS flags (`Config::backup_*`), and the UV
//! flag comes from a real PIN token. Our authenticatorData and `none` attestation objects must
//! then equal the vector's bytes exactly. ECDSA signatures are randomised here (the vectors use
//! RFC 6979 nonces), so for signatures we check that ours verify with the vector's public key,
//! that the vector's verify over our bytes, and that a `packed` attestation object equals the
//! vector's with only the `sig` value replaced.

mod common;

use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use common::*;
use latchkey_authenticator::{AttestationMode, Config, SignCountMode};
use latchkey_ctap::authdata::{AttestationObject, AttestationStatement, AuthenticatorData};
use latchkey_ctap::command::{self as cmd, ClientDataHash, Request};
use latchkey_ctap::cose::CoseKey;
use latchkey_ctap::entity::CoseAlgorithm;

struct Vector {
    private_key: &'static str,
    aaguid: &'static str,
    credential_id: &'static str,
    reg_client_data_json: &'static str,
    attestation_object: &'static str,
    auth_client_data_json: &'static str,
    authenticator_data: &'static str,
    signature: &'static str,
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// WebAuthn L3 "Test Vectors" › "ES256 Credential with No Attestation" (`#sctn-test-vectors-none-es256`).
const NONE_ES256: Vector = Vector {
    private_key: "6e68e7a58484a3264f66b77f5d6dc5bc36a47085b615c9727ab334e8c369c2ee",
    aaguid: "8446ccb9ab1db374750b2367ff6f3a1f",
    credential_id: "f91f391db4c9b2fde0ea70189cba3fb63f579ba6122b33ad94ff3ec330084be4",
    reg_client_data_json: concat!(
        "7b2274797065223a22776562617574686e2e637265617465222c226368616c6c656e6765223a22414d4d5074",
        "34557878475453746e63647134313759447742466938767049612d7077386f4f755657345441222c226f7269",
        "67696e223a2268747470733a2f2f6578616d706c652e6f7267222c2263726f73734f726967696e223a66616c",
        "73652c22657874726144617461223a22636c69656e74446174614a534f4e206d617920626520657874656e64",
        "65642077697468206164646974696f6e616c206669656c647320696e20746865206675747572652c20737563",
        "6820617320746869733a20426b5165446a646354427258426941774a544c453551227d",
    ),
    attestation_object: concat!(
        "a363666d74646e6f6e656761747453746d74a068617574684461746158a4bfabc37432958b063360d3ad6461",
        "c9c4735ae7f8edd46592a5e0f01452b2e4b559000000008446ccb9ab1db374750b2367ff6f3a1f0020f91f39",
        "1db4c9b2fde0ea70189cba3fb63f579ba6122b33ad94ff3ec330084be4a5010203262001215820afefa16f97",
        "ca9b2d23eb86ccb64098d20db90856062eb249c33a9b672f26df61225820930a56b87a2fca66334b03458abf",
        "879717c12cc68ed73290af2e2664796b9220",
    ),
    auth_client_data_json: concat!(
        "7b2274797065223a22776562617574686e2e676574222c226368616c6c656e6765223a224f63446e55685158",
        "756c5455506f334a5558543049393770767a7a59425039745a63685879617630314167222c226f726967696e",
        "223a2268747470733a2f2f6578616d706c652e6f7267222c2263726f73734f726967696e223a66616c73657d",
    ),
    authenticator_data:
        "bfabc37432958b063360d3ad6461c9c4735ae7f8edd46592a5e0f01452b2e4b51900000000",
    signature: concat!(
        "3046022100f50a4e2e4409249c4a853ba361282f09841df4dd4547a13a87780218deffcd380221008480ac0f",
        "0b93538174f575bf11a1dd5d78c6e486013f937295ea13653e331e87",
    ),
};

/// WebAuthn L3 "Test Vectors" › "ES256 Credential with Self Attestation" (`#sctn-test-vectors-packed-self-es256`).
const PACKED_SELF_ES256: Vector = Vector {
    private_key: "b4bbfa5d68e1693b6ef5a19a0e60ef7ee2cbcac81f7fec7006ac3a21e0c5116a",
    aaguid: "df850e09db6afbdfab51697791506cfc",
    credential_id: "455ef34e2043a87db3d4afeb39bbcb6cc32df9347c789a865ecdca129cbef58c",
    reg_client_data_json: concat!(
        "7b2274797065223a22776562617574686e2e637265617465222c226368616c6c656e6765223a2265476e4374",
        "334c55745936366b336a506a796e6962506b31716e666644616966715a774c33417032392d55222c226f7269",
        "67696e223a2268747470733a2f2f6578616d706c652e6f7267222c2263726f73734f726967696e223a66616c",
        "73652c22657874726144617461223a22636c69656e74446174614a534f4e206d617920626520657874656e64",
        "65642077697468206164646974696f6e616c206669656c647320696e20746865206675747572652c20737563",
        "6820617320746869733a205539685458764b453255526b4d6e625f307859485667227d",
    ),
    attestation_object: concat!(
        "a363666d74667061636b65646761747453746d74a263616c672663736967584630440220067a20754ab92500",
        "5dbf378097c92120031581c73228d1fb4f5b881bcd7da98302207fc7b147558c7c0eba3af18bd9d121fa3d3a",
        "26d17fe3f220272178f473b6006d68617574684461746158a4bfabc37432958b063360d3ad6461c9c4735ae7",
        "f8edd46592a5e0f01452b2e4b55d00000000df850e09db6afbdfab51697791506cfc0020455ef34e2043a87d",
        "b3d4afeb39bbcb6cc32df9347c789a865ecdca129cbef58ca5010203262001215820eb151c8176b225cc6515",
        "59fecf07af450fd85802046656b34c18f6cf193843c5225820927b8aa427a2be1b8834d233a2d34f61f13bfd",
        "44119c325d5896e183fee484f2",
    ),
    auth_client_data_json: concat!(
        "7b2274797065223a22776562617574686e2e676574222c226368616c6c656e6765223a225248696843784e53",
        "4e493352594d45314f7731476d3132786e726b634a5f6666707637546e2d4a71386773222c226f726967696e",
        "223a2268747470733a2f2f6578616d706c652e6f7267222c2263726f73734f726967696e223a66616c73652c",
        "22657874726144617461223a22636c69656e74446174614a534f4e206d617920626520657874656e64656420",
        "77697468206164646974696f6e616c206669656c647320696e20746865206675747572652c20737563682061",
        "7320746869733a206754623533727a36456853576f6d58477a696d433151227d",
    ),
    authenticator_data:
        "bfabc37432958b063360d3ad6461c9c4735ae7f8edd46592a5e0f01452b2e4b50900000000",
    signature: concat!(
        "304402203310b9431903c401f1be2bdc8d23a4007682dbbddcf846994947b7f465daf84002204e94dd00047b",
        "316061b3b99772b7efd95994a83ef584b3b6b825ea3550251b66",
    ),
};

/// WebAuthn L3 "Test Vectors" › "ES256 Credential with very long credential ID" (`#sctn-test-vectors-none-es256-long-credential-id`).
const LONG_ID_ES256: Vector = Vector {
    private_key: "6fd2149bb5f1597fe549b138794bde61893b2dc32ca316de65f04808dac211dc",
    aaguid: "8f3360c2cd1b0ac14ffe0795c5d2638e",
    credential_id: concat!(
        "3a761a4e1674ad6c4305869435c0eee9c286172c229bb91b48b4ada140c0863417031305cce5b4a27a88d7fe",
        "728a5f5a627de771b4b40e77f187980c124f9fe832d7136010436a056cce716680587d23187cf1fc2c62ae86",
        "fc3e508ee9617ffc74fbc10488ec16ec5e9096328669a898709b655e549738c666c1ae6281dc3b5f733c251d",
        "3eefb76ee70a3805ca91bcc18e49c8dc7f63ebcb486ba8c3d6ab52b88ff72c6a5bb47c32f3ee8683a3ddc8ab",
        "f60870448ec8a21b5bdcb183c7dead870255575a6df96eb1b6a2a1019780cba9e4887b17ff1164bbbcc10eb0",
        "d86ed75984cd3fa3419103024507dfd9ce8f92c56af7914cb0bb50b87ba82a312bb7dcd93028dbdcd6adb266",
        "979667158335171e3682d37755701edbf9d872846a291d49e57ef09da1ec637f5052ed2aa7407f7e61827468",
        "e94b461844f4c67be5fa9c6055a566f8fdfc29d4bf78a9ff275f552cc68ba543fa3962eea36fd1ea84537645",
        "77d021d0a181efc1f6100ab2e4110039e21ee16970bda7432b6134492155afc126295b3a2eccd12c66a68e34",
        "0969e995e3e8c9c476e395cfc21203414110779474f1c9797406637dbe414f132519d3bf0ce4f01734ef0e1a",
        "12c3ad604ff15d766b1624db6a5a7ccbff7bc35c9908df94aba277e0af48f04ff3d16381c47e5a37ed3988a6",
        "7a3b1ecaa926336b33391fff04128f869991c9fabd905b6fe3ceef5f8b630ec1c5d2636d5b1961ad5ca50041",
        "70f6f5e482792aad989b0287fe91e5c479403397152f1fa56aa79b156eb47e6c8ea3eb175c34cfb38ad8e772",
        "874639b1023d4d01395c94e55831671cc022aa6fa1e02a02c2e4abc776f6960e51f83b71a8c0f207b6a34757",
        "3977812c9aa5480b0011aa739bd4b76c18c000cc4757cceccb920f007c40c00e37e5ab21476cd9f6054a8fff",
        "b55a108f5c706e2cea2049d81fd321ff47d2a5761b0800955ab1d4f4889f55a84e2601c684f17a4ade7453ea",
        "49591d0b59c8d9a765052f62219cf6ef4a5dd9539f0617d6ebbebce7c000455475d18449e25c49ef9a1e3efe",
        "18c09082ebe2058d7c347defaa92f0664553b805c7d76bbfce5f330aca220ac90a789380fc479ea0d8793205",
        "813cca590a912f699ad52f991a1bc0a503c3ec4b2a696719e3c26591a87127f7305cc7e72f4c8e39355ebb06",
        "a5b1042990f38710ee7aa612ee4374bb82e878585a70a96c2a6b47f101a4ff154be4fd76a3167577a5cc54d9",
        "167c154c69ac35485e44cc898b719e1be3cc9c0fb5624b8f8a0dae10947a41bf848b6c1bb33d1006ec077d7e",
        "286e3f2a7b4843716390119449fe2721e81a5ed2333d331c7120765da58fadae73c19d9a8c4509cf8ac1e9d9",
        "8b799a5274509069739b5823f3fb496663820033426988eefca53e580e0f9e0dfe0992fc2e53a97e053639f9",
        "8577058f995bdbd41cefdb",
    ),
    reg_client_data_json: concat!(
        "7b2274797065223a22776562617574686e2e637265617465222c226368616c6c656e6765223a22455250484a",
        "6c7a50586d5553516f4c364858675a7036464d75464f61704d322d7830682d587a5859374777222c226f7269",
        "67696e223a2268747470733a2f2f6578616d706c652e6f7267222c2263726f73734f726967696e223a66616c",
        "73657d",
    ),
    attestation_object: concat!(
        "a363666d74646e6f6e656761747453746d74a0686175746844617461590483bfabc37432958b063360d3ad64",
        "61c9c4735ae7f8edd46592a5e0f01452b2e4b549000000008f3360c2cd1b0ac14ffe0795c5d2638e03ff3a76",
        "1a4e1674ad6c4305869435c0eee9c286172c229bb91b48b4ada140c0863417031305cce5b4a27a88d7fe728a",
        "5f5a627de771b4b40e77f187980c124f9fe832d7136010436a056cce716680587d23187cf1fc2c62ae86fc3e",
        "508ee9617ffc74fbc10488ec16ec5e9096328669a898709b655e549738c666c1ae6281dc3b5f733c251d3eef",
        "b76ee70a3805ca91bcc18e49c8dc7f63ebcb486ba8c3d6ab52b88ff72c6a5bb47c32f3ee8683a3ddc8abf608",
        "70448ec8a21b5bdcb183c7dead870255575a6df96eb1b6a2a1019780cba9e4887b17ff1164bbbcc10eb0d86e",
        "d75984cd3fa3419103024507dfd9ce8f92c56af7914cb0bb50b87ba82a312bb7dcd93028dbdcd6adb2669796",
        "67158335171e3682d37755701edbf9d872846a291d49e57ef09da1ec637f5052ed2aa7407f7e61827468e94b",
        "461844f4c67be5fa9c6055a566f8fdfc29d4bf78a9ff275f552cc68ba543fa3962eea36fd1ea8453764577d0",
        "21d0a181efc1f6100ab2e4110039e21ee16970bda7432b6134492155afc126295b3a2eccd12c66a68e340969",
        "e995e3e8c9c476e395cfc21203414110779474f1c9797406637dbe414f132519d3bf0ce4f01734ef0e1a12c3",
        "ad604ff15d766b1624db6a5a7ccbff7bc35c9908df94aba277e0af48f04ff3d16381c47e5a37ed3988a67a3b",
        "1ecaa926336b33391fff04128f869991c9fabd905b6fe3ceef5f8b630ec1c5d2636d5b1961ad5ca5004170f6",
        "f5e482792aad989b0287fe91e5c479403397152f1fa56aa79b156eb47e6c8ea3eb175c34cfb38ad8e7728746",
        "39b1023d4d01395c94e55831671cc022aa6fa1e02a02c2e4abc776f6960e51f83b71a8c0f207b6a347573977",
        "812c9aa5480b0011aa739bd4b76c18c000cc4757cceccb920f007c40c00e37e5ab21476cd9f6054a8fffb55a",
        "108f5c706e2cea2049d81fd321ff47d2a5761b0800955ab1d4f4889f55a84e2601c684f17a4ade7453ea4959",
        "1d0b59c8d9a765052f62219cf6ef4a5dd9539f0617d6ebbebce7c000455475d18449e25c49ef9a1e3efe18c0",
        "9082ebe2058d7c347defaa92f0664553b805c7d76bbfce5f330aca220ac90a789380fc479ea0d8793205813c",
        "ca590a912f699ad52f991a1bc0a503c3ec4b2a696719e3c26591a87127f7305cc7e72f4c8e39355ebb06a5b1",
        "042990f38710ee7aa612ee4374bb82e878585a70a96c2a6b47f101a4ff154be4fd76a3167577a5cc54d9167c",
        "154c69ac35485e44cc898b719e1be3cc9c0fb5624b8f8a0dae10947a41bf848b6c1bb33d1006ec077d7e286e",
        "3f2a7b4843716390119449fe2721e81a5ed2333d331c7120765da58fadae73c19d9a8c4509cf8ac1e9d98b79",
        "9a5274509069739b5823f3fb496663820033426988eefca53e580e0f9e0dfe0992fc2e53a97e053639f98577",
        "058f995bdbd41cefdba50102032620012158203b8176b7504489cc593046d7988abb7905a742de6ac2cdc748",
        "a873c663e90cb12258201436d5edc9a75f23999eef9d5950a5c2455514ee1014084720f841a06b828a11",
    ),
    auth_client_data_json: concat!(
        "7b2274797065223a22776562617574686e2e676574222c226368616c6c656e6765223a22377833727057334f",
        "53505a307045664d396a75566d53574d36485a4935634f573875384d6f647047446a73222c226f726967696e",
        "223a2268747470733a2f2f6578616d706c652e6f7267222c2263726f73734f726967696e223a66616c73657d",
    ),
    authenticator_data:
        "bfabc37432958b063360d3ad6461c9c4735ae7f8edd46592a5e0f01452b2e4b50d00000000",
    signature: concat!(
        "304502203ecef83fb12a0cae7841055f9f87103a99fd14b424194bbf06c4623d3ee6e3fd022100d2ace346db",
        "262b1374a6b70faa51f518a42ddca13a4125ce6f5052a75bac9fb6",
    ),
};

const UV: u8 = 0x04;
const BE: u8 = 0x08;
const BS: u8 = 0x10;

fn verify(key: &CoseKey, message: &[u8], sig: &[u8]) {
    let CoseKey::Es256(p) = key else {
        panic!("{key:?}")
    };
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, p.to_sec1())
        .verify(message, sig)
        .unwrap();
}

fn replay(v: &Vector, attestation: AttestationMode) {
    let expected_obj = AttestationObject::from_bytes(&h(v.attestation_object)).unwrap();
    let reg_flags = expected_obj.auth_data[32];
    let auth_flags = h(v.authenticator_data)[32];
    let mut aaguid = [0u8; 16];
    aaguid.copy_from_slice(&h(v.aaguid));
    let mut harness = Harness::with_config(Config {
        aaguid,
        attestation,
        sign_count: SignCountMode::AlwaysZero,
        backup_eligible: reg_flags & BE != 0,
        backup_state: reg_flags & BS != 0,
        max_credential_id_length: 1023,
        ..Config::default()
    });
    let uv_anywhere = (reg_flags | auth_flags) & UV != 0;
    if uv_anywhere {
        harness.set_pin(PIN);
    }
    harness.auth.store_mut().inject_next_key(&h(v.private_key));
    harness.auth.push_credential_id(h(v.credential_id));

    // Registration.
    let mut r = mc("example.org", 1, false);
    r.client_data_hash = ClientDataHash(sha256(&h(v.reg_client_data_json)));
    if reg_flags & UV != 0 {
        let token = harness.token(MC, Some("example.org"));
        r = with_token_mc(r, &token);
    }
    let resp: cmd::MakeCredentialResponse = harness.ok(&Request::MakeCredential(r));
    let ours = AttestationObject::from(resp).to_bytes();
    let ours_obj = AttestationObject::from_bytes(&ours).unwrap();
    assert_eq!(
        hex::encode(&ours_obj.auth_data),
        hex::encode(&expected_obj.auth_data),
        "authData"
    );
    let public_key = AuthenticatorData::parse(&expected_obj.auth_data)
        .unwrap()
        .attested_credential_data
        .unwrap()
        .public_key;
    match (&ours_obj.att_stmt, &expected_obj.att_stmt) {
        (AttestationStatement::None, AttestationStatement::None) => {
            assert_eq!(
                hex::encode(&ours),
                v.attestation_object.to_owned(),
                "attestationObject"
            );
        }
        (
            AttestationStatement::Packed {
                alg,
                sig,
                x5c: None,
            },
            AttestationStatement::Packed { sig: their_sig, .. },
        ) => {
            assert_eq!(*alg, CoseAlgorithm::ES256);
            let mut signed = ours_obj.auth_data.clone();
            signed.extend_from_slice(&sha256(&h(v.reg_client_data_json)));
            verify(&public_key, &signed, sig);
            verify(&public_key, &signed, their_sig);
            // The vector's object with our signature in place of theirs is exactly ours.
            let mut with_ours = expected_obj.clone();
            with_ours.att_stmt = AttestationStatement::Packed {
                alg: CoseAlgorithm::ES256,
                sig: sig.clone(),
                x5c: None,
            };
            assert_eq!(hex::encode(with_ours.to_bytes()), hex::encode(&ours));
            assert_eq!(
                hex::encode(expected_obj.to_bytes()),
                v.attestation_object.to_owned()
            );
        }
        other => panic!("{other:?}"),
    }

    // Authentication: the vector may clear BS (and set UV) for this ceremony.
    harness.auth.config_mut().backup_state = auth_flags & BS != 0;
    let id = h(v.credential_id);
    let mut g = ga("example.org", &[&id]);
    g.client_data_hash = ClientDataHash(sha256(&h(v.auth_client_data_json)));
    if auth_flags & UV != 0 {
        let token = harness.token(GA, Some("example.org"));
        g = with_token_ga(g, &token);
    }
    let a: cmd::GetAssertionResponse = harness.ok(&Request::GetAssertion(g));
    assert_eq!(
        hex::encode(&a.auth_data),
        v.authenticator_data.to_owned(),
        "authenticatorData"
    );
    assert_eq!(a.credential.unwrap().id, id);
    let mut signed = a.auth_data.clone();
    signed.extend_from_slice(&sha256(&h(v.auth_client_data_json)));
    verify(&public_key, &signed, &a.signature);
    verify(&public_key, &signed, &h(v.signature));
}

#[test]
fn none_es256() {
    replay(&NONE_ES256, AttestationMode::None);
}

#[test]
fn packed_self_es256() {
    replay(&PACKED_SELF_ES256, AttestationMode::PackedSelf);
}

#[test]
fn none_es256_long_credential_id() {
    replay(&LONG_ID_ES256, AttestationMode::None);
}
