//! Tests of the qatlib layer against the CPA test double (`qat-cpa-double`, which computes with
//! OpenSSL and checks the device's rules at submit). Expected values are published vectors:
//! GCM (McGrew–Viega test case 4), RFC 8439 §2.8.2, SP 800-38A F.2.1, IEEE 1619 vector 4,
//! FIPS 180/202 "abc", RFC 4231.

use std::sync::MutexGuard;

use qat_cpa_double::{self as dbl, Fault};

use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The double to itself, reset, and a started service. Bind as `let (_lock, service)`: the
/// service drops (stopping the pollers) before the lock is released.
fn start() -> (MutexGuard<'static, ()>, Arc<Service>) {
    let lock = dbl::lock();
    dbl::reset();
    forget_failure();
    let service = service().expect("the double starts");
    (lock, service)
}

const GCM_KEY: &str = "feffe9928665731c6d6a8f9467308308";
const GCM_IV: &str = "cafebabefacedbaddecaf888";
const GCM_PT: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
const GCM_AAD: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
const GCM_CT: &str = "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091";
const GCM_TAG: &str = "5bc94fbc3221a5db94fae95ae7121a47";

fn gcm(service: &Arc<Service>, direction: Direction, tag_len: usize) -> SymSession {
    let key = hex(GCM_KEY);
    let setup = SymSetup::Aead {
        alg: AeadAlg::AesGcm,
        key: &key,
        tag_len,
        aad_len: 20,
        direction,
    };
    SymSession::new(service, &setup).unwrap()
}

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
    let start = QatlibError::Start {
        call: "icp_sal_userStart",
        status: -1,
    };
    assert_eq!(start.kind(), ErrorKind::NotFound);
    assert_eq!(
        QatlibError::NoInstance { service: "crypto" }.kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        QatlibError::Busy {
            waited: Duration::from_secs(2)
        }
        .kind(),
        ErrorKind::Busy
    );
    assert_eq!(QatlibError::Verify.kind(), ErrorKind::CorruptData);
    assert_eq!(QatlibError::rule("x").kind(), ErrorKind::Unsupported);
    assert_eq!(QatlibError::invalid("x").kind(), ErrorKind::InvalidInput);
    assert_eq!(
        QatlibError::Alloc { bytes: 1 }.kind(),
        ErrorKind::LimitExceeded
    );
    assert_eq!(
        call(cpa::CPA_STATUS_RETRY).to_string(),
        "x returned -2 (CPA_STATUS_RETRY)"
    );
}

#[test]
fn aes_gcm_matches_the_published_vector_both_ways() {
    let (_lock, service) = start();
    let mut data = hex(GCM_PT);
    let mut tag = [0u8; 16];
    gcm(&service, Direction::Encrypt, 16)
        .aead(&hex(GCM_IV), &hex(GCM_AAD), &mut data, &mut tag)
        .unwrap();
    assert_eq!(data, hex(GCM_CT));
    assert_eq!(tag.to_vec(), hex(GCM_TAG));
    // A 12-byte tag is the 16-byte one cut short.
    let mut short = [0u8; 12];
    let mut again = hex(GCM_PT);
    gcm(&service, Direction::Encrypt, 12)
        .aead(&hex(GCM_IV), &hex(GCM_AAD), &mut again, &mut short)
        .unwrap();
    assert_eq!(short[..], tag[..12]);
    gcm(&service, Direction::Decrypt, 16)
        .aead(&hex(GCM_IV), &hex(GCM_AAD), &mut data, &mut tag)
        .unwrap();
    assert_eq!(data, hex(GCM_PT));
}

#[test]
fn chacha20_poly1305_matches_rfc_8439() {
    let (_lock, service) = start();
    let key: Vec<u8> = (0x80..0xa0).collect();
    let nonce = hex("070000004041424344454647");
    let aad = hex("50515253c0c1c2c3c4c5c6c7");
    let plain = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    let session = |direction| {
        let setup = SymSetup::Aead {
            alg: AeadAlg::ChaCha20Poly1305,
            key: &key,
            tag_len: 16,
            aad_len: 12,
            direction,
        };
        SymSession::new(&service, &setup).unwrap()
    };
    let mut data = plain.to_vec();
    let mut tag = [0u8; 16];
    session(Direction::Encrypt)
        .aead(&nonce, &aad, &mut data, &mut tag)
        .unwrap();
    assert_eq!(
        data,
        hex(
            "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
        )
    );
    assert_eq!(tag.to_vec(), hex("1ae10b594f09e26a7e902ecbd0600691"));
    session(Direction::Decrypt)
        .aead(&nonce, &aad, &mut data, &mut tag)
        .unwrap();
    assert_eq!(data, plain);
}

