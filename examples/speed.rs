//! speed: crypto throughput through qatkit, like `openssl speed`.
//!
//! ```text
//! cargo run --release --example speed -- [-e ALG]... [--bytes N]... [--backend auto|cpu|qat]
//!     [--seconds S]
//! ```
//!
//! ALG: aes-128-gcm, aes-256-gcm, chacha20-poly1305 (sealed), aes-128-cbc, aes-256-cbc,
//! aes-256-xts (encrypted), sha-256, sha-384, sha-512, sha3-256 (hashed), hmac-sha-256,
//! hmac-sha-384, hmac-sha-512 (signed); and the public-key algorithms, named as `openssl speed`
//! names them: rsa2048, rsa3072, rsa4096 (sign: RSA-PSS-SHA256, the private-key operation; and
//! verify), ecdsap256, ecdsap384 (sign and verify: ECDSA with SHA-256 and SHA-384), x25519
//! (derive: the shared secret with a fixed peer). Default: every algorithm, the symmetric ones
//! at 16, 64, 256, 1024, 8192 and 16384 bytes (`openssl speed`'s sizes), 3 seconds each. One
//! request at a time, in place on one buffer (AEAD: empty AAD, 16-byte tags; the nonce repeats:
//! this measures, it protects nothing). Signatures are of a 32-byte message, with qat-crypto's
//! test keys (`qat-crypto/tests/data`, built in); `--bytes` does not apply to them. Keys are
//! made before timing starts.
//!
//! stdout gets one line per algorithm and size: requests per second, MB/s (10^6 bytes) and what
//! served the requests (the key's served counters: `cpu`, `qat device`); for the public-key
//! algorithms one line per algorithm and operation (`sign`, `verify`, `derive`): operations per
//! second and what served them, no size or MB/s.
//! Exit status: 0 done, 1 failed (e.g. `--backend qat` without a device or without the
//! `qatlib` feature), 2 bad arguments.

use std::time::{Duration, Instant};

use clap::{CommandFactory, Parser};
use qatkit::crypto::{Backend, Served, aead, cipher, ecdh, ecdsa, hash, mac, rsa};

#[derive(Parser)]
#[command(
    name = "speed",
    about = "Crypto throughput through qatkit, like `openssl speed`"
)]
struct Args {
    /// Algorithm to measure (repeatable; default all).
    #[arg(short = 'e', long = "algorithm", value_name = "ALG")]
    algorithms: Vec<Algorithm>,
    /// Request size in bytes (repeatable; default 16, 64, 256, 1024, 8192, 16384). Not for
    /// the public-key algorithms.
    #[arg(long = "bytes", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    bytes: Vec<u32>,
    /// Who serves: the device when present (auto), the CPU, or qatlib by name.
    #[arg(long, default_value = "auto", value_parser = clap::value_parser!(Backend))]
    backend: Backend,
    /// Seconds per algorithm and size.
    #[arg(long, default_value_t = 3.0, value_parser = seconds)]
    seconds: f64,
}

fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v < 1e6 => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds above 0")),
    }
}

/// openssl speed's sizes.
const SIZES: [u32; 6] = [16, 64, 256, 1024, 8192, 16384];

/// One of the algorithms, whichever kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Aead(aead::Algorithm),
    Cipher(cipher::Algorithm),
    Hash(hash::Algorithm),
    Mac(mac::Algorithm),
    PublicKey(PublicKey),
}

impl Algorithm {
    fn all() -> impl Iterator<Item = Algorithm> {
        let aeads = aead::Algorithm::ALL.into_iter().map(Algorithm::Aead);
        let ciphers = cipher::Algorithm::ALL.into_iter().map(Algorithm::Cipher);
        let hashes = hash::Algorithm::ALL.into_iter().map(Algorithm::Hash);
        let macs = mac::Algorithm::ALL.into_iter().map(Algorithm::Mac);
        let public = PublicKey::ALL.into_iter().map(Algorithm::PublicKey);
        aeads.chain(ciphers).chain(hashes).chain(macs).chain(public)
    }

