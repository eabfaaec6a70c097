//! The public-key API on every backend: keys from every encoding and refusals of bad ones,
//! signatures and OAEP round trips for every scheme and key size, interop with OpenSSL's
//! command line both ways, ECDH and X25519 agreement with every peer encoding, batches, and
//! the served counts.

use qat_crypto::crypto::Error;
use qat_crypto::{Backend, ErrorKind, ecdh, ecdsa, rsa};

mod common;

// With `qatlib`, the CPA test double serves the device backend: naming it links it in.
#[cfg(feature = "qatlib")]
use qat_cpa_double as _;

/// Every request a key has served, by whichever server.
fn served(s: qat_crypto::Served) -> u64 {
    s.cpu + s.qat_device
}

fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Cpu, Backend::Auto];
    if cfg!(feature = "qatlib") {
        all.push(Backend::Qat);
    }
    all
}

use common::{TempFile, test_data as data};

fn rsa_key(bits: usize, backend: Backend) -> rsa::PrivateKey {
    rsa::PrivateKey::from_pkcs8_der(&data(&format!("rsa{bits}.pk8")))
        .unwrap()
        .with_backend(backend)
        .unwrap()
}

fn ecdsa_key(algorithm: ecdsa::Algorithm, backend: Backend) -> ecdsa::SigningKey {
    let file = match algorithm {
        ecdsa::Algorithm::P256Sha256 => "p256.pk8",
        _ => "p384.pk8",
    };
    ecdsa::SigningKey::from_pkcs8_der(&data(file))
        .unwrap()
        .with_backend(backend)
        .unwrap()
}

fn sha256(message: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message)
        .as_ref()
        .to_vec()
}

#[test]
fn keys_come_from_every_encoding_tls_stacks_hold() {
    // RSA: PKCS#8 and PKCS#1 are one key; its public half is the SPKI OpenSSL derived.
    let pkcs8 = rsa::PrivateKey::from_pkcs8_der(&data("rsa2048.pk8")).unwrap();
    let pkcs1 = rsa::PrivateKey::from_pkcs1_der(&data("rsa2048.pkcs1.der")).unwrap();
    assert_eq!(pkcs8.bits(), 2048);
    assert_eq!(pkcs8.modulus_len(), 256);
    assert_eq!(pkcs8.public_key().to_spki_der(), data("rsa2048.spki.der"));
    assert_eq!(pkcs1.public_key().to_spki_der(), data("rsa2048.spki.der"));
    let signature = pkcs1.sign(rsa::Scheme::Pkcs1Sha256, b"m").unwrap();
    let public = rsa::PublicKey::from_spki_der(&data("rsa2048.spki.der")).unwrap();
    public
        .verify(rsa::Scheme::Pkcs1Sha256, b"m", &signature)
        .unwrap();
    for bits in [3072, 4096] {
        assert_eq!(rsa_key(bits, Backend::Cpu).bits(), bits);
        let pkcs1 = rsa::PrivateKey::from_pkcs1_der(&data(&format!("rsa{bits}.pkcs1.der")));
        assert_eq!(pkcs1.unwrap().bits(), bits);
    }

    // ECDSA: PKCS#8, SEC 1, SPKI and the point in both forms are one key.
    let key = ecdsa::SigningKey::from_pkcs8_der(&data("p256.pk8")).unwrap();
    let sec1 = ecdsa::SigningKey::from_sec1_der(&data("p256.sec1.der")).unwrap();
    let point = key.verifying_key().to_sec1_point();
    assert_eq!(point.len(), 65);
    assert_eq!(sec1.verifying_key().to_sec1_point(), point);
    let spki = ecdsa::VerifyingKey::from_spki_der(&data("p256.spki.der")).unwrap();
    assert_eq!(spki.to_sec1_point(), point);
    let mut compressed = vec![2 + (point[64] & 1)];
    compressed.extend_from_slice(&point[1..33]);
    let from_compressed = ecdsa::VerifyingKey::from_sec1_point(&compressed).unwrap();
    assert_eq!(from_compressed.to_sec1_point(), point);
    let p384 = ecdsa::SigningKey::from_pkcs8_der(&data("p384.pk8")).unwrap();
    assert_eq!(p384.algorithm(), ecdsa::Algorithm::P384Sha384);
    assert_eq!(p384.verifying_key().to_sec1_point().len(), 97);
    let p384_sec1 = ecdsa::SigningKey::from_sec1_der(&data("p384.sec1.der")).unwrap();
    assert_eq!(
        p384_sec1.verifying_key().to_sec1_point(),
        p384.verifying_key().to_sec1_point()
    );

    // ECDH: the same EC keys, and X25519 from PKCS#8 (its public key as OpenSSL derives it).
    let ecdh_key = ecdh::PrivateKey::from_pkcs8_der(&data("p256.pk8")).unwrap();
    assert_eq!(ecdh_key.algorithm(), ecdh::Algorithm::P256);
    assert_eq!(ecdh_key.public_key(), &point[..]);
    let ecdh_sec1 = ecdh::PrivateKey::from_sec1_der(&data("p256.sec1.der")).unwrap();
    assert_eq!(ecdh_sec1.public_key(), &point[..]);
    let x25519 = ecdh::PrivateKey::from_pkcs8_der(&data("x25519.pk8")).unwrap();
    assert_eq!(x25519.algorithm(), ecdh::Algorithm::X25519);
    if let Some(spki) = common::tool(
        "openssl",
        &["pkey", "-inform", "DER", "-pubout", "-outform", "DER"],
        &data("x25519.pk8"),
    ) {
        assert_eq!(x25519.public_key(), &spki[spki.len() - 32..]);
    }
}

