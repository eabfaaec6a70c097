//! Crypto throughput: qatkit's CPU backend against the libraries it competes with, called
//! directly, in the same criterion groups and the same run.
//!
//! Groups: AES-128-GCM and AES-256-GCM seal and open, ChaCha20-Poly1305 seal, AES-256-CBC
//! encrypt, SHA-256 and HMAC-SHA-256, each on requests of 64 B, 1 KiB, 16 KiB, 64 KiB and
//! 1 MiB. Throughput counts the bytes of the request (the plaintext; AAD is empty).
//!
//! In each group:
//! - `qatkit/cpu` and `qatkit/auto`: qat-crypto's `aead::Key`, `cipher::Key`, `hash::Hasher`
//!   or `mac::Key` with backend `cpu` or `auto` (without a device `auto` takes the CPU path
//!   too, after its routing decision);
//! - `aws-lc-rs`: its safe API (`aead::LessSafeKey::seal_in_place_separate_tag` and
//!   `open_in_place_separate_tag`, `cipher::EncryptingKey::cbc` (unpadded CBC) with
//!   `less_safe_encrypt`, `digest::digest`, `hmac::sign`);
//! - `ring` (no CBC): `aead::LessSafeKey`, `digest::digest`, `hmac::sign`;
//! - `openssl` (the system libcrypto, through EVP): one `EVP_CIPHER_CTX` per key, its key set
//!   once and only the IV set per request (`EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv)`, as
//!   `openssl speed` does), then `EVP_CipherUpdate` in place, `EVP_CipherFinal_ex` and the tag;
//!   one `EVP_MD_CTX` reused for SHA-256 (`openssl::hash::Hasher`); one `EVP_MAC_CTX` for HMAC,
//!   its key set once and re-initialised per request with `EVP_MAC_init(ctx, NULL, 0, NULL)`.
//!
//! Keys, contexts and buffers are made before the timed loops. Inputs are a fixed pattern;
//! seal and encrypt work in place on a buffer each entry reuses (so they encrypt their last
//! output again). Open alternates between two ciphertexts with the same key and nonce: `C`,
//! the pattern sealed, and the pattern itself, which is `C` sealed again (GCM and ChaCha20 are
//! stream ciphers), each with its tag; opening one in place leaves the other, so every open
//! succeeds and no copy is timed. Nonces repeat: this measures speed, it protects nothing.
//!
//! As in the compression bench, `qatkit/cpu` is also measured against each baseline *paired*
//! (alternating runs over the same requests; the median of the per-round ratios), written to
//! `qatkit-paired.tsv` beside criterion's results; `cargo run -p qatkit-benches --example
//! bench-table` joins everything into markdown tables.
//!
//! ```text
//! cargo bench -p qatkit-benches --bench crypto
//! ```

mod shared;

use std::io::Write as _;
use std::time::Duration;

use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput, measurement::WallTime};
use openssl::cipher::{Cipher, CipherRef};
use openssl::cipher_ctx::CipherCtx;
use qat_crypto::{Backend, aead, cipher, hash, mac};

const SIZES: [(&str, usize); 5] = [
    ("64B", 64),
    ("1KiB", 1 << 10),
    ("16KiB", 16 << 10),
    ("64KiB", 64 << 10),
    ("1MiB", 1 << 20),
];

/// Bytes per paired round: many small requests, so a round is long enough to time.
const ROUND_BYTES: usize = 4 << 20;

const KEY: [u8; 32] = *b"qatkit bench key, 32 bytes long!";
const NONCE: [u8; 12] = *b"bench nonce!";
const IV: [u8; 16] = *b"bench iv, 16 b.!";
const TAG_LEN: usize = 16;

/// The bench's input: a fixed pattern, the same on every machine.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2654435761).to_le_bytes()[3])
        .collect()
}

/// Where every buffer starts: a cache line. AVX-512 code runs measurably slower on data that
/// straddles cache lines, and where the allocator puts each entry's buffer is chance; aligned
/// alike, the entries compare the libraries, not their buffers' addresses.
const ALIGN: usize = 64;