    fn name(self) -> &'static str {
        match self {
            Algorithm::Aead(a) => a.name(),
            Algorithm::Cipher(a) => a.name(),
            Algorithm::Hash(a) => a.name(),
            Algorithm::Mac(a) => a.name(),
            Algorithm::PublicKey(a) => a.name(),
        }
    }

    /// What its lines measure: a request of each size, or each public-key operation.
    fn jobs(self, sizes: &[usize]) -> Vec<Job> {
        match self {
            Algorithm::PublicKey(a) => a.operations().iter().copied().map(Job::Op).collect(),
            _ => sizes.iter().copied().map(Job::Bytes).collect(),
        }
    }

    /// Why a request of `len` bytes cannot be measured, if it cannot.
    fn refuses(self, len: usize) -> Option<String> {
        match self {
            Algorithm::Cipher(
                a @ (cipher::Algorithm::Aes128Cbc | cipher::Algorithm::Aes256Cbc),
            ) if len % cipher::BLOCK_LEN != 0 => {
                Some(format!("{a} takes whole 16-byte blocks, not {len} bytes"))
            }
            Algorithm::Cipher(a) if len < cipher::BLOCK_LEN => {
                Some(format!("{a} takes at least 16 bytes, not {len}"))
            }
            _ => None,
        }
    }
}

impl std::str::FromStr for Algorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let found = (s.parse().map(Algorithm::Aead).ok())
            .or_else(|| s.parse().map(Algorithm::Cipher).ok())
            .or_else(|| s.parse().map(Algorithm::Hash).ok())
            .or_else(|| s.parse().map(Algorithm::Mac).ok())
            .or_else(|| s.parse().map(Algorithm::PublicKey).ok());
        found.ok_or_else(|| {
            let names: Vec<String> = Algorithm::all()
                .map(|a| a.name().to_ascii_lowercase())
                .collect();
            format!("unknown algorithm {s:?} ({})", names.join(", "))
        })
    }
}

/// A public-key algorithm, named as `openssl speed` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PublicKey {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EcdsaP256,
    EcdsaP384,
    X25519,
}

impl PublicKey {
    const ALL: [PublicKey; 6] = [
        PublicKey::Rsa2048,
        PublicKey::Rsa3072,
        PublicKey::Rsa4096,
        PublicKey::EcdsaP256,
        PublicKey::EcdsaP384,
        PublicKey::X25519,
    ];

    fn name(self) -> &'static str {
        match self {
            PublicKey::Rsa2048 => "RSA2048",
            PublicKey::Rsa3072 => "RSA3072",
            PublicKey::Rsa4096 => "RSA4096",
            PublicKey::EcdsaP256 => "ECDSAP256",
            PublicKey::EcdsaP384 => "ECDSAP384",
            PublicKey::X25519 => "X25519",
        }
    }

    /// Its private key: qat-crypto's test key, PKCS#8 DER.
    fn pkcs8(self) -> &'static [u8] {
        match self {
            PublicKey::Rsa2048 => include_bytes!("../qat-crypto/tests/data/rsa2048.pk8"),
            PublicKey::Rsa3072 => include_bytes!("../qat-crypto/tests/data/rsa3072.pk8"),
            PublicKey::Rsa4096 => include_bytes!("../qat-crypto/tests/data/rsa4096.pk8"),
            PublicKey::EcdsaP256 => include_bytes!("../qat-crypto/tests/data/p256.pk8"),
            PublicKey::EcdsaP384 => include_bytes!("../qat-crypto/tests/data/p384.pk8"),
            PublicKey::X25519 => include_bytes!("../qat-crypto/tests/data/x25519.pk8"),
        }
    }

    fn operations(self) -> &'static [Operation] {
        match self {
            PublicKey::X25519 => &[Operation::Derive],
            _ => &[Operation::Sign, Operation::Verify],
        }
    }
}

impl std::str::FromStr for PublicKey {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        PublicKey::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
            .ok_or(())
    }
}

/// A public-key operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Sign,
    Verify,
    Derive,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Sign => "sign",
            Operation::Verify => "verify",
            Operation::Derive => "derive",
        }
    }
}

/// What one line measures: requests of some bytes, or a public-key operation.
#[derive(Debug, Clone, Copy)]
enum Job {
    Bytes(usize),
    Op(Operation),
}

const KEY: [u8; 64] = *b"qatkit speed key: 64 bytes, two different halves for AES-XTS....";
const NONCE: [u8; 12] = [7; 12];
const IV: [u8; 16] = [9; 16];
/// What the public-key algorithms sign: as long as a SHA-256 digest, as `openssl speed`'s
/// 36 bytes are about as long as the MD5+SHA-1 digest it stands for.
const MESSAGE: [u8; 32] = *b"qatkit speed: the signed message";
/// The RSA signatures: PSS with SHA-256, the salt as long as the digest.
const RSA_SCHEME: rsa::Scheme = rsa::Scheme::PssSha256;
/// The longest RSA signature (4096 bits).
const MAX_RSA_LEN: usize = 512;
/// X25519's peer: a fixed private key, for its public key.
const PEER_X25519: [u8; 32] = *b"qatkit speed: the X25519 peer...";

