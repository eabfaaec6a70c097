//! Public-key operations on the CPA test double (`qat-cpa-double`, linked into this test binary
//! in place of libqat): what the device signs verifies on the CPU and with OpenSSL's command
//! line; a device failure in the middle of a batch fails that request alone under `qat` and
//! sends it alone to the CPU under `auto`; a device's "does not verify" is an answer, not a
//! failure; nothing stays queued and no rule of the double's is broken. Every test holds the
//! double's lock: its state is process-wide. (Without a device: `asym_no_device.rs`.)

#![cfg(feature = "qatlib")]

use qat_cpa_double::{self as double, Fault};
use qat_crypto::{Backend, ErrorKind, ecdh, ecdsa, rsa};

mod common;

use common::{openssl_verifies, test_data as data};

fn rsa2048(backend: Backend) -> rsa::PrivateKey {
    rsa::PrivateKey::from_pkcs8_der(&data("rsa2048.pk8"))
        .unwrap()
        .with_backend(backend)
        .unwrap()
}

fn p256(backend: Backend) -> ecdsa::SigningKey {
    ecdsa::SigningKey::from_pkcs8_der(&data("p256.pk8"))
        .unwrap()
        .with_backend(backend)
        .unwrap()
}

/// Runs `f` with the double reset and checks that it leaves nothing queued and broke no rule
/// of the double's (operands in pinned memory, freed only after their callbacks).
fn on_the_double(f: impl FnOnce()) {
    let _lock = double::lock();
    double::reset();
    f();
    let after = double::stats();
    assert_eq!(after.in_flight, 0, "{after:?}");
    assert_eq!(after.violations, 0, "{after:?}");
    assert_eq!(after.submitted, after.completed, "{after:?}");
}

#[test]
fn device_signatures_verify_on_the_cpu_and_with_openssl() {
    on_the_double(|| {
        let message = b"signed by the device";
        let rsa = rsa2048(Backend::Qat);
        let cpu = rsa::PublicKey::from_spki_der(&data("rsa2048.spki.der"))
            .unwrap()
            .with_backend(Backend::Cpu)
            .unwrap();
        for scheme in rsa::Scheme::ALL {
            let signature = rsa.sign(scheme, message).unwrap();
            cpu.verify(scheme, message, &signature).unwrap();
        }
        let pss = rsa.sign(rsa::Scheme::PssSha256, message).unwrap();
        openssl_verifies(
            &data("rsa2048.spki.der"),
            message,
            &pss,
            &[
                "-pkeyopt",
                "digest:sha256",
                "-pkeyopt",
                "rsa_padding_mode:pss",
                "-pkeyopt",
                "rsa_pss_saltlen:digest",
            ],
        );
        assert_eq!(rsa.served().qat_device, 7);
        assert_eq!(rsa.served().cpu, 0);

        let ecdsa = p256(Backend::Qat);
        let signature = ecdsa.sign(message).unwrap();
        ecdsa::VerifyingKey::from_spki_der(&data("p256.spki.der"))
            .unwrap()
            .with_backend(Backend::Cpu)
            .unwrap()
            .verify(message, &signature)
            .unwrap();
        openssl_verifies(
            &data("p256.spki.der"),
            message,
            &signature,
            &["-pkeyopt", "digest:sha256"],
        );
        assert_eq!(ecdsa.served().qat_device, 1);

        // And the other way: the device checks what the CPU signed.
        let on_cpu = p256(Backend::Cpu).sign(message).unwrap();
        let device = ecdsa::VerifyingKey::from_spki_der(&data("p256.spki.der"))
            .unwrap()
            .with_backend(Backend::Qat)
            .unwrap();
        device.verify(message, &on_cpu).unwrap();
        assert!(device.verify(b"another message", &on_cpu).is_err());
        assert_eq!(device.served().qat_device, 1);
    });
}

#[test]
fn oaep_and_agreement_on_the_device_match_the_cpu() {
    on_the_double(|| {
        let key = rsa2048(Backend::Qat);
        let cpu = rsa2048(Backend::Cpu);
        let ciphertext = key
            .public_key()
            .encrypt(rsa::Oaep::Sha256, b"secret", b"l")
            .unwrap();
        assert_eq!(
            &cpu.decrypt(rsa::Oaep::Sha256, &ciphertext, b"l").unwrap()[..],
            b"secret"
        );
        let ciphertext = cpu
            .public_key()
            .encrypt(rsa::Oaep::Sha384, b"secret", b"")
            .unwrap();
        assert_eq!(
            &key.decrypt(rsa::Oaep::Sha384, &ciphertext, b"").unwrap()[..],
            b"secret"
        );
        let e = key
            .decrypt(rsa::Oaep::Sha384, &ciphertext, b"x")
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CorruptData, "{e}");
        assert_eq!(key.served().qat_device, 1);

        for algorithm in ecdh::Algorithm::ALL {
            let ours = ecdh::PrivateKey::generate(algorithm)
                .unwrap()
                .with_backend(Backend::Qat)
                .unwrap();
            let theirs = ecdh::PrivateKey::generate(algorithm)
                .unwrap()
                .with_backend(Backend::Cpu)
                .unwrap();
            assert_eq!(
                ours.agree(theirs.public_key()).unwrap(),
                theirs.agree(ours.public_key()).unwrap()
            );
            assert_eq!(ours.served().qat_device, 1, "{algorithm}");
        }
    });
}

