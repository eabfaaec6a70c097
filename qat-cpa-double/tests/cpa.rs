//! The double through qat-sys's raw bindings: published vectors, the device rules, polling and
//! fault injection.
#![cfg(feature = "qatlib")]

mod support;

use std::sync::atomic::Ordering;
use support::*;

const ENC: u32 = CPA_CY_SYM_CIPHER_DIRECTION_ENCRYPT;
const DEC: u32 = CPA_CY_SYM_CIPHER_DIRECTION_DECRYPT;

// McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 4 (AES-128) and 16 (AES-256).
const GCM_KEY: &str = "feffe9928665731c6d6a8f9467308308";
const GCM_IV: &str = "cafebabefacedbaddecaf888";
const GCM_P: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
const GCM_A: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
const GCM4_C: &str = "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091";
const GCM4_T: &str = "5bc94fbc3221a5db94fae95ae7121a47";
const GCM16_C: &str = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662";
const GCM16_T: &str = "76fc6ece0f4e1768cddf8853bb2d551b";

/// Sets up the double for one test: serialised, defaults, started.
fn begin() -> (std::sync::MutexGuard<'static, ()>, Device) {
    let guard = double::lock();
    double::reset();
    (guard, Device::start())
}

/// A pinned IV buffer of 16 bytes holding `iv`.
fn iv16(iv: &[u8]) -> Pinned {
    let mut p = Pinned::new(16);
    p.bytes_mut()[..iv.len()].copy_from_slice(iv);
    p
}

/// A pinned AAD buffer rounded up to 16 bytes, as the header asks for GCM.
fn aad16(aad: &[u8]) -> Pinned {
    let mut p = Pinned::new(aad.len().div_ceil(16).max(1) * 16);
    p.bytes_mut()[..aad.len()].copy_from_slice(aad);
    p
}

#[test]
fn stats_has_the_c_layout() {
    assert_eq!(std::mem::size_of::<double::Stats>(), 10 * 8);
}

#[test]
fn the_doubles_symbols_win_over_libqat() {
    // The real libqat (also linked, through qat-sys) fails icp_sal_userStart without a device;
    // only the double succeeds and names itself.
    let (_g, dev) = begin();
    let mut info: CpaInstanceInfo2 = zeroed();
    // SAFETY: a handle of the started double and an out-parameter.
    let status = unsafe { cpaCyInstanceGetInfo2(dev.inst(), &mut info) };
    assert_eq!(status, CPA_STATUS_SUCCESS);
    assert!(info.partName.starts_with(b"qat-cpa-double\0"));
    assert_eq!(info.operState, CPA_OPER_STATE_UP);
    assert_eq!(info.isPolled, CPA_TRUE);
    assert_eq!(dev.insts.len(), 2);
    let mut caps: CpaCySymCapabilitiesInfo = zeroed();
    // SAFETY: as above.
    let status = unsafe { cpaCySymQueryCapabilities(dev.inst(), &mut caps) };
    assert_eq!(status, CPA_STATUS_SUCCESS);
    assert_ne!(caps.ciphers[0] & (1 << CPA_CY_SYM_CIPHER_AES_GCM), 0);
    assert_eq!(caps.ciphers[0] & (1 << CPA_CY_SYM_CIPHER_AES_ECB), 0);
    assert_eq!(caps.hashes[0] & (1 << CPA_CY_SYM_HASH_SHA1), 0);
}

#[test]
fn without_instances_start_fails_as_without_a_device() {
    let _g = double::lock();
    double::reset();
    double::set_instances(0);
    // SAFETY: a NUL-terminated name and out-parameters that live for the calls.
    unsafe {
        assert_eq!(icp_sal_userStart(c"SSL".as_ptr()), CPA_STATUS_FAIL);
        let mut n: Cpa16U = 9;
        assert_eq!(cpaCyGetNumInstances(&mut n), CPA_STATUS_SUCCESS);
        assert_eq!(n, 0);
        let mut h = [std::ptr::null_mut(); 1];
        assert_eq!(cpaCyGetInstances(1, h.as_mut_ptr()), CPA_STATUS_RESOURCE);
        assert_eq!(icp_sal_userStop(), CPA_STATUS_FAIL);
    }
    double::set_instances(5);
    let dev = Device::start();
    assert_eq!(dev.insts.len(), 5);
}

#[test]
fn aes_gcm_matches_the_published_vectors_in_place_and_out_of_place() {
    let (_g, dev) = begin();
    let inst = dev.inst();
    for (key, c, t) in [
        (hex(GCM_KEY), GCM4_C, GCM4_T),
        ([hex(GCM_KEY), hex(GCM_KEY)].concat(), GCM16_C, GCM16_T),
    ] {
        let (p, a) = (hex(GCM_P), hex(GCM_A));
        let iv = iv16(&hex(GCM_IV));
        let aad = aad16(&a);
        // encrypt in place, tag into pDigestResult
        let enc = Session::new(inst, &gcm_setup(&key, ENC, 16, a.len() as u32)).unwrap();
        let mut buf = List::new(inst, &[&p]);
        let tag = Pinned::new(16);
        let op = op_data(
            &enc,
            Some((&iv, 12)),
            Some(&aad),
            Some(&tag),
            0,
            p.len() as u32,
        );
        let done = Done::default();
        assert_eq!(
            submit(inst, &done, &op, buf.ptr(), buf.ptr()),
            CPA_STATUS_SUCCESS
        );
        assert_eq!(done.fired(), 0, "no callback before polling");
        assert_eq!(buf.bytes(), p, "no data before polling");
        assert_eq!(poll(inst, 0), CPA_STATUS_SUCCESS);
        assert_eq!(done.fired(), 1);
        assert_eq!(done.status(), CPA_STATUS_SUCCESS);
        assert_eq!(
            done.op_type.load(Ordering::SeqCst),
            CPA_CY_SYM_OP_ALGORITHM_CHAINING
        );
        assert_eq!(buf.bytes(), hex(c));
        assert_eq!(tag.bytes(), hex(t));

        // decrypt out of place, tag checked
        let dec = Session::new(inst, &gcm_setup(&key, DEC, 16, a.len() as u32)).unwrap();
        let mut src = List::new(inst, &[&hex(c)]);
        let mut dst = List::new(inst, &[&[0u8; 60]]);
        let op = op_data(&dec, Some((&iv, 12)), Some(&aad), Some(&tag), 0, 60);
        let done = Done::default();
        assert_eq!(
            submit(inst, &done, &op, src.ptr(), dst.ptr()),
            CPA_STATUS_SUCCESS
        );
        assert_eq!(poll(inst, 0), CPA_STATUS_SUCCESS);
        assert_eq!((done.status(), done.verified()), (CPA_STATUS_SUCCESS, true));
        assert_eq!(dst.bytes(), p);
        assert_eq!(src.bytes(), hex(c), "out of place leaves the source");
    }
}

