//! The crypto device path on the CPA test double (`qat-cpa-double`, linked into this test
//! binary in place of libqat), with faults injected: a RETRY storm is retried and completes; a
//! FAIL (at submit or in the callback) fails that request alone under `qat` and sends it to the
//! CPU under `auto`; a verify failure returns no plaintext; `auto` sends what the device takes
//! to it and the rest to the CPU; nothing leaks (sessions, pinned memory). Every test holds the
//! double's lock: its state is process-wide.

#![cfg(feature = "qatlib")]

use qat_cpa_double::{self as double, Fault};
use qat_crypto::{Backend, ErrorKind, aead, cipher, hash, mac};

const KEY: [u8; 32] = [0x42; 32];

fn gcm(backend: Backend) -> aead::Key {
    aead::Key::new(aead::Algorithm::Aes256Gcm, &KEY)
        .unwrap()
        .with_auto_min_request(0)
        .with_backend(backend)
        .unwrap()
}

fn sealed_on_cpu(nonce: &[u8; 12], aad: &[u8], data: &[u8]) -> Vec<u8> {
    gcm(Backend::Cpu).seal(nonce, aad, data).unwrap()
}

/// Runs `f` with the double reset and checks that it leaves no session and no pinned memory
/// behind once its keys are dropped.
fn on_the_double(f: impl FnOnce()) {
    let _lock = double::lock();
    double::reset();
    let before = double::stats();
    f();
    let after = double::stats();
    assert_eq!(after.live_sessions, 0, "sessions left: {after:?}");
    assert_eq!(
        after.live_pinned, before.live_pinned,
        "pinned memory left: {after:?}"
    );
    assert_eq!(after.violations, 0, "{after:?}");
}

#[test]
fn a_retry_storm_is_retried_and_completes() {
    on_the_double(|| {
        let key = gcm(Backend::Qat);
        let data = vec![5u8; 4096];
        double::inject(Fault::Retry, 0, 300);
        let sealed = key.seal(&[1; 12], b"aad", &data).unwrap();
        assert_eq!(sealed, sealed_on_cpu(&[1; 12], b"aad", &data));
        let stats = double::stats();
        assert!(stats.rejected >= 300, "{stats:?}");
        assert_eq!(key.served().qat_device, 1);
    });
}

fn batch_with_a_fault(
    backend: Backend,
    fault: Fault,
) -> (
    Vec<Result<(), qat_crypto::crypto::Error>>,
    Vec<Vec<u8>>,
    aead::Key,
) {
    let key = gcm(backend);
    let mut datas: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 1024]).collect();
    let mut tags = vec![[0u8; 16]; 8];
    double::inject(fault, 3, 1);
    let results = {
        let mut requests: Vec<aead::Request<'_>> = datas
            .iter_mut()
            .zip(tags.iter_mut())
            .enumerate()
            .map(|(i, (data, tag))| aead::Request {
                nonce: [i as u8; 12],
                aad: b"batch",
                data,
                tag,
            })
            .collect();
        key.seal_batch(&mut requests)
    };
    for (i, (data, tag)) in datas.iter().zip(&tags).enumerate() {
        if results[i].is_ok() {
            let mut expected = sealed_on_cpu(&[i as u8; 12], b"batch", &[i as u8; 1024]);
            let expected_tag = expected.split_off(1024);
            assert_eq!(
                (data, &tag[..]),
                (&expected, &expected_tag[..]),
                "request {i}"
            );
        }
    }
    (results, datas, key)
}

#[test]
fn a_fail_mid_batch_fails_that_request_alone_under_qat() {
    for fault in [Fault::Fail, Fault::FailInCallback, Fault::Restarting] {
        on_the_double(|| {
            let (results, datas, key) = batch_with_a_fault(Backend::Qat, fault);
            for (i, result) in results.iter().enumerate() {
                if i == 3 {
                    let e = result.as_ref().expect_err("the faulted request fails");
                    assert_eq!(e.kind(), ErrorKind::DeviceFailure, "{fault:?}: {e}");
                    assert!(
                        e.to_string()
                            .starts_with("sealing AES-256-GCM on qat device:"),
                        "{e}"
                    );
                    // Nothing was written back: the plaintext is as it was.
                    assert_eq!(datas[3], vec![3u8; 1024], "{fault:?}");
                } else {
                    result
                        .as_ref()
                        .unwrap_or_else(|e| panic!("{fault:?}: request {i}: {e}"));
                }
            }
            assert_eq!(key.served().qat_device, 7);
        });
    }
}

#[test]
fn a_fail_mid_batch_falls_back_to_the_cpu_under_auto() {
    for fault in [Fault::Fail, Fault::FailInCallback, Fault::Restarting] {
        on_the_double(|| {
            let (results, _, key) = batch_with_a_fault(Backend::Auto, fault);
            assert!(results.iter().all(Result::is_ok), "{fault:?}: {results:?}");
            let served = key.served();
            assert_eq!((served.qat_device, served.cpu), (7, 1), "{fault:?}");
        });
    }
}

