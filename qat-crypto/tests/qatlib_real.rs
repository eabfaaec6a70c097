//! The qatlib layer against the real libqat (not the CPA test double). Without a QAT device,
//! qatlib cannot start: the service must fail fast with a clear error, and the failure must be
//! remembered (qatlib complains on stderr once, not on every call). With a device, it starts.

#![cfg(feature = "qatlib")]

use std::time::{Duration, Instant};

use qat_crypto::ErrorKind;

#[test]
fn without_a_device_the_service_fails_fast_and_remembers_it() {
    let start = Instant::now();
    let first = qat_crypto::__qatlib_probe();
    let took = start.elapsed();
    match first {
        Ok(instances) => {
            // A machine with a QAT device and qatlib configured: nothing to check here.
            assert!(instances > 0);
            eprintln!(
                "qatlib started with {instances} sym instance(s); the no-device check does not apply"
            );
        }
        Err((kind, message)) => {
            assert!(
                matches!(kind, ErrorKind::NotFound | ErrorKind::DeviceFailure),
                "{kind}: {message}"
            );
            assert!(message.contains("qatlib"), "{message}");
            assert!(
                took < Duration::from_secs(10),
                "the failed start took {took:?}"
            );
            let start = Instant::now();
            let second = qat_crypto::__qatlib_probe();
            assert_eq!(second, Err((kind, message)), "the failure is remembered");
            assert!(
                start.elapsed() < Duration::from_millis(50),
                "and not retried"
            );
        }
    }
}
