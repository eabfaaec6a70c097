//! Public-key operations per second: qatkit's CPU backend against the libraries it competes
//! with, called directly, in the same criterion groups and the same run.
//!
//! Groups (request label in brackets): `rsa2048_sign` (`pss-sha256`, `pkcs1-sha256`),
//! `rsa3072_sign` (`pss-sha256`), `rsa2048_verify` and `rsa3072_verify` (`pss-sha256`),
//! `ecdsap256_sign` and `ecdsap256_verify` (`sha256`), `x25519_agree` (`fixed-keys`). A
//! signature is over a 64-byte message (hashed by each library: SHA-256, PSS salt the digest's
//! length); the throughput is one operation, so criterion reports operations per second.
//!
//! In each group:
//! - `qatkit/cpu` and `qatkit/auto`: qat-crypto's `rsa::PrivateKey::sign_into` and
//!   `rsa::PublicKey::verify`, `ecdsa::SigningKey::sign` and `VerifyingKey::verify`,
//!   `ecdh::PrivateKey::agree`, with backend `cpu` or `auto` (without a device `auto` takes the
//!   CPU path too, after its routing decision);
//! - `aws-lc-rs`: `signature::RsaKeyPair::sign` and `EcdsaKeyPair::sign`,
//!   `signature::ParsedPublicKey::verify_sig`, `agreement::agree` with the peer's
//!   `agreement::ParsedPublicKey`;
//! - `ring`: `signature::RsaKeyPair::sign`, `EcdsaKeyPair::sign`,
//!   `signature::UnparsedPublicKey::verify` (ring parses the public key on every call: it has
//!   no other way). ring's agreement takes only an `EphemeralPrivateKey`, used once and never
//!   loaded from bytes, so its X25519 entry, `ring (keygen+agree)`, generates a key and agrees
//!   on every operation: more work than the others, not paired with qatkit;
//! - `openssl` (the system libcrypto): one `EVP_PKEY_CTX` per key, initialised once (padding,
//!   salt length and digest set), then `EVP_PKEY_sign`, `EVP_PKEY_verify` or `EVP_PKEY_derive`
//!   per operation, as `openssl speed` does, signing and verifying the message's SHA-256
//!   (`openssl::sha::sha256`); X25519's peer is set once.
//!
//! Keys are qat-crypto's test keys (`qat-crypto/tests/data`), loaded and parsed before the
//! timed loops, public keys too where the library can keep them parsed; X25519's peer is a
//! fixed key. Signatures go into a buffer each entry reuses (qatkit's ECDSA, aws-lc-rs's and
//! ring's return theirs: those are copied into it, at most 72 bytes). Before anything is
//! measured, every entry's signature is checked with OpenSSL, every verifier must take a good
//! signature and refuse a damaged one, and every agreement must give the same secret.
//!
//! As in the crypto bench, `qatkit/cpu` is also measured against each baseline *paired*
//! (alternating runs of about 50 ms; the median of the per-round ratios), written to
//! `qatkit-paired.tsv` beside criterion's results; `cargo run -p qatkit-benches --example
//! bench-table` joins everything into markdown tables (operations per second for these).
//!
//! ```text
//! cargo bench -p qatkit-benches --bench asym
//! ```

mod shared;