#[test]
fn gcm_decrypt_with_a_wrong_tag_completes_with_verify_false_and_zeroed_output() {
    let (_g, dev) = begin();
    let inst = dev.inst();
    let key = hex(GCM_KEY);
    let a = hex(GCM_A);
    let dec = Session::new(inst, &gcm_setup(&key, DEC, 16, 20)).unwrap();
    let (iv, aad) = (iv16(&hex(GCM_IV)), aad16(&a));
    let mut bad = hex(GCM4_T);
    bad[15] ^= 1;
    let tag = Pinned::with(&bad);
    let mut buf = List::new(inst, &[&hex(GCM4_C)]);
    let op = op_data(&dec, Some((&iv, 12)), Some(&aad), Some(&tag), 0, 60);
    let done = Done::default();
    assert_eq!(
        submit(inst, &done, &op, buf.ptr(), buf.ptr()),
        CPA_STATUS_SUCCESS
    );
    poll(inst, 0);
    assert_eq!(
        done.status(),
        CPA_STATUS_SUCCESS,
        "the header: status success, verify false"
    );
    assert!(!done.verified());
    assert_eq!(buf.bytes(), vec![0; 60]);
}

#[test]
fn gcm_with_the_digest_appended_and_data_at_an_offset_over_two_buffers() {
    let (_g, dev) = begin();
    let inst = dev.inst();
    let key = hex(GCM_KEY);
    let (p, a) = (hex(GCM_P), hex(GCM_A));
    let (iv, aad) = (iv16(&hex(GCM_IV)), aad16(&a));
    let mut setup = gcm_setup(&key, ENC, 16, 20);
    setup.digestIsAppended = CPA_TRUE;
    let enc = Session::new(inst, &setup).unwrap();
    // head(5) | plaintext(60) | tag room(16) | tail(3), split over two buffers at 30
    let mut whole = vec![0xaa; 5];
    whole.extend_from_slice(&p);
    whole.extend_from_slice(&[0; 16]);
    whole.extend_from_slice(&[0xbb; 3]);
    let mut src = List::new(inst, &[&whole[..30], &whole[30..]]);
    let mut dst = List::new(inst, &[&vec![0; whole.len()]]);
    let op = op_data(&enc, Some((&iv, 12)), Some(&aad), None, 5, 60);
    let done = Done::default();
    assert_eq!(
        submit(inst, &done, &op, src.ptr(), dst.ptr()),
        CPA_STATUS_SUCCESS
    );
    poll(inst, 0);
    assert_eq!(done.status(), CPA_STATUS_SUCCESS);
    let out = dst.bytes();
    assert_eq!(&out[..5], &[0xaa; 5], "head copied out of place");
    assert_eq!(&out[5..65], &hex(GCM4_C)[..]);
    assert_eq!(&out[65..81], &hex(GCM4_T)[..]);
    assert_eq!(&out[81..], &[0xbb; 3], "tail copied out of place");

    // and back, in place, the tag read from behind the ciphertext
    let mut setup = gcm_setup(&key, DEC, 16, 20);
    setup.digestIsAppended = CPA_TRUE;
    let dec = Session::new(inst, &setup).unwrap();
    let op = op_data(&dec, Some((&iv, 12)), Some(&aad), None, 5, 60);
    let done = Done::default();
    assert_eq!(
        submit(inst, &done, &op, dst.ptr(), dst.ptr()),
        CPA_STATUS_SUCCESS
    );
    poll(inst, 0);
    assert!(done.verified());
    assert_eq!(&dst.bytes()[5..65], &p[..]);
}

#[test]
fn chacha20_poly1305_matches_rfc8439() {
    let (_g, dev) = begin();
    let inst = dev.inst();
    let key: Vec<u8> = (0x80..0xa0).collect();
    let nonce = Pinned::with(&hex("070000004041424344454647"));
    let aad = Pinned::with(&hex("50515253c0c1c2c3c4c5c6c7"));
    let p = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    let expect = hex(
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b61161ae10b594f09e26a7e902ecbd0600691",
    );
    let setup = aead_setup(
        CPA_CY_SYM_CIPHER_CHACHA,
        CPA_CY_SYM_HASH_POLY,
        &key,
        ENC,
        16,
        12,
    );
    let enc = Session::new(inst, &setup).unwrap();
    let mut buf = List::new(inst, &[p]);
    let tag = Pinned::new(16);
    let op = op_data(
        &enc,
        Some((&nonce, 12)),
        Some(&aad),
        Some(&tag),
        0,
        p.len() as u32,
    );
    let done = Done::default();
    assert_eq!(
        submit(inst, &done, &op, buf.ptr(), buf.ptr()),
        CPA_STATUS_SUCCESS
    );
    poll(inst, 0);
    assert_eq!(done.status(), CPA_STATUS_SUCCESS);
    assert_eq!([buf.bytes(), tag.bytes().to_vec()].concat(), expect);

    let setup = aead_setup(
        CPA_CY_SYM_CIPHER_CHACHA,
        CPA_CY_SYM_HASH_POLY,
        &key,
        DEC,
        16,
        12,
    );
    let dec = Session::new(inst, &setup).unwrap();
    let op = op_data(
        &dec,
        Some((&nonce, 12)),
        Some(&aad),
        Some(&tag),
        0,
        p.len() as u32,
    );
    let done = Done::default();
    assert_eq!(
        submit(inst, &done, &op, buf.ptr(), buf.ptr()),
        CPA_STATUS_SUCCESS
    );
    poll(inst, 0);
    assert!(done.verified());
    assert_eq!(buf.bytes(), p);
}