#[test]
fn bad_keys_are_refused_with_the_reason() {
    let refused = |result: Result<(), Error>, says: &str| {
        let e = result.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains(says), "{e}");
    };
    let rsa2048 = data("rsa2048.pk8");
    refused(
        rsa::PrivateKey::from_pkcs8_der(&data("rsa1024.pk8")).map(drop),
        "an RSA PKCS#8 key under 2048 bits",
    );
    refused(
        rsa::PrivateKey::from_pkcs8_der(&rsa2048[..rsa2048.len() - 1]).map(drop),
        "not a usable RSA PKCS#8 key",
    );
    refused(
        rsa::PrivateKey::from_pkcs8_der(&data("p256.pk8")).map(drop),
        "not a usable RSA PKCS#8 key",
    );
    refused(
        rsa::PrivateKey::from_pkcs1_der(b"garbage").map(drop),
        "not a usable RSA PKCS#1 key",
    );
    refused(
        rsa::PublicKey::from_spki_der(&data("p256.spki.der")).map(drop),
        "not a usable RSA SubjectPublicKeyInfo",
    );
    refused(
        ecdsa::SigningKey::from_pkcs8_der(&rsa2048).map(drop),
        "not a P-256 or P-384 PKCS#8 private key",
    );
    refused(
        ecdsa::SigningKey::from_sec1_der(&data("p256.pk8")[..50]).map(drop),
        "not a P-256 or P-384 SEC 1 private key",
    );
    let mut off_curve = ecdsa::SigningKey::from_pkcs8_der(&data("p256.pk8"))
        .unwrap()
        .verifying_key()
        .to_sec1_point();
    off_curve[64] ^= 1;
    refused(
        ecdsa::VerifyingKey::from_sec1_point(&off_curve).map(drop),
        "not a P-256 or P-384 SEC 1 point",
    );
    refused(
        ecdh::PrivateKey::from_pkcs8_der(&rsa2048).map(drop),
        "not a P-256, P-384 or X25519 PKCS#8 private key",
    );
    refused(
        ecdh::PrivateKey::from_bytes(ecdh::Algorithm::P256, &[0; 32]).map(drop),
        "the scalar is 0 or not below the group order",
    );
    refused(
        ecdh::PrivateKey::from_bytes(ecdh::Algorithm::P384, &[0xff; 48]).map(drop),
        "the scalar is 0 or not below the group order",
    );
    refused(
        ecdh::PrivateKey::from_bytes(ecdh::Algorithm::X25519, &[1; 31]).map(drop),
        "the private key is 31 bytes, not 32",
    );
}

