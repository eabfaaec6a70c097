//! The double's public-key calls through qat-sys's raw bindings: published vectors (RFC 6979's
//! ECDSA P-256 signature with its nonce, RFC 7748's X25519), RSA's exponentiation, and the
//! device rules (operand lengths, pinned memory, inputs below the modulus, CRT keys only).
#![cfg(feature = "qatlib")]

mod support;

use std::ffi::c_void;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use support::*;

// SEC 2: P-256.
const P: &str = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";
const A: &str = "ffffffff00000001000000000000000000000000fffffffffffffffffffffffc";
const B: &str = "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b";
const GX: &str = "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296";
const GY: &str = "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
const N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

// RFC 6979, A.2.5: P-256, SHA-256, message "sample".
const D: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
const UX: &str = "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6";
const UY: &str = "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";
const H: &str = "af2bdbe1aa9b6ec1e2ade1d694f41fc71a831d0268e9891562113d8a62add1bf";
const K: &str = "a6e3c57dd01abe90086538398355dd4c3b17aa873382b0f24d6129493d8aad60";
const R: &str = "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716";
const S: &str = "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8";

fn begin() -> (std::sync::MutexGuard<'static, ()>, Device) {
    let guard = double::lock();
    double::reset();
    (guard, Device::start())
}

/// What a public-key callback reported: how often it fired, its status and its flag
/// (multiply or verify status).
#[derive(Default)]
struct Answer {
    fired: AtomicU32,
    status: AtomicI32,
    flag: AtomicU32,
}

impl Answer {
    fn tag(&self) -> *mut c_void {
        std::ptr::from_ref(self).cast_mut().cast()
    }

    fn record(tag: *mut c_void, status: CpaStatus, flag: CpaBoolean) {
        // SAFETY: every submit here passes an `Answer` that outlives its callback.
        let answer = unsafe { &*tag.cast::<Answer>() };
        answer.status.store(status, Ordering::SeqCst);
        answer.flag.store(flag, Ordering::SeqCst);
        answer.fired.fetch_add(1, Ordering::SeqCst);
    }

    fn get(&self) -> (u32, CpaStatus, bool) {
        (
            self.fired.load(Ordering::SeqCst),
            self.status.load(Ordering::SeqCst),
            self.flag.load(Ordering::SeqCst) == CPA_TRUE,
        )
    }
}

unsafe extern "C" fn on_flat(
    tag: *mut c_void,
    status: CpaStatus,
    _: *mut c_void,
    _: *mut CpaFlatBuffer,
) {
    Answer::record(tag, status, CPA_TRUE);
}

unsafe extern "C" fn on_multiply(
    tag: *mut c_void,
    status: CpaStatus,
    _: *mut c_void,
    flag: CpaBoolean,
    _: *mut CpaFlatBuffer,
    _: *mut CpaFlatBuffer,
) {
    Answer::record(tag, status, flag);
}

unsafe extern "C" fn on_verify(
    tag: *mut c_void,
    status: CpaStatus,
    _: *mut c_void,
    flag: CpaBoolean,
) {
    Answer::record(tag, status, flag);
}

fn flat(p: &Pinned) -> CpaFlatBuffer {
    CpaFlatBuffer {
        dataLenInBytes: p.bytes().len() as u32,
        pData: p.ptr(),
    }
}

