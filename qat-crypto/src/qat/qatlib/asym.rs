//! qatlib's public-key primitives, made safe: the RSA modular exponentiations (`cpaCyRsaDecrypt`
//! with a CRT key, `cpaCyRsaEncrypt`), ECDSA's signature and check (`cpaCyEcdsaSignRS`,
//! `cpaCyEcdsaVerify`), the point multiplication of ECDH (`cpaCyEcGenericPointMultiply`) and
//! X25519's (`cpaCyEcMontEdwdsPointMultiply`). Only the arithmetic happens here: hashing,
//! padding, encodings, nonces and key checks are the caller's (as in Intel's QAT_Engine).
//!
//! Every operand is a big-endian integer of a fixed length in a flat buffer; all of one request's
//! operands live in one pinned staging buffer from the instance's pool, zeroed when it goes back
//! (they hold private keys and nonces). Each request is sent to the next instance that offers
//! public-key crypto and waited for like a symmetric one.

use std::ffi::c_void;

use qat_sys::qatlib as cpa;

use super::instance::Instance;
use super::memory::{ALIGN, Pinned};
use super::request::{Completion, complete, submit};
use super::{QatlibError, Service};

/// A short-Weierstrass curve over a prime field as the device takes it (cofactor 1): every
/// value big-endian and `p.len()` bytes long.
pub(crate) struct PrimeCurve<'a> {
    pub(crate) p: &'a [u8],
    pub(crate) a: &'a [u8],
    pub(crate) b: &'a [u8],
    pub(crate) gx: &'a [u8],
    pub(crate) gy: &'a [u8],
    /// The group order.
    pub(crate) n: &'a [u8],
}

/// An RSA private key in CRT form, each component big-endian and half the modulus long.
pub(crate) struct RsaCrt<'a> {
    pub(crate) p: &'a [u8],
    pub(crate) q: &'a [u8],
    pub(crate) dp: &'a [u8],
    pub(crate) dq: &'a [u8],
    pub(crate) qinv: &'a [u8],
}

/// The operand sizes the device's RSA takes: the modulus in bytes (1024 to 8192 bits).
pub(crate) const RSA_MODULUS_LENS: [usize; 6] = [128, 192, 256, 384, 512, 1024];

/// One request's operands in one pinned buffer, each 64-byte aligned; the buffer goes back to
/// the instance's pool, zeroed, on drop.
struct Operands<'a> {
    instance: &'a Instance,
    buffer: Option<Pinned>,
    slots: Vec<(usize, usize)>,
    total: usize,
}

impl<'a> Operands<'a> {
    /// Room for operands of `lens` bytes, each filled from `values` where one is given (inputs)
    /// and zeroed otherwise (outputs).
    fn new(
        instance: &'a Instance,
        operands: &[(usize, Option<&[u8]>)],
    ) -> Result<Operands<'a>, QatlibError> {
        let mut slots = Vec::with_capacity(operands.len());
        let mut total = 0;
        for (len, _) in operands {
            slots.push((total, *len));
            total += len.max(&1).div_ceil(ALIGN) * ALIGN;
        }
        let buffer = instance.pool.get(total)?;
        let mut staged = Operands {
            instance,
            buffer: Some(buffer),
            slots,
            total,
        };
        for (i, (len, value)) in operands.iter().enumerate() {
            let slot = staged.slot(i);
            match value {
                Some(value) => {
                    assert_eq!(value.len(), *len, "operand {i} has its slot's length");
                    slot.copy_from_slice(value);
                }
                None => slot.fill(0),
            }
        }
        Ok(staged)
    }

    fn at(&self, i: usize) -> *mut u8 {
        let buffer = self
            .buffer
            .as_ref()
            .expect("the buffer is there until drop");
        // SAFETY: every slot lies inside the buffer (its length is at least `total`).
        unsafe { buffer.as_ptr().add(self.slots[i].0) }
    }

    fn slot(&mut self, i: usize) -> &mut [u8] {
        // SAFETY: the slot lies inside the buffer; `&mut self` makes this the only reference
        // to it, and no request is in flight while one is held.
        unsafe { std::slice::from_raw_parts_mut(self.at(i), self.slots[i].1) }
    }

    /// The flat buffer of operand `i`, for the op data.
    fn flat(&self, i: usize) -> cpa::CpaFlatBuffer {
        cpa::CpaFlatBuffer {
            dataLenInBytes: u32::try_from(self.slots[i].1).expect("operands are small"),
            pData: self.at(i),
        }
    }

    /// Operand `i` after the request: an output the device wrote.
    fn read(&mut self, i: usize, out: &mut [u8]) {
        out.copy_from_slice(self.slot(i));
    }
}

