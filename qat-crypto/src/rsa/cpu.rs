//! The `cpu` backend for RSA: AWS-LC through aws-lc-rs.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    self, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512, OaepAlgorithm,
    OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaEncoding, RsaParameters};
use zeroize::Zeroizing;

use super::{Oaep, RSA, Scheme};
use crate::crypto::{Error, Operation};

fn rejected(what: &str, e: aws_lc_rs::error::KeyRejected) -> Error {
    let reason = match e.description_() {
        "TooSmall" => format!("an RSA {what} under 2048 bits; keys are 2048 bits or more"),
        "TooLarge" => format!("an RSA {what} over 8192 bits"),
        why => format!("not a usable RSA {what} ({why})"),
    };
    Error::parameter(Operation::Key, RSA, reason)
}

fn oaep_algorithm(oaep: Oaep) -> &'static OaepAlgorithm {
    match oaep {
        Oaep::Sha256 => &OAEP_SHA256_MGF1SHA256,
        Oaep::Sha384 => &OAEP_SHA384_MGF1SHA384,
        Oaep::Sha512 => &OAEP_SHA512_MGF1SHA512,
    }
}

fn signing_encoding(scheme: Scheme) -> &'static dyn RsaEncoding {
    match scheme {
        Scheme::Pkcs1Sha256 => &signature::RSA_PKCS1_SHA256,
        Scheme::Pkcs1Sha384 => &signature::RSA_PKCS1_SHA384,
        Scheme::Pkcs1Sha512 => &signature::RSA_PKCS1_SHA512,
        Scheme::PssSha256 => &signature::RSA_PSS_SHA256,
        Scheme::PssSha384 => &signature::RSA_PSS_SHA384,
        Scheme::PssSha512 => &signature::RSA_PSS_SHA512,
    }
}

fn verification_parameters(scheme: Scheme) -> &'static RsaParameters {
    match scheme {
        Scheme::Pkcs1Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Scheme::Pkcs1Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Scheme::Pkcs1Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Scheme::PssSha256 => &signature::RSA_PSS_2048_8192_SHA256,
        Scheme::PssSha384 => &signature::RSA_PSS_2048_8192_SHA384,
        Scheme::PssSha512 => &signature::RSA_PSS_2048_8192_SHA512,
    }
}

/// A private key: AWS-LC's signing key and its OAEP view of the same key.
pub(super) struct PrivateKey {
    signing: rsa::KeyPair,
    decrypting: OaepPrivateDecryptingKey,
}

impl PrivateKey {
    pub(super) fn from_pkcs8(der: &[u8]) -> Result<PrivateKey, Error> {
        let signing = rsa::KeyPair::from_pkcs8(der).map_err(|e| rejected("PKCS#8 key", e))?;
        let decrypting =
            PrivateDecryptingKey::from_pkcs8(der).map_err(|e| rejected("PKCS#8 key", e))?;
        PrivateKey::new(signing, decrypting)
    }

    pub(super) fn from_pkcs1(der: &[u8]) -> Result<PrivateKey, Error> {
        let signing = rsa::KeyPair::from_der(der).map_err(|e| rejected("PKCS#1 key", e))?;
        // aws-lc-rs reads OAEP keys from PKCS#8 only: the same key, re-encoded (the encoding
        // is zeroed when dropped).
        let pkcs8 = signing
            .as_der()
            .map_err(|_| Error::cpu(Operation::Key, RSA, "EVP_marshal_private_key"))?;
        let decrypting = PrivateDecryptingKey::from_pkcs8(pkcs8.as_ref())
            .map_err(|e| rejected("PKCS#1 key", e))?;
        PrivateKey::new(signing, decrypting)
    }

    fn new(signing: rsa::KeyPair, decrypting: PrivateDecryptingKey) -> Result<PrivateKey, Error> {
        let decrypting = OaepPrivateDecryptingKey::new(decrypting)
            .map_err(|_| Error::cpu(Operation::Key, RSA, "OaepPrivateDecryptingKey::new"))?;
        Ok(PrivateKey {
            signing,
            decrypting,
        })
    }

    pub(super) fn bits(&self) -> usize {
        self.decrypting.key_size_bits()
    }

