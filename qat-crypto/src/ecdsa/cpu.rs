//! The `cpu` backend for ECDSA: AWS-LC through aws-lc-rs.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, EcdsaVerificationAlgorithm, KeyPair as _,
    ParsedPublicKey,
};

use super::Algorithm;
use crate::crypto::{Error, Operation};
use crate::ec_key::{self, Curve};

impl Algorithm {
    pub(crate) fn curve(self) -> Curve {
        match self {
            Algorithm::P256Sha256 => Curve::P256,
            Algorithm::P384Sha384 => Curve::P384,
        }
    }

    fn signing(self) -> &'static EcdsaSigningAlgorithm {
        match self {
            Algorithm::P256Sha256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            Algorithm::P384Sha384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        }
    }

    fn verification(self) -> &'static EcdsaVerificationAlgorithm {
        match self {
            Algorithm::P256Sha256 => &signature::ECDSA_P256_SHA256_ASN1,
            Algorithm::P384Sha384 => &signature::ECDSA_P384_SHA384_ASN1,
        }
    }
}

/// The error for a key that is not on either curve or not in the format named.
fn rejected(what: &str) -> Error {
    Error::parameter(
        Operation::Key,
        "ECDSA",
        format!("not a P-256 or P-384 {what}"),
    )
}

/// The first algorithm whose curve `parse` accepts the key on.
fn on_either_curve<T, E>(parse: impl Fn(Algorithm) -> Result<T, E>) -> Option<(Algorithm, T)> {
    Algorithm::ALL
        .into_iter()
        .find_map(|algorithm| parse(algorithm).ok().map(|key| (algorithm, key)))
}

pub(super) struct SigningKey {
    algorithm: Algorithm,
    pair: EcdsaKeyPair,
}

impl SigningKey {
    pub(super) fn from_pkcs8(der: &[u8]) -> Result<SigningKey, Error> {
        let (algorithm, pair) = on_either_curve(|a| EcdsaKeyPair::from_pkcs8(a.signing(), der))
            .ok_or_else(|| rejected("PKCS#8 private key"))?;
        Ok(SigningKey { algorithm, pair })
    }

    pub(super) fn from_sec1(der: &[u8]) -> Result<SigningKey, Error> {
        let (algorithm, pair) =
            on_either_curve(|a| EcdsaKeyPair::from_private_key_der(a.signing(), der))
                .ok_or_else(|| rejected("SEC 1 private key"))?;
        Ok(SigningKey { algorithm, pair })
    }

    pub(super) fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The private scalar, big-endian and the field's length (for the device).
    #[cfg(feature = "qatlib")]
    pub(super) fn scalar(&self) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        use aws_lc_rs::encoding::{AsBigEndian, EcPrivateKeyBin};
        let bin: EcPrivateKeyBin<'_> = self.pair.private_key().as_be_bytes().ok()?;
        Some(zeroize::Zeroizing::new(bin.as_ref().to_vec()))
    }

    /// The public point, uncompressed.
    pub(super) fn public_point(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    pub(super) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        // AWS-LC draws the nonce itself; the generator argument is unused.
        self.pair
            .sign(&SystemRandom::new(), message)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|_| Error::cpu(Operation::Sign, self.algorithm.name(), "ECDSA_do_sign"))
    }
}

pub(super) struct VerifyingKey {
    algorithm: Algorithm,
    point: Vec<u8>,
    parsed: ParsedPublicKey,
}

impl VerifyingKey {
    pub(super) fn from_spki(der: &[u8]) -> Result<VerifyingKey, Error> {
        let (algorithm, point) =
            on_either_curve(|a| ec_key::uncompressed_point(a.curve(), der).ok_or(()))
                .ok_or_else(|| rejected("SubjectPublicKeyInfo"))?;
        VerifyingKey::new(algorithm, point)
    }

    pub(super) fn from_point(point: &[u8]) -> Result<VerifyingKey, Error> {
        let (algorithm, point) =
            on_either_curve(|a| ec_key::uncompressed_point(a.curve(), point).ok_or(()))
                .ok_or_else(|| rejected("SEC 1 point"))?;
        VerifyingKey::new(algorithm, point)
    }

    fn new(algorithm: Algorithm, point: Vec<u8>) -> Result<VerifyingKey, Error> {
        let parsed = ParsedPublicKey::new(algorithm.verification(), &point)
            .map_err(|_| rejected("public key"))?;
        Ok(VerifyingKey {
            algorithm,
            point,
            parsed,
        })
    }

    pub(super) fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub(super) fn point(&self) -> &[u8] {
        &self.point
    }

    pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), ()> {
        self.parsed.verify_sig(message, signature).map_err(|_| ())
    }
}
