//! The real qatlib through the raw bindings. Without a device its setup answers fail fast (no
//! hang): what can be tested here is setup and error handling.
#![cfg(feature = "qatlib")]

use qat_sys::qatlib::*;

#[test]
fn without_a_device_setup_fails_fast_and_counts_no_instances() {
    let started = std::time::Instant::now();
    // SAFETY: a NUL-terminated process name, and out-parameters (one instance handle for a
    // request of one) that live for the calls.
    unsafe {
        assert_eq!(icp_sal_userStart(c"SSL".as_ptr()), CPA_STATUS_FAIL);
        let mut n: Cpa16U = 7;
        assert_eq!(cpaCyGetNumInstances(&mut n), CPA_STATUS_SUCCESS);
        assert_eq!(n, 0);
        // qatlib 24.02 (Debian 13) counts no instance; 25.08 answers RESOURCE.
        n = 7;
        match cpaDcGetNumInstances(&mut n) {
            CPA_STATUS_SUCCESS => assert_eq!(n, 0),
            status => assert_eq!(status, CPA_STATUS_RESOURCE),
        }
        let mut instance: CpaInstanceHandle = std::ptr::null_mut();
        assert_eq!(cpaCyGetInstances(1, &mut instance), CPA_STATUS_RESOURCE);
        assert!(instance.is_null());
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
#[ignore = "needs a QAT device with VFs bound to vfio-pci and qatmgr running"]
fn with_a_device_instances_are_counted() {
    // SAFETY: as above.
    unsafe {
        assert_eq!(icp_sal_userStart(c"SSL".as_ptr()), 0);
        let mut n: Cpa16U = 0;
        assert_eq!(cpaDcGetNumInstances(&mut n), 0);
        assert!(n > 0);
        assert_eq!(icp_sal_userStop(), 0);
    }
}
