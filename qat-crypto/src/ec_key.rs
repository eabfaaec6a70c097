//! Elliptic-curve keys in the encodings TLS stacks hold, decoded by AWS-LC (which checks that
//! a point is on its curve): public keys from an X.509 `SubjectPublicKeyInfo` or a SEC 1
//! point, brought to one form, the uncompressed point; X25519 private keys from PKCS#8.

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use crate::der::parse_whole;

/// The NIST curves here, by AWS-LC's NID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
}

impl Curve {
    fn nid(self) -> i32 {
        match self {
            Curve::P256 => sys::NID_X9_62_prime256v1,
            Curve::P384 => sys::NID_secp384r1,
        }
    }

    /// The length of a coordinate or scalar in bytes.
    pub(crate) fn field_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }

    /// The length of an uncompressed point: `04 || x || y`.
    pub(crate) fn point_len(self) -> usize {
        1 + 2 * self.field_len()
    }
}

/// A curve's numbers as the device takes them, each big-endian and [`Curve::field_len`] bytes:
/// the prime, the coefficients, the generator and the group order.
#[cfg(feature = "qatlib")]
pub(crate) struct CurveNumbers {
    p: Vec<u8>,
    a: Vec<u8>,
    b: Vec<u8>,
    gx: Vec<u8>,
    gy: Vec<u8>,
    n: Vec<u8>,
}

#[cfg(feature = "qatlib")]
impl CurveNumbers {
    /// The curve as the device layer takes it.
    pub(crate) fn prime_curve(&self) -> crate::qat::qatlib::PrimeCurve<'_> {
        crate::qat::qatlib::PrimeCurve {
            p: &self.p,
            a: &self.a,
            b: &self.b,
            gx: &self.gx,
            gy: &self.gy,
            n: &self.n,
        }
    }

    /// The group order, big-endian.
    pub(crate) fn order(&self) -> &[u8] {
        &self.n
    }
}

#[cfg(feature = "qatlib")]
impl Curve {
    /// The curve's numbers, read from AWS-LC's group once per process.
    pub(crate) fn numbers(self) -> &'static CurveNumbers {
        static P256: std::sync::OnceLock<CurveNumbers> = std::sync::OnceLock::new();
        static P384: std::sync::OnceLock<CurveNumbers> = std::sync::OnceLock::new();
        let cell = match self {
            Curve::P256 => &P256,
            Curve::P384 => &P384,
        };
        cell.get_or_init(|| self.read_numbers())
    }

    fn read_numbers(self) -> CurveNumbers {
        let len = self.field_len();
        let bytes = |bn: *const sys::BIGNUM| {
            let mut out = vec![0u8; len];
            // SAFETY: `bn` is a live number; `out` holds `len` bytes.
            let ok = unsafe { sys::BN_bn2bin_padded(out.as_mut_ptr(), len, bn) } == 1;
            assert!(ok, "a curve's numbers fit its field");
            out
        };
        // SAFETY: the group is AWS-LC's static one for a named curve; the numbers are ours
        // and freed at the end; every call gets valid pointers.
        unsafe {
            let group = sys::EC_GROUP_new_by_curve_name(self.nid());
            assert!(!group.is_null(), "AWS-LC has P-256 and P-384");
            let [p, a, b, gx, gy] = [(); 5].map(|()| sys::BN_new());
            let ok = sys::EC_GROUP_get_curve_GFp(group, p, a, b, std::ptr::null_mut()) == 1
                && sys::EC_POINT_get_affine_coordinates_GFp(
                    group,
                    sys::EC_GROUP_get0_generator(group),
                    gx,
                    gy,
                    std::ptr::null_mut(),
                ) == 1;
            assert!(ok, "AWS-LC gives a named curve's numbers");
            let numbers = CurveNumbers {
                p: bytes(p),
                a: bytes(a),
                b: bytes(b),
                gx: bytes(gx),
                gy: bytes(gy),
                n: bytes(sys::EC_GROUP_get0_order(group)),
            };
            for bn in [p, a, b, gx, gy] {
                sys::BN_free(bn);
            }
            sys::EC_GROUP_free(group);
            numbers
        }
    }
}

/// Whether an X.509 `SubjectPublicKeyInfo` names its curve (`namedCurve`, an OID), as RFC 5480
/// requires. AWS-LC also takes explicit parameters that match a named curve, including
/// malformed ones (without a cofactor); keys that spell their curve out are refused here.
fn names_its_curve(spki: &[u8]) -> bool {
    // SAFETY: CBS is plain data; each CBS reads inside `spki`, which outlives them.
    unsafe {
        let mut cbs: sys::CBS = std::mem::zeroed();
        let mut seq: sys::CBS = std::mem::zeroed();
        let mut algorithm: sys::CBS = std::mem::zeroed();
        let mut oid: sys::CBS = std::mem::zeroed();
        sys::CBS_init(&mut cbs, spki.as_ptr(), spki.len());
        let seq_tag = sys::CBS_ASN1_SEQUENCE as sys::CBS_ASN1_TAG;
        let oid_tag = sys::CBS_ASN1_OBJECT as sys::CBS_ASN1_TAG;
        sys::CBS_get_asn1(&mut cbs, &mut seq, seq_tag) == 1
            && sys::CBS_get_asn1(&mut seq, &mut algorithm, seq_tag) == 1
            && sys::CBS_get_asn1(&mut algorithm, &mut oid, oid_tag) == 1
            && sys::CBS_peek_asn1_tag(&algorithm, oid_tag) == 1
    }
}