/// Runs one hash op over `chunks` and returns the digest from pDigestResult.
fn digest(inst: CpaInstanceHandle, setup: &CpaCySymSessionSetupData, chunks: &[&[u8]]) -> Vec<u8> {
    let s = Session::new(inst, setup).unwrap();
    let len: usize = chunks.iter().map(|c| c.len()).sum();
    let mut buf = List::new(inst, chunks);
    let out = Pinned::new(setup.hashSetupData.digestResultLenInBytes as usize);
    let op = op_data(&s, None, None, Some(&out), 0, len as u32);
    let done = Done::default();
    assert_eq!(
        submit(inst, &done, &op, buf.ptr(), buf.ptr()),
        CPA_STATUS_SUCCESS
    );
    assert_eq!(poll(inst, 0), CPA_STATUS_SUCCESS);
    assert_eq!(done.status(), CPA_STATUS_SUCCESS);
    assert_eq!(done.op_type.load(Ordering::SeqCst), CPA_CY_SYM_OP_HASH);
    out.bytes().to_vec()
}

#[test]
fn plain_hashes_match_fips_180_and_202_abc() {
    let (_g, dev) = begin();
    let inst = dev.inst();
    let sha256 = hash_setup(CPA_CY_SYM_HASH_SHA256, 32, None);
    let want = hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_eq!(digest(inst, &sha256, &[b"abc"]), want);
    assert_eq!(
        digest(inst, &sha256, &[b"a", b"", b"bc"]),
        want,
        "over a list"
    );
    assert_eq!(
        digest(
            inst,
            &hash_setup(CPA_CY_SYM_HASH_SHA256, 16, None),
            &[b"abc"]
        ),
        want[..16]
    );
    assert_eq!(
        digest(
            inst,
            &hash_setup(CPA_CY_SYM_HASH_SHA512, 64, None),
            &[b"abc"]
        ),
        hex(
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        )
    );
    assert_eq!(
        digest(
            inst,
            &hash_setup(CPA_CY_SYM_HASH_SHA3_256, 32, None),
            &[b"abc"]
        ),
        hex("3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532")
    );
}

#[test]
fn hmac_matches_rfc4231() {
    let (_g, dev) = begin();
    let inst = dev.inst();
    let key = [0x0b; 20];
    assert_eq!(
        digest(
            inst,
            &hash_setup(CPA_CY_SYM_HASH_SHA256, 32, Some(&key[..])),
            &[b"Hi There"]
        ),
        hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    );
    assert_eq!(
        digest(
            inst,
            &hash_setup(CPA_CY_SYM_HASH_SHA256, 32, Some(&b"Jefe"[..])),
            &[b"what do ya want for nothing?"]
        ),
        hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    );
    assert_eq!(
        digest(
            inst,
            &hash_setup(CPA_CY_SYM_HASH_SHA512, 64, Some(&key[..])),
            &[b"Hi There"]
        ),
        hex(
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"
        )
    );
}

#[test]
fn hash_verify_and_digest_appended() {
    let (_g, dev) = begin();
    let inst = dev.inst();
    let key = [0x0b; 20];
    let mac = hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    let mut setup = hash_setup(CPA_CY_SYM_HASH_SHA256, 32, Some(&key[..]));
    setup.verifyDigest = CPA_TRUE;
    let s = Session::new(inst, &setup).unwrap();
    for (purported, ok) in [(mac.clone(), true), ([&mac[..31], &[0]].concat(), false)] {
        let mut buf = List::new(inst, &[b"Hi There"]);
        let d = Pinned::with(&purported);
        let op = op_data(&s, None, None, Some(&d), 0, 8);
        let done = Done::default();
        assert_eq!(
            submit(inst, &done, &op, buf.ptr(), buf.ptr()),
            CPA_STATUS_SUCCESS
        );
        poll(inst, 0);
        assert_eq!((done.status(), done.verified()), (CPA_STATUS_SUCCESS, ok));
        assert_eq!(
            d.bytes(),
            purported,
            "a verify op does not write the digest"
        );
    }
    drop(s);
    // appended: the digest lands right after the hashed region
    let mut setup = hash_setup(CPA_CY_SYM_HASH_SHA256, 32, Some(&key[..]));
    setup.digestIsAppended = CPA_TRUE;
    let s = Session::new(inst, &setup).unwrap();
    let mut buf = List::new(inst, &[&[b"Hi There".as_slice(), &[0; 32]].concat()]);
    let op = op_data(&s, None, None, None, 0, 8);
    let done = Done::default();
    assert_eq!(
        submit(inst, &done, &op, buf.ptr(), buf.ptr()),
        CPA_STATUS_SUCCESS
    );
    poll(inst, 0);
    assert_eq!(&buf.bytes()[8..], &mac[..]);
    // verify with the digest appended is refused for hash-only sessions (the header)
    setup.verifyDigest = CPA_TRUE;
    assert_eq!(
        Session::new(inst, &setup).err(),
        Some(CPA_STATUS_INVALID_PARAM)
    );
}