#[test]
fn rsa_exponentiation_follows_the_device_rules() {
    let (_g, dev) = begin();
    let inst = dev.inst();
    // A 1024-bit odd modulus; 2^3 mod n = 8.
    let mut n_bytes = vec![0xc5u8; 128];
    n_bytes[127] = 0x01;
    let n = Pinned::with(&n_bytes);
    let e = Pinned::with(&[3]);
    let mut two = vec![0u8; 128];
    two[127] = 2;
    let input = Pinned::with(&two);
    let out = Pinned::new(128);
    let mut public = CpaCyRsaPublicKey {
        modulusN: flat(&n),
        publicExponentE: flat(&e),
    };
    let op = CpaCyRsaEncryptOpData {
        pPublicKey: &mut public,
        inputData: flat(&input),
    };
    let mut output = flat(&out);
    let answer = Answer::default();
    // SAFETY: every buffer and struct lives until the poll below ran the callback.
    let status = unsafe { cpaCyRsaEncrypt(inst, Some(on_flat), answer.tag(), &op, &mut output) };
    assert_eq!(status, CPA_STATUS_SUCCESS);
    assert_eq!(answer.get().0, 0, "no callback before polling");
    assert_eq!(poll(inst, 0), CPA_STATUS_SUCCESS);
    assert_eq!(answer.get(), (1, CPA_STATUS_SUCCESS, true));
    assert_eq!(&out.bytes()[..127], &[0; 127][..]);
    assert_eq!(out.bytes()[127], 8);

    let refused = |op: &CpaCyRsaEncryptOpData, output: &mut CpaFlatBuffer| {
        // SAFETY: a refused submit keeps nothing.
        unsafe { cpaCyRsaEncrypt(inst, Some(on_flat), answer.tag(), op, output) }
    };
    // An input of another length, one not below the modulus, one in ordinary memory, and the
    // synchronous mode.
    let short = Pinned::with(&two[1..]);
    let bad = CpaCyRsaEncryptOpData {
        pPublicKey: &mut public,
        inputData: flat(&short),
    };
    assert_eq!(refused(&bad, &mut output), CPA_STATUS_INVALID_PARAM);
    let big = Pinned::with(&[0xff; 128]);
    let bad = CpaCyRsaEncryptOpData {
        pPublicKey: &mut public,
        inputData: flat(&big),
    };
    assert_eq!(refused(&bad, &mut output), CPA_STATUS_INVALID_PARAM);
    let mut heap = two.clone();
    let bad = CpaCyRsaEncryptOpData {
        pPublicKey: &mut public,
        inputData: CpaFlatBuffer {
            dataLenInBytes: 128,
            pData: heap.as_mut_ptr(),
        },
    };
    assert_eq!(refused(&bad, &mut output), CPA_STATUS_INVALID_PARAM);
    // SAFETY: as above.
    let sync = unsafe { cpaCyRsaEncrypt(inst, None, std::ptr::null_mut(), &op, &mut output) };
    assert_eq!(sync, CPA_STATUS_UNSUPPORTED);

    // Private keys: representation 1 (n, d) is not modelled; CRT components are half the
    // modulus.
    let mut private: CpaCyRsaPrivateKey = zeroed();
    private.version = CPA_CY_RSA_VERSION_TWO_PRIME;
    private.privateKeyRepType = CPA_CY_RSA_PRIVATE_KEY_REP_TYPE_1;
    let op = CpaCyRsaDecryptOpData {
        pRecipientPrivateKey: &mut private,
        inputData: flat(&input),
    };
    // SAFETY: as above.
    let status = unsafe { cpaCyRsaDecrypt(inst, Some(on_flat), answer.tag(), &op, &mut output) };
    assert_eq!(status, CPA_STATUS_UNSUPPORTED);
    let half = Pinned::new(64);
    private.privateKeyRepType = CPA_CY_RSA_PRIVATE_KEY_REP_TYPE_2;
    private.privateKeyRep2 = CpaCyRsaPrivateKeyRep2 {
        prime1P: flat(&half),
        prime2Q: flat(&half),
        exponent1Dp: flat(&half),
        exponent2Dq: flat(&half),
        coefficientQInv: flat(&n),
    };
    let op = CpaCyRsaDecryptOpData {
        pRecipientPrivateKey: &mut private,
        inputData: flat(&input),
    };
    // SAFETY: as above.
    let status = unsafe { cpaCyRsaDecrypt(inst, Some(on_flat), answer.tag(), &op, &mut output) };
    assert_eq!(
        status, CPA_STATUS_INVALID_PARAM,
        "qInv of the modulus' length"
    );
    let stats = double::stats();
    assert_eq!((stats.submitted, stats.rejected), (1, 6), "{stats:?}");
}

#[test]
fn ecdsa_matches_rfc_6979s_signature_and_checks_it() {
    let (_g, dev) = begin();
    let inst = dev.inst();
    let [p, a, b, gx, gy, n, d, h, k] =
        [P, A, B, GX, GY, N, D, H, K].map(|v| Pinned::with(&hex(v)));
    let (r, s) = (Pinned::new(32), Pinned::new(32));
    let op = CpaCyEcdsaSignRSOpData {
        xg: flat(&gx),
        yg: flat(&gy),
        n: flat(&n),
        q: flat(&p),
        a: flat(&a),
        b: flat(&b),
        k: flat(&k),
        m: flat(&h),
        d: flat(&d),
        fieldType: CPA_CY_EC_FIELD_TYPE_PRIME,
    };
    let (mut r_out, mut s_out) = (flat(&r), flat(&s));
    let answer = Answer::default();
    let mut unused = CPA_FALSE;
    // SAFETY: every buffer and struct lives until the poll below ran the callback.
    let status = unsafe {
        cpaCyEcdsaSignRS(
            inst,
            Some(on_sign),
            answer.tag(),
            &op,
            &mut unused,
            &mut r_out,
            &mut s_out,
        )
    };
    assert_eq!(status, CPA_STATUS_SUCCESS);
    assert_eq!(poll(inst, 0), CPA_STATUS_SUCCESS);
    assert_eq!(answer.get(), (1, CPA_STATUS_SUCCESS, true));
    assert_eq!(r.bytes(), hex(R));
    assert_eq!(s.bytes(), hex(S));

    let [ux, uy] = [UX, UY].map(|v| Pinned::with(&hex(v)));
    let other = Pinned::with(&hex(K));
    for (m, valid) in [(&h, true), (&other, false)] {
        let op = CpaCyEcdsaVerifyOpData {
            xg: flat(&gx),
            yg: flat(&gy),
            n: flat(&n),
            q: flat(&p),
            a: flat(&a),
            b: flat(&b),
            m: flat(m),
            r: flat(&r),
            s: flat(&s),
            xp: flat(&ux),
            yp: flat(&uy),
            fieldType: CPA_CY_EC_FIELD_TYPE_PRIME,
        };
        let answer = Answer::default();
        // SAFETY: as above.
        let status =
            unsafe { cpaCyEcdsaVerify(inst, Some(on_verify), answer.tag(), &op, &mut unused) };
        assert_eq!(status, CPA_STATUS_SUCCESS);
        assert_eq!(poll(inst, 0), CPA_STATUS_SUCCESS);
        assert_eq!(answer.get(), (1, CPA_STATUS_SUCCESS, valid));
    }

    // A 31-byte operand is refused at submit.
    let short = Pinned::with(&hex(K)[1..]);
    let bad = CpaCyEcdsaSignRSOpData {
        k: flat(&short),
        ..op
    };
    // SAFETY: a refused submit keeps nothing.
    let status = unsafe {
        cpaCyEcdsaSignRS(
            inst,
            Some(on_sign),
            answer.tag(),
            &bad,
            &mut unused,
            &mut r_out,
            &mut s_out,
        )
    };
    assert_eq!(status, CPA_STATUS_INVALID_PARAM);
}

