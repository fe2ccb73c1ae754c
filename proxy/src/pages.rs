//! Every answer Vigie gives on its own: the one place where a failure becomes a status,
//! headers and a body. Browsers get a small French page in the look of the État's design
//! system; clients asking for JSON get an RFC 9457 problem document. Both carry the request id.

use askama::Template;
use bytes::Bytes;

use std::sync::Arc;

use crate::auth::verify::VerifyError;
use crate::auth::{AuthFailure, Denial};
use crate::ratelimit::Refusal;
use crate::routing::PathError;

/// The service name shown in page headers.
pub const SERVICE: &str = "Services en ligne de l'Éducation nationale";
/// Seconds a client is asked to wait before retrying a 503.
const RETRY_AFTER_SECS: u32 = 5;

/// Why Vigie answers a request itself instead of passing the upstream's answer on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// No route serves this host and path.
    NoRoute,
    /// The request path is refused before routing.
    BadPath(PathError),
    /// The route's upstream has no healthy backend.
    NoHealthyBackend,
    /// The backend refused or broke the connection.
    UpstreamUnreachable,
    /// The backend did not answer in time.
    UpstreamTimeout,
    /// The request head was larger than `limits.max_request_header_size`.
    HeadTooLarge,
    /// The client sent its request (head or body) too slowly.
    ClientTooSlow,
    /// A request body larger than Vigie reads for that path (413).
    BodyTooLarge,
    /// The client's request could not be read.
    BadRequest,
    /// A fault in Vigie itself.
    Internal,
    /// No acceptable credential (401, with a `WWW-Authenticate` challenge).
    Unauthenticated(Challenge),
    /// Authenticated, but this profile may not enter (403).
    Forbidden,
    /// A browser without a session on a session route: to the login page (302).
    LoginRequired(String),
    /// The session store cannot answer (503): never an anonymous pass.
    SessionStoreUnavailable,
    /// A login did not complete.
    LoginFailed(LoginFailure),
    /// Over a rate limit (429, with `Retry-After` and the RateLimit fields).
    RateLimited(Box<Refusal>),
    /// The upstream's concurrency limit is reached and the wait for a slot ran out, or too
    /// many requests wait already (503).
    Overloaded,
    /// A policy plugin of the route failed and fails closed (503).
    PluginFailed,
}

/// What a person can do about a failed login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginFailure {
    /// They (or the provider) cancelled it (400).
    Cancelled,
    /// It expired or was not started from this browser (400).
    Expired,
    /// The provider could not be reached (502).
    Unavailable,
    /// The provider's answer failed verification (401).
    Unverifiable,
}

/// The RFC 6750 / RFC 9470 challenge of a 401.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// No credential was sent.
    Missing,
    /// The credential is not a single Bearer token.
    InvalidRequest,
    /// The token is refused; the description says why without naming internals.
    InvalidToken(&'static str),
    /// A stronger authentication is needed: these `acr` values would do.
    InsufficientAcr(Arc<str>),
}

/// A rendered answer.
#[derive(Clone, Debug)]
pub struct Page {
    /// HTTP status.
    pub status: u16,
    /// Headers besides `Content-Length`.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Bytes,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    service: &'a str,
    status: u16,
    title: &'a str,
    lead: &'a str,
    detail: &'a str,
    request_id: &'a str,
}

// === impl Rejection ===

impl Rejection {
    /// The HTTP status answered.
    pub fn status(&self) -> u16 {
        match self {
            Rejection::NoRoute => 404,
            Rejection::BadPath(_) | Rejection::BadRequest => 400,
            Rejection::NoHealthyBackend => 503,
            Rejection::UpstreamUnreachable => 502,
            Rejection::UpstreamTimeout => 504,
            Rejection::HeadTooLarge => 431,
            Rejection::ClientTooSlow => 408,
            Rejection::BodyTooLarge => 413,
            Rejection::Internal => 500,
            Rejection::Unauthenticated(_) => 401,
            Rejection::Forbidden => 403,
            Rejection::LoginRequired(_) => 302,
            Rejection::SessionStoreUnavailable => 503,
            Rejection::LoginFailed(LoginFailure::Cancelled | LoginFailure::Expired) => 400,
            Rejection::LoginFailed(LoginFailure::Unavailable) => 502,
            Rejection::LoginFailed(LoginFailure::Unverifiable) => 401,
            Rejection::RateLimited(_) => 429,
            Rejection::Overloaded | Rejection::PluginFailed => 503,
        }
    }