use std::io::Write as _;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, measurement::WallTime,
};
use openssl::md::Md;
use openssl::pkey::{PKey, Private, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::sign::RsaPssSaltlen;
use qat_crypto::{Backend, ecdh, ecdsa, rsa};

const RSA2048: &[u8] = include_bytes!("../../qat-crypto/tests/data/rsa2048.pk8");
const RSA3072: &[u8] = include_bytes!("../../qat-crypto/tests/data/rsa3072.pk8");
const P256: &[u8] = include_bytes!("../../qat-crypto/tests/data/p256.pk8");
const X25519: &[u8] = include_bytes!("../../qat-crypto/tests/data/x25519.pk8");

/// The peer's X25519 private key, for its public key.
const PEER_X25519: [u8; 32] = *b"qatkit asym bench: the peer key.";

/// What every signature is made over.
const MESSAGE: [u8; 64] = *b"qatkit asym bench: the 64-byte message every signature is over.\n";

/// How long a paired round of one side runs: many operations of the fast kinds.
const ROUND_TIME: Duration = Duration::from_millis(50);

/// The longest signature made here (RSA-3072).
const MAX_SIGNATURE_LEN: usize = 3072 / 8;

/// Work on one request, returning something of the result (for `black_box`).
type Work = Box<dyn FnMut(&[u8]) -> usize>;

/// Signs a message into a buffer, returning the signature's length.
type Signer = Box<dyn FnMut(&[u8], &mut [u8]) -> usize>;

/// Whether a signature of a message is valid.
type Verifier = Box<dyn FnMut(&[u8], &[u8]) -> bool>;

/// The run-wide settings and the paired-results file.
struct Bench {
    filter: Option<regex::Regex>,
    test_mode: bool,
    paired: std::fs::File,
}

impl Bench {
    fn selected(&self, id: &str) -> bool {
        self.filter.as_ref().is_none_or(|f| f.is_match(id))
    }

    /// Benches every entry on `input` with criterion, then `qatkit/cpu` (the first entry)
    /// against each baseline doing the same work (the entries after qatkit's), paired.
    fn measure(
        &mut self,
        group: &mut BenchmarkGroup<'_, WallTime>,
        group_name: &str,
        label: &str,
        input: &[u8],
        mut entries: Vec<(&'static str, Work)>,
    ) {
        group.throughput(Throughput::Elements(1));
        for (name, work) in entries.iter_mut() {
            if !self.selected(&format!("{group_name}/{name}/{label}")) {
                continue;
            }
            group.bench_with_input(BenchmarkId::new(*name, label), input, |b, input| {
                b.iter(|| work(input))
            });
        }
        let (ours, theirs) = entries.split_at_mut(1);
        let (name, ours) = &mut ours[0];
        debug_assert_eq!(*name, "qatkit/cpu");
        let id = format!("{group_name}/{name}/{label}");
        if !self.selected(&id) {
            return;
        }
        let copies = if self.test_mode {
            1
        } else {
            // Operations take from microseconds (X25519) to milliseconds (RSA-3072 signing):
            // a round is as many as fit in ROUND_TIME.
            ours(input);
            let start = Instant::now();
            ours(input);
            let one = start.elapsed().max(Duration::from_nanos(1));
            (ROUND_TIME.as_nanos() / one.as_nanos()).clamp(1, 100_000) as usize
        };
        let requests = vec![input; copies];
        let same_work = |b: &str| !b.starts_with("qatkit/") && b != RING_KEYGEN_AGREE;
        for (baseline, theirs) in theirs.iter_mut().filter(|(b, _)| same_work(b)) {
            let ratio = if self.test_mode {
                shared::paired(ours, theirs, &requests, 1, Duration::ZERO)
            } else {
                shared::paired(ours, theirs, &requests, 7, Duration::from_secs(1))
            };
            // One round in --test mode: a check that it runs, not a figure to keep.
            if !self.test_mode {
                writeln!(
                    self.paired,
                    "{group_name}\t{name}\t{label}\t{baseline}\t{ratio:.4}"
                )
                .expect("write paired ratios");
            }
            eprintln!("{id}: paired {ratio:.3}x {baseline}");
        }
    }
}

/// ring's X25519 entry: a fresh ephemeral key for every agreement.
const RING_KEYGEN_AGREE: &str = "ring (keygen+agree)";

/// An RSA signature scheme as each library names it (all with SHA-256).
#[derive(Clone, Copy)]
struct RsaScheme {
    label: &'static str,
    qatkit: rsa::Scheme,
    aws_lc_sign: &'static dyn aws_lc_rs::signature::RsaEncoding,
    aws_lc_verify: &'static aws_lc_rs::signature::RsaParameters,
    ring_sign: &'static dyn ring::signature::RsaEncoding,
    ring_verify: &'static ring::signature::RsaParameters,
    openssl: Padding,
}

const PSS_SHA256: RsaScheme = RsaScheme {
    label: "pss-sha256",
    qatkit: rsa::Scheme::PssSha256,
    aws_lc_sign: &aws_lc_rs::signature::RSA_PSS_SHA256,
    aws_lc_verify: &aws_lc_rs::signature::RSA_PSS_2048_8192_SHA256,
    ring_sign: &ring::signature::RSA_PSS_SHA256,
    ring_verify: &ring::signature::RSA_PSS_2048_8192_SHA256,
    openssl: Padding::PKCS1_PSS,
};

const PKCS1_SHA256: RsaScheme = RsaScheme {
    label: "pkcs1-sha256",
    qatkit: rsa::Scheme::Pkcs1Sha256,
    aws_lc_sign: &aws_lc_rs::signature::RSA_PKCS1_SHA256,
    aws_lc_verify: &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
    ring_sign: &ring::signature::RSA_PKCS1_SHA256,
    ring_verify: &ring::signature::RSA_PKCS1_2048_8192_SHA256,
    openssl: Padding::PKCS1,
};

/// An `EVP_PKEY_CTX` signing SHA-256 digests with `key`: RSA with `rsa`'s padding (PSS: the
/// salt as long as the digest), or ECDSA.
fn openssl_signing_ctx(key: &PKey<Private>, rsa: Option<RsaScheme>) -> PkeyCtx<Private> {
    let mut ctx = PkeyCtx::new(key).expect("EVP_PKEY_CTX_new");
    ctx.sign_init().expect("EVP_PKEY_sign_init");
    openssl_parameters(&mut ctx, rsa);
    ctx
}

/// An `EVP_PKEY_CTX` verifying signatures of SHA-256 digests with `key`, as above.
fn openssl_verifying_ctx(key: &PKey<Public>, rsa: Option<RsaScheme>) -> PkeyCtx<Public> {
    let mut ctx = PkeyCtx::new(key).expect("EVP_PKEY_CTX_new");
    ctx.verify_init().expect("EVP_PKEY_verify_init");
    openssl_parameters(&mut ctx, rsa);
    ctx
}

fn openssl_parameters<T>(ctx: &mut PkeyCtx<T>, rsa: Option<RsaScheme>) {
    if let Some(scheme) = rsa {
        ctx.set_rsa_padding(scheme.openssl).expect("padding");
        if scheme.openssl == Padding::PKCS1_PSS {
            ctx.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
                .expect("salt length");
        }
    }
    ctx.set_signature_md(Md::sha256()).expect("digest");
}

/// OpenSSL verifying a signature of a message's SHA-256 with a context from above.
fn openssl_verifier(mut ctx: PkeyCtx<Public>) -> Verifier {
    Box::new(move |m, sig| {
        let digest = openssl::sha::sha256(m);
        // Err is a malformed signature, Ok(false) a wrong one.
        ctx.verify(&digest, sig).unwrap_or(false)
    })
}

fn openssl_public_key(spki: &[u8]) -> PKey<Public> {
    PKey::public_key_from_der(spki).expect("SPKI")
}

fn rsa_key(pk8: &[u8], backend: Backend) -> rsa::PrivateKey {
    rsa::PrivateKey::from_pkcs8_der(pk8)
        .and_then(|k| k.with_backend(backend))
        .expect("qatkit key")
}

/// Every library signing with `scheme` and the RSA key in `pk8`.
fn rsa_signers(pk8: &[u8], scheme: RsaScheme) -> Vec<(&'static str, Signer)> {
    let mut signers: Vec<(&'static str, Signer)> = Vec::new();
    for (name, backend) in [("qatkit/cpu", Backend::Cpu), ("qatkit/auto", Backend::Auto)] {
        let key = rsa_key(pk8, backend);
        signers.push((
            name,
            Box::new(move |m, sig| {
                let sig = &mut sig[..key.modulus_len()];
                key.sign_into(scheme.qatkit, m, sig).expect("sign");
                sig.len()
            }),
        ));
    }
    let key = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(pk8).expect("aws-lc-rs key");
    let rng = aws_lc_rs::rand::SystemRandom::new();
    signers.push((
        "aws-lc-rs",
        Box::new(move |m, sig| {
            let sig = &mut sig[..key.public_modulus_len()];
            key.sign(scheme.aws_lc_sign, &rng, m, sig).expect("sign");
            sig.len()
        }),
    ));
    let key = ring::signature::RsaKeyPair::from_pkcs8(pk8).expect("ring key");
    let rng = ring::rand::SystemRandom::new();
    signers.push((
        "ring",
        Box::new(move |m, sig| {
            let sig = &mut sig[..key.public().modulus_len()];
            key.sign(scheme.ring_sign, &rng, m, sig).expect("sign");
            sig.len()
        }),
    ));
    let key = PKey::private_key_from_pkcs8(pk8).expect("openssl key");
    let mut ctx = openssl_signing_ctx(&key, Some(scheme));
    signers.push((
        "openssl",
        Box::new(move |m, sig| {
            let digest = openssl::sha::sha256(m);
            ctx.sign(&digest, Some(sig)).expect("EVP_PKEY_sign")
        }),
    ));
    signers
}

/// Every library verifying `scheme` signatures with the public half of the RSA key in `pk8`.
fn rsa_verifiers(pk8: &[u8], scheme: RsaScheme) -> Vec<(&'static str, Verifier)> {
    let mut verifiers: Vec<(&'static str, Verifier)> = Vec::new();
    let spki = rsa_key(pk8, Backend::Cpu).public_key().to_spki_der();
    for (name, backend) in [("qatkit/cpu", Backend::Cpu), ("qatkit/auto", Backend::Auto)] {
        let key = rsa::PublicKey::from_spki_der(&spki)
            .and_then(|k| k.with_backend(backend))
            .expect("qatkit key");
        verifiers.push((
            name,
            Box::new(move |m, sig| key.verify(scheme.qatkit, m, sig).is_ok()),
        ));
    }
    use aws_lc_rs::signature::KeyPair as _;
    let pair = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(pk8).expect("aws-lc-rs key");
    let key = aws_lc_rs::signature::ParsedPublicKey::new(scheme.aws_lc_verify, pair.public_key())
        .expect("aws-lc-rs public key");
    verifiers.push((
        "aws-lc-rs",
        Box::new(move |m, sig| key.verify_sig(m, sig).is_ok()),
    ));
    use ring::signature::KeyPair as _;
    let pair = ring::signature::RsaKeyPair::from_pkcs8(pk8).expect("ring key");
    let key = ring::signature::UnparsedPublicKey::new(
        scheme.ring_verify,
        pair.public_key().as_ref().to_vec(),
    );
    verifiers.push(("ring", Box::new(move |m, sig| key.verify(m, sig).is_ok())));
    let key = openssl_public_key(&spki);
    verifiers.push((
        "openssl",
        openssl_verifier(openssl_verifying_ctx(&key, Some(scheme))),
    ));
    verifiers
}

/// Every library signing with the P-256 key in `pk8` (ECDSA with SHA-256, DER signatures).
fn ecdsa_signers(pk8: &'static [u8]) -> Vec<(&'static str, Signer)> {
    let mut signers: Vec<(&'static str, Signer)> = Vec::new();
    for (name, backend) in [("qatkit/cpu", Backend::Cpu), ("qatkit/auto", Backend::Auto)] {
        let key = ecdsa::SigningKey::from_pkcs8_der(pk8)
            .and_then(|k| k.with_backend(backend))
            .expect("qatkit key");
        signers.push((
            name,
            Box::new(move |m, sig| {
                let made = key.sign(m).expect("sign");
                sig[..made.len()].copy_from_slice(&made);
                made.len()
            }),
        ));
    }
    use aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING;
    let key = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pk8)
        .expect("aws-lc-rs key");
    let rng = aws_lc_rs::rand::SystemRandom::new();
    signers.push((
        "aws-lc-rs",
        Box::new(move |m, sig| {
            let made = key.sign(&rng, m).expect("sign");
            sig[..made.as_ref().len()].copy_from_slice(made.as_ref());
            made.as_ref().len()
        }),
    ));
    let rng = ring::rand::SystemRandom::new();
    let key = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        pk8,
        &rng,
    )
    .expect("ring key");
    signers.push((
        "ring",
        Box::new(move |m, sig| {
            let made = key.sign(&rng, m).expect("sign");
            sig[..made.as_ref().len()].copy_from_slice(made.as_ref());
            made.as_ref().len()
        }),
    ));
    let key = PKey::private_key_from_pkcs8(pk8).expect("openssl key");
    let mut ctx = openssl_signing_ctx(&key, None);
    signers.push((
        "openssl",
        Box::new(move |m, sig| {
            let digest = openssl::sha::sha256(m);
            ctx.sign(&digest, Some(sig)).expect("EVP_PKEY_sign")
        }),
    ));
    signers
}

/// Every library verifying ECDSA P-256 SHA-256 signatures with the public half of `pk8`.
fn ecdsa_verifiers(pk8: &[u8]) -> Vec<(&'static str, Verifier)> {
    let mut verifiers: Vec<(&'static str, Verifier)> = Vec::new();
    let signing = ecdsa::SigningKey::from_pkcs8_der(pk8).expect("qatkit key");
    let point = signing.verifying_key().to_sec1_point();
    for (name, backend) in [("qatkit/cpu", Backend::Cpu), ("qatkit/auto", Backend::Auto)] {
        let key = ecdsa::VerifyingKey::from_sec1_point(&point)
            .and_then(|k| k.with_backend(backend))
            .expect("qatkit key");
        verifiers.push((name, Box::new(move |m, sig| key.verify(m, sig).is_ok())));
    }
    let key = aws_lc_rs::signature::ParsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
        &point,
    )
    .expect("aws-lc-rs public key");
    verifiers.push((
        "aws-lc-rs",
        Box::new(move |m, sig| key.verify_sig(m, sig).is_ok()),
    ));
    let key =
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, point);
    verifiers.push(("ring", Box::new(move |m, sig| key.verify(m, sig).is_ok())));
    let key = PKey::private_key_from_pkcs8(pk8)
        .and_then(|k| k.public_key_to_der())
        .expect("openssl key");
    let key = openssl_public_key(&key);
    verifiers.push((
        "openssl",
        openssl_verifier(openssl_verifying_ctx(&key, None)),
    ));
    verifiers
}

/// Checks every signer's signature of the message with OpenSSL, then makes each a `Work`
/// signing into a buffer of its own.
fn checked_signers(
    group: &str,
    signers: Vec<(&'static str, Signer)>,
    mut openssl: Verifier,
) -> Vec<(&'static str, Work)> {
    signers
        .into_iter()
        .map(|(name, mut sign)| {
            let mut sig = vec![0u8; MAX_SIGNATURE_LEN];
            let n = sign(&MESSAGE, &mut sig);
            assert!(
                openssl(&MESSAGE, &sig[..n]),
                "{group}/{name}: OpenSSL refuses its signature"
            );
            let work: Work = Box::new(move |m| {
                let n = sign(m, &mut sig);
                n + usize::from(sig[0])
            });
            (name, work)
        })
        .collect()
}

/// Checks every verifier takes `signature` of the message and refuses it damaged, then makes
/// each a `Work` verifying it.
fn checked_verifiers(
    group: &str,
    verifiers: Vec<(&'static str, Verifier)>,
    signature: &[u8],
) -> Vec<(&'static str, Work)> {
    let mut damaged = signature.to_vec();
    let last = damaged.len() - 1;
    damaged[last / 2] ^= 1;
    verifiers
        .into_iter()
        .map(|(name, mut verify)| {
            assert!(
                verify(&MESSAGE, signature),
                "{group}/{name}: refuses a good signature"
            );
            assert!(
                !verify(&MESSAGE, &damaged),
                "{group}/{name}: takes a damaged signature"
            );
            let signature = signature.to_vec();
            let work: Work = Box::new(move |m| {
                assert!(verify(m, &signature), "verify");
                1
            });
            (name, work)
        })
        .collect()
}

/// X25519 with the key in `pk8` and the peer's public key `peer`: qatkit's `agree` takes it
/// as bytes, the request (and parses it each time), aws-lc-rs and OpenSSL keep it parsed. The
/// entries return the secret's first 8 bytes.
fn x25519_entries(pk8: &[u8], peer: &[u8]) -> Vec<(&'static str, Work)> {
    let secret_start = |s: &[u8]| u64::from_le_bytes(s[..8].try_into().unwrap()) as usize;
    let mut entries: Vec<(&'static str, Work)> = Vec::new();
    for (name, backend) in [("qatkit/cpu", Backend::Cpu), ("qatkit/auto", Backend::Auto)] {
        let key = ecdh::PrivateKey::from_pkcs8_der(pk8)
            .and_then(|k| k.with_backend(backend))
            .expect("qatkit key");
        entries.push((
            name,
            Box::new(move |p| secret_start(&key.agree(p).expect("agree"))),
        ));
    }
    use aws_lc_rs::agreement;
    // aws-lc-rs loads X25519 keys from their raw 32 bytes only: PKCS#8's last 32 bytes.
    let raw = &pk8[pk8.len() - 32..];
    let key =
        agreement::PrivateKey::from_private_key(&agreement::X25519, raw).expect("aws-lc-rs key");
    let parsed = agreement::ParsedPublicKey::try_from(agreement::UnparsedPublicKey::new(
        &agreement::X25519,
        peer.to_vec(),
    ))
    .expect("aws-lc-rs peer");
    let mut secret = [0u8; 32];
    entries.push((
        "aws-lc-rs",
        // The peer was parsed once: `agree` takes it by value, a clone (a reference-count
        // increment and a copy of its 32 bytes).
        Box::new(move |_| {
            agreement::agree(&key, parsed.clone(), (), |s| {
                secret.copy_from_slice(s);
                Ok(())
            })
            .expect("agree");
            secret_start(&secret)
        }),
    ));
    let rng = ring::rand::SystemRandom::new();
    entries.push((
        RING_KEYGEN_AGREE,
        Box::new(move |p| {
            use ring::agreement;
            let key =
                agreement::EphemeralPrivateKey::generate(&agreement::X25519, &rng).expect("keygen");
            let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, p);
            agreement::agree_ephemeral(key, &peer, secret_start).expect("agree")
        }),
    ));
    let key = PKey::private_key_from_pkcs8(pk8).expect("openssl key");
    let peer = PKey::public_key_from_raw_bytes(peer, openssl::pkey::Id::X25519).expect("peer");
    let mut ctx = PkeyCtx::new(&key).expect("EVP_PKEY_CTX_new");
    ctx.derive_init().expect("EVP_PKEY_derive_init");
    ctx.derive_set_peer(&peer)
        .expect("EVP_PKEY_derive_set_peer");
    let mut secret = [0u8; 32];
    entries.push((
        "openssl",
        Box::new(move |_| {
            let n = ctx.derive(Some(&mut secret)).expect("EVP_PKEY_derive");
            assert_eq!(n, 32);
            secret_start(&secret)
        }),
    ));
    entries
}

/// A criterion group in flat sampling: an RSA signature takes milliseconds, and linear
/// sampling's growing iteration counts would take many times the measurement time.
fn group_of<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.sampling_mode(SamplingMode::Flat);
    group
}

/// Checks that every entry doing the same work computes the same thing on `input`.
fn same_results(group: &str, input: &[u8], entries: &mut [(&'static str, Work)]) {
    let results: Vec<(&str, usize)> = entries
        .iter_mut()
        .filter(|(name, _)| *name != RING_KEYGEN_AGREE)
        .map(|(name, work)| (*name, work(input)))
        .collect();
    assert!(
        results.windows(2).all(|w| w[0].1 == w[1].1),
        "{group}: the implementations disagree: {results:?}"
    );
}

fn main() {
    let (filter, test_mode) = shared::filter_and_test_mode();
    let mut bench = Bench {
        filter,
        test_mode,
        paired: shared::results_file("qatkit-paired.tsv"),
    };
    let mut c = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();

    let rsa_sign: [(&str, &[u8], &[RsaScheme]); 2] = [
        ("rsa2048_sign", RSA2048, &[PSS_SHA256, PKCS1_SHA256]),
        ("rsa3072_sign", RSA3072, &[PSS_SHA256]),
    ];
    for (name, pk8, schemes) in rsa_sign {
        let mut group = group_of(&mut c, name);
        for &scheme in schemes {
            let spki = rsa_key(pk8, Backend::Cpu).public_key().to_spki_der();
            let openssl = openssl_verifier(openssl_verifying_ctx(
                &openssl_public_key(&spki),
                Some(scheme),
            ));
            let entries = checked_signers(name, rsa_signers(pk8, scheme), openssl);
            bench.measure(&mut group, name, scheme.label, &MESSAGE, entries);
        }
        group.finish();
    }
    let rsa_verify: [(&str, &[u8]); 2] = [("rsa2048_verify", RSA2048), ("rsa3072_verify", RSA3072)];
    for (name, pk8) in rsa_verify {
        let mut group = group_of(&mut c, name);
        let scheme = PSS_SHA256;
        let signature = rsa_key(pk8, Backend::Cpu)
            .sign(scheme.qatkit, &MESSAGE)
            .expect("sign");
        let entries = checked_verifiers(name, rsa_verifiers(pk8, scheme), &signature);
        bench.measure(&mut group, name, scheme.label, &MESSAGE, entries);
        group.finish();
    }

    let name = "ecdsap256_sign";
    let mut group = group_of(&mut c, name);
    let spki = PKey::private_key_from_pkcs8(P256)
        .and_then(|k| k.public_key_to_der())
        .expect("openssl key");
    let openssl = openssl_verifier(openssl_verifying_ctx(&openssl_public_key(&spki), None));
    let entries = checked_signers(name, ecdsa_signers(P256), openssl);
    bench.measure(&mut group, name, "sha256", &MESSAGE, entries);
    group.finish();

    let name = "ecdsap256_verify";
    let mut group = group_of(&mut c, name);
    let signature = ecdsa::SigningKey::from_pkcs8_der(P256)
        .and_then(|k| k.sign(&MESSAGE))
        .expect("sign");
    let entries = checked_verifiers(name, ecdsa_verifiers(P256), &signature);
    bench.measure(&mut group, name, "sha256", &MESSAGE, entries);
    group.finish();

    let name = "x25519_agree";
    let mut group = group_of(&mut c, name);
    let peer = ecdh::PrivateKey::from_bytes(ecdh::Algorithm::X25519, &PEER_X25519)
        .expect("peer key")
        .public_key()
        .to_vec();
    same_results(name, &peer, &mut x25519_entries(X25519, &peer));
    bench.measure(
        &mut group,
        name,
        "fixed-keys",
        &peer,
        x25519_entries(X25519, &peer),
    );
    group.finish();

    c.final_summary();
}
