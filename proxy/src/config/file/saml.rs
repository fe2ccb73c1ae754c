//! The serde mirror of `identity_providers.NAME.saml:` (kind `saml`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::config::values::Duration;

/// Vigie as a SAML 2.0 service provider of one IdP (ÉduConnect).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlSection {
    /// Our entityID, as registered at the IdP.
    pub entity_id: Spanned<String>,
    /// Our assertion consumer service: `https://HOST/vigie/saml/NAME/acs` (HTTP-POST).
    pub acs_url: Spanned<String>,
    /// Our single logout service: `https://HOST/vigie/saml/NAME/slo` (HTTP-Redirect).
    pub slo_url: Option<Spanned<String>>,
    /// The IdP: its entityID and where its metadata is.
    pub idp: Spanned<SamlIdpSection>,
    /// Our signing key and certificate (AuthnRequests and logout messages).
    pub signing: Spanned<KeyPairSection>,
    /// Our encryption key and certificate (the IdP encrypts assertions to it).
    pub encryption: Spanned<KeyPairSection>,
    /// Clock skew allowed on every time in a message (default 60s).
    pub clock_skew: Option<Duration>,
    /// Oldest response accepted, from its IssueInstant (default 10m).
    pub max_response_age: Option<Duration>,
    /// Whether IdP-initiated logins (no AuthnRequest) are accepted (default false).
    pub allow_idp_initiated: Option<bool>,
    /// Which attributes make the identity (defaults: ÉduConnect's).
    #[serde(default)]
    pub attributes: SamlAttributesSection,
    /// Name on the login page (default `ÉduConnect`).
    pub label: Option<String>,
    /// Profiles the login page offers this IdP to.
    pub offered_to: Spanned<Vec<String>>,
}

/// `identity_providers.NAME.saml.idp:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlIdpSection {
    /// The IdP's entityID.
    pub entity_id: Spanned<String>,
    /// Its metadata, from a file (read at each config load) ...
    pub metadata_file: Option<Spanned<PathBuf>>,
    /// ... or from an https URL (fetched before ready, refreshed, kept through outages).
    pub metadata_url: Option<Spanned<String>>,
    /// PEM bundle of CAs trusted for `metadata_url` (default: the system's roots).
    pub ca_file: Option<Spanned<PathBuf>>,
    /// How often `metadata_url` is fetched again (default 1h; sooner when `validUntil` nears).
    pub refresh: Option<Duration>,
}

/// An RSA key and its certificate, PEM, with the next pair during a rollover.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPairSection {
    /// PKCS#8 private key (RSA, at least 2048 bits).
    pub key_file: Spanned<PathBuf>,
    /// Its X.509 certificate, published in our metadata.
    pub cert_file: Spanned<PathBuf>,
    /// The next key: published now, used for decryption now, for signing after the rollover.
    pub next_key_file: Option<Spanned<PathBuf>>,
    /// The next key's certificate.
    pub next_cert_file: Option<Spanned<PathBuf>>,
}

/// `identity_providers.NAME.saml.attributes:` attribute `Name`s (or `FriendlyName`s).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlAttributesSection {
    /// The stable subject (default `FrEduCtId`, `urn:oid:1.3.6.1.4.1.20326.10.999.1.57`).
    pub subject: Option<String>,
    /// The affiliation giving the profile (default `FrEduCtPersonAffiliation`, …1.7;
    /// eleve1d/eleve2d → eleve, resp1d/resp2d → responsable).
    pub profile: Option<String>,
    /// More affiliation values and the profiles they mean.
    #[serde(default)]
    pub profile_values: BTreeMap<String, String>,
    /// Given name (default `urn:oid:2.5.4.42`).
    pub given_name: Option<String>,
    /// Family name (default `urn:oid:2.5.4.4`).
    pub family_name: Option<String>,
    /// School UAI (default `FrEduCtEleveUAI`, …1.72).
    pub school_ids: Option<String>,
    /// Hash of the INE (default `FrEduCtEleveINEHash`, …1.64).
    pub ine_hash: Option<String>,
    /// School level (default `FrEduCtEleveNiveau`, …1.73).
    pub level: Option<String>,
    /// Birth date (default `FrEduCtDateNaissance`, …1.67).
    pub birth_date: Option<String>,
    /// The IdP's logout URL for this person (default `FrEduUrlRetour`, …1.5).
    pub logout_url: Option<String>,
    /// The legacy `FrEduVecteur` (profile|name|first name|pupil id|UAI; default `FrEduVecteur`).
    pub vector: Option<String>,
}