#[test]
fn aes_cbc_and_xts_match_the_published_vectors() {
    let (_lock, service) = start();
    let cipher = |alg, key: &[u8], direction| {
        SymSession::new(
            &service,
            &SymSetup::Cipher {
                alg,
                key,
                direction,
            },
        )
        .unwrap()
    };
    // SP 800-38A F.2.1, the first two blocks.
    let key = hex("2b7e151628aed2a6abf7158809cf4f3c");
    let iv: Vec<u8> = (0..16).collect();
    let plain = hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
    let mut data = plain.clone();
    cipher(CipherAlg::AesCbc, &key, Direction::Encrypt)
        .cipher(&iv, &mut data)
        .unwrap();
    assert_eq!(
        data,
        hex("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2")
    );
    cipher(CipherAlg::AesCbc, &key, Direction::Decrypt)
        .cipher(&iv, &mut data)
        .unwrap();
    assert_eq!(data, plain);
    // IEEE 1619 vector 4: tweak 0, 512 bytes 00..ff twice; its first 48 bytes are checked.
    let key = hex("2718281828459045235360287471352631415926535897932384626433832795");
    let plain: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
    let mut data = plain.clone();
    cipher(CipherAlg::AesXts, &key, Direction::Encrypt)
        .cipher(&[0; 16], &mut data)
        .unwrap();
    assert_eq!(
        data[..48],
        hex(
            "27a7479befa1d476489f308cd4cfa6e2a96e4bbe3208ff25287dd3819616e89cc78cf7f5e543445f8333d8fa7f560000"
        )[..]
    );
    cipher(CipherAlg::AesXts, &key, Direction::Decrypt)
        .cipher(&[0; 16], &mut data)
        .unwrap();
    assert_eq!(data, plain);
}

#[test]
fn hashes_and_hmac_match_the_published_vectors() {
    let (_lock, service) = start();
    let digest = |setup: SymSetup<'_>, data: &[u8], len: usize| {
        let mut out = vec![0u8; len];
        SymSession::new(&service, &setup)
            .unwrap()
            .digest(data, &mut out)
            .unwrap();
        out
    };
    for (alg, expected) in [
        (
            HashAlg::Sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            HashAlg::Sha384,
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
        ),
        (
            HashAlg::Sha512,
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
        (
            HashAlg::Sha3_256,
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
        ),
    ] {
        assert_eq!(
            digest(SymSetup::Hash { alg }, b"abc", alg.digest_len()),
            hex(expected),
            "{alg:?}"
        );
    }
    // RFC 4231 test case 2 (short key) and 6 (a 131-byte key, hashed first).
    let hmac =
        |alg, key: &[u8], data: &[u8]| digest(SymSetup::Hmac { alg, key }, data, alg.digest_len());
    assert_eq!(
        hmac(HashAlg::Sha256, b"Jefe", b"what do ya want for nothing?"),
        hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    );
    let long = [0xaa; 131];
    let text = b"Test Using Larger Than Block-Size Key - Hash Key First";
    assert_eq!(
        hmac(HashAlg::Sha256, &long, text),
        hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    );
    assert_eq!(
        hmac(HashAlg::Sha512, &long, text),
        hex(
            "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"
        )
    );
}

