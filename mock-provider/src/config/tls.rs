//! HTTPS for the provider: a throwaway CA and a leaf certificate for
//! `localhost`, `127.0.0.1` and `::1` made with rcgen at start, or a
//! certificate and key the user supplies. The CA PEM is what clients under
//! test are told to trust (`SSL_CERT_FILE`, `NODE_EXTRA_CA_CERTS`,
//! `REQUESTS_CA_BUNDLE`). Private keys are never written unless asked, and
//! then with mode 0600.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

use crate::protocol::secret::Secret;

/// TLS settings (TOML: `[tls]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Serve HTTPS (default false).
    #[serde(default)]
    pub enabled: bool,
    /// A PEM certificate chain to serve instead of a generated one.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// The PEM private key of `cert_file`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Where to write the generated CA certificate (PEM).
    #[serde(default)]
    pub ca_out: Option<PathBuf>,
    /// Where to write the generated leaf private key (PEM, mode 0600).
    /// Never written unless set.
    #[serde(default)]
    pub key_out: Option<PathBuf>,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate or key is not usable.
    #[error("{0}")]
    Invalid(String),
}

/// A certificate chain and key to serve, and the CA that issued them when
/// it was generated here.
pub struct TlsIdentity {
    ca_pem: Option<String>,
    chain_pem: String,
    key_pem: Secret,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("generated_ca", &self.ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_owned(),
        source,
    }
}

impl TlsIdentity {
    /// A new CA and a leaf for localhost, 127.0.0.1 and ::1 (ECDSA P-256).
    pub fn generate() -> Result<Self, TlsError> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "mock-provider test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

        let mut leaf_params = CertificateParams::new(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ])?;
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = KeyPair::generate()?;
        let leaf = leaf_params.signed_by(&leaf_key, &ca)?;
        Ok(Self {
            ca_pem: Some(ca.pem()),
            chain_pem: leaf.pem(),
            key_pem: Secret::new(leaf_key.serialize_pem()),
        })
    }

    /// A certificate chain and key from PEM files.
    pub fn from_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let chain_pem = std::fs::read_to_string(cert).map_err(io_err(cert))?;
        let key_pem = std::fs::read_to_string(key).map_err(io_err(key))?;
        let identity = Self {
            ca_pem: None,
            chain_pem,
            key_pem: Secret::new(key_pem),
        };
        identity.server_config()?;
        Ok(identity)
    }

    /// Sets up TLS as the configuration says, resolving relative paths
    /// against `base_dir`, writing `ca_out` and `key_out` when asked.
    pub fn from_config(config: &TlsConfig, base_dir: Option<&Path>) -> Result<Self, TlsError> {
        let resolve = |p: &Path| match base_dir {
            Some(d) if p.is_relative() => d.join(p),
            _ => p.to_owned(),
        };
        let identity = match (&config.cert_file, &config.key_file) {
            (Some(c), Some(k)) => Self::from_files(&resolve(c), &resolve(k))?,
            (None, None) => Self::generate()?,
            _ => {
                return Err(TlsError::Invalid(
                    "cert_file and key_file go together".to_owned(),
                ));
            }
        };
        if let Some(out) = &config.ca_out {
            let out = resolve(out);
            let pem = identity.ca_pem.as_deref().unwrap_or(&identity.chain_pem);
            std::fs::write(&out, pem).map_err(io_err(&out))?;
        }
        if let Some(out) = &config.key_out {
            let out = resolve(out);
            write_private(&out, identity.key_pem.expose())?;
        }
        Ok(identity)
    }

    /// The generated CA certificate (PEM), if this identity was generated.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The rustls configuration serving this identity (HTTP/1.1).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(self.chain_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| TlsError::Invalid(format!("certificate PEM: {e}")))?;
        if certs.is_empty() {
            return Err(TlsError::Invalid("no certificate in the PEM".to_owned()));
        }
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.expose().as_bytes())
            .map_err(|e| TlsError::Invalid(format!("private key PEM: {e}")))?;
        let mut config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::Invalid(format!("certificate and key: {e}")))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Writes a file only its owner can read (0600), replacing any old one.
fn write_private(path: &Path, contents: &str) -> Result<(), TlsError> {
    use std::io::Write;
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io_err(path))?;
    file.write_all(contents.as_bytes()).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_identity_builds_a_server_config() {
        let id = TlsIdentity::generate().unwrap();
        assert!(
            id.ca_pem()
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        id.server_config().unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn key_out_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let config = TlsConfig {
            enabled: true,
            key_out: Some("leaf.key".into()),
            ca_out: Some("ca.pem".into()),
            ..Default::default()
        };
        TlsIdentity::from_config(&config, Some(dir.path())).unwrap();
        let mode = std::fs::metadata(dir.path().join("leaf.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(dir.path().join("ca.pem").exists());
    }
}
