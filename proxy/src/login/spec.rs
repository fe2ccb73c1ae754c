//! Validation of a provider's `login:` block into a [`LoginSpec`].

use std::fmt;
use std::path::{Path, PathBuf};

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_saphyr::Spanned;

use crate::auth::provider::is_acceptable_url;
use crate::config::Problems;
use crate::config::file::{ButtonStyle, LoginSection, TokenAuth, UserinfoFormat};

/// How a provider is used for browser login.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginSpec {
    /// Client id registered at the provider.
    pub client_id: String,
    /// How Vigie authenticates at the token endpoint.
    pub client_auth: ClientAuth,
    /// The registered callback: a URL, or a path completed with the request's origin.
    pub redirect_uri: String,
    /// Where the provider returns after logout.
    pub post_logout_redirect_uri: Option<String>,
    /// Scopes asked.
    pub scope: String,
    /// `acr_values` asked, if any.
    pub acr_values: Option<String>,
    /// How userinfo answers.
    pub userinfo: UserinfoFormat,
    /// Name on the login page.
    pub label: String,
    /// Button style.
    pub button: ButtonStyle,
    /// Profiles the login page offers it to.
    pub offered_to: Vec<String>,
    /// Profile of its people when the claims carry none.
    pub default_profile: Option<String>,
}

/// Client authentication at the token endpoint.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret` in the form.
    SecretPost(Secret),
    /// HTTP Basic.
    SecretBasic(Secret),
    /// A signed client assertion with this key.
    PrivateKeyJwt {
        /// ES256 or RS256.
        alg: Algorithm,
        /// The PEM private key.
        pem: Secret,
    },
}

/// A secret whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAuth::SecretPost(_) => f.write_str("client_secret_post"),
            ClientAuth::SecretBasic(_) => f.write_str("client_secret_basic"),
            ClientAuth::PrivateKeyJwt { alg, .. } => write!(f, "private_key_jwt({alg:?})"),
        }
    }
}

impl fmt::Debug for LoginSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginSpec")
            .field("client_id", &self.client_id)
            .field("client_auth", &self.client_auth)
            .field("redirect_uri", &self.redirect_uri)
            .field("acr_values", &self.acr_values)
            .finish_non_exhaustive()
    }
}

impl LoginSpec {
    /// `uri` as an absolute URL: as configured, or a path completed with `origin`
    /// (`https://host[:port]`, from the login request).
    pub fn absolute(uri: &str, origin: &str) -> String {
        if uri.starts_with('/') {
            format!("{origin}{uri}")
        } else {
            uri.to_string()
        }
    }

    /// Validates `identity_providers.NAME.login`.
    pub(crate) fn from_file(
        name: &str,
        s: &LoginSection,
        base: &Path,
        problems: &mut Problems,
    ) -> Option<LoginSpec> {
        let path = format!("identity_providers.{name}.login");
        let mut ok = true;
        let mut url = |field: &str, v: &Spanned<String>, problems: &mut Problems| {
            let path_form =
                v.value.starts_with("/vigie/") && crate::routing::normalize_path(&v.value).is_ok();
            if !is_acceptable_url(&v.value) && !path_form {
                problems.report(
                    format!("{path}.{field}"),
                    &v.referenced,
                    format!("invalid {field} {:?}: expected an https URL, or a path under /vigie/ completed with the request's host", v.value),
                );
                ok = false;
            }
        };
        url("redirect_uri", &s.redirect_uri, problems);
        if let Some(p) = &s.post_logout_redirect_uri {
            url("post_logout_redirect_uri", p, problems);
        }
        if s.offered_to.value.is_empty() {
            problems.report(
                format!("{path}.offered_to"),
                &s.offered_to.referenced,
                "list the profiles offered this provider, e.g. [responsable]",
            );
            ok = false;
        }
        let client_auth = client_auth(&path, s, base, problems);
        if !ok {
            return None;
        }
        Some(LoginSpec {
            client_id: s.client_id.clone(),
            client_auth: client_auth?,
            redirect_uri: s.redirect_uri.value.clone(),
            post_logout_redirect_uri: s.post_logout_redirect_uri.as_ref().map(|p| p.value.clone()),
            scope: s.scope.clone().unwrap_or_else(|| "openid".into()),
            acr_values: s.acr_values.as_ref().map(|a| a.value.clone()),
            userinfo: s.userinfo.unwrap_or(UserinfoFormat::Jwt),
            label: s.label.clone().unwrap_or_else(|| name.to_string()),
            button: s.button.unwrap_or(ButtonStyle::Standard),
            offered_to: s.offered_to.value.clone(),
            default_profile: s.default_profile.clone(),
        })
    }
}

/// Reads the secret or key the chosen token authentication needs.
fn client_auth(
    path: &str,
    s: &LoginSection,
    base: &Path,
    problems: &mut Problems,
) -> Option<ClientAuth> {
    let method = s.token_auth.unwrap_or(TokenAuth::ClientSecretPost);
    let needed = |field: &str| format!("{field} is needed with token_auth {method:?}");
    match method {
        TokenAuth::ClientSecretPost | TokenAuth::ClientSecretBasic => {
            let Some(file) = &s.client_secret_file else {
                problems.report(
                    path,
                    &s.redirect_uri.referenced,
                    needed("client_secret_file"),
                );
                return None;
            };
            let secret = Secret(read(path, "client_secret_file", file, base, problems)?);
            Some(if method == TokenAuth::ClientSecretPost {
                ClientAuth::SecretPost(secret)
            } else {
                ClientAuth::SecretBasic(secret)
            })
        }
        TokenAuth::PrivateKeyJwt => {
            let Some(file) = &s.private_key_file else {
                problems.report(path, &s.redirect_uri.referenced, needed("private_key_file"));
                return None;
            };
            let pem = read(path, "private_key_file", file, base, problems)?;
            let alg = if EncodingKey::from_ec_pem(pem.as_bytes()).is_ok() {
                Algorithm::ES256
            } else if EncodingKey::from_rsa_pem(pem.as_bytes()).is_ok() {
                Algorithm::RS256
            } else {
                problems.report(
                    format!("{path}.private_key_file"),
                    &file.referenced,
                    "expected a P-256 or RSA private key (PEM)",
                );
                return None;
            };
            Some(ClientAuth::PrivateKeyJwt {
                alg,
                pem: Secret(pem),
            })
        }
    }
}

/// The trimmed, non-empty content of a secret file.
fn read(
    path: &str,
    field: &str,
    file: &Spanned<PathBuf>,
    base: &Path,
    problems: &mut Problems,
) -> Option<String> {
    let full = base.join(&file.value);
    match std::fs::read_to_string(&full) {
        Ok(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
        Ok(_) => {
            problems.report(
                format!("{path}.{field}"),
                &file.referenced,
                format!("{} is empty", full.display()),
            );
            None
        }
        Err(e) => {
            problems.report(
                format!("{path}.{field}"),
                &file.referenced,
                format!("cannot read {}: {e}", full.display()),
            );
            None
        }
    }
}
