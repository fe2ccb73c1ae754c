//! `identity_providers.NAME` of kind `saml`, validated: URLs, keys that parse and match
//! their certificates, the IdP's metadata readable (from a file), attribute names.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_saphyr::Spanned;

use super::attributes::AttributeMap;
use super::decrypt::DecryptKey;
use super::metadata;
use super::redirect::SignKey;
use crate::auth::provider::is_acceptable_url;
use crate::config::Problems;
use crate::config::file::{KeyPairSection, SamlSection};

/// A validated SAML provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlSpec {
    /// Its name in the config.
    pub name: String,
    /// Our entityID.
    pub entity_id: String,
    /// Our ACS URL.
    pub acs_url: String,
    /// Our SLO URL, when single logout is on.
    pub slo_url: Option<String>,
    /// The IdP's entityID.
    pub idp_entity_id: String,
    /// Where the IdP's metadata comes from.
    pub metadata: MetadataSource,
    /// Our signing key pair (and the next one).
    pub signing: KeyMaterial,
    /// Our encryption key pair (and the next one).
    pub encryption: KeyMaterial,
    /// Clock skew allowed.
    pub clock_skew: Duration,
    /// Oldest response accepted.
    pub max_response_age: Duration,
    /// Whether IdP-initiated logins are accepted.
    pub allow_idp_initiated: bool,
    /// Attributes → identity.
    pub attributes: AttributeMap,
    /// Name on the login page.
    pub label: String,
    /// Profiles the login page offers it to.
    pub offered_to: Vec<String>,
}

/// The IdP's metadata: a document read with the config, or a URL fetched at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataSource {
    /// The content of `metadata_file`.
    Document(String),
    /// `metadata_url`, the CA bundle trusted for it, and the refresh interval.
    Url {
        /// The https URL.
        url: String,
        /// PEM CA bundle, when configured.
        ca_pem: Option<Vec<u8>>,
        /// Refresh interval.
        refresh: Duration,
    },
}

/// A private key and its certificate (DER), and the next pair during a rollover.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyMaterial {
    /// PKCS#8 DER of the current key.
    pub key: Vec<u8>,
    /// DER of its certificate.
    pub cert: Vec<u8>,
    /// The next pair.
    pub next: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("key", &"<redacted>")
            .field("next", &self.next.is_some())
            .finish_non_exhaustive()
    }
}

impl KeyMaterial {
    /// Certificates, current first.
    pub fn certs(&self) -> Vec<&[u8]> {
        std::iter::once(self.cert.as_slice())
            .chain(self.next.as_ref().map(|(_, c)| c.as_slice()))
            .collect()
    }
}

/// Paths of what this provider serves under `/vigie/saml/NAME/`.
pub fn local_path(name: &str, what: &str) -> String {
    format!("/vigie/saml/{name}/{what}")
}

impl SamlSpec {
    /// Validates `identity_providers.NAME.saml`, reporting every problem with its path.
    pub(crate) fn from_file(
        name: &str,
        s: &SamlSection,
        base: &Path,
        now: i64,
        problems: &mut Problems,
    ) -> Option<SamlSpec> {
        let path = format!("identity_providers.{name}.saml");
        let before = problems.len();
        let url = |field: &str, v: &Spanned<String>, problems: &mut Problems| {
            if !is_acceptable_url(&v.value) {
                problems.report(
                    format!("{path}.{field}"),
                    &v.referenced,
                    format!("invalid URL {:?}: expected an https URL", v.value),
                );
            }
        };
        url("acs_url", &s.acs_url, problems);
        if let Some(slo) = &s.slo_url {
            url("slo_url", slo, problems);
        }
        for (field, v, what) in [
            ("acs_url", Some(&s.acs_url), "acs"),
            ("slo_url", s.slo_url.as_ref(), "slo"),
        ] {
            if let Some(v) = v
                && !v.value.ends_with(&local_path(name, what))
            {
                problems.report(
                    format!("{path}.{field}"),
                    &v.referenced,
                    format!(
                        "must end with {}, where Vigie answers it",
                        local_path(name, what)
                    ),
                );
            }
        }
        if s.entity_id.value.trim().is_empty() {
            problems.report(
                format!("{path}.entity_id"),
                &s.entity_id.referenced,
                "empty entityID",
            );
        }
        if s.offered_to.value.is_empty() {
            problems.report(
                format!("{path}.offered_to"),
                &s.offered_to.referenced,
                "list the profiles offered this IdP, e.g. [eleve, responsable]",
            );
        }
        let signing = keys(
            &format!("{path}.signing"),
            &s.signing.value,
            base,
            problems,
            |der| SignKey::from_pkcs8(der).map(|_| ()),
        );
        let encryption = keys(
            &format!("{path}.encryption"),
            &s.encryption.value,
            base,
            problems,
            |der| DecryptKey::from_pkcs8(der).map(|_| ()),
        );
        let idp = &s.idp.value;
        let metadata = match (&idp.metadata_file, &idp.metadata_url) {
            (Some(file), None) => {
                let full = base.join(&file.value);
                match std::fs::read_to_string(&full) {
                    Ok(doc) => match metadata::read_idp(&doc, &idp.entity_id.value, now) {
                        Ok(_) => Some(MetadataSource::Document(doc)),
                        Err(e) => {
                            problems.report(
                                format!("{path}.idp.metadata_file"),
                                &file.referenced,
                                format!("{}: {e}", full.display()),
                            );
                            None
                        }
                    },
                    Err(e) => {
                        problems.report(
                            format!("{path}.idp.metadata_file"),
                            &file.referenced,
                            format!("cannot read {}: {e}", full.display()),
                        );
                        None
                    }
                }
            }
            (None, Some(u)) => {
                url("idp.metadata_url", u, problems);
                let ca_pem = idp
                    .ca_file
                    .as_ref()
                    .and_then(|f| read(&format!("{path}.idp.ca_file"), f, base, problems));
                Some(MetadataSource::Url {
                    url: u.value.clone(),
                    ca_pem,
                    refresh: idp.refresh.map_or(Duration::from_secs(3600), |d| d.0),
                })
            }
            _ => {
                problems.report(
                    format!("{path}.idp"),
                    &s.idp.referenced,
                    "give exactly one of metadata_file and metadata_url",
                );
                None
            }
        };
        let attributes = AttributeMap::from_file(&s.attributes);
        if problems.len() > before {
            return None;
        }
        Some(SamlSpec {
            name: name.to_string(),
            entity_id: s.entity_id.value.clone(),
            acs_url: s.acs_url.value.clone(),
            slo_url: s.slo_url.as_ref().map(|v| v.value.clone()),
            idp_entity_id: idp.entity_id.value.clone(),
            metadata: metadata?,
            signing: signing?,
            encryption: encryption?,
            clock_skew: s.clock_skew.map_or(Duration::from_secs(60), |d| d.0),
            max_response_age: s.max_response_age.map_or(Duration::from_secs(600), |d| d.0),
            allow_idp_initiated: s.allow_idp_initiated.unwrap_or(false),
            attributes,
            label: s.label.clone().unwrap_or_else(|| "ÉduConnect".into()),
            offered_to: s.offered_to.value.clone(),
        })
    }
}

