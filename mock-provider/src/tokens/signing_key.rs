//! One signing key of an issuer: RS256 (RSA 2048) or ES256 (P-256), loaded
//! from a PEM file or generated, its public JWK (RFC 7517/7518) with an RFC
//! 7638 thumbprint as `kid`, and raw sign/verify.

use std::fmt;
use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey,
};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::protocol::secret::{base64url, sha256};

/// A JWS algorithm the provider signs access tokens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    #[default]
    #[serde(rename = "RS256")]
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    #[serde(rename = "ES256")]
    Es256,
}

impl SigningAlgorithm {
    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a key could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read key file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No private key in PEM form.
    #[error("no PEM private key found ({0})")]
    Pem(String),
    /// A key of another type than the algorithm needs, or a rejected key.
    #[error("the key is not a valid {alg} key: {reason}")]
    Rejected {
        /// The algorithm asked for.
        alg: SigningAlgorithm,
        /// Why it was refused.
        reason: String,
    },
    /// Key generation failed.
    #[error("key generation failed")]
    Generate,
}

enum KeyMaterial {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A private signing key with its public JWK.
///
/// ```
/// use mock_provider::{SigningAlgorithm, SigningKey};
/// let key = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
/// let sig = key.sign(b"hello");
/// assert!(key.verify(b"hello", &sig));
/// assert_eq!(key.public_jwk()["kty"], "EC");
/// ```
pub struct SigningKey {
    alg: SigningAlgorithm,
    kid: String,
    jwk: Value,
    /// The base64url of this key's access-token header
    /// (`{"alg":..,"kid":..,"typ":"at+jwt"}`), made once: every token
    /// without a header fault starts with it.
    access_token_header: String,
    material: KeyMaterial,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Makes a new key. RSA-2048 generation takes tens of milliseconds.
    pub fn generate(alg: SigningAlgorithm) -> Result<Self, KeyError> {
        let material = match alg {
            SigningAlgorithm::Rs256 => KeyMaterial::Rsa(
                RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?,
            ),
            SigningAlgorithm::Es256 => KeyMaterial::Ec(
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| KeyError::Generate)?,
            ),
        };
        Ok(Self::from_material(alg, material))
    }

    /// Loads a PEM private key file (PKCS#8; PKCS#1 for RSA and SEC1 for EC
    /// are accepted too).
    pub fn from_pem_file(alg: SigningAlgorithm, path: &Path) -> Result<Self, KeyError> {
        let pem = std::fs::read(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_pem(alg, &pem)
    }

    /// Loads a PEM private key.
    pub fn from_pem(alg: SigningAlgorithm, pem: &[u8]) -> Result<Self, KeyError> {
        let der = PrivateKeyDer::from_pem_slice(pem).map_err(|e| KeyError::Pem(e.to_string()))?;
        let expected = match alg {
            SigningAlgorithm::Rs256 => "expected an RSA private key of at least 2048 bits",
            SigningAlgorithm::Es256 => "expected a P-256 EC private key",
        };
        let rejected = || KeyError::Rejected {
            alg,
            reason: expected.to_owned(),
        };
        let material = match (alg, &der) {
            (SigningAlgorithm::Rs256, PrivateKeyDer::Pkcs8(k)) => KeyMaterial::Rsa(
                RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()).map_err(|_| rejected())?,
            ),
            (SigningAlgorithm::Rs256, PrivateKeyDer::Pkcs1(k)) => KeyMaterial::Rsa(
                RsaKeyPair::from_der(k.secret_pkcs1_der()).map_err(|_| rejected())?,
            ),
            (SigningAlgorithm::Es256, PrivateKeyDer::Pkcs8(_) | PrivateKeyDer::Sec1(_)) => {
                KeyMaterial::Ec(
                    EcdsaKeyPair::from_private_key_der(
                        &ECDSA_P256_SHA256_FIXED_SIGNING,
                        der.secret_der(),
                    )
                    .map_err(|_| rejected())?,
                )
            }
            _ => return Err(rejected()),
        };
        if let KeyMaterial::Rsa(k) = &material
            && k.public_modulus_len() < 256
        {
            return Err(rejected());
        }
        Ok(Self::from_material(alg, material))
    }

