//! Browser login: the login page, the OpenID Connect authorization code flow with PKCE, the
//! callback that creates a session, and logout.
//!
//! Owns everything under `/vigie/`: requests there never reach a route.
//!
//! - `GET /vigie/login?return_to=&profile=`: the page (profile choice, then providers).
//! - `GET /vigie/login/NAME?return_to=`: starts a login with provider NAME.
//! - `GET /vigie/callback/NAME`: the provider's answer; creates the session.
//! - `GET /vigie/logout`: a confirmation page; `POST /vigie/logout` (with its CSRF token)
//!   ends the session everywhere, then the provider's session (`end_session`).
//! - `GET /vigie/logged-out`: where providers return after logout (`state` checked).

mod flow;
mod page;
mod return_to;
mod saml;
mod spec;
mod token;

use std::sync::Arc;
use std::time::Instant;

use http::Method;
use pingora::http::RequestHeader;

pub use flow::LoginError;
pub use spec::{ClientAuth, LoginSpec, Secret};

use crate::metrics::Metrics;
use crate::pages::{LoginFailure, Page, Rejection};
use crate::reload::Generation;
use crate::sessions::{SessionId, SessionRecord, Sessions, cookie};

/// Prefix of the paths Vigie answers itself.
pub const PREFIX: &str = "/vigie/";
/// Largest request body read (the logout form).
pub const MAX_BODY: usize = 8 * 1024;
/// Largest body read at a SAML ACS: a response of the 256 KiB the XML reader accepts,
/// base64- and form-encoded.
pub const MAX_ACS_BODY: usize = 512 * 1024;

/// Largest request body read for `path`.
pub fn body_limit(path: &str) -> usize {
    if path.starts_with("/vigie/saml/") && path.ends_with("/acs") {
        MAX_ACS_BODY
    } else {
        MAX_BODY
    }
}

/// Answers the `/vigie/` paths.
pub struct LoginService {
    sessions: Arc<Sessions>,
    metrics: Arc<Metrics>,
}

/// One request to a `/vigie/` path, as the service needs it.
pub struct LoginRequest<'a> {
    /// The request head.
    pub head: &'a RequestHeader,
    /// Its body (read only for `POST`).
    pub body: &'a [u8],
    /// Its request id.
    pub request_id: &'a str,
    /// Whether errors should be JSON.
    pub wants_json: bool,
    /// `scheme://host[:port]` as the client used it, to complete path-form redirect URIs.
    pub origin: String,
}

/// Whether Vigie answers `path` itself.
pub fn is_login_path(path: &str) -> bool {
    path.starts_with(PREFIX)
}

impl LoginService {
    /// A service over the process's sessions.
    pub fn new(sessions: Arc<Sessions>, metrics: Arc<Metrics>) -> LoginService {
        LoginService { sessions, metrics }
    }

