//! The `cpu` backend for key agreement: AWS-LC through aws-lc-rs.

use aws_lc_rs::agreement::{self, ECDH_P256, ECDH_P384, UnparsedPublicKey, X25519};

use super::{Algorithm, SharedSecret};
use crate::crypto::{Error, Operation};
use crate::ec_key::{self, Curve};

impl Algorithm {
    fn aws_lc(self) -> &'static agreement::Algorithm {
        match self {
            Algorithm::P256 => &ECDH_P256,
            Algorithm::P384 => &ECDH_P384,
            Algorithm::X25519 => &X25519,
        }
    }

    /// The NIST curve, if it is one.
    pub(crate) fn curve(self) -> Option<Curve> {
        match self {
            Algorithm::P256 => Some(Curve::P256),
            Algorithm::P384 => Some(Curve::P384),
            Algorithm::X25519 => None,
        }
    }
}

fn rejected(algorithm: &'static str, what: String) -> Error {
    Error::parameter(Operation::Key, algorithm, what)
}

pub(super) struct PrivateKey {
    algorithm: Algorithm,
    key: agreement::PrivateKey,
    public: Vec<u8>,
}

impl PrivateKey {
    pub(super) fn generate(algorithm: Algorithm) -> Result<PrivateKey, Error> {
        let key = agreement::PrivateKey::generate(algorithm.aws_lc())
            .map_err(|_| Error::cpu(Operation::Key, algorithm.name(), "EVP_PKEY_keygen"))?;
        PrivateKey::new(algorithm, key)
    }

    pub(super) fn from_pkcs8(der: &[u8]) -> Result<PrivateKey, Error> {
        if let Ok(key) = PrivateKey::from_sec1(der) {
            return Ok(key);
        }
        let raw = ec_key::x25519_private_from_pkcs8(der).ok_or_else(|| {
            rejected(
                "ECDH",
                "not a P-256, P-384 or X25519 PKCS#8 private key".into(),
            )
        })?;
        PrivateKey::from_bytes(Algorithm::X25519, &raw[..])
    }

    /// A SEC 1 `ECPrivateKey` (AWS-LC takes a PKCS#8 wrapping of one too).
    pub(super) fn from_sec1(der: &[u8]) -> Result<PrivateKey, Error> {
        [Algorithm::P256, Algorithm::P384]
            .into_iter()
            .find_map(|algorithm| {
                agreement::PrivateKey::from_private_key_der(algorithm.aws_lc(), der)
                    .ok()
                    .map(|key| (algorithm, key))
            })
            .ok_or_else(|| rejected("ECDH", "not a P-256 or P-384 private key".into()))
            .and_then(|(algorithm, key)| PrivateKey::new(algorithm, key))
    }

    pub(super) fn from_bytes(algorithm: Algorithm, bytes: &[u8]) -> Result<PrivateKey, Error> {
        let name = algorithm.name();
        if bytes.len() != algorithm.private_key_len() {
            return Err(rejected(
                name,
                format!(
                    "the private key is {} bytes, not {}",
                    bytes.len(),
                    algorithm.private_key_len()
                ),
            ));
        }
        let key = agreement::PrivateKey::from_private_key(algorithm.aws_lc(), bytes)
            .map_err(|_| rejected(name, "the scalar is 0 or not below the group order".into()))?;
        PrivateKey::new(algorithm, key)
    }

    fn new(algorithm: Algorithm, key: agreement::PrivateKey) -> Result<PrivateKey, Error> {
        let public = key
            .compute_public_key()
            .map_err(|_| Error::cpu(Operation::Key, algorithm.name(), "EC_POINT_mul"))?
            .as_ref()
            .to_vec();
        Ok(PrivateKey {
            algorithm,
            key,
            public,
        })
    }

    /// The private scalar (for the device): big-endian for P-256 and P-384, RFC 7748's string
    /// for X25519.
    #[cfg(feature = "qatlib")]
    pub(super) fn scalar(&self) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        use aws_lc_rs::encoding::{AsBigEndian, Curve25519SeedBin, EcPrivateKeyBin};
        let bytes = if self.algorithm == Algorithm::X25519 {
            let bin: Curve25519SeedBin<'_> = self.key.as_be_bytes().ok()?;
            bin.as_ref().to_vec()
        } else {
            let bin: EcPrivateKeyBin<'_> = self.key.as_be_bytes().ok()?;
            bin.as_ref().to_vec()
        };
        Some(zeroize::Zeroizing::new(bytes))
    }

    pub(super) fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub(super) fn public_key(&self) -> &[u8] {
        &self.public
    }

    pub(super) fn agree(&self, peer: &[u8]) -> Result<SharedSecret, Error> {
        let name = self.algorithm.name();
        let bad_peer = |what: &str| {
            Error::parameter(
                Operation::Agree,
                name,
                format!("the peer's public key {what}"),
            )
        };
        let point;
        let peer = match self.algorithm.curve() {
            Some(curve) => {
                point = ec_key::uncompressed_point(curve, peer)
                    .ok_or_else(|| bad_peer("is not a point of the curve in a known encoding"))?;
                &point[..]
            }
            None if peer.len() == 32 => peer,
            None => return Err(bad_peer(&format!("is {} bytes, not 32", peer.len()))),
        };
        agreement::agree(
            &self.key,
            UnparsedPublicKey::new(self.algorithm.aws_lc(), peer),
            (),
            |secret| Ok(SharedSecret::new(secret.to_vec())),
        )
        // The point was checked above: what fails here is X25519's all-zero secret.
        .map_err(|()| bad_peer("is of low order (the shared secret would be all zeros)"))
    }
}