#[test]
fn every_rsa_scheme_signs_and_verifies_at_every_size() {
    for backend in backends() {
        for bits in rsa::PRIVATE_KEY_BITS {
            let key = rsa_key(bits, backend);
            let public = key.public_key();
            for scheme in rsa::Scheme::ALL {
                let signature = key.sign(scheme, b"message").unwrap();
                assert_eq!(signature.len(), bits / 8);
                public.verify(scheme, b"message", &signature).unwrap();
                let e = public.verify(scheme, b"messagf", &signature).unwrap_err();
                assert!(matches!(e, Error::BadSignature { .. }), "{e}");
                assert_eq!(e.kind(), ErrorKind::CorruptData);
                assert_eq!(
                    e.to_string(),
                    format!(
                        "verifying {}: the signature does not verify with this key and message",
                        scheme.name()
                    )
                );
                // Another scheme's signature does not pass as this one's.
                let other = rsa::Scheme::ALL
                    .into_iter()
                    .find(|s| s.is_pss() != scheme.is_pss() && s.digest() == scheme.digest())
                    .unwrap();
                assert!(public.verify(other, b"message", &signature).is_err());
                // PSS is randomised, PKCS#1 v1.5 deterministic.
                let again = key.sign(scheme, b"message").unwrap();
                assert_eq!(again == signature, !scheme.is_pss(), "{scheme}");
            }
            let e = key
                .sign_into(rsa::Scheme::PssSha256, b"m", &mut [0; 255])
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            assert!(
                e.to_string().contains("the signature buffer is 255 bytes"),
                "{e}"
            );
            // Six signs, so six (and four of their repeats) served, all by the CPU here.
            assert_eq!(served(key.served()), 12);
        }
    }
}

#[test]
fn oaep_round_trips_and_refuses_what_it_must() {
    for backend in backends() {
        for bits in rsa::PRIVATE_KEY_BITS {
            let key = rsa_key(bits, backend);
            for oaep in rsa::Oaep::ALL {
                let max = oaep.max_plaintext_len(key.modulus_len());
                let plaintext = vec![0x5a; max];
                let public = key.public_key();
                let ciphertext = public.encrypt(oaep, &plaintext, b"label").unwrap();
                assert_eq!(ciphertext.len(), key.modulus_len());
                let decrypted = key.decrypt(oaep, &ciphertext, b"label").unwrap();
                assert_eq!(&decrypted[..], &plaintext[..]);
                // The wrong label, a flipped bit, another digest: one error, no plaintext.
                let mut flipped = ciphertext.clone();
                flipped[17] ^= 0x10;
                let other = rsa::Oaep::ALL.into_iter().find(|o| *o != oaep).unwrap();
                for (ct, label, o) in [
                    (&ciphertext, &b"other"[..], oaep),
                    (&flipped, &b"label"[..], oaep),
                    (&ciphertext, &b"label"[..], other),
                ] {
                    let e = key.decrypt(o, ct, label).unwrap_err();
                    assert!(matches!(e, Error::Decryption { .. }), "{e}");
                    assert_eq!(e.kind(), ErrorKind::CorruptData);
                }
                let e = public.encrypt(oaep, &vec![0; max + 1], b"").unwrap_err();
                assert_eq!(e.kind(), ErrorKind::InvalidInput);
                assert!(e.to_string().contains(&format!("at most {max}")), "{e}");
                let e = key.decrypt(oaep, &ciphertext[1..], b"label").unwrap_err();
                assert_eq!(e.kind(), ErrorKind::InvalidInput);
            }
        }
    }
}

#[test]
fn ecdsa_signs_and_verifies_on_both_curves() {
    for backend in backends() {
        for algorithm in ecdsa::Algorithm::ALL {
            let key = ecdsa_key(algorithm, backend);
            let public = key.verifying_key();
            let signature = key.sign(b"message").unwrap();
            assert!(signature.len() <= algorithm.max_signature_len());
            assert_eq!(signature[0], 0x30, "DER");
            public.verify(b"message", &signature).unwrap();
            let e = public.verify(b"messagf", &signature).unwrap_err();
            assert!(matches!(e, Error::BadSignature { .. }), "{e}");
            assert!(public.verify(b"message", &signature[1..]).is_err());
            assert_ne!(key.sign(b"message").unwrap(), signature, "randomised");
            assert_eq!(served(key.served()), 2);
            assert_eq!(
                served(public.served()),
                1,
                "a failed check is not counted as served"
            );
        }
    }
}