    /// The answer to a `/vigie/` request under `generation`.
    pub async fn answer(&self, generation: &Generation, req: &LoginRequest<'_>) -> Page {
        let path = req.head.uri.path();
        let query: Vec<(String, String)> =
            form_urlencoded::parse(req.head.uri.query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let method = &req.head.method;
        let result = match (method, path) {
            (&Method::GET, "/vigie/login") => Ok(page::login(
                generation,
                param("profile"),
                &return_to::safe(param("return_to")),
            )),
            (&Method::GET, p)
                if let Some(sp) = p
                    .strip_prefix("/vigie/login/")
                    .and_then(|name| generation.auth.saml.get(name)) =>
            {
                self.saml_start(sp, param("return_to"))
            }
            (_, p) if let Some((sp, endpoint)) = saml_endpoint(generation, p) => {
                match (method, endpoint) {
                    (&Method::POST, "acs") => self.saml_acs(sp, req).await,
                    (&Method::GET, "metadata") => Ok(Self::saml_metadata(sp)),
                    (&Method::GET, "slo") => self.saml_slo(sp, req).await,
                    _ => Err(Rejection::NoRoute),
                }
            }
            (&Method::GET, p) if p.starts_with("/vigie/login/") => {
                self.start(
                    generation,
                    &p["/vigie/login/".len()..],
                    param("return_to"),
                    &req.origin,
                )
                .await
            }
            (&Method::GET, p) if p.starts_with("/vigie/callback/") => {
                self.callback(generation, req, &p["/vigie/callback/".len()..], &query)
                    .await
            }
            (&Method::GET, "/vigie/logout") => self.logout_page(generation, req).await,
            (&Method::POST, "/vigie/logout") => self.logout(generation, req, &req.origin).await,
            (&Method::GET, "/vigie/logged-out") => Ok(self.logged_out(req, param("state"))),
            _ => Err(Rejection::NoRoute),
        };
        result.unwrap_or_else(|rejection| rejection.render(req.request_id, req.wants_json))
    }

    /// Starts a login: the sealed pending login in a cookie, the browser to the provider.
    async fn start(
        &self,
        generation: &Generation,
        name: &str,
        return_to: Option<&str>,
        origin: &str,
    ) -> Result<Page, Rejection> {
        let (provider, login) = generation
            .auth
            .providers
            .get(name)
            .and_then(|p| p.spec.login.as_ref().map(|l| (p, l)))
            .ok_or(Rejection::NoRoute)?;
        let (location, pending) = flow::start(
            provider,
            login,
            return_to::safe(return_to),
            origin,
            crate::sessions::unix_now(),
        )
        .await
        .map_err(|e| self.failed(name, &e))?;
        let sealed = self
            .sessions
            .sealer
            .seal("login", &serde_json::to_vec(&pending).unwrap_or_default());
        let age = std::time::Duration::from_secs(flow::PENDING_LIFETIME);
        Ok(redirect(
            &location,
            vec![cookie::set(cookie::LOGIN, &sealed, Some(age))],
        ))
    }

    /// The provider's answer: verify everything, create the session, go back.
    async fn callback(
        &self,
        generation: &Generation,
        req: &LoginRequest<'_>,
        name: &str,
        query: &[(String, String)],
    ) -> Result<Page, Rejection> {
        let now = crate::sessions::unix_now();
        let pending = cookie::get(&req.head.headers, cookie::LOGIN)
            .and_then(|c| self.sessions.sealer.open("login", c))
            .and_then(|plain| serde_json::from_slice::<flow::Pending>(&plain).ok())
            .filter(|p| p.expires >= now && p.provider == name)
            .ok_or_else(|| self.failed(name, &LoginError::NoPending))?;
        let (provider, login) = generation
            .auth
            .providers
            .get(name)
            .and_then(|p| p.spec.login.as_ref().map(|l| (p, l)))
            .ok_or(Rejection::NoRoute)?;
        let acr_order = &generation.config.identity.acr_order;
        let (mut identity, id_token) = flow::finish(
            provider,
            login,
            query,
            &pending,
            acr_order,
            now,
            Instant::now(),
        )
        .await
        .map_err(|e| self.failed(name, &e))?;
        identity.expires_at = now + self.sessions.timeouts.absolute.as_secs();
        let id = SessionId::generate();
        let record = SessionRecord {
            identity: Arc::new(identity),
            id_token: Some(id_token),
            created_at: now,
            saml: None,
        };
        self.sessions
            .store
            .create(&id, record)
            .await
            .map_err(store_unavailable)?;
        self.metrics.login(name, "success");
        tracing::info!(provider = name, "login");
        let cookies = vec![
            cookie::set(
                cookie::SESSION,
                id.as_str(),
                Some(self.sessions.timeouts.absolute),
            ),
            cookie::clear(cookie::LOGIN),
        ];
        Ok(redirect(&pending.return_to, cookies))
    }

    /// The confirmation page, with a CSRF token bound to the session.
    async fn logout_page(
        &self,
        generation: &Generation,
        req: &LoginRequest<'_>,
    ) -> Result<Page, Rejection> {
        Ok(match self.current(req).await? {
            Some((id, record)) => page::logout(
                "Déconnexion",
                "Voulez-vous vous déconnecter de tous les services en ligne ?",
                Some(self.sessions.sealer.seal("csrf", id.as_str().as_bytes())),
                self.end_session_origin(generation, &record)
                    .await
                    .as_deref(),
            ),
            None => page::logout("Déconnexion", "Vous n'êtes pas connecté.", None, None),
        })
    }

    /// Ends the session everywhere, then the provider's session.
    async fn logout(
        &self,
        generation: &Generation,
        req: &LoginRequest<'_>,
        origin: &str,
    ) -> Result<Page, Rejection> {
        let id = cookie::get(&req.head.headers, cookie::SESSION).and_then(SessionId::parse);
        let csrf = form_urlencoded::parse(req.body)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned());
        let genuine = match (&id, csrf) {
            (Some(id), Some(token)) => self
                .sessions
                .sealer
                .open("csrf", &token)
                .is_some_and(|v| v == id.as_str().as_bytes()),
            _ => false,
        };
        if !genuine {
            return Err(Rejection::BadRequest);
        }
        let Some(id) = id else {
            return Err(Rejection::BadRequest);
        };
        let record = self
            .sessions
            .store
            .get(&id)
            .await
            .map_err(store_unavailable)?;
        self.end(&id).await?;
        let mut cookies = vec![cookie::clear(cookie::SESSION)];
        let next = match &record {
            Some(r) if r.saml.is_some() => self.saml_logout(generation, r),
            Some(r) => self
                .end_session_url(generation, r, origin)
                .await
                .map(|(url, state)| {
                    let sealed = self.sessions.sealer.seal("logout", state.as_bytes());
                    let age = Some(std::time::Duration::from_secs(600));
                    (url, Some(cookie::set(cookie::LOGOUT, &sealed, age)))
                }),
            None => None,
        };
        let location = match next {
            Some((url, cookie)) => {
                cookies.extend(cookie);
                url
            }
            None => "/vigie/logged-out".to_string(),
        };
        Ok(redirect(&location, cookies))
    }