impl Drop for Operands<'_> {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            self.instance.pool.put(buffer, self.total);
        }
    }
}

/// Submits one request with `submit_one(tag)` (the CPA call `call`), waits for its callback,
/// and returns the flag the callback reported (multiply or verify status; `true` when the call
/// has none).
fn perform(
    instance: &Instance,
    call: &'static str,
    callback: &'static str,
    mut submit_one: impl FnMut(*mut c_void) -> cpa::CpaStatus,
) -> Result<bool, QatlibError> {
    let completion = Completion::new();
    // The poller runs from before the submit until the completion was seen.
    let _in_flight = instance.poller.in_flight();
    submit(call, || submit_one(completion.tag()))?;
    let (status, flag) = completion.wait();
    if status != cpa::CPA_STATUS_SUCCESS {
        return Err(QatlibError::Call {
            call: callback,
            status,
        });
    }
    Ok(flag)
}

unsafe extern "C" fn flat_done(
    tag: *mut c_void,
    status: cpa::CpaStatus,
    _op: *mut c_void,
    _out: *mut cpa::CpaFlatBuffer,
) {
    // SAFETY: `tag` is the live completion `perform` passed.
    unsafe { complete(tag, status, true) }
}

unsafe extern "C" fn multiply_done(
    tag: *mut c_void,
    status: cpa::CpaStatus,
    _op: *mut c_void,
    multiply_status: cpa::CpaBoolean,
    _x: *mut cpa::CpaFlatBuffer,
    _y: *mut cpa::CpaFlatBuffer,
) {
    // SAFETY: `tag` is the live completion `perform` passed.
    unsafe { complete(tag, status, multiply_status == cpa::CPA_TRUE) }
}

unsafe extern "C" fn verify_done(
    tag: *mut c_void,
    status: cpa::CpaStatus,
    _op: *mut c_void,
    verify_status: cpa::CpaBoolean,
) {
    // SAFETY: `tag` is the live completion `perform` passed.
    unsafe { complete(tag, status, verify_status == cpa::CPA_TRUE) }
}

/// Checks that every operand has the curve's length.
fn check_lens(len: usize, operands: &[&[u8]]) -> Result<(), QatlibError> {
    if !matches!(len, 32 | 48) {
        return Err(QatlibError::rule(format!(
            "a {}-bit prime curve (P-256 and P-384 are served)",
            len * 8
        )));
    }
    if operands.iter().any(|o| o.len() != len) {
        return Err(QatlibError::invalid("an operand is not the curve's length"));
    }
    Ok(())
}

impl Service {
    fn asym_instance(&self) -> Result<&Instance, QatlibError> {
        Ok(self.instance(self.pick_asym()?))
    }

