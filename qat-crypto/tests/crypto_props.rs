//! Properties on every backend (`cpu`, `auto` with threshold 0, and with feature `qatlib` the
//! device path on the CPA test double): the output equals the CPU's byte for byte, what is
//! sealed opens, and any tampering with ciphertext, tag or AAD fails with nothing returned.

use proptest::prelude::*;
use qat_crypto::{Backend, ErrorKind, aead, cipher, hash, mac};

// With `qatlib`, the CPA test double serves the device backend: naming it links it in.
#[cfg(feature = "qatlib")]
use qat_cpa_double as _;

fn device_backends() -> Vec<Backend> {
    let mut all = vec![Backend::Auto];
    if cfg!(feature = "qatlib") {
        all.push(Backend::Qat);
    }
    all
}

fn aead_alg() -> impl Strategy<Value = aead::Algorithm> {
    prop::sample::select(aead::Algorithm::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn aead_matches_the_cpu_and_any_tampering_fails(
        algorithm in aead_alg(),
        key in prop::collection::vec(any::<u8>(), 32),
        nonce in any::<[u8; 12]>(),
        aad in prop::collection::vec(any::<u8>(), 0..=aead::DEVICE_MAX_AAD),
        data in prop::collection::vec(any::<u8>(), 0..5000),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let key = &key[..algorithm.key_len()];
        let cpu = aead::Key::new(algorithm, key).unwrap().with_backend(Backend::Cpu).unwrap();
        let expected = cpu.seal(&nonce, &aad, &data).unwrap();
        for backend in device_backends() {
            let k = aead::Key::new(algorithm, key).unwrap().with_auto_min_request(0).with_backend(backend).unwrap();
            let sealed = k.seal(&nonce, &aad, &data).unwrap();
            prop_assert_eq!(&sealed, &expected, "{} on {}", algorithm, backend);
            prop_assert_eq!(k.open(&nonce, &aad, &sealed).unwrap(), data.clone());
            // One bit flipped anywhere in ciphertext and tag, or in the AAD.
            let mut bad = sealed.clone();
            let at = flip.index(bad.len());
            bad[at] ^= 1 << bit;
            let e = k.open_in_place(&nonce, &aad, &mut bad).unwrap_err();
            prop_assert_eq!(e.kind(), ErrorKind::CorruptData);
            prop_assert!(bad.iter().all(|&b| b == 0), "nothing left after a failed open");
            if !aad.is_empty() {
                let mut bad_aad = aad.clone();
                let at = flip.index(bad_aad.len());
                bad_aad[at] ^= 1 << bit;
                prop_assert!(k.open(&nonce, &bad_aad, &sealed).is_err());
            }
        }
    }

    #[test]
    fn ciphers_match_the_cpu(
        algorithm in prop::sample::select(cipher::Algorithm::ALL.to_vec()),
        key in prop::collection::vec(any::<u8>(), 64),
        iv in any::<[u8; 16]>(),
        blocks in 1usize..300,
    ) {
        let key = &key[..algorithm.key_len()];
        prop_assume!(algorithm != cipher::Algorithm::Aes256Xts || key[..32] != key[32..]);
        let data: Vec<u8> = (0..blocks * 16).map(|i| i as u8).collect();
        let cpu = cipher::Key::new(algorithm, key).unwrap().with_backend(Backend::Cpu).unwrap();
        let mut expected = data.clone();
        cpu.encrypt_in_place(&iv, &mut expected).unwrap();
        for backend in device_backends() {
            let k = cipher::Key::new(algorithm, key).unwrap().with_auto_min_request(0).with_backend(backend).unwrap();
            let mut out = data.clone();
            k.encrypt_in_place(&iv, &mut out).unwrap();
            prop_assert_eq!(&out, &expected, "{} on {}", algorithm, backend);
            k.decrypt_in_place(&iv, &mut out).unwrap();
            prop_assert_eq!(&out, &data);
        }
    }

    #[test]
    fn hashes_and_macs_match_the_cpu(
        data in prop::collection::vec(any::<u8>(), 0..10_000),
        key in prop::collection::vec(any::<u8>(), 0..300),
        flip in any::<prop::sample::Index>(),
    ) {
        for algorithm in hash::Algorithm::ALL {
            let expected = hash::Hasher::new(algorithm).with_backend(Backend::Cpu).unwrap().hash(&data).unwrap();
            for backend in device_backends() {
                let h = hash::Hasher::new(algorithm).with_auto_min_request(0).with_backend(backend).unwrap();
                prop_assert_eq!(h.hash(&data).unwrap(), expected, "{} on {}", algorithm, backend);
            }
        }
        for algorithm in mac::Algorithm::ALL {
            let expected = mac::Key::new(algorithm, &key).unwrap().with_backend(Backend::Cpu).unwrap().sign(&data).unwrap();
            for backend in device_backends() {
                let k = mac::Key::new(algorithm, &key).unwrap().with_auto_min_request(0).with_backend(backend).unwrap();
                let tag = k.sign(&data).unwrap();
                prop_assert_eq!(tag, expected, "{} on {}", algorithm, backend);
                let mut bad = tag.as_ref().to_vec();
                let at = flip.index(bad.len());
                bad[at] ^= 1;
                prop_assert_eq!(k.verify(&data, &bad).unwrap_err().kind(), ErrorKind::CorruptData);
            }
        }
    }
}