/// `openssl pkeyutl` verifies qatkit's RSA-PSS and ECDSA signatures and signs what qatkit
/// verifies, over the SHA-256 digest of the message.
#[test]
fn signatures_interoperate_with_openssl_pkeyutl() {
    let message = b"interop with the OpenSSL command line";
    let digest = TempFile::new(&sha256(message));
    let pss = [
        "-pkeyopt",
        "digest:sha256",
        "-pkeyopt",
        "rsa_padding_mode:pss",
        "-pkeyopt",
        "rsa_pss_saltlen:digest",
    ];
    let ec = ["-pkeyopt", "digest:sha256"];
    let rsa = rsa_key(2048, Backend::Cpu);
    let p256 = ecdsa_key(ecdsa::Algorithm::P256Sha256, Backend::Cpu);
    let rsa_signature = rsa.sign(rsa::Scheme::PssSha256, message).unwrap();
    let rsa_public = rsa.public_key().to_spki_der();
    common::openssl_verifies(&rsa_public, message, &rsa_signature, &pss);
    let ec_signature = p256.sign(message).unwrap();
    common::openssl_verifies(&data("p256.spki.der"), message, &ec_signature, &ec);
    // And the other way: OpenSSL signs, qatkit verifies.
    for (private, options) in [("rsa2048.pk8", &pss[..]), ("p256.pk8", &ec[..])] {
        let key = TempFile::new(&data(private));
        let mut args = vec!["pkeyutl", "-sign", "-keyform", "DER", "-inkey", key.path()];
        args.extend(["-in", digest.path()]);
        args.extend(options);
        let Some(signature) = common::tool("openssl", &args, b"") else {
            continue;
        };
        if private.starts_with("rsa") {
            rsa.public_key()
                .verify(rsa::Scheme::PssSha256, message, &signature)
                .unwrap();
        } else {
            p256.verifying_key().verify(message, &signature).unwrap();
        }
    }
}

#[test]
fn openssl_oaep_ciphertexts_decrypt() {
    let key = rsa_key(3072, Backend::Cpu);
    let public = TempFile::new(&key.public_key().to_spki_der());
    let plaintext = TempFile::new(b"premaster secret");
    let args = [
        "pkeyutl",
        "-encrypt",
        "-pubin",
        "-keyform",
        "DER",
        "-inkey",
        public.path(),
        "-in",
        plaintext.path(),
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha384",
        "-pkeyopt",
        "rsa_mgf1_md:sha384",
    ];
    if let Some(ciphertext) = common::tool("openssl", &args, b"") {
        let decrypted = key.decrypt(rsa::Oaep::Sha384, &ciphertext, b"").unwrap();
        assert_eq!(&decrypted[..], b"premaster secret");
    }
}