/// Reads a key pair section: PEM files, a PKCS#8 key `usable` for its purpose, the key
/// matching its certificate.
fn keys(
    path: &str,
    s: &KeyPairSection,
    base: &Path,
    problems: &mut Problems,
    usable: impl Fn(&[u8]) -> Result<(), String>,
) -> Option<KeyMaterial> {
    let mut pair = |key: &Spanned<PathBuf>, cert: &Spanned<PathBuf>, which: &str| {
        let key_der = pem_block(
            path,
            &format!("{which}key_file"),
            key,
            base,
            "PRIVATE KEY",
            problems,
        )?;
        let cert_der = pem_block(
            path,
            &format!("{which}cert_file"),
            cert,
            base,
            "CERTIFICATE",
            problems,
        )?;
        if let Err(e) = usable(&key_der) {
            problems.report(format!("{path}.{which}key_file"), &key.referenced, e);
            return None;
        }
        if !matches(&key_der, &cert_der) {
            problems.report(
                format!("{path}.{which}cert_file"),
                &cert.referenced,
                "the certificate is not the key's (their public keys differ)",
            );
            return None;
        }
        Some((key_der, cert_der))
    };
    let current = pair(&s.key_file, &s.cert_file, "");
    let next = match (&s.next_key_file, &s.next_cert_file) {
        (Some(k), Some(c)) => Some(pair(k, c, "next_")?),
        (None, None) => None,
        (Some(k), None) | (None, Some(k)) => {
            problems.report(
                path,
                &k.referenced,
                "give both next_key_file and next_cert_file, or neither",
            );
            return None;
        }
    };
    let (key, cert) = current?;
    Some(KeyMaterial { key, cert, next })
}

/// Whether the RSA private key (PKCS#8) and the certificate hold the same public key.
fn matches(key_der: &[u8], cert_der: &[u8]) -> bool {
    use aws_lc_rs::signature::KeyPair as _;
    let Ok(pair) = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(key_der) else {
        return false;
    };
    x509_parser::parse_x509_certificate(cert_der).is_ok_and(|(_, c)| {
        c.tbs_certificate
            .subject_pki
            .subject_public_key
            .data
            .as_ref()
            == pair.public_key().as_ref()
    })
}

/// The DER of the first PEM block labelled `label` in a file.
fn pem_block(
    path: &str,
    field: &str,
    file: &Spanned<PathBuf>,
    base: &Path,
    label: &str,
    problems: &mut Problems,
) -> Option<Vec<u8>> {
    let bytes = read(&format!("{path}.{field}"), file, base, problems)?;
    let found = x509_parser::pem::Pem::iter_from_buffer(&bytes)
        .filter_map(Result::ok)
        .find(|p| p.label == label);
    match found {
        Some(pem) => Some(pem.contents),
        None => {
            let hint = if label == "PRIVATE KEY" {
                " (convert a PKCS#1 key with: openssl pkcs8 -topk8 -nocrypt)"
            } else {
                ""
            };
            problems.report(
                format!("{path}.{field}"),
                &file.referenced,
                format!(
                    "no PEM block \"{label}\" in {}{hint}",
                    base.join(&file.value).display()
                ),
            );
            None
        }
    }
}

fn read(
    path: &str,
    file: &Spanned<PathBuf>,
    base: &Path,
    problems: &mut Problems,
) -> Option<Vec<u8>> {
    let full = base.join(&file.value);
    std::fs::read(&full)
        .map_err(|e| {
            problems.report(
                path,
                &file.referenced,
                format!("cannot read {}: {e}", full.display()),
            )
        })
        .ok()
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
