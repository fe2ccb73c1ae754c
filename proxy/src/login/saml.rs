//! ÉduConnect logins (SAML 2.0), under `/vigie/login/NAME` and `/vigie/saml/NAME/`:
//!
//! - `GET /vigie/login/NAME`: a signed AuthnRequest (HTTP-Redirect); the pending request
//!   (its ID, `return_to`, expiry) sealed in a `SameSite=None` cookie, since the IdP's answer
//!   is a cross-site POST.
//! - `POST /vigie/saml/NAME/acs`: the Response, verified by `saml::response`; the assertion
//!   ID recorded in the store's replay cache (shared by a fleet) until it expires; then a
//!   session exactly as for FranceConnect.
//! - `GET /vigie/saml/NAME/metadata`: our metadata.
//! - `GET /vigie/saml/NAME/slo`: the IdP's LogoutRequest (ends the session, answers with a
//!   signed LogoutResponse) or its LogoutResponse to ours.

use std::sync::Arc;

use super::{LoginRequest, LoginService, redirect, return_to, store_unavailable};
use crate::pages::{LoginFailure, Page, Rejection};
use crate::reload::Generation;
use crate::saml::messages::{self, Origin, Subject};
use crate::saml::metadata::IdpMetadata;
use crate::saml::provider::SamlProvider;
use crate::saml::redirect::{self as binding, Kind};
use crate::saml::response::{self, Expected, ResponseError};
use crate::sessions::{SamlSession, SessionId, SessionRecord, cookie, unix_now};

/// How long a login may take at the IdP.
const PENDING_LIFETIME: u64 = 600;

/// A login in progress, sealed in the browser.
#[derive(serde::Serialize, serde::Deserialize)]
struct Pending {
    provider: String,
    request_id: String,
    return_to: String,
    expires: u64,
}

impl LoginService {
    /// Starts a login with SAML provider `p`: to the IdP with a signed AuthnRequest.
    pub(super) fn saml_start(
        &self,
        p: &SamlProvider,
        return_to: Option<&str>,
    ) -> Result<Page, Rejection> {
        let metadata = self.idp_metadata(p)?;
        let now = unix_now();
        let id = messages::new_id();
        let xml = messages::authn_request(
            &id,
            now as i64,
            &p.spec.entity_id,
            &metadata.sso_url,
            &p.spec.acs_url,
        );
        let location =
            binding::location(&metadata.sso_url, Kind::Request, &xml, None, p.sign_key());
        let pending = Pending {
            provider: p.spec.name.clone(),
            request_id: id,
            return_to: return_to::safe(return_to),
            expires: now + PENDING_LIFETIME,
        };
        let sealed = self
            .sessions
            .sealer
            .seal("saml", &serde_json::to_vec(&pending).unwrap_or_default());
        let age = std::time::Duration::from_secs(PENDING_LIFETIME);
        Ok(redirect(
            &location,
            vec![cookie::set_cross_site(cookie::SAML, &sealed, Some(age))],
        ))
    }