    /// The public half as an X.509 `SubjectPublicKeyInfo`.
    pub(super) fn public_key_spki(&self) -> Vec<u8> {
        use aws_lc_rs::signature::KeyPair as _;
        let public = self.signing.public_key();
        public
            .as_der()
            .map(|der| der.as_ref().to_vec())
            // A key AWS-LC has parsed always encodes.
            .expect("encoding a parsed RSA public key")
    }

    pub(super) fn sign(
        &self,
        scheme: Scheme,
        message: &[u8],
        signature: &mut [u8],
    ) -> Result<(), Error> {
        // AWS-LC draws the PSS salt itself; the generator argument is unused.
        self.signing
            .sign(
                signing_encoding(scheme),
                &SystemRandom::new(),
                message,
                signature,
            )
            .map_err(|_| Error::cpu(Operation::Sign, scheme.name(), "EVP_DigestSign"))
    }

    pub(super) fn decrypt(
        &self,
        oaep: Oaep,
        ciphertext: &[u8],
        label: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let mut plaintext = Zeroizing::new(vec![0; self.decrypting.min_output_size()]);
        let label = (!label.is_empty()).then_some(label);
        let len = self
            .decrypting
            .decrypt(oaep_algorithm(oaep), ciphertext, &mut plaintext, label)
            .map_err(|_| Error::Decryption {
                operation: Operation::Decrypt,
                algorithm: oaep.name(),
            })?
            .len();
        plaintext.truncate(len);
        Ok(plaintext)
    }
}

/// A public key: its SPKI encoding, parsed once per signature scheme on first use, and its
/// OAEP view.
pub(super) struct PublicKey {
    spki: Box<[u8]>,
    verifying: [std::sync::OnceLock<ParsedPublicKey>; 6],
    encrypting: OaepPublicEncryptingKey,
}

impl PublicKey {
    pub(super) fn from_spki(der: &[u8]) -> Result<PublicKey, Error> {
        let encrypting =
            PublicEncryptingKey::from_der(der).map_err(|e| rejected("SubjectPublicKeyInfo", e))?;
        let encrypting = OaepPublicEncryptingKey::new(encrypting)
            .map_err(|_| Error::cpu(Operation::Key, RSA, "OaepPublicEncryptingKey::new"))?;
        Ok(PublicKey {
            spki: der.into(),
            verifying: Default::default(),
            encrypting,
        })
    }

    pub(super) fn from_pkcs1(der: &[u8]) -> Result<PublicKey, Error> {
        let key = rsa::PublicKey::from_der(der).map_err(|e| rejected("PKCS#1 public key", e))?;
        let spki = key
            .as_der()
            .map_err(|_| Error::cpu(Operation::Key, RSA, "EVP_marshal_public_key"))?;
        PublicKey::from_spki(spki.as_ref())
    }

    pub(super) fn bits(&self) -> usize {
        self.encrypting.key_size_bits()
    }

    pub(super) fn spki(&self) -> &[u8] {
        &self.spki
    }

    fn parsed(&self, scheme: Scheme) -> Result<&ParsedPublicKey, Error> {
        let index = Scheme::ALL
            .iter()
            .position(|s| *s == scheme)
            .expect("every scheme is in ALL");
        if let Some(parsed) = self.verifying[index].get() {
            return Ok(parsed);
        }
        let parsed = ParsedPublicKey::new(verification_parameters(scheme), &self.spki)
            .map_err(|e| rejected("public key", e))?;
        Ok(self.verifying[index].get_or_init(|| parsed))
    }

    pub(super) fn verify(
        &self,
        scheme: Scheme,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), Error> {
        self.parsed(scheme)?
            .verify_sig(message, signature)
            .map_err(|_| Error::BadSignature {
                operation: Operation::Verify,
                algorithm: scheme.name(),
            })
    }

    pub(super) fn encrypt(
        &self,
        oaep: Oaep,
        plaintext: &[u8],
        label: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let mut ciphertext = vec![0; self.encrypting.ciphertext_size()];
        let label = (!label.is_empty()).then_some(label);
        self.encrypting
            .encrypt(oaep_algorithm(oaep), plaintext, &mut ciphertext, label)
            .map_err(|_| Error::cpu(Operation::Encrypt, oaep.name(), "EVP_PKEY_encrypt"))?;
        Ok(ciphertext)
    }
}