    /// Renders the answer for a client, as JSON when it asked for it.
    pub fn render(&self, request_id: &str, wants_json: bool) -> Page {
        let status = self.status();
        let text = self.text();
        let mut headers = vec![
            ("cache-control", "no-store".to_string()),
            ("x-content-type-options", "nosniff".to_string()),
            ("x-request-id", request_id.to_string()),
        ];
        if status == 503 || status == 502 {
            headers.push(("retry-after", RETRY_AFTER_SECS.to_string()));
        }
        if let Rejection::RateLimited(refusal) = self {
            headers.push(("retry-after", refusal.retry_after.to_string()));
            for (name, value) in refusal.headers.fields() {
                headers.push((name, value.to_string()));
            }
        }
        if let Rejection::Unauthenticated(challenge) = self {
            headers.push(("www-authenticate", challenge.header()));
        }
        if let Rejection::LoginRequired(location) = self {
            headers.push(("location", location.clone()));
        }
        let body = if wants_json {
            headers.push(("content-type", "application/problem+json".into()));
            serde_json::json!({
                "type": format!("urn:vigie:probleme:{}", text.slug),
                "title": text.title,
                "status": status,
                "detail": format!("{} {}", text.lead, text.detail),
                "request_id": request_id,
            })
            .to_string()
        } else {
            headers.push(("content-type", "text/html; charset=utf-8".into()));
            headers.push((
                "content-security-policy",
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'".into(),
            ));
            let page = ErrorPage {
                service: SERVICE,
                status,
                title: text.title,
                lead: text.lead,
                detail: text.detail,
                request_id,
            };
            page.render()
                .unwrap_or_else(|_| format!("Erreur {status} ({request_id})"))
        };
        Page {
            status,
            headers,
            body: Bytes::from(body),
        }
    }

    /// A complete HTTP/1.1 response closing the connection, for answers given before a
    /// request could be parsed (see `limits::guard`).
    pub fn raw_http1(&self) -> Bytes {
        let page = self.render("-", false);
        let mut out = format!("HTTP/1.1 {} {}\r\n", page.status, reason(page.status));
        for (name, value) in &page.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str(&format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            page.body.len()
        ));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&page.body);
        bytes.into()
    }
}

// === impl Challenge ===

impl Challenge {
    /// The `WWW-Authenticate` value.
    pub fn header(&self) -> String {
        match self {
            Challenge::Missing => r#"Bearer realm="vigie""#.into(),
            Challenge::InvalidRequest => r#"Bearer realm="vigie", error="invalid_request""#.into(),
            Challenge::InvalidToken(why) => {
                format!(r#"Bearer realm="vigie", error="invalid_token", error_description="{why}""#)
            }
            Challenge::InsufficientAcr(acr) => format!(
                r#"Bearer realm="vigie", error="insufficient_user_authentication", error_description="a stronger authentication is required", acr_values="{acr}""#
            ),
        }
    }
}

impl From<&AuthFailure> for Rejection {
    fn from(failure: &AuthFailure) -> Rejection {
        match failure {
            AuthFailure::Missing => Rejection::Unauthenticated(Challenge::Missing),
            AuthFailure::InvalidRequest => Rejection::Unauthenticated(Challenge::InvalidRequest),
            AuthFailure::InvalidToken(e) => {
                Rejection::Unauthenticated(Challenge::InvalidToken(match e {
                    VerifyError::Expired => "the token has expired",
                    VerifyError::NotYetValid => "the token is not valid yet",
                    _ => "the token is invalid",
                }))
            }
            AuthFailure::Denied(Denial::Profile) => Rejection::Forbidden,
            AuthFailure::Denied(Denial::Acr { acceptable }) => {
                Rejection::Unauthenticated(Challenge::InsufficientAcr(acceptable.clone()))
            }
            AuthFailure::StoreUnavailable => Rejection::SessionStoreUnavailable,
        }
    }
}

/// Whether the `Accept` header prefers JSON (an API client) over HTML (a browser).
pub fn wants_json(accept: Option<&[u8]>) -> bool {
    let Some(accept) = accept.and_then(|a| std::str::from_utf8(a).ok()) else {
        return false;
    };
    let accept = accept.to_ascii_lowercase();
    (accept.contains("application/json") || accept.contains("+json"))
        && !accept.contains("text/html")
}

fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

mod text;

#[cfg(test)]
mod tests;
