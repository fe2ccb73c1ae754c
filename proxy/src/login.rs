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
mod logout;
mod page;
mod queue;
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
    /// The client's address (behind trusted proxies, the first untrusted hop).
    pub client: std::net::IpAddr,
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
        let mut clear_ticket = false;
        if method == Method::GET
            && let Some(name) = path.strip_prefix("/vigie/login/")
            && let Some(room) = generation.waiting_rooms.get(name)
        {
            match self.wait_turn(generation, room, name, req).await {
                queue::Turn::Wait(page) => return page,
                queue::Turn::Go { had_ticket } => clear_ticket = had_ticket,
            }
        }
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
        let mut page =
            result.unwrap_or_else(|rejection| rejection.render(req.request_id, req.wants_json));
        if clear_ticket {
            page.headers
                .push(("set-cookie", crate::waiting::Ticket::clear_cookie()));
        }
        page
    }

    /// Starts a login: the sealed pending login in a cookie, the browser to the provider.
    async fn start(
        &self,
        generation: &Generation,
        name: &str,
        return_to: Option<&str>,
        origin: &str,
    ) -> Result<Page, Rejection> {
        let (provider, login) = login_provider(generation, name)?;
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
        let (provider, login) = login_provider(generation, name)?;
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

/// The OpenID provider `name` and its login settings, if it offers login.
fn login_provider<'g>(
    generation: &'g Generation,
    name: &str,
) -> Result<(&'g Arc<crate::auth::provider::Provider>, &'g LoginSpec), Rejection> {
    generation
        .auth
        .providers
        .get(name)
        .and_then(|p| p.spec.login.as_ref().map(|l| (p, l)))
        .ok_or(Rejection::NoRoute)
}

/// The SAML provider and endpoint (`acs`, `metadata`, `slo`) of a `/vigie/saml/NAME/X` path.
fn saml_endpoint<'p>(
    generation: &'p Generation,
    path: &'p str,
) -> Option<(&'p crate::saml::provider::SamlProvider, &'p str)> {
    let (name, endpoint) = path.strip_prefix("/vigie/saml/")?.split_once('/')?;
    Some((generation.auth.saml.get(name)?, endpoint))
}

/// `base` with `query` appended.
fn with_query(base: &str, query: &str) -> String {
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}{query}")
}

/// The origin (`scheme://host[:port]`) of `url`, for the logout page's CSP.
fn origin_of(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))
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
