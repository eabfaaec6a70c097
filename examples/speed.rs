//! speed: crypto throughput through qatkit, like `openssl speed`.
//!
//! ```text
//! cargo run --release --example speed -- [-e ALG]... [--bytes N]... [--backend auto|cpu|qat]
//!     [--seconds S]
//! ```
//!
//! ALG: aes-128-gcm, aes-256-gcm, chacha20-poly1305 (sealed), aes-128-cbc, aes-256-cbc,
//! aes-256-xts (encrypted), sha-256, sha-384, sha-512, sha3-256 (hashed), hmac-sha-256,
//! hmac-sha-384, hmac-sha-512 (signed). Default: every algorithm, at 16, 64, 256, 1024, 8192 and
//! 16384 bytes (`openssl speed`'s sizes), 3 seconds each. One request at a time, in place on
//! one buffer (AEAD: empty AAD, 16-byte tags; the nonce repeats: this measures, it protects
//! nothing). Keys are made before timing starts.
//!
//! stdout gets one line per algorithm and size: requests per second, MB/s (10^6 bytes) and what
//! served the requests (the key's served counters: `cpu`, `qat device`).
//! Exit status: 0 done, 1 failed (e.g. `--backend qat` without a device or without the
//! `qatlib` feature), 2 bad arguments.

use std::time::{Duration, Instant};

use clap::{CommandFactory, Parser};
use qatkit::crypto::{Backend, Served, aead, cipher, hash, mac};

#[derive(Parser)]
#[command(
    name = "speed",
    about = "Crypto throughput through qatkit, like `openssl speed`"
)]
struct Args {
    /// Algorithm to measure (repeatable; default all).
    #[arg(short = 'e', long = "algorithm", value_name = "ALG")]
    algorithms: Vec<Algorithm>,
    /// Request size in bytes (repeatable; default 16, 64, 256, 1024, 8192, 16384).
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
}

impl Algorithm {
    fn all() -> impl Iterator<Item = Algorithm> {
        let aeads = aead::Algorithm::ALL.into_iter().map(Algorithm::Aead);
        let ciphers = cipher::Algorithm::ALL.into_iter().map(Algorithm::Cipher);
        let hashes = hash::Algorithm::ALL.into_iter().map(Algorithm::Hash);
        let macs = mac::Algorithm::ALL.into_iter().map(Algorithm::Mac);
        aeads.chain(ciphers).chain(hashes).chain(macs)
    }

    fn name(self) -> &'static str {
        match self {
            Algorithm::Aead(a) => a.name(),
            Algorithm::Cipher(a) => a.name(),
            Algorithm::Hash(a) => a.name(),
            Algorithm::Mac(a) => a.name(),
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
            .or_else(|| s.parse().map(Algorithm::Mac).ok());
        found.ok_or_else(|| {
            let names: Vec<String> = Algorithm::all()
                .map(|a| a.name().to_ascii_lowercase())
                .collect();
            format!("unknown algorithm {s:?} ({})", names.join(", "))
        })
    }
}

const KEY: [u8; 64] = *b"qatkit speed key: 64 bytes, two different halves for AES-XTS....";
const NONCE: [u8; 12] = [7; 12];
const IV: [u8; 16] = [9; 16];

/// A key (or hasher) made for one algorithm with the backend asked for.
enum Keyed {
    Aead(aead::Key),
    Cipher(cipher::Key),
    Hash(hash::Hasher),
    // An HMAC key holds its hash contexts: over a kilobyte.
    Mac(Box<mac::Key>),
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
        })
    }

    /// One request on `data`, in place where the operation writes.
    fn run(&self, data: &mut [u8], tag: &mut [u8]) -> Result<(), qatkit::crypto::Error> {
        match self {
            Keyed::Aead(k) => k.seal_in_place_detached(&NONCE, &[], data, tag),
            Keyed::Cipher(k) => k.encrypt_in_place(&IV, data),
            Keyed::Hash(h) => h.hash(data).map(drop),
            Keyed::Mac(k) => k.sign(data).map(drop),
        }
    }

    fn served(&self) -> Served {
        match self {
            Keyed::Aead(k) => k.served(),
            Keyed::Cipher(k) => k.served(),
            Keyed::Hash(h) => h.served(),
            Keyed::Mac(k) => k.served(),
        }
    }
}

/// Requests done and the time they took: at least `duration`, reading the clock after
/// batches that grow until each takes about a hundredth of it.
fn measure(
    key: &Keyed,
    data: &mut [u8],
    duration: Duration,
) -> Result<(u64, Duration), qatkit::crypto::Error> {
    let mut tag = [0u8; aead::MAX_TAG_LEN];
    let (start, mut done, mut batch) = (Instant::now(), 0u64, 1u64);
    loop {
        for _ in 0..batch {
            key.run(data, &mut tag)?;
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
        if let Some(why) = sizes.iter().find_map(|&len| a.refuses(len)) {
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
        for &len in &sizes {
            let before = key.served();
            let (done, elapsed) = measure(key, &mut buf[..len], duration).unwrap_or_else(|e| {
                eprintln!("speed: {e}");
                std::process::exit(1);
            });
            let secs = elapsed.as_secs_f64();
            println!(
                "{:<17} {len:>7} bytes {:>13.0} ops/s {:>10.1} MB/s  served by {}",
                algorithm.name(),
                done as f64 / secs,
                (done * len as u64) as f64 / secs / 1e6,
                served_by(before, key.served())
            );
        }
    }
}