/// A key (or hasher) made for one algorithm with the backend asked for.
enum Keyed {
    Aead(aead::Key),
    Cipher(cipher::Key),
    Hash(hash::Hasher),
    // An HMAC key holds its hash contexts: over a kilobyte.
    Mac(Box<mac::Key>),
    // The public halves are keys of their own, with the backend asked for too (a private
    // key's `public_key()` has the default settings); the signature is the one verified.
    Rsa {
        private: Box<rsa::PrivateKey>,
        public: Box<rsa::PublicKey>,
        signature: Vec<u8>,
    },
    Ecdsa {
        private: Box<ecdsa::SigningKey>,
        public: Box<ecdsa::VerifyingKey>,
        signature: Vec<u8>,
    },
    Agree {
        private: Box<ecdh::PrivateKey>,
        peer: Vec<u8>,
    },
}

impl Keyed {
    fn new(algorithm: Algorithm, backend: Backend) -> Result<Keyed, qatkit::crypto::Error> {
        Ok(match algorithm {
            Algorithm::Aead(a) => {
                Keyed::Aead(aead::Key::new(a, &KEY[..a.key_len()])?.with_backend(backend)?)
            }
            Algorithm::Cipher(a) => {
                Keyed::Cipher(cipher::Key::new(a, &KEY[..a.key_len()])?.with_backend(backend)?)
            }
            Algorithm::Hash(a) => Keyed::Hash(hash::Hasher::new(a).with_backend(backend)?),
            Algorithm::Mac(a) => Keyed::Mac(Box::new(
                mac::Key::new(a, &KEY[..32])?.with_backend(backend)?,
            )),
            Algorithm::PublicKey(PublicKey::X25519) => {
                let peer = ecdh::PrivateKey::from_bytes(ecdh::Algorithm::X25519, &PEER_X25519)?;
                Keyed::Agree {
                    private: Box::new(
                        ecdh::PrivateKey::from_pkcs8_der(PublicKey::X25519.pkcs8())?
                            .with_backend(backend)?,
                    ),
                    peer: peer.public_key().to_vec(),
                }
            }
            Algorithm::PublicKey(a @ (PublicKey::EcdsaP256 | PublicKey::EcdsaP384)) => {
                let private =
                    ecdsa::SigningKey::from_pkcs8_der(a.pkcs8())?.with_backend(backend)?;
                let public =
                    ecdsa::VerifyingKey::from_sec1_point(&private.verifying_key().to_sec1_point())?
                        .with_backend(backend)?;
                let signature = private.sign(&MESSAGE)?;
                Keyed::Ecdsa {
                    private: Box::new(private),
                    public: Box::new(public),
                    signature,
                }
            }
            Algorithm::PublicKey(a) => {
                let private = rsa::PrivateKey::from_pkcs8_der(a.pkcs8())?.with_backend(backend)?;
                let public = rsa::PublicKey::from_spki_der(&private.public_key().to_spki_der())?
                    .with_backend(backend)?;
                let signature = private.sign(RSA_SCHEME, &MESSAGE)?;
                Keyed::Rsa {
                    private: Box::new(private),
                    public: Box::new(public),
                    signature,
                }
            }
        })
    }

    /// One request of `job`: on `buf`'s first bytes, in place where the operation writes, or
    /// the public-key operation.
    fn run(&self, job: Job, buf: &mut [u8], tag: &mut [u8]) -> Result<(), qatkit::crypto::Error> {
        match (self, job) {
            (Keyed::Aead(k), Job::Bytes(len)) => {
                k.seal_in_place_detached(&NONCE, &[], &mut buf[..len], tag)
            }
            (Keyed::Cipher(k), Job::Bytes(len)) => k.encrypt_in_place(&IV, &mut buf[..len]),
            (Keyed::Hash(h), Job::Bytes(len)) => h.hash(&buf[..len]).map(drop),
            (Keyed::Mac(k), Job::Bytes(len)) => k.sign(&buf[..len]).map(drop),
            (Keyed::Rsa { private, .. }, Job::Op(Operation::Sign)) => {
                let mut signature = [0u8; MAX_RSA_LEN];
                let signature = &mut signature[..private.modulus_len()];
                private.sign_into(RSA_SCHEME, &MESSAGE, signature)
            }
            (
                Keyed::Rsa {
                    public, signature, ..
                },
                Job::Op(Operation::Verify),
            ) => public.verify(RSA_SCHEME, &MESSAGE, signature),
            (Keyed::Ecdsa { private, .. }, Job::Op(Operation::Sign)) => {
                private.sign(&MESSAGE).map(drop)
            }
            (
                Keyed::Ecdsa {
                    public, signature, ..
                },
                Job::Op(Operation::Verify),
            ) => public.verify(&MESSAGE, signature),
            (Keyed::Agree { private, peer }, Job::Op(Operation::Derive)) => {
                private.agree(peer).map(drop)
            }
            (_, job) => unreachable!("{job:?} is not one of this key's jobs"),
        }
    }