/// A copy of some bytes at an [`ALIGN`]-byte boundary, with `spare` bytes after them.
struct Buffer {
    mem: Vec<u8>,
    start: usize,
    len: usize,
}

impl Buffer {
    fn new(bytes: &[u8], spare: usize) -> Buffer {
        let len = bytes.len() + spare;
        let mut mem = vec![0u8; len + ALIGN];
        let start = mem.as_ptr().align_offset(ALIGN);
        mem[start..start + bytes.len()].copy_from_slice(bytes);
        Buffer { mem, start, len }
    }

    fn get(&mut self) -> &mut [u8] {
        &mut self.mem[self.start..self.start + self.len]
    }
}

/// Work on one request, returning something of the result (for `black_box`).
type Work = Box<dyn FnMut(&[u8]) -> usize>;

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
    /// against each baseline (the entries after qatkit's), paired.
    fn measure(
        &mut self,
        group: &mut BenchmarkGroup<'_, WallTime>,
        group_name: &str,
        label: &str,
        input: &[u8],
        mut entries: Vec<(&'static str, Work)>,
    ) {
        group.throughput(Throughput::Bytes(input.len() as u64));
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
            (ROUND_BYTES / input.len()).max(1)
        };
        let requests = vec![input; copies];
        for (baseline, theirs) in theirs.iter_mut().filter(|(b, _)| !b.starts_with("qatkit/")) {
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

/// An AEAD as each library names it.
#[derive(Clone, Copy)]
struct Aead {
    group: &'static str,
    qatkit: aead::Algorithm,
    aws_lc: &'static aws_lc_rs::aead::Algorithm,
    ring: &'static ring::aead::Algorithm,
    openssl: fn() -> &'static CipherRef,
}

const AES_128_GCM: Aead = Aead {
    group: "aes128gcm",
    qatkit: aead::Algorithm::Aes128Gcm,
    aws_lc: &aws_lc_rs::aead::AES_128_GCM,
    ring: &ring::aead::AES_128_GCM,
    openssl: Cipher::aes_128_gcm,
};

const AES_256_GCM: Aead = Aead {
    group: "aes256gcm",
    qatkit: aead::Algorithm::Aes256Gcm,
    aws_lc: &aws_lc_rs::aead::AES_256_GCM,
    ring: &ring::aead::AES_256_GCM,
    openssl: Cipher::aes_256_gcm,
};

const CHACHA20_POLY1305: Aead = Aead {
    group: "chacha20poly1305",
    qatkit: aead::Algorithm::ChaCha20Poly1305,
    aws_lc: &aws_lc_rs::aead::CHACHA20_POLY1305,
    ring: &ring::aead::CHACHA20_POLY1305,
    openssl: Cipher::chacha20_poly1305,
};

impl Aead {
    fn key(&self) -> &'static [u8] {
        &KEY[..self.qatkit.key_len()]
    }

    fn qatkit_key(&self, backend: Backend) -> aead::Key {
        aead::Key::new(self.qatkit, self.key())
            .and_then(|k| k.with_backend(backend))
            .expect("qatkit key")
    }

    fn aws_lc_key(&self) -> aws_lc_rs::aead::LessSafeKey {
        let key = aws_lc_rs::aead::UnboundKey::new(self.aws_lc, self.key()).expect("key");
        aws_lc_rs::aead::LessSafeKey::new(key)
    }

    fn ring_key(&self) -> ring::aead::LessSafeKey {
        let key = ring::aead::UnboundKey::new(self.ring, self.key()).expect("key");
        ring::aead::LessSafeKey::new(key)
    }

    /// A cipher context with the key set, for encryption or decryption.
    fn openssl_ctx(&self, encrypt: bool) -> CipherCtx {
        let mut ctx = CipherCtx::new().expect("EVP_CIPHER_CTX_new");
        let cipher = (self.openssl)();
        if encrypt {
            ctx.encrypt_init(Some(cipher), Some(self.key()), Some(&NONCE))
        } else {
            ctx.decrypt_init(Some(cipher), Some(self.key()), Some(&NONCE))
        }
        .expect("EVP_CipherInit_ex");
        ctx
    }

    /// Every entry sealing `input` in place.
    fn seal_entries(&self, input: &[u8]) -> Vec<(&'static str, Work)> {
        let mut entries: Vec<(&'static str, Work)> = Vec::new();
        for (name, backend) in [("qatkit/cpu", Backend::Cpu), ("qatkit/auto", Backend::Auto)] {
            let (key, mut buf, mut tag) = (
                self.qatkit_key(backend),
                Buffer::new(input, 0),
                [0; TAG_LEN],
            );
            entries.push((
                name,
                Box::new(move |r| {
                    let data = &mut buf.get()[..r.len()];
                    key.seal_in_place_detached(&NONCE, &[], data, &mut tag)
                        .expect("seal");
                    tag[0].into()
                }),
            ));
        }
        let (key, mut buf) = (self.aws_lc_key(), Buffer::new(input, 0));
        entries.push((
            "aws-lc-rs",
            Box::new(move |r| {
                let nonce = aws_lc_rs::aead::Nonce::assume_unique_for_key(NONCE);
                let data = &mut buf.get()[..r.len()];
                let aad = aws_lc_rs::aead::Aad::empty();
                let tag = key.seal_in_place_separate_tag(nonce, aad, data);
                tag.expect("seal").as_ref()[0].into()
            }),
        ));
        let (key, mut buf) = (self.ring_key(), Buffer::new(input, 0));
        entries.push((
            "ring",
            Box::new(move |r| {
                let nonce = ring::aead::Nonce::assume_unique_for_key(NONCE);
                let data = &mut buf.get()[..r.len()];
                let aad = ring::aead::Aad::empty();
                let tag = key.seal_in_place_separate_tag(nonce, aad, data);
                tag.expect("seal").as_ref()[0].into()
            }),
        ));
        let (mut ctx, mut buf, mut tag) =
            (self.openssl_ctx(true), Buffer::new(input, 0), [0; TAG_LEN]);
        entries.push((
            "openssl",
            Box::new(move |r| {
                ctx.encrypt_init(None, None, Some(&NONCE)).expect("IV");
                ctx.cipher_update_inplace(buf.get(), r.len())
                    .expect("update");
                ctx.cipher_final(&mut []).expect("final");
                ctx.tag(&mut tag).expect("tag");
                tag[0].into()
            }),
        ));
        entries
    }

    /// The two ciphertexts open alternates between, each with its tag: the pattern sealed
    /// (`C`), and the pattern itself as `C` sealed again.
    fn open_inputs(&self, input: &[u8]) -> [(Vec<u8>, [u8; TAG_LEN]); 2] {
        let key = self.qatkit_key(Backend::Cpu);
        let (mut sealed, mut tag) = (input.to_vec(), [0; TAG_LEN]);
        key.seal_in_place_detached(&NONCE, &[], &mut sealed, &mut tag)
            .expect("seal");
        let (mut again, mut tag_again) = (sealed.clone(), [0; TAG_LEN]);
        key.seal_in_place_detached(&NONCE, &[], &mut again, &mut tag_again)
            .expect("seal");
        assert_eq!(
            again, input,
            "sealing twice with one nonce gives the input back"
        );
        [(sealed, tag), (again, tag_again)]
    }

    /// Every entry opening in place, alternating between the two inputs of `open_inputs`.
    fn open_entries(&self, input: &[u8]) -> Vec<(&'static str, Work)> {
        let [(sealed, tag), (_, tag_again)] = self.open_inputs(input);
        let tags = [tag, tag_again];
        let mut entries: Vec<(&'static str, Work)> = Vec::new();
        for (name, backend) in [("qatkit/cpu", Backend::Cpu), ("qatkit/auto", Backend::Auto)] {
            let (key, mut buf, mut next) = (self.qatkit_key(backend), Buffer::new(&sealed, 0), 0);
            entries.push((
                name,
                Box::new(move |r| {
                    let data = &mut buf.get()[..r.len()];
                    key.open_in_place_detached(&NONCE, &[], data, &tags[next])
                        .expect("open");
                    next ^= 1;
                    data[0].into()
                }),
            ));
        }
        let (key, mut buf, mut next) = (self.aws_lc_key(), Buffer::new(&sealed, 0), 0);
        entries.push((
            "aws-lc-rs",
            Box::new(move |r| {
                let nonce = aws_lc_rs::aead::Nonce::assume_unique_for_key(NONCE);
                let aad = aws_lc_rs::aead::Aad::empty();
                let data = &mut buf.get()[..r.len()];
                let plain = key.open_in_place_separate_tag(nonce, aad, &tags[next], data);
                next ^= 1;
                plain.expect("open")[0].into()
            }),
        ));
        let (key, mut buf, mut next) = (self.ring_key(), Buffer::new(&sealed, 0), 0);
        entries.push((
            "ring",
            Box::new(move |r| {
                let nonce = ring::aead::Nonce::assume_unique_for_key(NONCE);
                let aad = ring::aead::Aad::empty();
                let tag = ring::aead::Tag::from(tags[next]);
                let data = &mut buf.get()[..r.len()];
                let plain = key.open_in_place_separate_tag(nonce, aad, tag, data, 0..);
                next ^= 1;
                plain.expect("open")[0].into()
            }),
        ));
        let (mut ctx, mut buf, mut next) = (self.openssl_ctx(false), Buffer::new(&sealed, 0), 0);
        entries.push((
            "openssl",
            Box::new(move |r| {
                ctx.decrypt_init(None, None, Some(&NONCE)).expect("IV");
                ctx.set_tag(&tags[next]).expect("tag");
                ctx.cipher_update_inplace(buf.get(), r.len())
                    .expect("update");
                ctx.cipher_final(&mut []).expect("open");
                next ^= 1;
                buf.get()[0].into()
            }),
        ));
        entries
    }
}

/// AES-256-CBC encryption in place: qatkit, aws-lc-rs's unpadded CBC, OpenSSL's EVP.
fn cbc_entries(input: &[u8]) -> Vec<(&'static str, Work)> {
    let mut entries: Vec<(&'static str, Work)> = Vec::new();
    for (name, backend) in [("qatkit/cpu", Backend::Cpu), ("qatkit/auto", Backend::Auto)] {
        let key = cipher::Key::new(cipher::Algorithm::Aes256Cbc, &KEY)
            .and_then(|k| k.with_backend(backend))
            .expect("qatkit key");
        let mut buf = Buffer::new(input, 0);
        entries.push((
            name,
            Box::new(move |r| {
                let data = &mut buf.get()[..r.len()];
                key.encrypt_in_place(&IV, data).expect("encrypt");
                data[0].into()
            }),
        ));
    }
    use aws_lc_rs::cipher::{AES_256, EncryptingKey, EncryptionContext, UnboundCipherKey};
    let key = UnboundCipherKey::new(&AES_256, &KEY).and_then(EncryptingKey::cbc);
    let (key, mut buf) = (key.expect("key"), Buffer::new(input, 0));
    entries.push((
        "aws-lc-rs",
        Box::new(move |r| {
            let iv = EncryptionContext::Iv128(aws_lc_rs::iv::FixedLength::from(IV));
            let data = &mut buf.get()[..r.len()];
            key.less_safe_encrypt(data, iv).expect("encrypt");
            data[0].into()
        }),
    ));
    let mut ctx = CipherCtx::new().expect("EVP_CIPHER_CTX_new");
    ctx.encrypt_init(Some(Cipher::aes_256_cbc()), Some(&KEY), Some(&IV))
        .expect("EVP_EncryptInit_ex");
    ctx.set_padding(false);
    // EVP_CipherUpdate may write a block more than it is given, unpadded CBC never does; the
    // crate asks for room for it.
    let mut buf = Buffer::new(input, 16);
    entries.push((
        "openssl",
        Box::new(move |r| {
            ctx.encrypt_init(None, None, Some(&IV)).expect("IV");
            let n = ctx
                .cipher_update_inplace(buf.get(), r.len())
                .expect("update");
            let mut rest = [0u8; 16];
            let m = ctx.cipher_final(&mut rest).expect("final");
            assert_eq!(n + m, r.len());
            buf.get()[0].into()
        }),
    ));
    entries
}

fn sha256_entries() -> Vec<(&'static str, Work)> {
    let mut entries: Vec<(&'static str, Work)> = Vec::new();
    for (name, backend) in [("qatkit/cpu", Backend::Cpu), ("qatkit/auto", Backend::Auto)] {
        let hasher = hash::Hasher::new(hash::Algorithm::Sha256)
            .with_backend(backend)
            .expect("hasher");
        entries.push((
            name,
            Box::new(move |r| hasher.hash(r).expect("hash").as_ref()[0].into()),
        ));
    }
    entries.push((
        "aws-lc-rs",
        Box::new(|r| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, r).as_ref()[0].into()),
    ));
    entries.push((
        "ring",
        Box::new(|r| ring::digest::digest(&ring::digest::SHA256, r).as_ref()[0].into()),
    ));
    let mut hasher =
        openssl::hash::Hasher::new(openssl::hash::MessageDigest::sha256()).expect("hasher");
    entries.push((
        "openssl",
        Box::new(move |r| {
            hasher.update(r).expect("update");
            hasher.finish().expect("finish")[0].into()
        }),
    ));
    entries
}

fn hmac_sha256_entries() -> Vec<(&'static str, Work)> {
    let mut entries: Vec<(&'static str, Work)> = Vec::new();
    for (name, backend) in [("qatkit/cpu", Backend::Cpu), ("qatkit/auto", Backend::Auto)] {
        let key = mac::Key::new(mac::Algorithm::HmacSha256, &KEY)
            .and_then(|k| k.with_backend(backend))
            .expect("qatkit key");
        entries.push((
            name,
            Box::new(move |r| key.sign(r).expect("sign").as_ref()[0].into()),
        ));
    }
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &KEY);
    entries.push((
        "aws-lc-rs",
        Box::new(move |r| aws_lc_rs::hmac::sign(&key, r).as_ref()[0].into()),
    ));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &KEY);
    entries.push((
        "ring",
        Box::new(move |r| ring::hmac::sign(&key, r).as_ref()[0].into()),
    ));
    let mut mac = evp_mac::Hmac::sha256(&KEY);
    entries.push(("openssl", Box::new(move |r| mac.sign(r)[0].into())));
    entries
}

/// HMAC through OpenSSL 3's `EVP_MAC`, which the `openssl` crate does not wrap.
mod evp_mac {
    use std::ffi::c_char;

    use openssl_sys as ffi;

    unsafe extern "C" {
        // In libcrypto 3 (which openssl-sys links), not bound by openssl-sys.
        fn OSSL_PARAM_construct_utf8_string(
            key: *const c_char,
            buf: *mut c_char,
            bsize: usize,
        ) -> ffi::OSSL_PARAM;
    }

    pub(super) struct Hmac {
        mac: *mut ffi::EVP_MAC,
        ctx: *mut ffi::EVP_MAC_CTX,
    }

    impl Hmac {
        /// An HMAC-SHA-256 context with `key` set.
        pub(super) fn sha256(key: &[u8]) -> Hmac {
            ffi::init();
            let mut digest = *b"SHA256\0";
            // SAFETY: the names are NUL-terminated; `digest` outlives the params, which are
            // read by EVP_MAC_init only; the MAC and context are checked and freed in Drop.
            unsafe {
                let mac =
                    ffi::EVP_MAC_fetch(std::ptr::null_mut(), c"HMAC".as_ptr(), std::ptr::null());
                assert!(!mac.is_null(), "EVP_MAC_fetch(HMAC)");
                let ctx = ffi::EVP_MAC_CTX_new(mac);
                assert!(!ctx.is_null(), "EVP_MAC_CTX_new");
                let params = [
                    OSSL_PARAM_construct_utf8_string(
                        c"digest".as_ptr(),
                        digest.as_mut_ptr().cast(),
                        0,
                    ),
                    ffi::OSSL_PARAM_construct_end(),
                ];
                let ok = ffi::EVP_MAC_init(ctx, key.as_ptr(), key.len(), params.as_ptr());
                assert_eq!(ok, 1, "EVP_MAC_init");
                Hmac { mac, ctx }
            }
        }

        /// The MAC of `data`, re-initialising the context with the key it holds.
        pub(super) fn sign(&mut self, data: &[u8]) -> [u8; 32] {
            let (mut out, mut len) = ([0u8; 32], 0usize);
            // SAFETY: the context is live and keyed; a NULL key re-uses the one set; `data`
            // and `out` are valid for the lengths passed.
            unsafe {
                assert_eq!(
                    ffi::EVP_MAC_init(self.ctx, std::ptr::null(), 0, std::ptr::null()),
                    1
                );
                assert_eq!(ffi::EVP_MAC_update(self.ctx, data.as_ptr(), data.len()), 1);
                assert_eq!(
                    ffi::EVP_MAC_final(self.ctx, out.as_mut_ptr(), &mut len, out.len()),
                    1
                );
            }
            assert_eq!(len, 32);
            out
        }
    }

    impl Drop for Hmac {
        fn drop(&mut self) {
            // SAFETY: both were made in `sha256` and are freed once, the context first.
            unsafe {
                ffi::EVP_MAC_CTX_free(self.ctx);
                ffi::EVP_MAC_free(self.mac);
            }
        }
    }
}

/// Checks that every entry of a group computes the same thing on `input`: the same
/// ciphertext, tag or digest byte (`Work` returns a byte of its result).
fn same_results(group: &str, label: &str, input: &[u8], entries: &mut [(&'static str, Work)]) {
    let results: Vec<(&str, usize)> = entries
        .iter_mut()
        .map(|(name, work)| (*name, work(input)))
        .collect();
    assert!(
        results.windows(2).all(|w| w[0].1 == w[1].1),
        "{group}/{label}: the implementations disagree: {results:?}"
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
    type Entries = fn(Aead, &[u8]) -> Vec<(&'static str, Work)>;
    let aead_groups: [(Aead, &str, Entries); 5] = [
        (AES_128_GCM, "seal", |a, i| a.seal_entries(i)),
        (AES_128_GCM, "open", |a, i| a.open_entries(i)),
        (AES_256_GCM, "seal", |a, i| a.seal_entries(i)),
        (AES_256_GCM, "open", |a, i| a.open_entries(i)),
        (CHACHA20_POLY1305, "seal", |a, i| a.seal_entries(i)),
    ];
    for (algorithm, operation, entries) in aead_groups {
        let name = format!("{}_{operation}", algorithm.group);
        let mut group = c.benchmark_group(&name);
        for (label, size) in SIZES {
            let mut input = Buffer::new(&pattern(size), 0);
            let input = &*input.get();
            same_results(&name, label, input, &mut entries(algorithm, input));
            bench.measure(&mut group, &name, label, input, entries(algorithm, input));
        }
        group.finish();
    }
    type Fresh = fn(&[u8]) -> Vec<(&'static str, Work)>;
    let other_groups: [(&str, Fresh); 3] = [
        ("aes256cbc_encrypt", cbc_entries),
        ("sha256", |_| sha256_entries()),
        ("hmac_sha256", |_| hmac_sha256_entries()),
    ];
    for (name, entries) in other_groups {
        let mut group = c.benchmark_group(name);
        for (label, size) in SIZES {
            let mut input = Buffer::new(&pattern(size), 0);
            let input = &*input.get();
            same_results(name, label, input, &mut entries(input));
            bench.measure(&mut group, name, label, input, entries(input));
        }
        group.finish();
    }
    c.final_summary();
}