unsafe extern "C" fn on_sign(
    tag: *mut c_void,
    status: CpaStatus,
    _: *mut c_void,
    flag: CpaBoolean,
    _: *mut CpaFlatBuffer,
    _: *mut CpaFlatBuffer,
) {
    Answer::record(tag, status, flag);
}

#[test]
fn x25519_matches_rfc_7748_with_big_endian_operands() {
    let (_g, dev) = begin();
    let inst = dev.inst();
    // RFC 7748, 5.2, the first vector: little-endian strings, reversed for the device.
    let be = |s: &str| {
        let mut v = hex(s);
        v.reverse();
        Pinned::with(&v)
    };
    let k = be("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
    let u = be("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
    let mut expected = hex("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
    expected.reverse();
    let (x, y) = (Pinned::new(32), Pinned::new(32));
    let op = CpaCyEcMontEdwdsPointMultiplyOpData {
        curveType: CPA_CY_EC_MONTEDWDS_CURVE25519_TYPE,
        generator: CPA_FALSE,
        k: flat(&k),
        x: flat(&u),
        y: CpaFlatBuffer {
            dataLenInBytes: 0,
            pData: std::ptr::null_mut(),
        },
    };
    let (mut xk, mut yk) = (flat(&x), flat(&y));
    let answer = Answer::default();
    let mut unused = CPA_FALSE;
    // SAFETY: every buffer and struct lives until the poll below ran the callback.
    let status = unsafe {
        cpaCyEcMontEdwdsPointMultiply(
            inst,
            Some(on_multiply),
            answer.tag(),
            &op,
            &mut unused,
            &mut xk,
            &mut yk,
        )
    };
    assert_eq!(status, CPA_STATUS_SUCCESS);
    assert_eq!(poll(inst, 0), CPA_STATUS_SUCCESS);
    assert_eq!(answer.get(), (1, CPA_STATUS_SUCCESS, true));
    assert_eq!(x.bytes(), expected);

    // u = 0 (of low order): the multiplication reports false. u = p: refused at submit.
    let zero = Pinned::new(32);
    let op0 = CpaCyEcMontEdwdsPointMultiplyOpData {
        x: flat(&zero),
        ..op
    };
    let answer = Answer::default();
    // SAFETY: as above.
    let status = unsafe {
        cpaCyEcMontEdwdsPointMultiply(
            inst,
            Some(on_multiply),
            answer.tag(),
            &op0,
            &mut unused,
            &mut xk,
            &mut yk,
        )
    };
    assert_eq!(status, CPA_STATUS_SUCCESS);
    assert_eq!(poll(inst, 0), CPA_STATUS_SUCCESS);
    assert_eq!(answer.get(), (1, CPA_STATUS_SUCCESS, false));
    let mut p = vec![0xffu8; 32];
    p[0] = 0x7f;
    p[31] = 0xed;
    let p = Pinned::with(&p);
    let opp = CpaCyEcMontEdwdsPointMultiplyOpData { x: flat(&p), ..op };
    // SAFETY: a refused submit keeps nothing.
    let status = unsafe {
        cpaCyEcMontEdwdsPointMultiply(
            inst,
            Some(on_multiply),
            answer.tag(),
            &opp,
            &mut unused,
            &mut xk,
            &mut yk,
        )
    };
    assert_eq!(status, CPA_STATUS_INVALID_PARAM);
}