/// One cipher op in place; returns the output.
fn cipher(
    inst: CpaInstanceHandle,
    setup: &CpaCySymSessionSetupData,
    iv: &[u8],
    data: &[u8],
) -> Vec<u8> {
    let s = Session::new(inst, setup).unwrap();
    let iv = iv16(iv);
    let mut buf = List::new(inst, &[data]);
    let op = op_data(&s, Some((&iv, 16)), None, None, 0, data.len() as u32);
    let done = Done::default();
    assert_eq!(
        submit(inst, &done, &op, buf.ptr(), buf.ptr()),
        CPA_STATUS_SUCCESS
    );
    poll(inst, 0);
    assert_eq!(done.status(), CPA_STATUS_SUCCESS);
    assert_eq!(done.op_type.load(Ordering::SeqCst), CPA_CY_SYM_OP_CIPHER);
    buf.bytes()
}

#[test]
fn aes_cbc_matches_sp800_38a_and_round_trips() {
    let (_g, dev) = begin();
    let inst = dev.inst();
    let key = hex("2b7e151628aed2a6abf7158809cf4f3c");
    let iv: Vec<u8> = (0..16).collect();
    let p = hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
    let c = hex("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2");
    assert_eq!(
        cipher(
            inst,
            &cipher_setup(CPA_CY_SYM_CIPHER_AES_CBC, &key, ENC),
            &iv,
            &p
        ),
        c
    );
    assert_eq!(
        cipher(
            inst,
            &cipher_setup(CPA_CY_SYM_CIPHER_AES_CBC, &key, DEC),
            &iv,
            &c
        ),
        p
    );
}

#[test]
fn aes_256_xts_matches_openssl_including_ciphertext_stealing() {
    // Expected values computed with OpenSSL (through Python's `cryptography`).
    let (_g, dev) = begin();
    let inst = dev.inst();
    let key = hex(
        "0001020304050607080910111213141516171819202122232425262728293031a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
    );
    let tweak = hex("0f0e0d0c0b0a09080706050403020100");
    for (p, c) in [
        (
            &b"qatkit xts sector test: 48 bytes of plaintext!!!"[..],
            "fb0fd43c8353ede4a259fefdd27df1db36718663924c510de28907f8a6bfe4524c8c77cb4ff887388798eb88468d8945",
        ),
        (
            &b"qatkit xts, ciphertext stealing: 37B"[..],
            "3a60ba53debd8cf88769431f36a609173e178021ffe8bb9795319cbaf41bea95377406f3",
        ),
    ] {
        let enc = cipher_setup(CPA_CY_SYM_CIPHER_AES_XTS, &key, ENC);
        assert_eq!(cipher(inst, &enc, &tweak, p), hex(c));
        let dec = cipher_setup(CPA_CY_SYM_CIPHER_AES_XTS, &key, DEC);
        assert_eq!(cipher(inst, &dec, &tweak, &hex(c)), p);
    }
}

#[test]
fn session_rules() {
    let (_g, dev) = begin();
    let inst = dev.inst();
    let k16 = [7u8; 16];
    let k32 = [7u8; 32];
    let init = |s: &CpaCySymSessionSetupData| Session::new(inst, s).err();
    assert_eq!(init(&gcm_setup(&k16, ENC, 16, 240)), None);
    assert_eq!(
        init(&gcm_setup(&k16, ENC, 16, 241)),
        Some(CPA_STATUS_INVALID_PARAM),
        "AAD > 240"
    );
    for t in [8, 12, 16] {
        assert_eq!(init(&gcm_setup(&k16, ENC, t, 0)), None);
    }
    for t in [0, 4, 10, 15, 17] {
        assert_eq!(
            init(&gcm_setup(&k16, ENC, t, 0)),
            Some(CPA_STATUS_INVALID_PARAM),
            "GCM tag {t}"
        );
    }
    let chacha = |t| {
        aead_setup(
            CPA_CY_SYM_CIPHER_CHACHA,
            CPA_CY_SYM_HASH_POLY,
            &k32,
            ENC,
            t,
            0,
        )
    };
    assert_eq!(
        init(&chacha(12)),
        Some(CPA_STATUS_INVALID_PARAM),
        "Poly1305 tag is 16"
    );
    let half = aead_setup(
        CPA_CY_SYM_CIPHER_AES_GCM,
        CPA_CY_SYM_HASH_POLY,
        &k16,
        ENC,
        16,
        0,
    );
    assert_eq!(init(&half), Some(CPA_STATUS_INVALID_PARAM));
    let sha = |alg, key: Option<&[u8]>| hash_setup(alg, 20, key);
    assert_eq!(
        init(&sha(CPA_CY_SYM_HASH_SHA1, None)),
        Some(CPA_STATUS_UNSUPPORTED),
        "SHA-1"
    );
    assert_eq!(
        init(&sha(CPA_CY_SYM_HASH_SHA224, None)),
        Some(CPA_STATUS_UNSUPPORTED),
        "SHA-224"
    );
    assert_eq!(
        init(&sha(CPA_CY_SYM_HASH_MD5, None)),
        Some(CPA_STATUS_UNSUPPORTED),
        "MD5"
    );
    assert_eq!(
        init(&sha(CPA_CY_SYM_HASH_SHA1, Some(&k16[..]))),
        Some(CPA_STATUS_UNSUPPORTED),
        "HMAC-SHA-1"
    );
    assert_eq!(
        init(&cipher_setup(CPA_CY_SYM_CIPHER_AES_ECB, &k16, ENC)),
        Some(CPA_STATUS_UNSUPPORTED),
        "ECB"
    );
    assert_eq!(
        init(&hash_setup(CPA_CY_SYM_HASH_SHA256, 33, None)),
        Some(CPA_STATUS_INVALID_PARAM)
    );
    // HMAC keys up to the block size: 64 for SHA-256, 128 for SHA-384/512
    assert_eq!(
        init(&hash_setup(
            CPA_CY_SYM_HASH_SHA256,
            32,
            Some(&[1u8; 64][..])
        )),
        None
    );
    assert_eq!(
        init(&hash_setup(
            CPA_CY_SYM_HASH_SHA256,
            32,
            Some(&[1u8; 65][..])
        )),
        Some(CPA_STATUS_INVALID_PARAM),
        "RFC 4231 case 6's 131-byte key is hashed by the caller, not the device"
    );
    assert_eq!(
        init(&hash_setup(
            CPA_CY_SYM_HASH_SHA512,
            64,
            Some(&[1u8; 128][..])
        )),
        None
    );
    assert_eq!(
        init(&hash_setup(
            CPA_CY_SYM_HASH_SHA384,
            48,
            Some(&[1u8; 129][..])
        )),
        Some(CPA_STATUS_INVALID_PARAM)
    );
    assert_eq!(
        init(&cipher_setup(CPA_CY_SYM_CIPHER_AES_CBC, &[1; 20], ENC)),
        Some(CPA_STATUS_INVALID_PARAM)
    );
    assert_eq!(
        init(&cipher_setup(CPA_CY_SYM_CIPHER_AES_GCM, &k16, ENC)),
        Some(CPA_STATUS_INVALID_PARAM)
    );

    // the session ctx must be pinned
    let setup = gcm_setup(&k16, ENC, 16, 0);
    let mut heap = vec![0u64; 128];
    // SAFETY: a live setup and a ctx buffer of 1 KiB that the double must refuse.
    let st = unsafe { cpaCySymInitSession(inst, Some(on_done), &setup, heap.as_mut_ptr().cast()) };
    assert_eq!(st, CPA_STATUS_INVALID_PARAM);
    // ... and as large as cpaCySymSessionCtxGetSize says
    let small = Pinned::new(double::session_ctx_size() as usize - 8);
    // SAFETY: as above, with a pinned ctx that is too small.
    let st = unsafe { cpaCySymInitSession(inst, Some(on_done), &setup, small.ptr().cast()) };
    assert_eq!(st, CPA_STATUS_INVALID_PARAM);
    // no synchronous mode
    let ctx = Pinned::new(double::session_ctx_size() as usize);
    // SAFETY: as above.
    let st = unsafe { cpaCySymInitSession(inst, None, &setup, ctx.ptr().cast()) };
    assert_eq!(st, CPA_STATUS_UNSUPPORTED);
    assert_eq!(double::stats().live_sessions, 0);
}