    /// RSA's private operation with a CRT key: `out = input^d mod n`, `input` and `out` the
    /// modulus length, each CRT component half of it.
    pub(crate) fn rsa_private(
        &self,
        key: &RsaCrt<'_>,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(), QatlibError> {
        let len = input.len();
        if !RSA_MODULUS_LENS.contains(&len) {
            return Err(QatlibError::rule(format!("a {}-bit RSA modulus", len * 8)));
        }
        let half = len / 2;
        if out.len() != len
            || [key.p, key.q, key.dp, key.dq, key.qinv]
                .iter()
                .any(|c| c.len() != half)
        {
            return Err(QatlibError::invalid("RSA operands of the wrong length"));
        }
        let instance = self.asym_instance()?;
        let mut operands = Operands::new(
            instance,
            &[
                (half, Some(key.p)),
                (half, Some(key.q)),
                (half, Some(key.dp)),
                (half, Some(key.dq)),
                (half, Some(key.qinv)),
                (len, Some(input)),
                (len, None),
            ],
        )?;
        // SAFETY: all-zero is a valid value of these plain C structs, filled below.
        let mut private: cpa::CpaCyRsaPrivateKey = unsafe { std::mem::zeroed() };
        private.version = cpa::CPA_CY_RSA_VERSION_TWO_PRIME;
        private.privateKeyRepType = cpa::CPA_CY_RSA_PRIVATE_KEY_REP_TYPE_2;
        private.privateKeyRep2 = cpa::CpaCyRsaPrivateKeyRep2 {
            prime1P: operands.flat(0),
            prime2Q: operands.flat(1),
            exponent1Dp: operands.flat(2),
            exponent2Dq: operands.flat(3),
            coefficientQInv: operands.flat(4),
        };
        let op = cpa::CpaCyRsaDecryptOpData {
            pRecipientPrivateKey: &mut private,
            inputData: operands.flat(5),
        };
        let mut output = operands.flat(6);
        let handle = instance.handle;
        perform(
            instance,
            "cpaCyRsaDecrypt",
            "cpaCyRsaDecrypt callback",
            |tag| {
                // SAFETY: the instance is started; the op data, key and output structs live on
                // this stack and their buffers in `operands` until the callback ran (perform waits
                // for it), or the submit failed and qatlib holds none of them.
                unsafe { cpa::cpaCyRsaDecrypt(handle.0, Some(flat_done), tag, &op, &mut output) }
            },
        )?;
        operands.read(6, out);
        Ok(())
    }

