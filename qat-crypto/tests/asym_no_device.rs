//! Public-key keys on a host without a QAT device (the CPA test double with no instance, as
//! qatlib answers without one): `qat` is refused when it is chosen, naming why, and `auto`
//! serves every request on the CPU. A binary of its own: qatlib's failed start is remembered
//! for the process.

#![cfg(feature = "qatlib")]

use qat_cpa_double as double;
use qat_crypto::{Backend, ErrorKind, ecdh, ecdsa, rsa};

mod common;
use common::test_data as data;

#[test]
fn qat_is_refused_and_auto_serves_on_the_cpu() {
    let _lock = double::lock();
    double::reset();
    double::set_instances(0);
    let refused = |e: qat_crypto::crypto::Error| {
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        assert!(e.to_string().contains("no usable QAT device"), "{e}");
    };
    refused(
        rsa::PrivateKey::from_pkcs8_der(&data("rsa2048.pk8"))
            .unwrap()
            .with_backend(Backend::Qat)
            .unwrap_err(),
    );
    refused(
        ecdsa::SigningKey::from_pkcs8_der(&data("p256.pk8"))
            .unwrap()
            .with_backend(Backend::Qat)
            .unwrap_err(),
    );
    refused(
        ecdh::PrivateKey::generate(ecdh::Algorithm::X25519)
            .unwrap()
            .with_backend(Backend::Qat)
            .unwrap_err(),
    );
    let rsa = rsa::PrivateKey::from_pkcs8_der(&data("rsa2048.pk8")).unwrap();
    let signature = rsa.sign(rsa::Scheme::PssSha256, b"m").unwrap();
    rsa.public_key()
        .verify(rsa::Scheme::PssSha256, b"m", &signature)
        .unwrap();
    assert_eq!((rsa.served().cpu, rsa.served().qat_device), (1, 0));
    let ecdsa = ecdsa::SigningKey::from_pkcs8_der(&data("p256.pk8")).unwrap();
    ecdsa.sign(b"m").unwrap();
    assert_eq!((ecdsa.served().cpu, ecdsa.served().qat_device), (1, 0));
    assert_eq!(double::stats().submitted, 0);
}