#[test]
fn op_rules() {
    let (_g, dev) = begin();
    let inst = dev.inst();
    let k16 = [7u8; 16];
    let gcm = Session::new(inst, &gcm_setup(&k16, ENC, 16, 4)).unwrap();
    let iv = iv16(&[1; 12]);
    let aad = aad16(&[2; 4]);
    let tag = Pinned::new(16);
    let mut buf = List::new(inst, &[&[3; 64]]);
    let good = op_data(&gcm, Some((&iv, 12)), Some(&aad), Some(&tag), 0, 64);
    let done = Done::default();
    let try_op = |op: &CpaCySymOpData, l: &mut List| submit(inst, &done, op, l.ptr(), l.ptr());

    let mut op = good;
    op.ivLenInBytes = 16;
    assert_eq!(
        try_op(&op, &mut buf),
        CPA_STATUS_INVALID_PARAM,
        "GCM IV 16 (J0) is not modelled"
    );
    let iv12 = Pinned::with(&[1; 12]);
    let op = op_data(&gcm, Some((&iv12, 12)), Some(&aad), Some(&tag), 0, 64);
    assert_eq!(
        try_op(&op, &mut buf),
        CPA_STATUS_INVALID_PARAM,
        "GCM IV buffer under 16 bytes"
    );
    let heap_iv = [1u8; 16];
    let mut op = good;
    op.pIv = heap_iv.as_ptr().cast_mut();
    assert_eq!(
        try_op(&op, &mut buf),
        CPA_STATUS_INVALID_PARAM,
        "IV not pinned"
    );
    let mut op = good;
    let heap_tag = [0u8; 16];
    op.pDigestResult = heap_tag.as_ptr().cast_mut();
    assert_eq!(
        try_op(&op, &mut buf),
        CPA_STATUS_INVALID_PARAM,
        "digest not pinned"
    );
    let aad_small = Pinned::new(4);
    let mut op = good;
    op.pAdditionalAuthData = aad_small.ptr();
    assert_eq!(
        try_op(&op, &mut buf),
        CPA_STATUS_INVALID_PARAM,
        "AAD buffer not rounded up to 16"
    );
    let mut op = good;
    op.messageLenToCipherInBytes = 65;
    assert_eq!(
        try_op(&op, &mut buf),
        CPA_STATUS_INVALID_PARAM,
        "beyond the buffer"
    );
    let mut op = good;
    op.packetType = CPA_CY_SYM_PACKET_TYPE_PARTIAL;
    assert_eq!(
        try_op(&op, &mut buf),
        CPA_STATUS_INVALID_PARAM,
        "no partial GCM"
    );

    // data not pinned
    let mut heap = [3u8; 64];
    let mut l = List::new(inst, &[&[3; 64]]);
    l.flat_mut(0).pData = heap.as_mut_ptr();
    assert_eq!(
        try_op(&good, &mut l),
        CPA_STATUS_INVALID_PARAM,
        "data not pinned"
    );
    // a flat buffer running past its block
    let mut l = List::new(inst, &[&[3; 64]]);
    l.flat_mut(0).dataLenInBytes = 65;
    assert_eq!(
        try_op(&good, &mut l),
        CPA_STATUS_INVALID_PARAM,
        "data past the block"
    );
    // metadata missing, not pinned, too small
    let mut l = List::new(inst, &[&[3; 64]]);
    l.raw_mut().pPrivateMetaData = std::ptr::null_mut();
    assert_eq!(
        try_op(&good, &mut l),
        CPA_STATUS_INVALID_PARAM,
        "no metadata"
    );
    let mut meta = vec![0u8; 4096];
    l.raw_mut().pPrivateMetaData = meta.as_mut_ptr().cast();
    assert_eq!(
        try_op(&good, &mut l),
        CPA_STATUS_INVALID_PARAM,
        "metadata not pinned"
    );
    let small = Pinned::new(8);
    l.raw_mut().pPrivateMetaData = small.ptr().cast();
    assert_eq!(
        try_op(&good, &mut l),
        CPA_STATUS_INVALID_PARAM,
        "metadata too small"
    );
    // out of place with a destination of another size
    let mut dst = List::new(inst, &[&[0; 63]]);
    assert_eq!(
        submit(inst, &done, &good, buf.ptr(), dst.ptr()),
        CPA_STATUS_INVALID_PARAM
    );
    // another instance than the session's
    assert_eq!(
        submit(dev.insts[1], &done, &good, buf.ptr(), buf.ptr()),
        CPA_STATUS_INVALID_PARAM
    );

    // CBC lengths are whole blocks; XTS needs a block
    let key = [9u8; 32];
    let cbc = Session::new(inst, &cipher_setup(CPA_CY_SYM_CIPHER_AES_CBC, &k16, ENC)).unwrap();
    let xts = Session::new(inst, &cipher_setup(CPA_CY_SYM_CIPHER_AES_XTS, &key, ENC)).unwrap();
    let iv = iv16(&[0; 16]);
    let mut l15 = List::new(inst, &[&[0; 15]]);
    let op = op_data(&cbc, Some((&iv, 16)), None, None, 0, 15);
    assert_eq!(
        try_op(&op, &mut l15),
        CPA_STATUS_INVALID_PARAM,
        "CBC length 15"
    );
    let op = op_data(&cbc, Some((&iv, 12)), None, None, 0, 16);
    assert_eq!(try_op(&op, &mut buf), CPA_STATUS_INVALID_PARAM, "CBC IV 12");
    let op = op_data(&xts, Some((&iv, 16)), None, None, 0, 15);
    assert_eq!(
        try_op(&op, &mut l15),
        CPA_STATUS_INVALID_PARAM,
        "XTS under 16 bytes"
    );

    assert_eq!(done.fired(), 0);
    let st = double::stats();
    assert_eq!((st.submitted, st.in_flight), (0, 0));
    assert_eq!(st.rejected, 17);
}

