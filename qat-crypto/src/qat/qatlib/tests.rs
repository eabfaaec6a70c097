//! Tests of the qatlib layer against the CPA test double (`qat-cpa-double`).

use super::*;

#[test]
fn error_kinds() {
    let call = |status| QatlibError::Call { call: "x", status };
    assert_eq!(call(cpa::CPA_STATUS_FAIL).kind(), ErrorKind::DeviceFailure);
    assert_eq!(
        call(cpa::CPA_STATUS_RESTARTING).kind(),
        ErrorKind::DeviceFailure
    );
    assert_eq!(
        call(cpa::CPA_STATUS_UNSUPPORTED).kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        call(cpa::CPA_STATUS_INVALID_PARAM).kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        QatlibError::Start {
            call: "icp_sal_userStart",
            status: -1
        }
        .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(QatlibError::NoInstance.kind(), ErrorKind::NotFound);
    assert_eq!(
        QatlibError::Busy {
            waited: Duration::from_secs(2)
        }
        .kind(),
        ErrorKind::Busy
    );
    assert_eq!(QatlibError::Verify.kind(), ErrorKind::CorruptData);
    assert_eq!(QatlibError::rule("x").kind(), ErrorKind::Unsupported);
    assert_eq!(
        QatlibError::Alloc { bytes: 1 }.kind(),
        ErrorKind::LimitExceeded
    );
    assert_eq!(
        call(cpa::CPA_STATUS_RETRY).to_string(),
        "x returned -2 (CPA_STATUS_RETRY)"
    );
}