#[test]
fn opening_falls_back_to_the_cpu_under_auto_with_the_ciphertext_intact() {
    for fault in [Fault::Fail, Fault::FailInCallback, Fault::Restarting] {
        on_the_double(|| {
            let key = gcm(Backend::Auto);
            let data = vec![0x5au8; 4096];
            let sealed = key.seal(&[4; 12], b"aad", &data).unwrap();
            double::inject(fault, 0, 1);
            assert_eq!(
                key.open(&[4; 12], b"aad", &sealed).unwrap(),
                data,
                "{fault:?}"
            );
            let served = key.served();
            assert_eq!((served.qat_device, served.cpu), (1, 1), "{fault:?}");
        });
    }
}

#[test]
fn a_verify_failure_returns_no_plaintext() {
    on_the_double(|| {
        let key = gcm(Backend::Qat);
        let data = vec![0x77u8; 2048];
        let mut sealed = key.seal(&[2; 12], b"aad", &data).unwrap();
        double::inject(Fault::VerifyFails, 0, 1);
        let e = key
            .open_in_place(&[2; 12], b"aad", &mut sealed)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CorruptData);
        assert!(
            sealed.iter().all(|&b| b == 0),
            "no plaintext, no ciphertext left"
        );
        // Without the fault, the same message opens.
        let sealed = key.seal(&[2; 12], b"aad", &data).unwrap();
        assert_eq!(key.open(&[2; 12], b"aad", &sealed).unwrap(), data);
        // Under `auto` a failed tag check is an answer, not a device failure: no CPU retry.
        let auto = gcm(Backend::Auto);
        double::inject(Fault::VerifyFails, 0, 1);
        assert_eq!(
            auto.open(&[2; 12], b"aad", &sealed).unwrap_err().kind(),
            ErrorKind::CorruptData
        );
        assert_eq!(auto.served().cpu, 0);
    });
}

#[test]
fn auto_sends_what_the_device_takes_to_it_and_the_rest_to_the_cpu() {
    on_the_double(|| {
        let small_first = aead::Key::new(aead::Algorithm::ChaCha20Poly1305, &KEY)
            .unwrap()
            .with_auto_min_request(1024);
        small_first.seal(&[3; 12], b"", &[1; 100]).unwrap(); // under the threshold: CPU
        small_first.seal(&[3; 12], b"", &[1; 4096]).unwrap(); // device
        small_first.seal(&[3; 12], &[0; 241], &[1; 4096]).unwrap(); // AAD too long: CPU
        let served = small_first.served();
        assert_eq!((served.cpu, served.qat_device), (2, 1));

        // Hashes, MACs and ciphers go to the device from the default threshold (2 KiB) up.
        let hasher = hash::Hasher::new(hash::Algorithm::Sha512);
        hasher.hash(&[9; 100]).unwrap();
        hasher.hash(&[9; 8192]).unwrap();
        assert_eq!((hasher.served().cpu, hasher.served().qat_device), (1, 1));
        let hmac = mac::Key::new(mac::Algorithm::HmacSha384, &[1; 200]).unwrap();
        let tag = hmac.sign(&[9; 8192]).unwrap();
        hmac.verify(&[9; 8192], tag.as_ref()).unwrap();
        assert_eq!(hmac.served().qat_device, 2);
        let xts = cipher::Key::new(
            cipher::Algorithm::Aes256Xts,
            &[[1u8; 32], [2u8; 32]].concat(),
        )
        .unwrap();
        let mut sector = vec![4u8; 4096];
        xts.encrypt_in_place(&[0; 16], &mut sector).unwrap();
        xts.decrypt_in_place(&[0; 16], &mut sector).unwrap();
        assert_eq!(sector, vec![4u8; 4096]);
        let mut odd = vec![4u8; 4100]; // a partial last block: the CPU's ciphertext stealing
        xts.encrypt_in_place(&[0; 16], &mut odd).unwrap();
        assert_eq!((xts.served().qat_device, xts.served().cpu), (2, 1));
    });
}

#[test]
fn keys_on_several_threads_share_the_device() {
    on_the_double(|| {
        let key = gcm(Backend::Qat).with_in_flight(4);
        let mut datas: Vec<Vec<u8>> = (0..32u8).map(|i| vec![i; 3000]).collect();
        let mut tags = vec![[0u8; 16]; 32];
        let mut requests: Vec<aead::Request<'_>> = datas
            .iter_mut()
            .zip(tags.iter_mut())
            .map(|(data, tag)| aead::Request {
                nonce: [9; 12],
                aad: b"",
                data,
                tag,
            })
            .collect();
        assert!(key.seal_batch(&mut requests).iter().all(Result::is_ok));
        assert!(key.open_batch(&mut requests).iter().all(Result::is_ok));
        drop(requests);
        for (i, data) in datas.iter().enumerate() {
            assert_eq!(data, &vec![i as u8; 3000]);
        }
        assert_eq!(key.served().qat_device, 64);
    });
}