    /// The IdP's Response at our ACS.
    pub(super) async fn saml_acs(
        &self,
        p: &SamlProvider,
        req: &LoginRequest<'_>,
    ) -> Result<Page, Rejection> {
        let form: Vec<(String, String)> = form_urlencoded::parse(req.body).into_owned().collect();
        let field = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let unverifiable = |reason: &str, detail: &str| {
            self.saml_failed(p, reason, detail, LoginFailure::Unverifiable)
        };
        let raw = field("SAMLResponse")
            .ok_or_else(|| unverifiable("shape", "no SAMLResponse in the form"))?;
        let xml = crate::saml::dsig::decode_base64(raw)
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| unverifiable("shape", "SAMLResponse is not base64 UTF-8"))?;
        let now = unix_now();
        let pending = cookie::get(&req.head.headers, cookie::SAML)
            .and_then(|c| self.sessions.sealer.open("saml", c))
            .and_then(|plain| serde_json::from_slice::<Pending>(&plain).ok())
            .filter(|pending| pending.expires >= now && pending.provider == p.spec.name);
        let metadata = self.idp_metadata(p)?;
        let expected = Expected {
            idp_entity_id: &metadata.entity_id,
            sp_entity_id: &p.spec.entity_id,
            acs_url: &p.spec.acs_url,
            in_response_to: pending.as_ref().map(|x| x.request_id.as_str()),
            allow_unsolicited: p.spec.allow_idp_initiated,
            now: now as i64,
            skew: p.spec.clock_skew.as_secs() as i64,
            max_age: p.spec.max_response_age.as_secs() as i64,
        };
        let login = response::consume(&xml, &metadata.signing_keys, p.decrypt_keys(), &expected)
            .map_err(|e| {
                let failure = match &e {
                    ResponseError::Status(_) => LoginFailure::Cancelled,
                    ResponseError::InResponseTo | ResponseError::Unsolicited => {
                        LoginFailure::Expired
                    }
                    _ => LoginFailure::Unverifiable,
                };
                self.saml_failed(p, e.reason(), &e.to_string(), failure)
            })?;
        let replay_key = format!("saml:{}:{}", p.spec.name, login.assertion_id);
        let until = login.valid_until.max(now as i64 + 1) as u64 + p.spec.clock_skew.as_secs();
        if !self
            .sessions
            .store
            .first_use(&replay_key, until)
            .await
            .map_err(store_unavailable)?
        {
            return Err(unverifiable("replayed", "this assertion was already used"));
        }
        let expires_at = now + self.sessions.timeouts.absolute.as_secs();
        let mapped = p
            .spec
            .attributes
            .identity(&p.name, &login, expires_at)
            .map_err(|e| unverifiable("attributes", &e.to_string()))?;
        let back = match &pending {
            Some(pending) if login.solicited => pending.return_to.clone(),
            _ => return_to::safe(field("RelayState")),
        };
        let record = SessionRecord {
            identity: Arc::new(mapped.identity),
            id_token: None,
            created_at: now,
            saml: Some(SamlSession {
                subject: Subject {
                    name_id: login.name_id,
                    format: login.name_id_format,
                    session_index: login.session_index,
                },
                logout_url: mapped.logout_url,
            }),
        };
        let id = SessionId::generate();
        self.sessions
            .store
            .create(&id, record)
            .await
            .map_err(store_unavailable)?;
        self.metrics.login(&p.spec.name, "success");
        tracing::info!(provider = %p.name, solicited = login.solicited, "login");
        Ok(redirect(
            &back,
            vec![
                cookie::set(
                    cookie::SESSION,
                    id.as_str(),
                    Some(self.sessions.timeouts.absolute),
                ),
                cookie::clear_cross_site(cookie::SAML),
            ],
        ))
    }

    /// Our metadata document.
    pub(super) fn saml_metadata(p: &SamlProvider) -> Page {
        Page {
            status: 200,
            headers: vec![
                ("content-type", "application/samlmetadata+xml".into()),
                ("cache-control", "max-age=300".into()),
            ],
            body: bytes::Bytes::from(p.sp_metadata()),
        }
    }

    /// Single logout: the IdP's request, or its answer to ours.
    pub(super) async fn saml_slo(
        &self,
        p: &SamlProvider,
        req: &LoginRequest<'_>,
    ) -> Result<Page, Rejection> {
        let metadata = p
            .metadata()
            .ok_or(Rejection::LoginFailed(LoginFailure::Unavailable))?;
        let (Some(slo_url), query) = (
            p.spec.slo_url.as_deref(),
            req.head.uri.query().unwrap_or(""),
        ) else {
            return Err(Rejection::NoRoute);
        };
        let origin = Origin {
            idp: &metadata.entity_id,
            slo_url,
            now: unix_now() as i64,
            max_age: (p.spec.max_response_age + p.spec.clock_skew).as_secs() as i64,
        };
        let refused = |what: &str, e: &dyn std::fmt::Display| {
            tracing::warn!(provider = %p.name, reason = %e, "single logout {what} refused");
            Rejection::BadRequest
        };
        if query.split('&').any(|kv| kv.starts_with("SAMLRequest=")) {
            let got = binding::verify(Kind::Request, query, &metadata.signing_keys)
                .map_err(|e| refused("request", &e))?;
            let request = messages::read_logout_request(&got.xml, &origin)
                .map_err(|e| refused("request", &e))?;
            // The browser carries the session the IdP ends (front-channel logout).
            if let Some((id, record)) = self.current(req).await?
                && *record.identity.provider == *p.spec.name
                && record
                    .saml
                    .as_ref()
                    .is_some_and(|s| s.subject.name_id == request.name_id)
            {
                self.end(&id).await?;
            }
            let idp_slo = metadata.slo_url.as_deref().ok_or(Rejection::BadRequest)?;
            let answer = messages::logout_response(
                &messages::new_id(),
                origin.now,
                &p.spec.entity_id,
                idp_slo,
                &request.id,
            );
            let location = binding::location(
                idp_slo,
                Kind::Response,
                &answer,
                got.relay_state.as_deref(),
                p.sign_key(),
            );
            return Ok(redirect(&location, vec![cookie::clear(cookie::SESSION)]));
        }
        let got = binding::verify(Kind::Response, query, &metadata.signing_keys)
            .map_err(|e| refused("response", &e))?;
        let ours = cookie::get(&req.head.headers, cookie::LOGOUT)
            .and_then(|c| self.sessions.sealer.open("saml-logout", c))
            .and_then(|v| String::from_utf8(v).ok())
            .ok_or(Rejection::LoginFailed(LoginFailure::Expired))?;
        let ok = messages::read_logout_response(&got.xml, &ours, &origin)
            .map_err(|e| refused("response", &e))?;
        let lead = if ok {
            "Votre session est terminée, y compris auprès d'ÉduConnect."
        } else {
            "Votre session est terminée ici ; ÉduConnect n'a pas confirmé la fin de la sienne : fermez votre navigateur."
        };
        let mut page = super::page::logout("Vous êtes déconnecté", lead, None, None);
        page.headers
            .push(("set-cookie", cookie::clear(cookie::LOGOUT)));
        Ok(page)
    }

    /// Where a SAML session's logout continues at the IdP: a signed LogoutRequest to its
    /// SLO endpoint, or its `FrEduUrlRetour`; with the cookie remembering our request.
    pub(super) fn saml_logout(
        &self,
        generation: &Generation,
        record: &SessionRecord,
    ) -> Option<(String, Option<String>)> {
        let session = record.saml.as_ref()?;
        let p = generation.auth.saml.get(&*record.identity.provider)?;
        let metadata = p.metadata()?;
        match (metadata.slo_url.as_deref(), p.spec.slo_url.as_deref()) {
            (Some(idp_slo), Some(_)) => {
                let id = messages::new_id();
                let xml = messages::logout_request(
                    &id,
                    unix_now() as i64,
                    &p.spec.entity_id,
                    idp_slo,
                    &session.subject,
                );
                let location = binding::location(idp_slo, Kind::Request, &xml, None, p.sign_key());
                let sealed = self.sessions.sealer.seal("saml-logout", id.as_bytes());
                let cookie = cookie::set(
                    cookie::LOGOUT,
                    &sealed,
                    Some(std::time::Duration::from_secs(600)),
                );
                Some((location, Some(cookie)))
            }
            _ => session.logout_url.clone().map(|u| (u, None)),
        }
    }

    /// The IdP's metadata, or a refusal saying the IdP cannot be used now.
    fn idp_metadata(&self, p: &SamlProvider) -> Result<Arc<IdpMetadata>, Rejection> {
        p.metadata().ok_or_else(|| {
            self.saml_failed(
                p,
                "metadata",
                "no valid IdP metadata",
                LoginFailure::Unavailable,
            )
        })
    }

    /// Logs and counts a refused SAML login; the page says what the person can do.
    fn saml_failed(
        &self,
        p: &SamlProvider,
        reason: &str,
        detail: &str,
        failure: LoginFailure,
    ) -> Rejection {
        self.metrics.login(&p.spec.name, reason);
        tracing::warn!(provider = %p.name, reason, detail, "login failed");
        Rejection::LoginFailed(failure)
    }
}