    /// The served counters of the key that does `job`.
    fn served(&self, job: Job) -> Served {
        match (self, job) {
            (Keyed::Aead(k), _) => k.served(),
            (Keyed::Cipher(k), _) => k.served(),
            (Keyed::Hash(h), _) => h.served(),
            (Keyed::Mac(k), _) => k.served(),
            (Keyed::Rsa { public, .. }, Job::Op(Operation::Verify)) => public.served(),
            (Keyed::Rsa { private, .. }, _) => private.served(),
            (Keyed::Ecdsa { public, .. }, Job::Op(Operation::Verify)) => public.served(),
            (Keyed::Ecdsa { private, .. }, _) => private.served(),
            (Keyed::Agree { private, .. }, _) => private.served(),
        }
    }
}

/// Requests done and the time they took: at least `duration`, reading the clock after
/// batches that grow until each takes about a hundredth of it.
fn measure(
    key: &Keyed,
    job: Job,
    buf: &mut [u8],
    duration: Duration,
) -> Result<(u64, Duration), qatkit::crypto::Error> {
    let mut tag = [0u8; aead::MAX_TAG_LEN];
    let (start, mut done, mut batch) = (Instant::now(), 0u64, 1u64);
    loop {
        for _ in 0..batch {
            key.run(job, buf, &mut tag)?;
        }
        done += batch;
        let elapsed = start.elapsed();
        if elapsed >= duration {
            return Ok((done, elapsed));
        }
        if elapsed * 100 < duration {
            batch *= 2;
        }
    }
}

/// "cpu", "qat device", or both with their counts.
fn served_by(before: Served, after: Served) -> String {
    let parts: Vec<(&str, u64)> = [
        ("qat device", after.qat_device - before.qat_device),
        ("cpu", after.cpu - before.cpu),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .collect();
    match parts[..] {
        [(who, _)] => who.to_string(),
        _ => parts
            .iter()
            .map(|(who, n)| format!("{who} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn main() {
    let args = Args::parse();
    let algorithms: Vec<Algorithm> = if args.algorithms.is_empty() {
        Algorithm::all().collect()
    } else {
        args.algorithms.clone()
    };
    let sizes: Vec<usize> = if args.bytes.is_empty() {
        &SIZES[..]
    } else {
        &args.bytes
    }
    .iter()
    .map(|&n| n as usize)
    .collect();
    for &a in &algorithms {
        let jobs = a.jobs(&sizes);
        let refused = jobs.iter().find_map(|job| match job {
            Job::Bytes(len) => a.refuses(*len),
            Job::Op(_) => None,
        });
        if let Some(why) = refused {
            Args::command()
                .error(clap::error::ErrorKind::ValueValidation, why)
                .exit();
        }
    }
    // Every key first: a backend that cannot serve fails before anything is measured.
    let keys: Vec<(Algorithm, Keyed)> = algorithms
        .iter()
        .map(|&a| Keyed::new(a, args.backend).map(|k| (a, k)))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| {
            eprintln!("speed: {e}");
            std::process::exit(1);
        });
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let mut buf: Vec<u8> = (0..largest).map(|i| (i * 131 % 251) as u8).collect();
    let duration = Duration::from_secs_f64(args.seconds);
    for (algorithm, key) in &keys {
        for job in algorithm.jobs(&sizes) {
            let before = key.served(job);
            let (done, elapsed) = measure(key, job, &mut buf, duration).unwrap_or_else(|e| {
                eprintln!("speed: {e}");
                std::process::exit(1);
            });
            let secs = elapsed.as_secs_f64();
            let served = served_by(before, key.served(job));
            match job {
                Job::Bytes(len) => println!(
                    "{:<17} {len:>7} bytes {:>13.0} ops/s {:>10.1} MB/s  served by {served}",
                    algorithm.name(),
                    done as f64 / secs,
                    (done * len as u64) as f64 / secs / 1e6,
                ),
                // The columns of the lines above, without the size and MB/s.
                Job::Op(op) => println!(
                    "{:<17} {:>7}       {:>13.0} ops/s{:16}  served by {served}",
                    algorithm.name(),
                    op.name(),
                    done as f64 / secs,
                    "",
                ),
            }
        }
    }
}