/// The uncompressed point of a public key on `curve`, given as an X.509
/// `SubjectPublicKeyInfo` (DER) naming its curve or a SEC 1 point (compressed or not); `None`
/// when `key` is neither, names another curve, or its point is not on the curve.
pub(crate) fn uncompressed_point(curve: Curve, key: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0u8; curve.point_len()];
    if key.first() == Some(&0x30) {
        if !names_its_curve(key) {
            return None;
        }
        let pkey = parse_whole(key, sys::EVP_parse_public_key)?;
        // SAFETY: `pkey` is a live key; the EC_KEY, group and point it gives are borrowed from
        // it and used before it is freed.
        unsafe {
            if sys::EVP_PKEY_id(pkey.0) != sys::EVP_PKEY_EC {
                return None;
            }
            let ec = sys::EVP_PKEY_get0_EC_KEY(pkey.0);
            if ec.is_null() {
                return None;
            }
            let group = sys::EC_KEY_get0_group(ec);
            if group.is_null() || sys::EC_GROUP_get_curve_name(group) != curve.nid() {
                return None;
            }
            let point = sys::EC_KEY_get0_public_key(ec);
            let n = sys::EC_POINT_point2oct(
                group,
                point,
                sys::point_conversion_form_t::POINT_CONVERSION_UNCOMPRESSED,
                out.as_mut_ptr(),
                out.len(),
                std::ptr::null_mut(),
            );
            return (n == out.len()).then_some(out);
        }
    }
    // SAFETY: the group of a named curve is static in AWS-LC (freeing it is a no-op, done
    // anyway); the point is ours and freed before returning; `key` and `out` are valid for
    // their lengths.
    unsafe {
        let group = sys::EC_GROUP_new_by_curve_name(curve.nid());
        if group.is_null() {
            return None;
        }
        let point = sys::EC_POINT_new(group);
        let ok = !point.is_null()
            && sys::EC_POINT_oct2point(group, point, key.as_ptr(), key.len(), std::ptr::null_mut())
                == 1
            && sys::EC_POINT_point2oct(
                group,
                point,
                sys::point_conversion_form_t::POINT_CONVERSION_UNCOMPRESSED,
                out.as_mut_ptr(),
                out.len(),
                std::ptr::null_mut(),
            ) == out.len();
        sys::EC_POINT_free(point);
        sys::EC_GROUP_free(group);
        ok.then_some(out)
    }
}

/// The 32-byte private key of an X25519 PKCS#8 `PrivateKeyInfo` (RFC 8410); `None` when `der`
/// is not one.
pub(crate) fn x25519_private_from_pkcs8(der: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    let pkey = parse_whole(der, sys::EVP_parse_private_key)?;
    let mut raw = Zeroizing::new([0u8; 32]);
    let mut len = raw.len();
    // SAFETY: `pkey` is a live key; `raw` has room for `len` bytes.
    let ok = unsafe {
        sys::EVP_PKEY_id(pkey.0) == sys::EVP_PKEY_X25519
            && sys::EVP_PKEY_get_raw_private_key(pkey.0, raw.as_mut_ptr(), &mut len) == 1
    };
    (ok && len == 32).then_some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "qatlib")]
    #[test]
    fn curve_numbers_are_sec_2s() {
        let p256 = Curve::P256.numbers();
        assert_eq!(
            p256.p,
            unhex("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff")
        );
        // a = p - 3, as for every NIST curve.
        let mut a = p256.p.clone();
        a[31] -= 3;
        assert_eq!(p256.a, a);
        assert_eq!(
            p256.n,
            unhex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")
        );
        let g = unhex(G256);
        assert_eq!((&p256.gx[..], &p256.gy[..]), (&g[1..33], &g[33..]));
        let p384 = Curve::P384.numbers();
        assert_eq!(p384.n.len(), 48);
        assert_eq!(&p384.n[..8], &unhex("ffffffffffffffff")[..]);
    }

    /// P-256's generator, uncompressed (SEC 2, 2.4.2).
    const G256: &str = "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296\
                        4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn points_are_decoded_in_every_form_and_checked() {
        let g = unhex(G256);
        assert_eq!(uncompressed_point(Curve::P256, &g).unwrap(), g);
        // Compressed: 02/03 by the parity of y (G's y ends in f5: odd).
        let mut compressed = vec![0x03];
        compressed.extend_from_slice(&g[1..33]);
        assert_eq!(uncompressed_point(Curve::P256, &compressed).unwrap(), g);
        // SPKI: id-ecPublicKey, prime256v1, the point.
        let mut spki = unhex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
        spki.extend_from_slice(&g);
        assert_eq!(uncompressed_point(Curve::P256, &spki).unwrap(), g);
        // Off the curve, the wrong curve, trailing bytes.
        let mut off = g.clone();
        off[64] ^= 1;
        assert_eq!(uncompressed_point(Curve::P256, &off), None);
        assert_eq!(uncompressed_point(Curve::P384, &g), None);
        assert_eq!(uncompressed_point(Curve::P384, &spki), None);
        spki.push(0);
        assert_eq!(uncompressed_point(Curve::P256, &spki), None);
    }
}