#[test]
fn ecdh_and_x25519_agree_with_every_peer_encoding() {
    for backend in backends() {
        for algorithm in ecdh::Algorithm::ALL {
            let ours = ecdh::PrivateKey::generate(algorithm)
                .unwrap()
                .with_backend(backend)
                .unwrap();
            let theirs = ecdh::PrivateKey::generate(algorithm).unwrap();
            let secret = ours.agree(theirs.public_key()).unwrap();
            assert_eq!(secret.len(), algorithm.secret_len());
            assert_eq!(secret, theirs.agree(ours.public_key()).unwrap());
            let bad = |peer: &[u8], says: &str| {
                let e = ours.agree(peer).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
                assert!(e.to_string().contains(says), "{algorithm}: {e}");
            };
            if algorithm == ecdh::Algorithm::X25519 {
                bad(&[0; 31], "is 31 bytes, not 32");
                // u = 0 is of low order: the secret would be all zeros.
                bad(&[0; 32], "is of low order");
                assert_eq!(served(ours.served()), 1);
                continue;
            }
            // The same peer compressed, and as an SPKI.
            let point = theirs.public_key();
            let field = algorithm.private_key_len();
            let mut compressed = vec![2 + (point[2 * field] & 1)];
            compressed.extend_from_slice(&point[1..=field]);
            assert_eq!(ours.agree(&compressed).unwrap(), secret);
            let spki = ecdsa::VerifyingKey::from_sec1_point(point).unwrap();
            let spki = match algorithm {
                ecdh::Algorithm::P256 => {
                    let mut der = hex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
                    der.extend_from_slice(&spki.to_sec1_point());
                    der
                }
                _ => {
                    let mut der = hex("3076301006072a8648ce3d020106052b81040022036200");
                    der.extend_from_slice(&spki.to_sec1_point());
                    der
                }
            };
            assert_eq!(ours.agree(&spki).unwrap(), secret);
            let mut off_curve = point.to_vec();
            off_curve[2 * field] ^= 1;
            bad(&off_curve, "is not a point of the curve");
            // A point of the other curve.
            let other = if algorithm == ecdh::Algorithm::P256 {
                ecdh::Algorithm::P384
            } else {
                ecdh::Algorithm::P256
            };
            bad(
                ecdh::PrivateKey::generate(other).unwrap().public_key(),
                "is not a point of the curve",
            );
            assert_eq!(served(ours.served()), 3);
        }
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn batches_answer_in_order_with_each_requests_result() {
    for in_flight in [1, 2, 4] {
        let rsa = rsa_key(2048, Backend::Auto).with_in_flight(in_flight);
        let messages: Vec<Vec<u8>> = (0..9u8).map(|i| vec![i; 100 + usize::from(i)]).collect();
        let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        let signatures: Vec<Vec<u8>> = rsa
            .sign_batch(rsa::Scheme::PssSha384, &refs)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(served(rsa.served()), 9);
        let public = rsa::PublicKey::from_spki_der(&rsa.public_key().to_spki_der())
            .unwrap()
            .with_in_flight(in_flight);
        // Every signature against its own message, and the fourth against the fifth's.
        let mut items: Vec<(&[u8], &[u8])> = refs
            .iter()
            .zip(&signatures)
            .map(|(m, s)| (*m, s.as_slice()))
            .collect();
        items[3].1 = &signatures[4];
        let results = public.verify_batch(rsa::Scheme::PssSha384, &items);
        for (i, result) in results.iter().enumerate() {
            assert_eq!(result.is_ok(), i != 3, "request {i}: {result:?}");
        }

        let p256 = ecdsa_key(ecdsa::Algorithm::P256Sha256, Backend::Auto).with_in_flight(in_flight);
        let signatures = p256.sign_batch(&refs);
        for (message, signature) in refs.iter().zip(signatures) {
            p256.verifying_key()
                .verify(message, &signature.unwrap())
                .unwrap();
        }
        let items: Vec<(&[u8], &[u8])> = refs.iter().map(|m| (*m, &b"not DER"[..])).collect();
        assert!(
            p256.verifying_key()
                .verify_batch(&items)
                .iter()
                .all(Result::is_err)
        );

        let x25519 = ecdh::PrivateKey::generate(ecdh::Algorithm::X25519)
            .unwrap()
            .with_in_flight(in_flight);
        let peers: Vec<ecdh::PrivateKey> = (0..5)
            .map(|_| ecdh::PrivateKey::generate(ecdh::Algorithm::X25519).unwrap())
            .collect();
        let mut publics: Vec<&[u8]> = peers.iter().map(|p| p.public_key()).collect();
        publics[2] = &[0; 32];
        let secrets = x25519.agree_batch(&publics);
        for (i, secret) in secrets.into_iter().enumerate() {
            match secret {
                Ok(secret) => assert_eq!(secret, peers[i].agree(x25519.public_key()).unwrap()),
                Err(e) => assert_eq!(i, 2, "{e}"),
            }
        }

        let ciphertexts: Vec<Vec<u8>> = refs
            .iter()
            .map(|m| rsa.public_key().encrypt(rsa::Oaep::Sha256, m, b"").unwrap())
            .collect();
        let items: Vec<(&[u8], &[u8])> = ciphertexts
            .iter()
            .map(|c| (c.as_slice(), &b""[..]))
            .collect();
        for (plaintext, message) in rsa
            .decrypt_batch(rsa::Oaep::Sha256, &items)
            .into_iter()
            .zip(&refs)
        {
            assert_eq!(&plaintext.unwrap()[..], *message);
        }
    }
}

#[cfg(not(feature = "qatlib"))]
#[test]
fn the_device_backend_needs_the_qatlib_feature() {
    let e = rsa::PrivateKey::from_pkcs8_der(&data("rsa2048.pk8"))
        .unwrap()
        .with_backend(Backend::Qat)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert_eq!(
        e.to_string(),
        "choosing a backend RSA: backend qat cannot serve: qat-crypto was built without the \
         `qatlib` feature"
    );
    let key = ecdh::PrivateKey::generate(ecdh::Algorithm::P256).unwrap();
    assert_eq!(key.backend(), Backend::Auto);
    assert!(key.with_backend(Backend::Qat).is_err());
}