    fn from_material(alg: SigningAlgorithm, material: KeyMaterial) -> Self {
        // RFC 7638: the required members, lexicographic order, no spaces.
        let (thumbprint_input, mut jwk) = match &material {
            KeyMaterial::Rsa(k) => {
                let public = k.public_key();
                let n = base64url(public.modulus().big_endian_without_leading_zero());
                let e = base64url(public.exponent().big_endian_without_leading_zero());
                (
                    format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
                    json!({"kty": "RSA", "n": n, "e": e}),
                )
            }
            KeyMaterial::Ec(k) => {
                // Uncompressed point: 0x04 || X (32 bytes) || Y (32 bytes).
                let point = k.public_key().as_ref();
                let x = base64url(&point[1..33]);
                let y = base64url(&point[33..65]);
                (
                    format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#),
                    json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
                )
            }
        };
        let kid = base64url(&sha256(thumbprint_input.as_bytes()));
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        jwk["alg"] = json!(alg.as_str());
        // Members in the order serde_json's map gives them, so a token
        // signed through `jws::sign` with the same header is the same.
        let access_token_header = base64url(
            json!({"typ": "at+jwt", "alg": alg.as_str(), "kid": kid})
                .to_string()
                .as_bytes(),
        );
        Self {
            alg,
            kid,
            jwk,
            access_token_header,
            material,
        }
    }

    /// The algorithm.
    pub fn alg(&self) -> SigningAlgorithm {
        self.alg
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The base64url access-token header of this key (`typ: at+jwt`, its
    /// `alg` and `kid`).
    pub(crate) fn access_token_header(&self) -> &str {
        &self.access_token_header
    }

    /// The public key as a JWK.
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// The public key as SubjectPublicKeyInfo DER (what HS256-confusion
    /// attacks use as the HMAC secret, in PEM form).
    pub fn public_key_pem(&self) -> String {
        let der = match &self.material {
            KeyMaterial::Rsa(k) => k.public_key().as_der().map(|d| d.as_ref().to_vec()),
            KeyMaterial::Ec(k) => k.public_key().as_der().map(|d| d.as_ref().to_vec()),
        }
        .unwrap_or_default();
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// Signs `message` (a JWS signing input).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        // Signing with a key that loaded fine only fails on allocation
        // failure inside the crypto library.
        match &self.material {
            KeyMaterial::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .expect("RSA signing failed");
                sig
            }
            KeyMaterial::Ec(k) => k
                .sign(&rng, message)
                .expect("ECDSA signing failed")
                .as_ref()
                .to_vec(),
        }
    }

    /// Verifies a signature made by this key.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        match &self.material {
            KeyMaterial::Rsa(k) => {
                UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, k.public_key().as_ref())
                    .verify(message, sig)
                    .is_ok()
            }
            KeyMaterial::Ec(k) => {
                signature::UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, k.public_key().as_ref())
                    .verify(message, sig)
                    .is_ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_PEM: &[u8] = include_bytes!("../../../fixtures/keys/rs256.pem");
    const EC_PEM: &[u8] = include_bytes!("../../../fixtures/keys/es256.pem");

    #[test]
    fn fixture_keys_load_and_sign() {
        let rsa = SigningKey::from_pem(SigningAlgorithm::Rs256, RSA_PEM).unwrap();
        assert!(rsa.verify(b"m", &rsa.sign(b"m")));
        assert!(!rsa.verify(b"n", &rsa.sign(b"m")));
        let ec = SigningKey::from_pem(SigningAlgorithm::Es256, EC_PEM).unwrap();
        assert_eq!(ec.sign(b"m").len(), 64);
        assert!(ec.verify(b"m", &ec.sign(b"m")));
    }

    #[test]
    fn kid_is_stable_across_loads() {
        let a = SigningKey::from_pem(SigningAlgorithm::Rs256, RSA_PEM).unwrap();
        let b = SigningKey::from_pem(SigningAlgorithm::Rs256, RSA_PEM).unwrap();
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.kid().len(), 43);
    }

    #[test]
    fn wrong_key_type_is_refused() {
        let e = SigningKey::from_pem(SigningAlgorithm::Rs256, EC_PEM).unwrap_err();
        assert!(e.to_string().contains("RS256"), "{e}");
        let e = SigningKey::from_pem(SigningAlgorithm::Es256, RSA_PEM).unwrap_err();
        assert!(e.to_string().contains("ES256"), "{e}");
        assert!(SigningKey::from_pem(SigningAlgorithm::Es256, b"junk").is_err());
    }
}
