use super::*;

#[test]
fn get_info_request_is_one_byte() {
    assert_eq!(Request::decode(&[0x04]).unwrap(), Request::GetInfo);
    assert_eq!(Request::GetInfo.encode(), vec![0x04]);
}