#[test]
fn instance_and_session_state_rules() {
    let (_g, dev) = begin();
    let inst = dev.inst();
    let k16 = [7u8; 16];
    let gcm = Session::new(inst, &gcm_setup(&k16, ENC, 16, 0)).unwrap();
    let iv = iv16(&[1; 12]);
    let tag = Pinned::new(16);
    let mut buf = List::new(inst, &[&[3; 32]]);
    let op = op_data(&gcm, Some((&iv, 12)), None, Some(&tag), 0, 32);
    let done = Done::default();

    // removal while an op is pending answers RETRY; InUse reports it
    assert_eq!(
        submit(inst, &done, &op, buf.ptr(), buf.ptr()),
        CPA_STATUS_SUCCESS
    );
    assert!(gcm.in_use());
    // SAFETY: a live session on `inst`.
    let status = unsafe { cpaCySymRemoveSession(inst, gcm.ctx()) };
    assert_eq!(status, CPA_STATUS_RETRY);
    // stopping the instance with the op in flight answers RETRY too
    // SAFETY: a started instance.
    assert_eq!(unsafe { cpaCyStopInstance(inst) }, CPA_STATUS_RETRY);
    // freeing memory the device still uses is a violation; the block is kept
    let before = double::stats();
    let mut p = buf.data[0].ptr().cast::<std::ffi::c_void>();
    // SAFETY: the block is live; the double refuses to free it (it is in flight).
    unsafe { qaeMemFreeNUMA(&mut p) };
    assert!(p.is_null());
    let after = double::stats();
    assert_eq!(after.violations, before.violations + 1);
    assert_eq!(after.live_pinned, before.live_pinned);
    assert_eq!(poll(inst, 0), CPA_STATUS_SUCCESS);
    assert!(!gcm.in_use());
    assert_eq!(poll(inst, 0), CPA_STATUS_RETRY, "nothing on the ring");

    // a removed session is refused
    let ctx = gcm.ctx();
    drop(gcm);
    let mut stale = op;
    stale.sessionCtx = ctx;
    assert_eq!(
        submit(inst, &done, &stale, buf.ptr(), buf.ptr()),
        CPA_STATUS_INVALID_PARAM
    );
    // SAFETY: the removed session's handle; the double must refuse it.
    let status = unsafe { cpaCySymRemoveSession(inst, ctx) };
    assert_eq!(status, CPA_STATUS_INVALID_PARAM);

    // no address translation, or the instance stopped
    let s2 = Session::new(dev.insts[1], &gcm_setup(&k16, ENC, 16, 0)).unwrap();
    let op2 = op_data(&s2, Some((&iv, 12)), None, Some(&tag), 0, 32);
    // SAFETY: a started instance without ops in flight.
    unsafe { assert_eq!(cpaCyStopInstance(dev.insts[1]), CPA_STATUS_SUCCESS) };
    assert_eq!(
        submit(dev.insts[1], &done, &op2, buf.ptr(), buf.ptr()),
        CPA_STATUS_FAIL
    );
    assert_eq!(poll(dev.insts[1], 0), CPA_STATUS_FAIL);
    drop(s2);
    double::reset();
    double::set_instances(1);
    // SAFETY: a NUL-terminated name, an out-parameter, the instance just listed.
    unsafe {
        assert_eq!(icp_sal_userStart(c"SSL".as_ptr()), CPA_STATUS_SUCCESS);
        let mut h = [std::ptr::null_mut(); 1];
        assert_eq!(cpaCyGetInstances(1, h.as_mut_ptr()), CPA_STATUS_SUCCESS);
        assert_eq!(cpaCyStartInstance(h[0]), CPA_STATUS_SUCCESS);
        let s3 = Session::new(h[0], &gcm_setup(&k16, ENC, 16, 0)).unwrap();
        let op3 = op_data(&s3, Some((&iv, 12)), None, Some(&tag), 0, 32);
        assert_eq!(
            submit(h[0], &done, &op3, buf.ptr(), buf.ptr()),
            CPA_STATUS_INVALID_PARAM
        );
    }
    assert_eq!(done.fired(), 1);
}

