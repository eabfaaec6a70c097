//! Crypto against the real libqat (this test binary does not link the CPA test double).
//! Without a QAT device qatlib cannot start: `qat` must fail with a clear error when it is
//! chosen, fast, and without starting qatlib again each time; `auto` must serve everything on
//! the CPU without an error. With a device, the checks below do not apply and it says so.

#![cfg(feature = "qatlib")]

use std::time::{Duration, Instant};

use qat_crypto::{Backend, ErrorKind, aead, hash};

#[test]
fn without_a_device_qat_fails_clearly_and_auto_serves_on_the_cpu() {
    let key = [7u8; 32];
    let start = Instant::now();
    let chosen = aead::Key::new(aead::Algorithm::Aes256Gcm, &key)
        .unwrap()
        .with_backend(Backend::Qat);
    let took = start.elapsed();
    let e = match chosen {
        Ok(_) => {
            eprintln!(
                "qatlib started: this machine has a device; the no-device checks do not apply"
            );
            return;
        }
        Err(e) => e,
    };
    assert!(
        matches!(e.kind(), ErrorKind::NotFound | ErrorKind::DeviceFailure),
        "{}: {e}",
        e.kind()
    );
    let message = e.to_string();
    assert!(
        message.starts_with("choosing a backend AES-256-GCM: backend qat cannot serve"),
        "{message}"
    );
    assert!(message.contains("qatlib"), "{message}");
    assert!(
        took < Duration::from_secs(10),
        "the failed start took {took:?}"
    );

    // Remembered: a second key asks again without starting qatlib again.
    let start = Instant::now();
    let again = hash::Hasher::new(hash::Algorithm::Sha256)
        .with_backend(Backend::Qat)
        .unwrap_err();
    assert_eq!(again.kind(), e.kind());
    assert!(start.elapsed() < Duration::from_millis(50), "not retried");

    // `auto`, even asked to send everything to a device, serves on the CPU.
    let auto = aead::Key::new(aead::Algorithm::Aes256Gcm, &key)
        .unwrap()
        .with_auto_min_request(0);
    let sealed = auto.seal(&[1; 12], b"aad", &[9; 4096]).unwrap();
    assert_eq!(auto.open(&[1; 12], b"aad", &sealed).unwrap(), vec![9; 4096]);
    let served = auto.served();
    assert_eq!((served.cpu, served.qat_device), (2, 0));
}
