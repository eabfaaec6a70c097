//! The `qat` backend for key agreement: the device multiplies the peer's point by the private
//! scalar (`cpaCyEcGenericPointMultiply` for P-256 and P-384, `cpaCyEcMontEdwdsPointMultiply`
//! for X25519); the host decodes and checks the peer's key (on the curve, in a known encoding),
//! clamps X25519's scalar and reduces its u-coordinate (RFC 7748), turns byte orders around
//! (the device's operands are big-endian) and refuses an all-zero X25519 secret.

use zeroize::Zeroizing;

use super::{Algorithm, SharedSecret};
use crate::crypto::{Error, Operation};
use crate::device::{Needs, Probe};
use crate::ec_key;

/// The device side of a private key: its scalar (big-endian for P-256 and P-384; RFC 7748's
/// 32-byte string for X25519).
pub(super) struct Device {
    probe: Probe,
    scalar: Zeroizing<Vec<u8>>,
}

/// X25519's u-coordinate as RFC 7748 decodes it (top bit masked, reduced mod 2^255 - 19),
/// big-endian.
fn x25519_u(peer: &[u8; 32]) -> [u8; 32] {
    let mut u = *peer;
    u[31] &= 0x7f;
    // u >= p = 2^255 - 19 only for 7f ff .. ff (ed..ff) little-endian: u - p is then < 19.
    if u[31] == 0x7f && u[1..31].iter().all(|&b| b == 0xff) && u[0] >= 0xed {
        u = [0; 32];
        u[0] = peer[0] - 0xed;
    }
    u.reverse();
    u
}

/// X25519's scalar as RFC 7748 decodes it (clamped), big-endian.
fn x25519_k(scalar: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut k = Zeroizing::new([0u8; 32]);
    k.copy_from_slice(scalar);
    k[0] &= 248;
    k[31] &= 127;
    k[31] |= 64;
    k.reverse();
    k
}

impl Device {
    pub(super) fn new(scalar: Zeroizing<Vec<u8>>) -> Device {
        Device {
            probe: Probe::new(Needs::Asym),
            scalar,
        }
    }

    pub(super) fn takes(&self) -> bool {
        self.probe.up()
    }

    pub(super) fn check(&self, algorithm: Algorithm) -> Result<(), Error> {
        self.probe.check(algorithm.name())
    }

    pub(super) fn agree(&self, algorithm: Algorithm, peer: &[u8]) -> Result<SharedSecret, Error> {
        let name = algorithm.name();
        let bad_peer = |what: &str| {
            Error::parameter(
                Operation::Agree,
                name,
                format!("the peer's public key {what}"),
            )
        };
        let service = self
            .probe
            .service()
            .map_err(|e| Error::device(Operation::Agree, name, e))?;
        let device = |e| Error::device(Operation::Agree, name, e);
        let Some(curve) = algorithm.curve() else {
            let peer: &[u8; 32] = peer
                .try_into()
                .map_err(|_| bad_peer(&format!("is {} bytes, not 32", peer.len())))?;
            let mut out = Zeroizing::new([0u8; 32]);
            let multiplied = service
                .x25519(&x25519_k(&self.scalar), &x25519_u(peer), &mut out)
                .map_err(device)?;
            out.reverse();
            // X25519 takes every u: a multiplication with no result (or an all-zero one) is a
            // low-order peer, the request's answer.
            if !multiplied || out.iter().all(|&b| b == 0) {
                return Err(bad_peer(
                    "is of low order (the shared secret would be all zeros)",
                ));
            }
            return Ok(SharedSecret::new(out.to_vec()));
        };
        let point = ec_key::uncompressed_point(curve, peer)
            .ok_or_else(|| bad_peer("is not a point of the curve in a known encoding"))?;
        let len = curve.field_len();
        let (mut x, mut y) = (
            SharedSecret::new(vec![0; len]),
            Zeroizing::new(vec![0; len]),
        );
        let multiplied = service
            .ec_multiply(
                &curve.numbers().prime_curve(),
                &self.scalar,
                (&point[1..=len], &point[1 + len..]),
                (&mut x, &mut y),
            )
            .map_err(device)?;
        // The point was checked on the curve (cofactor 1) and the scalar is below the order:
        // infinity can only be the device's fault, which `auto` serves again on the CPU.
        if !multiplied {
            return Err(Error::Failed {
                operation: Operation::Agree,
                algorithm: name,
                served_by: crate::ServedBy::QatDevice,
                reason: "the device's point multiplication reported no result".into(),
                kind: qat_error::ErrorKind::DeviceFailure,
            });
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x25519_inputs_are_decoded_as_rfc_7748_says() {
        // The top bit is masked; values from p up are reduced.
        let mut u = [0xffu8; 32];
        assert_eq!(x25519_u(&u)[31], 18, "2^255 - 1 is 18 mod p");
        assert!(x25519_u(&u)[..31].iter().all(|&b| b == 0));
        u[0] = 0xec;
        u[31] = 0x7f;
        assert_eq!(x25519_u(&u)[0], 0x7f, "p - 1 stays");
        let k = x25519_k(&[0xff; 32]);
        assert_eq!((k[0], k[31]), (0x7f, 0xf8));
    }
}