#[test]
fn a_retry_storm_is_retried_until_it_completes() {
    let (_lock, service) = start();
    let session = SymSession::new(
        &service,
        &SymSetup::Hash {
            alg: HashAlg::Sha256,
        },
    )
    .unwrap();
    dbl::inject(Fault::Retry, 0, 200);
    let mut out = [0u8; 32];
    session.digest(b"abc", &mut out).unwrap();
    assert_eq!(
        out.to_vec(),
        hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    let stats = dbl::stats();
    assert_eq!(
        (stats.rejected, stats.submitted, stats.callbacks),
        (200, 1, 1)
    );
}

#[test]
fn a_ring_that_stays_full_gives_busy_after_the_budget() {
    let (_lock, service) = start();
    let session = SymSession::new(
        &service,
        &SymSetup::Hash {
            alg: HashAlg::Sha256,
        },
    )
    .unwrap();
    dbl::inject(Fault::Retry, 0, u32::MAX);
    let err = session.digest(b"abc", &mut [0; 32]).unwrap_err();
    dbl::clear_faults();
    assert!(
        matches!(err, QatlibError::Busy { waited } if waited >= request::RETRY_BUDGET),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Busy);
    assert_eq!(dbl::stats().submitted, 0);
}

#[test]
fn failures_at_submit_and_in_the_callback_are_errors() {
    let (_lock, service) = start();
    let session = SymSession::new(
        &service,
        &SymSetup::Hash {
            alg: HashAlg::Sha256,
        },
    )
    .unwrap();
    for (fault, status) in [
        (Fault::Fail, cpa::CPA_STATUS_FAIL),
        (Fault::Restarting, cpa::CPA_STATUS_RESTARTING),
        (Fault::FailInCallback, cpa::CPA_STATUS_FAIL),
    ] {
        dbl::inject(fault, 0, 1);
        let err = session.digest(b"abc", &mut [0; 32]).unwrap_err();
        assert!(
            matches!(err, QatlibError::Call { status: s, .. } if s == status),
            "{fault:?}: {err}"
        );
        assert_eq!(err.kind(), ErrorKind::DeviceFailure, "{fault:?}");
    }
    // The session still serves afterwards.
    session.digest(b"abc", &mut [0; 32]).unwrap();
}

#[test]
fn a_tag_that_does_not_verify_zeroes_the_data() {
    let (_lock, service) = start();
    let decrypt = gcm(&service, Direction::Decrypt, 16);
    let mut data = hex(GCM_CT);
    let mut tag = hex(GCM_TAG);
    tag[0] ^= 1;
    let err = decrypt
        .aead(&hex(GCM_IV), &hex(GCM_AAD), &mut data, &mut tag)
        .unwrap_err();
    assert_eq!(err, QatlibError::Verify);
    assert_eq!(err.kind(), ErrorKind::CorruptData);
    assert!(data.iter().all(|&b| b == 0));
    // The device saying so (verifyResult false) is the same error.
    let mut data = hex(GCM_CT);
    dbl::inject(Fault::VerifyFails, 0, 1);
    let err = decrypt
        .aead(&hex(GCM_IV), &hex(GCM_AAD), &mut data, &mut hex(GCM_TAG))
        .unwrap_err();
    assert_eq!(err, QatlibError::Verify);
    assert!(data.iter().all(|&b| b == 0));
}

#[test]
fn requests_the_device_does_not_take_are_refused_before_submitting() {
    let (_lock, service) = start();
    let key = [7u8; 16];
    let rule = |setup: SymSetup<'_>| SymSession::new(&service, &setup).unwrap_err();
    let aead = |alg, key, tag_len, aad_len| SymSetup::Aead {
        alg,
        key,
        tag_len,
        aad_len,
        direction: Direction::Encrypt,
    };
    assert_eq!(
        rule(aead(AeadAlg::AesGcm, &key, 4, 0)).kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        rule(aead(AeadAlg::AesGcm, &key, 16, 241)).kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        rule(aead(AeadAlg::AesGcm, &key[..8], 16, 0)).kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        rule(aead(AeadAlg::ChaCha20Poly1305, &[0; 32], 12, 0)).kind(),
        ErrorKind::Unsupported
    );
    let cbc = SymSetup::Cipher {
        alg: CipherAlg::AesCbc,
        key: &key,
        direction: Direction::Encrypt,
    };
    assert_eq!(
        rule(SymSetup::Cipher {
            alg: CipherAlg::AesXts,
            key: &key,
            direction: Direction::Encrypt
        })
        .kind(),
        ErrorKind::Unsupported
    );
    // HMAC-SHA3 is not in the double's model: its UNSUPPORTED comes through as such.
    let sha3 = rule(SymSetup::Hmac {
        alg: HashAlg::Sha3_256,
        key: b"k",
    });
    assert_eq!(sha3.kind(), ErrorKind::Unsupported, "{sha3}");

    let cbc = SymSession::new(&service, &cbc).unwrap();
    let err = cbc.cipher(&[0; 16], &mut [0; 15]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert_eq!(
        cbc.cipher(&[0; 16], &mut []).unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        cbc.cipher(&[0; 12], &mut [0; 16]).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let enc = gcm(&service, Direction::Encrypt, 16);
    let (iv, aad) = (hex(GCM_IV), hex(GCM_AAD));
    assert_eq!(
        enc.aead(&[0; 16], &aad, &mut [0; 4], &mut [0; 16])
            .unwrap_err()
            .kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        enc.aead(&iv, &aad[..19], &mut [0; 4], &mut [0; 16])
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        enc.aead(&iv, &aad, &mut [0; 4], &mut [0; 12])
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        enc.digest(b"", &mut [0; 16]).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let stats = dbl::stats();
    assert_eq!(
        (stats.submitted, stats.rejected),
        (0, 0),
        "nothing reached the device"
    );
}

#[test]
fn requests_from_many_threads_share_one_session() {
    let (_lock, service) = start();
    let session = gcm(&service, Direction::Encrypt, 16);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..50 {
                    let mut data = hex(GCM_PT);
                    let mut tag = [0u8; 16];
                    session
                        .aead(&hex(GCM_IV), &hex(GCM_AAD), &mut data, &mut tag)
                        .unwrap();
                    assert_eq!(data, hex(GCM_CT));
                    assert_eq!(tag.to_vec(), hex(GCM_TAG));
                }
            });
        }
    });
    assert_eq!(dbl::stats().callbacks, 400);
    let instance = service.instance(session.instance);
    assert_eq!(instance.poller.pending(), 0);
    assert!(instance.pool.kept() <= memory::KEEP_COUNT);
}