    /// RSA's public operation: `out = input^e mod n`, `input`, `out` and `n` the modulus length.
    pub(crate) fn rsa_public(
        &self,
        n: &[u8],
        e: &[u8],
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(), QatlibError> {
        let len = n.len();
        if !RSA_MODULUS_LENS.contains(&len) {
            return Err(QatlibError::rule(format!("a {}-bit RSA modulus", len * 8)));
        }
        if input.len() != len || out.len() != len || e.is_empty() || e.len() > len {
            return Err(QatlibError::invalid("RSA operands of the wrong length"));
        }
        let instance = self.asym_instance()?;
        let mut operands = Operands::new(
            instance,
            &[
                (len, Some(n)),
                (e.len(), Some(e)),
                (len, Some(input)),
                (len, None),
            ],
        )?;
        let mut public = cpa::CpaCyRsaPublicKey {
            modulusN: operands.flat(0),
            publicExponentE: operands.flat(1),
        };
        let op = cpa::CpaCyRsaEncryptOpData {
            pPublicKey: &mut public,
            inputData: operands.flat(2),
        };
        let mut output = operands.flat(3);
        let handle = instance.handle;
        perform(
            instance,
            "cpaCyRsaEncrypt",
            "cpaCyRsaEncrypt callback",
            |tag| {
                // SAFETY: as in `rsa_private`.
                unsafe { cpa::cpaCyRsaEncrypt(handle.0, Some(flat_done), tag, &op, &mut output) }
            },
        )?;
        operands.read(3, out);
        Ok(())
    }

    /// ECDSA's signature of the (truncated) digest `m` with private scalar `d` and nonce `k`,
    /// into `r` and `s`. `Ok(false)` when the device found r or s zero: sign again with
    /// another nonce.
    pub(crate) fn ecdsa_sign(
        &self,
        curve: &PrimeCurve<'_>,
        k: &[u8],
        m: &[u8],
        d: &[u8],
        r: &mut [u8],
        s: &mut [u8],
    ) -> Result<bool, QatlibError> {
        let len = curve.p.len();
        check_lens(
            len,
            &[curve.a, curve.b, curve.gx, curve.gy, curve.n, k, m, d, r, s],
        )?;
        let instance = self.asym_instance()?;
        let mut operands = Operands::new(
            instance,
            &[
                (len, Some(curve.gx)),
                (len, Some(curve.gy)),
                (len, Some(curve.n)),
                (len, Some(curve.p)),
                (len, Some(curve.a)),
                (len, Some(curve.b)),
                (len, Some(k)),
                (len, Some(m)),
                (len, Some(d)),
                (len, None),
                (len, None),
            ],
        )?;
        let op = cpa::CpaCyEcdsaSignRSOpData {
            xg: operands.flat(0),
            yg: operands.flat(1),
            n: operands.flat(2),
            q: operands.flat(3),
            a: operands.flat(4),
            b: operands.flat(5),
            k: operands.flat(6),
            m: operands.flat(7),
            d: operands.flat(8),
            fieldType: cpa::CPA_CY_EC_FIELD_TYPE_PRIME,
        };
        let (mut r_out, mut s_out) = (operands.flat(9), operands.flat(10));
        let mut signed: cpa::CpaBoolean = cpa::CPA_FALSE;
        let handle = instance.handle;
        let ok = perform(
            instance,
            "cpaCyEcdsaSignRS",
            "cpaCyEcdsaSignRS callback",
            |tag| {
                // SAFETY: as in `rsa_private`; `signed` is only written in synchronous mode.
                unsafe {
                    cpa::cpaCyEcdsaSignRS(
                        handle.0,
                        Some(sign_done),
                        tag,
                        &op,
                        &mut signed,
                        &mut r_out,
                        &mut s_out,
                    )
                }
            },
        )?;
        if ok {
            operands.read(9, r);
            operands.read(10, s);
        }
        Ok(ok)
    }

    /// Checks ECDSA's signature `(r, s)` of the (truncated) digest `m` against the public point
    /// `(xp, yp)`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn ecdsa_verify(
        &self,
        curve: &PrimeCurve<'_>,
        m: &[u8],
        r: &[u8],
        s: &[u8],
        xp: &[u8],
        yp: &[u8],
    ) -> Result<bool, QatlibError> {
        let len = curve.p.len();
        check_lens(
            len,
            &[
                curve.a, curve.b, curve.gx, curve.gy, curve.n, m, r, s, xp, yp,
            ],
        )?;
        let instance = self.asym_instance()?;
        let operands = Operands::new(
            instance,
            &[
                (len, Some(curve.gx)),
                (len, Some(curve.gy)),
                (len, Some(curve.n)),
                (len, Some(curve.p)),
                (len, Some(curve.a)),
                (len, Some(curve.b)),
                (len, Some(m)),
                (len, Some(r)),
                (len, Some(s)),
                (len, Some(xp)),
                (len, Some(yp)),
            ],
        )?;
        let op = cpa::CpaCyEcdsaVerifyOpData {
            xg: operands.flat(0),
            yg: operands.flat(1),
            n: operands.flat(2),
            q: operands.flat(3),
            a: operands.flat(4),
            b: operands.flat(5),
            m: operands.flat(6),
            r: operands.flat(7),
            s: operands.flat(8),
            xp: operands.flat(9),
            yp: operands.flat(10),
            fieldType: cpa::CPA_CY_EC_FIELD_TYPE_PRIME,
        };
        let mut verified: cpa::CpaBoolean = cpa::CPA_FALSE;
        let handle = instance.handle;
        perform(
            instance,
            "cpaCyEcdsaVerify",
            "cpaCyEcdsaVerify callback",
            |tag| {
                // SAFETY: as in `rsa_private`; `verified` is only written in synchronous mode.
                unsafe {
                    cpa::cpaCyEcdsaVerify(handle.0, Some(verify_done), tag, &op, &mut verified)
                }
            },
        )
    }