/// Signs eight messages with the fourth request failed by the device (`fault`, at submit or
/// in its callback).
fn batch_with_a_fault(
    backend: Backend,
    fault: Fault,
) -> (
    rsa::PrivateKey,
    Vec<Result<Vec<u8>, qat_crypto::crypto::Error>>,
) {
    let key = rsa2048(backend).with_in_flight(1);
    let messages: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 64]).collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    double::inject(fault, 3, 1);
    let results = key.sign_batch(rsa::Scheme::PssSha256, &refs);
    for (result, message) in results.iter().zip(&refs) {
        if let Ok(signature) = result {
            key.public_key()
                .verify(rsa::Scheme::PssSha256, message, signature)
                .unwrap();
        }
    }
    (key, results)
}

#[test]
fn a_device_failure_mid_batch_falls_back_for_that_request_alone_under_auto() {
    for fault in [Fault::Fail, Fault::FailInCallback] {
        on_the_double(|| {
            let (key, results) = batch_with_a_fault(Backend::Auto, fault);
            assert!(results.iter().all(Result::is_ok), "{fault:?}: {results:?}");
            let served = key.served();
            assert_eq!((served.qat_device, served.cpu), (7, 1), "{fault:?}");
        });
        on_the_double(|| {
            let (key, results) = batch_with_a_fault(Backend::Qat, fault);
            for (i, result) in results.iter().enumerate() {
                match result {
                    Err(e) => {
                        assert_eq!(i, 3, "{e}");
                        assert_eq!(e.kind(), ErrorKind::DeviceFailure, "{e}");
                        assert!(e.to_string().contains("on qat device"), "{e}");
                    }
                    Ok(_) => assert_ne!(i, 3),
                }
            }
            assert_eq!(key.served().qat_device, 7);
            assert_eq!(key.served().cpu, 0);
        });
    }
}

#[test]
fn a_wrong_rsa_signature_from_the_device_never_leaves() {
    on_the_double(|| {
        // Under `qat` it is an error; under `auto` the CPU signs instead.
        for (backend, served) in [(Backend::Qat, (0, 0)), (Backend::Auto, (0, 1))] {
            let key = rsa2048(backend);
            double::inject(Fault::WrongResult, 0, 1);
            let result = key.sign(rsa::Scheme::Pkcs1Sha256, b"m");
            match backend {
                Backend::Qat => {
                    let e = result.unwrap_err();
                    assert_eq!(e.kind(), ErrorKind::DeviceFailure, "{e}");
                    assert!(
                        e.to_string().contains("did not verify; it was discarded"),
                        "{e}"
                    );
                }
                _ => {
                    let signature = result.unwrap();
                    key.public_key()
                        .verify(rsa::Scheme::Pkcs1Sha256, b"m", &signature)
                        .unwrap();
                }
            }
            assert_eq!(
                (key.served().qat_device, key.served().cpu),
                served,
                "{backend}"
            );
            // The same for a decryption: checked with the public key before OAEP is decoded
            // (a wrong result would otherwise read as a bad ciphertext, which stands).
            let ciphertext = key
                .public_key()
                .encrypt(rsa::Oaep::Sha256, b"p", b"")
                .unwrap();
            double::inject(Fault::WrongResult, 0, 1);
            let result = key.decrypt(rsa::Oaep::Sha256, &ciphertext, b"");
            match backend {
                Backend::Qat => {
                    let e = result.unwrap_err();
                    assert_eq!(e.kind(), ErrorKind::DeviceFailure, "{e}");
                }
                _ => assert_eq!(&result.unwrap()[..], b"p"),
            }
        }
    });
}

#[test]
fn a_key_size_the_device_lacks_stays_on_the_cpu() {
    on_the_double(|| {
        let spki = data("rsa2560.spki.der");
        let e = rsa::PublicKey::from_spki_der(&spki)
            .unwrap()
            .with_backend(Backend::Qat)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        assert!(e.to_string().contains("not 2560-bit"), "{e}");
        let key = rsa::PublicKey::from_spki_der(&spki).unwrap();
        let e = key
            .verify(rsa::Scheme::PssSha256, b"m", &[1; 320])
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CorruptData, "{e}");
        assert_eq!((key.served().qat_device, double::stats().submitted), (0, 0));
    });
}

#[test]
fn a_signature_the_device_rejects_is_an_answer_not_a_failure() {
    on_the_double(|| {
        let signer = p256(Backend::Cpu);
        let signature = signer.sign(b"m").unwrap();
        let key = signer.verifying_key();
        let key = ecdsa::VerifyingKey::from_sec1_point(&key.to_sec1_point())
            .unwrap()
            .with_backend(Backend::Auto)
            .unwrap();
        double::inject(Fault::VerifyFails, 0, 1);
        let e = key.verify(b"m", &signature).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CorruptData, "{e}");
        // Not sent to the CPU again: the device's answer stands.
        assert_eq!(key.served().cpu, 0);
        key.verify(b"m", &signature).unwrap();
        assert_eq!(key.served().qat_device, 1);
    });
}