#[test]
fn large_staging_buffers_are_not_kept() {
    let (_lock, service) = start();
    let session = SymSession::new(
        &service,
        &SymSetup::Hash {
            alg: HashAlg::Sha256,
        },
    )
    .unwrap();
    let instance = service.instance(session.instance);
    session.digest(&[1; 100], &mut [0; 32]).unwrap();
    let kept = instance.pool.kept();
    assert_eq!(kept, 1);
    session
        .digest(&vec![1; memory::KEEP_MAX + 1], &mut [0; 32])
        .unwrap();
    assert_eq!(instance.pool.kept(), kept);
    session.digest(&[1; 200], &mut [0; 32]).unwrap();
    assert_eq!(instance.pool.kept(), kept, "the kept buffer is reused");
}

#[test]
fn nothing_leaks_and_the_service_restarts_after_the_last_drop() {
    let lock = dbl::lock();
    dbl::reset();
    forget_failure();
    let pinned = dbl::stats().live_pinned;
    {
        let service = service().unwrap();
        assert_eq!(service.instances(), 2);
        let sessions: Vec<SymSession> = (0..4)
            .map(|_| gcm(&service, Direction::Encrypt, 16))
            .collect();
        for session in &sessions {
            session
                .aead(&hex(GCM_IV), &hex(GCM_AAD), &mut hex(GCM_PT), &mut [0; 16])
                .unwrap();
        }
        assert_eq!(dbl::stats().live_sessions, 4);
        // Another holder shares the same service.
        assert!(Arc::ptr_eq(&service, &super::service().unwrap()));
    }
    let stats = dbl::stats();
    assert_eq!(stats.live_sessions, 0);
    assert_eq!(
        stats.live_pinned, pinned,
        "sessions and staging buffers freed"
    );
    assert_eq!(
        (stats.violations, stats.dropped, stats.in_flight),
        (0, 0, 0)
    );
    // A new start after the stop finds what the double offers now.
    dbl::set_instances(3);
    let service = service().unwrap();
    assert_eq!(service.instances(), 3);
    drop(service);
    drop(lock);
}

#[test]
fn a_failed_start_is_remembered() {
    let _lock = dbl::lock();
    dbl::reset();
    forget_failure();
    dbl::set_instances(0);
    let err = service().unwrap_err();
    assert_eq!(
        err,
        QatlibError::Start {
            call: "icp_sal_userStart",
            status: cpa::CPA_STATUS_FAIL
        }
    );
    assert_eq!(err.kind(), ErrorKind::NotFound);
    // The double could start now, but the failure stands for the process.
    dbl::set_instances(2);
    assert_eq!(service().unwrap_err(), err);
    forget_failure();
}