#[test]
fn callbacks_fire_only_from_poll_within_the_quota_in_order() {
    let (_g, dev) = begin();
    let inst = dev.inst();
    let sha = Session::new(inst, &hash_setup(CPA_CY_SYM_HASH_SHA256, 32, None)).unwrap();
    let bufs: Vec<_> = (0..3u8).map(|i| List::new(inst, &[&[i; 10]])).collect();
    let outs: Vec<_> = (0..3).map(|_| Pinned::new(32)).collect();
    let dones: Vec<Done> = (0..3).map(|_| Done::default()).collect();
    let ops: Vec<_> = outs
        .iter()
        .map(|o| op_data(&sha, None, None, Some(o), 0, 10))
        .collect();
    let mut bufs = bufs;
    for i in 0..3 {
        let p = bufs[i].ptr();
        assert_eq!(submit(inst, &dones[i], &ops[i], p, p), CPA_STATUS_SUCCESS);
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(dones.iter().all(|d| d.fired() == 0));
    assert_eq!(double::stats().in_flight, 3);
    assert_eq!(
        poll(dev.insts[1], 0),
        CPA_STATUS_RETRY,
        "another instance's ring is empty"
    );
    assert_eq!(poll(inst, 1), CPA_STATUS_SUCCESS);
    assert_eq!(dones.iter().map(Done::fired).collect::<Vec<_>>(), [1, 0, 0]);
    assert_eq!(poll(inst, 0), CPA_STATUS_SUCCESS);
    assert!(
        dones
            .iter()
            .all(|d| d.fired() == 1 && d.in_poll.load(Ordering::SeqCst) == 1)
    );
    assert!(!double::in_poll());
    let st = double::stats();
    assert_eq!(
        (st.submitted, st.completed, st.callbacks, st.in_flight),
        (3, 3, 3, 0)
    );
}

#[test]
fn injected_faults() {
    let (_g, dev) = begin();
    let inst = dev.inst();
    let key = hex(GCM_KEY);
    let a = hex(GCM_A);
    let (iv, aad) = (iv16(&hex(GCM_IV)), aad16(&a));
    let enc = Session::new(inst, &gcm_setup(&key, ENC, 16, 20)).unwrap();
    let tag = Pinned::new(16);
    let mut buf = List::new(inst, &[&hex(GCM_P)]);
    let op = op_data(&enc, Some((&iv, 12)), Some(&aad), Some(&tag), 0, 60);
    let done = Done::default();
    for (fault, status) in [
        (double::Fault::Retry, CPA_STATUS_RETRY),
        (double::Fault::Fail, CPA_STATUS_FAIL),
        (double::Fault::Restarting, CPA_STATUS_RESTARTING),
    ] {
        double::inject(fault, 1, 2);
        let got: Vec<_> = (0..4)
            .map(|_| submit(inst, &done, &op, buf.ptr(), buf.ptr()))
            .collect();
        assert_eq!(
            got,
            [CPA_STATUS_SUCCESS, status, status, CPA_STATUS_SUCCESS],
            "{fault:?}"
        );
        poll(inst, 0);
    }
    assert_eq!(done.fired(), 6);
    let st = double::stats();
    assert_eq!((st.submitted, st.rejected, st.callbacks), (6, 6, 6));

    // failure reported in the callback: no data written
    let mut fresh = List::new(inst, &[&hex(GCM_P)]);
    double::inject(double::Fault::FailInCallback, 0, 1);
    let done = Done::default();
    assert_eq!(
        submit(inst, &done, &op, fresh.ptr(), fresh.ptr()),
        CPA_STATUS_SUCCESS
    );
    poll(inst, 0);
    assert_eq!(done.status(), CPA_STATUS_FAIL);
    assert_eq!(fresh.bytes(), hex(GCM_P));

    // verify failure on a good tag
    let dec = Session::new(inst, &gcm_setup(&key, DEC, 16, 20)).unwrap();
    let good = Pinned::with(&hex(GCM4_T));
    let mut ct = List::new(inst, &[&hex(GCM4_C)]);
    let op = op_data(&dec, Some((&iv, 12)), Some(&aad), Some(&good), 0, 60);
    double::inject(double::Fault::VerifyFails, 0, 1);
    let done = Done::default();
    assert_eq!(
        submit(inst, &done, &op, ct.ptr(), ct.ptr()),
        CPA_STATUS_SUCCESS
    );
    poll(inst, 0);
    assert_eq!(
        (done.status(), done.verified()),
        (CPA_STATUS_SUCCESS, false)
    );
    // and the next one passes again
    let mut ct = List::new(inst, &[&hex(GCM4_C)]);
    let done = Done::default();
    assert_eq!(
        submit(inst, &done, &op, ct.ptr(), ct.ptr()),
        CPA_STATUS_SUCCESS
    );
    poll(inst, 0);
    assert!(done.verified());
    assert_eq!(ct.bytes(), hex(GCM_P));
}

#[test]
fn update_session_changes_direction_and_key_when_idle() {
    let (_g, dev) = begin();
    let inst = dev.inst();
    let key = hex("2b7e151628aed2a6abf7158809cf4f3c");
    let iv: Vec<u8> = (0..16).collect();
    let p = hex("6bc1bee22e409f96e93d7e117393172a");
    let c = hex("7649abac8119b246cee98e9b12e9197d");
    let zero = [0u8; 16];
    let s = Session::new(inst, &cipher_setup(CPA_CY_SYM_CIPHER_AES_CBC, &zero, ENC)).unwrap();
    let mut upd: CpaCySymSessionUpdateData = zeroed();
    upd.flags = (CPA_CY_SYM_SESUPD_CIPHER_KEY | CPA_CY_SYM_SESUPD_CIPHER_DIR) as u32;
    upd.pCipherKey = key.as_ptr().cast_mut();
    upd.cipherDirection = DEC;
    // SAFETY: a live session and update data whose key lives for the call.
    let status = unsafe { cpaCySymUpdateSession(s.ctx(), &upd) };
    assert_eq!(status, CPA_STATUS_SUCCESS);
    let ivp = iv16(&iv);
    let mut buf = List::new(inst, &[&c]);
    let op = op_data(&s, Some((&ivp, 16)), None, None, 0, 16);
    let done = Done::default();
    assert_eq!(
        submit(inst, &done, &op, buf.ptr(), buf.ptr()),
        CPA_STATUS_SUCCESS
    );
    // SAFETY: as above; the session now has an op pending.
    let status = unsafe { cpaCySymUpdateSession(s.ctx(), &upd) };
    assert_eq!(status, CPA_STATUS_RETRY);
    poll(inst, 0);
    assert_eq!(buf.bytes(), p);
}

#[test]
fn many_submitters_and_one_poller_on_two_instances() {
    struct Shared<T>(T);
    // SAFETY: the raw pointers inside are used only while the test keeps their targets alive,
    // and the double's API is thread-safe.
    unsafe impl<T> Send for Shared<T> {}
    // SAFETY: as above; shared access only goes through the thread-safe C API.
    unsafe impl<T> Sync for Shared<T> {}

    let (_g, dev) = begin();
    const THREADS: usize = 4;
    const OPS: usize = 64;
    let sessions: Vec<Session> = dev
        .insts
        .iter()
        .map(|&i| Session::new(i, &hash_setup(CPA_CY_SYM_HASH_SHA256, 32, None)).unwrap())
        .collect();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let insts = Shared(dev.insts.clone());
    std::thread::scope(|scope| {
        let poller = scope.spawn(|| {
            let insts = &insts;
            while !stop.load(Ordering::SeqCst) {
                for &i in &insts.0 {
                    poll(i, 8);
                }
            }
            for &i in &insts.0 {
                poll(i, 0);
            }
        });
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (sessions, insts) = (Shared(&sessions), &insts);
                scope.spawn(move || {
                    let sessions = &sessions;
                    for n in 0..OPS {
                        let which = (t + n) % 2;
                        let inst = insts.0[which];
                        let msg = [t as u8, n as u8, 0x5a];
                        let mut buf = List::new(inst, &[&msg]);
                        let out = Pinned::new(32);
                        let op = op_data(&sessions.0[which], None, None, Some(&out), 0, 3);
                        let done = Done::default();
                        loop {
                            match submit(inst, &done, &op, buf.ptr(), buf.ptr()) {
                                CPA_STATUS_SUCCESS => break,
                                CPA_STATUS_RETRY => std::thread::yield_now(),
                                st => panic!("submit: {st}"),
                            }
                        }
                        while done.fired() == 0 {
                            std::thread::yield_now();
                        }
                        assert_eq!(done.status(), CPA_STATUS_SUCCESS);
                        assert_eq!(done.in_poll.load(Ordering::SeqCst), 1);
                        let mut again = List::new(inst, &[&msg]);
                        let out2 = Pinned::new(32);
                        let s = &sessions.0[which];
                        let op2 = op_data(s, None, None, Some(&out2), 0, 3);
                        let done2 = Done::default();
                        assert_eq!(submit(inst, &done2, &op2, again.ptr(), again.ptr()), 0);
                        while done2.fired() == 0 {
                            std::thread::yield_now();
                        }
                        assert_eq!(out.bytes(), out2.bytes());
                        assert_ne!(out.bytes(), &[0; 32]);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::SeqCst);
        poller.join().unwrap();
    });
    let st = double::stats();
    assert_eq!(st.submitted, (THREADS * OPS * 2) as u64);
    assert_eq!(
        (st.completed, st.callbacks, st.in_flight),
        (st.submitted, st.submitted, 0)
    );
}

#[test]
fn nothing_leaks_through_the_helpers() {
    let guard = double::lock();
    double::reset();
    let before = double::stats();
    {
        let dev = Device::start();
        let inst = dev.inst();
        let s = Session::new(inst, &hash_setup(CPA_CY_SYM_HASH_SHA256, 32, None)).unwrap();
        let mut buf = List::new(inst, &[b"abc", b"def"]);
        let out = Pinned::new(32);
        let op = op_data(&s, None, None, Some(&out), 0, 6);
        let done = Done::default();
        assert_eq!(
            submit(inst, &done, &op, buf.ptr(), buf.ptr()),
            CPA_STATUS_SUCCESS
        );
        poll(inst, 0);
        let during = double::stats();
        assert_eq!(during.live_sessions, 1);
        assert_eq!(
            during.live_pinned,
            before.live_pinned + 5,
            "ctx, two data, meta, digest"
        );
    }
    let after = double::stats();
    assert_eq!(
        (after.live_sessions, after.live_pinned),
        (0, before.live_pinned)
    );
    assert_eq!(after.live_pinned_bytes, before.live_pinned_bytes);
    assert_eq!(after.violations, 0);
    drop(guard);
}