    /// `k · (x, y)` on `curve`, into `(out_x, out_y)`: ECDH's shared point. `Ok(false)` when
    /// the result is the point at infinity.
    pub(crate) fn ec_multiply(
        &self,
        curve: &PrimeCurve<'_>,
        k: &[u8],
        (x, y): (&[u8], &[u8]),
        (out_x, out_y): (&mut [u8], &mut [u8]),
    ) -> Result<bool, QatlibError> {
        let len = curve.p.len();
        check_lens(len, &[curve.a, curve.b, k, x, y, out_x, out_y])?;
        let instance = self.asym_instance()?;
        let mut operands = Operands::new(
            instance,
            &[
                (len, Some(k)),
                (len, Some(x)),
                (len, Some(y)),
                (len, Some(curve.p)),
                (len, Some(curve.a)),
                (len, Some(curve.b)),
                (1, Some(&[1])),
                (len, None),
                (len, None),
            ],
        )?;
        let mut parameters = cpa::CpaCyEcCurve {
            curveType: cpa::CPA_CY_EC_CURVE_TYPE_WEIERSTRASS_PRIME,
            parameters: cpa::CpaCyEcCurveParameters {
                weierstrassParameters: cpa::CpaCyEcCurveParametersWeierstrass {
                    fieldType: cpa::CPA_CY_EC_FIELD_TYPE_PRIME,
                    p: operands.flat(3),
                    a: operands.flat(4),
                    b: operands.flat(5),
                    h: operands.flat(6),
                },
            },
        };
        let op = cpa::CpaCyEcGenericPointMultiplyOpData {
            k: operands.flat(0),
            xP: operands.flat(1),
            yP: operands.flat(2),
            pCurve: &mut parameters,
            generator: cpa::CPA_FALSE,
        };
        let (mut xk, mut yk) = (operands.flat(7), operands.flat(8));
        let mut multiplied: cpa::CpaBoolean = cpa::CPA_FALSE;
        let handle = instance.handle;
        let call = "cpaCyEcGenericPointMultiply";
        let ok = perform(
            instance,
            call,
            "cpaCyEcGenericPointMultiply callback",
            |tag| {
                // SAFETY: as in `rsa_private`; `multiplied` is only written in synchronous mode.
                unsafe {
                    cpa::cpaCyEcGenericPointMultiply(
                        handle.0,
                        Some(multiply_done),
                        tag,
                        &op,
                        &mut multiplied,
                        &mut xk,
                        &mut yk,
                    )
                }
            },
        )?;
        if ok {
            operands.read(7, out_x);
            operands.read(8, out_y);
        }
        Ok(ok)
    }

    /// X25519's `k · u` on Curve25519, all three 32 bytes big-endian (the device's order: the
    /// reverse of RFC 7748's). `Ok(false)` when the device reports the multiplication invalid.
    pub(crate) fn x25519(
        &self,
        k: &[u8; 32],
        u: &[u8; 32],
        out: &mut [u8; 32],
    ) -> Result<bool, QatlibError> {
        let instance = self.asym_instance()?;
        let mut operands = Operands::new(
            instance,
            &[(32, Some(k)), (32, Some(u)), (32, None), (32, None)],
        )?;
        let op = cpa::CpaCyEcMontEdwdsPointMultiplyOpData {
            curveType: cpa::CPA_CY_EC_MONTEDWDS_CURVE25519_TYPE,
            generator: cpa::CPA_FALSE,
            k: operands.flat(0),
            x: operands.flat(1),
            // Montgomery curves take x alone.
            y: cpa::CpaFlatBuffer {
                dataLenInBytes: 0,
                pData: std::ptr::null_mut(),
            },
        };
        let (mut xk, mut yk) = (operands.flat(2), operands.flat(3));
        let mut multiplied: cpa::CpaBoolean = cpa::CPA_FALSE;
        let handle = instance.handle;
        let call = "cpaCyEcMontEdwdsPointMultiply";
        let ok = perform(
            instance,
            call,
            "cpaCyEcMontEdwdsPointMultiply callback",
            |tag| {
                // SAFETY: as in `rsa_private`; `multiplied` is only written in synchronous mode.
                unsafe {
                    cpa::cpaCyEcMontEdwdsPointMultiply(
                        handle.0,
                        Some(multiply_done),
                        tag,
                        &op,
                        &mut multiplied,
                        &mut xk,
                        &mut yk,
                    )
                }
            },
        )?;
        if ok {
            operands.read(2, out);
        }
        Ok(ok)
    }
}

unsafe extern "C" fn sign_done(
    tag: *mut c_void,
    status: cpa::CpaStatus,
    _op: *mut c_void,
    multiply_status: cpa::CpaBoolean,
    _r: *mut cpa::CpaFlatBuffer,
    _s: *mut cpa::CpaFlatBuffer,
) {
    // SAFETY: `tag` is the live completion `perform` passed.
    unsafe { complete(tag, status, multiply_status == cpa::CPA_TRUE) }
}