    /// The provider's `end_session` URL with `id_token_hint`, `post_logout_redirect_uri` and
    /// a fresh `state`, when the provider supports it.
    async fn end_session_url(
        &self,
        generation: &Generation,
        record: &SessionRecord,
        origin: &str,
    ) -> Option<(String, String)> {
        let provider = generation.auth.providers.get(&*record.identity.provider)?;
        let login = provider.spec.login.as_ref()?;
        let back = LoginSpec::absolute(login.post_logout_redirect_uri.as_deref()?, origin);
        let id_token = record.id_token.as_deref()?;
        let metadata = provider.discovery.metadata().await.ok()?;
        let endpoint = metadata.end_session_endpoint.as_deref()?;
        let state = SessionId::generate().as_str().to_string();
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("id_token_hint", id_token)
            .append_pair("post_logout_redirect_uri", &back)
            .append_pair("state", &state)
            .finish();
        let separator = if endpoint.contains('?') { '&' } else { '?' };
        Some((format!("{endpoint}{separator}{query}"), state))
    }

    /// Back from the provider's logout: its `state` must be the one sent.
    fn logged_out(&self, req: &LoginRequest<'_>, state: Option<&str>) -> Page {
        let expected = cookie::get(&req.head.headers, cookie::LOGOUT)
            .and_then(|c| self.sessions.sealer.open("logout", c));
        let mut page = match (state, expected) {
            (None, None) => page::logout(
                "Vous êtes déconnecté",
                "Votre session est terminée.",
                None,
                None,
            ),
            (Some(s), Some(e)) if s.as_bytes() == e.as_slice() => page::logout(
                "Vous êtes déconnecté",
                "Votre session est terminée, y compris auprès de votre fournisseur d'identité.",
                None,
                None,
            ),
            _ => {
                Rejection::LoginFailed(LoginFailure::Expired).render(req.request_id, req.wants_json)
            }
        };
        page.headers
            .push(("set-cookie", cookie::clear(cookie::LOGOUT)));
        page
    }

    /// Ends session `id` everywhere.
    async fn end(&self, id: &SessionId) -> Result<(), Rejection> {
        self.sessions
            .store
            .delete(id)
            .await
            .map_err(store_unavailable)?;
        self.metrics.logout();
        Ok(())
    }

    /// The session of the request, if it names a live one.
    async fn current(
        &self,
        req: &LoginRequest<'_>,
    ) -> Result<Option<(SessionId, Arc<SessionRecord>)>, Rejection> {
        let Some(id) = cookie::get(&req.head.headers, cookie::SESSION).and_then(SessionId::parse)
        else {
            return Ok(None);
        };
        let record = self
            .sessions
            .store
            .get(&id)
            .await
            .map_err(store_unavailable)?;
        Ok(record.map(|r| (id, r)))
    }

    /// `scheme://host[:port]` of where logout continues at the provider, if anywhere.
    async fn end_session_origin(
        &self,
        generation: &Generation,
        record: &SessionRecord,
    ) -> Option<String> {
        if record.saml.is_some() {
            return self
                .saml_logout(generation, record)
                .and_then(|(url, _)| saml::origin_of(&url));
        }
        let provider = generation.auth.providers.get(&*record.identity.provider)?;
        provider.spec.login.as_ref()?;
        let metadata = provider.discovery.metadata().await.ok()?;
        let uri: http::Uri = metadata.end_session_endpoint.as_deref()?.parse().ok()?;
        Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))
    }

    /// Logs and counts a failed login; the page says what the person can do.
    fn failed(&self, provider: &str, e: &LoginError) -> Rejection {
        self.metrics.login(provider, &e.to_string());
        tracing::warn!(provider, reason = %e, detail = ?e, "login failed");
        Rejection::LoginFailed(match e {
            LoginError::Refused(_) => LoginFailure::Cancelled,
            LoginError::NoPending | LoginError::State => LoginFailure::Expired,
            LoginError::Unavailable(_) => LoginFailure::Unavailable,
            _ => LoginFailure::Unverifiable,
        })
    }
}

/// The SAML provider and endpoint (`acs`, `metadata`, `slo`) of a `/vigie/saml/NAME/X` path.
fn saml_endpoint<'p>(
    generation: &'p Generation,
    path: &'p str,
) -> Option<(&'p crate::saml::provider::SamlProvider, &'p str)> {
    let (name, endpoint) = path.strip_prefix("/vigie/saml/")?.split_once('/')?;
    Some((generation.auth.saml.get(name)?, endpoint))
}

/// A 303 to `location`, setting `cookies`.
fn redirect(location: &str, cookies: Vec<String>) -> Page {
    let mut headers = vec![
        ("location", location.to_string()),
        ("cache-control", "no-store".to_string()),
    ];
    headers.extend(cookies.into_iter().map(|c| ("set-cookie", c)));
    Page {
        status: 303,
        headers,
        body: bytes::Bytes::new(),
    }
}

/// A session store failure met by a login or logout: logged, and a 503 page.
fn store_unavailable(e: crate::sessions::StoreError) -> Rejection {
    tracing::warn!(error = %e, "the session store did not answer; login or logout refused");
    Rejection::SessionStoreUnavailable
}
