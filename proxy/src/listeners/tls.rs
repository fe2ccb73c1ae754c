//! Server certificates: loading a PEM chain and key into a rustls `CertifiedKey`, and the
//! resolver that serves the current one, swapped atomically when the config is reloaded.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::Problems;
use crate::config::file::TlsSection;

/// A listener's validated certificate: the files it came from and the parsed key.
#[derive(Clone)]
pub struct TlsSpec {
    /// Certificate chain file.
    pub certificate: PathBuf,
    /// Private key file.
    pub private_key: PathBuf,
    /// The chain and signing key, ready for handshakes.
    pub key: Arc<CertifiedKey>,
}

/// The certificate a listener currently presents; [`CertStore::replace`] swaps it.
#[derive(Debug)]
pub struct CertStore {
    current: ArcSwap<CertifiedKey>,
}

/// Why a certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file is missing or unreadable, or holds no PEM certificate.
    #[error("cannot read certificate {path}: {reason}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The key file is missing or unreadable, or holds no PEM private key.
    #[error("cannot read private key {path}: {reason}")]
    PrivateKey {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The key is of an unsupported type or does not match the certificate.
    #[error("{0}")]
    Mismatch(String),
}

// === impl TlsSpec ===

impl TlsSpec {
    pub(crate) fn from_file(
        section: &TlsSection,
        path: &str,
        base: &Path,
        problems: &mut Problems,
    ) -> Option<TlsSpec> {
        let certificate = base.join(&section.certificate.value);
        let private_key = base.join(&section.private_key.value);
        match load(&certificate, &private_key) {
            Ok(key) => Some(TlsSpec {
                certificate,
                private_key,
                key: Arc::new(key),
            }),
            Err(e) => {
                let (field, at) = match e {
                    TlsError::Certificate { .. } => {
                        ("certificate", &section.certificate.referenced)
                    }
                    _ => ("private_key", &section.private_key.referenced),
                };
                problems.report(format!("{path}.{field}"), at, e.to_string());
                None
            }
        }
    }
}

impl fmt::Debug for TlsSpec {
    // The key is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSpec")
            .field("certificate", &self.certificate)
            .field("private_key", &self.private_key)
            .finish_non_exhaustive()
    }
}

/// Loads a PEM chain and key, and checks that the key matches the leaf certificate.
pub fn load(certificate: &Path, private_key: &Path) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certificate)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| TlsError::Certificate {
            path: certificate.into(),
            reason: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Certificate {
            path: certificate.into(),
            reason: "no PEM certificate found".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(private_key).map_err(|e| TlsError::PrivateKey {
        path: private_key.into(),
        reason: e.to_string(),
    })?;
    let provider = rustls::crypto::ring::default_provider();
    CertifiedKey::from_der(chain, key, &provider).map_err(|e| {
        TlsError::Mismatch(format!(
            "{} and {} do not form a usable pair: {e}",
            certificate.display(),
            private_key.display()
        ))
    })
}

// === impl CertStore ===

impl CertStore {
    /// A store serving `key` until replaced.
    pub fn new(key: Arc<CertifiedKey>) -> Arc<CertStore> {
        Arc::new(CertStore {
            current: ArcSwap::new(key),
        })
    }

    /// Serves `key` to every handshake from now on.
    pub fn replace(&self, key: Arc<CertifiedKey>) {
        self.current.store(key);
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}
