//! The double wins even when the real libqat is loaded: this test binary also calls a libqat
//! function the double does not define, so libqat.so.4 is a NEEDED library here (in the other
//! test binary the linker drops it as unused).
#![cfg(feature = "qatlib")]

use qat_cpa_double as double;
use qat_sys::qatlib::*;

#[test]
fn the_double_answers_though_libqat_is_loaded() {
    let _g = double::lock();
    double::reset();
    // SAFETY: no arguments; this one is libqat's own (it looks for a device and finds none).
    let real = unsafe { icp_sal_userIsQatAvailable() };
    assert_eq!(real, CPA_FALSE, "libqat's own answer: no device here");
    // SAFETY: a NUL-terminated process name and out-parameters that live for the calls.
    unsafe {
        // libqat's icp_sal_userStart would fail without a device; the double's succeeds.
        assert_eq!(icp_sal_userStart(c"SSL".as_ptr()), CPA_STATUS_SUCCESS);
        let mut n: Cpa16U = 0;
        assert_eq!(cpaCyGetNumInstances(&mut n), CPA_STATUS_SUCCESS);
        assert_eq!(n, 2);
        // usdm's allocator is the double's too: the block is counted.
        let before = double::stats().live_pinned;
        let mut p = qaeMemAllocNUMA(64, 0, 64);
        assert!(!p.is_null());
        assert_eq!(double::stats().live_pinned, before + 1);
        assert_eq!(qaeVirtToPhysNUMA(p), p as u64);
        qaeMemFreeNUMA(&mut p);
        assert_eq!(double::stats().live_pinned, before);
        assert_eq!(icp_sal_userStop(), CPA_STATUS_SUCCESS);
    }
}
