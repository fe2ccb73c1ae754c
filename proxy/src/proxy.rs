//! The request pipeline: one Pingora `ProxyHttp` whose phases each read the request, call one
//! decision function, and act on its result.
//!
//! `request_filter`: request id, client address, path normalisation, route selection (or a
//! local answer). `upstream_peer`: a healthy backend of the route's pool. `upstream_request_filter`:
//! path rewrite, forwarding headers, route header rules. `response_filter`: hop-by-hop clean-up,
//! route header rules. `fail_to_proxy`: the failure page. `logging`: metrics and access log.

mod app;
mod ctx;
mod failure;
mod forward;
mod plugins;

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::lb::Backend;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorType, Result};

pub use app::EdgeApp;
pub use ctx::RequestCtx;

use crate::auth::{Access, AuthFailure};
use crate::config::file::Balancing;
use crate::login::{self, LoginRequest, LoginService};
use crate::metrics::{Metrics, UpstreamError};
use crate::pages::{Page, Rejection};
use crate::reload::Generation;
use crate::reload::Generations;
use crate::routing::Route;
use crate::sessions::Sessions;

/// Vigie's `ProxyHttp`; long-lived state only (per-request state is in [`RequestCtx`]).
pub struct EdgeProxy {
    generations: Arc<Generations>,
    metrics: Arc<Metrics>,
    sessions: Arc<Sessions>,
    login: LoginService,
}

impl EdgeProxy {
    /// A proxy serving whatever generation is current when each request starts, with the
    /// process's sessions.
    pub fn new(
        generations: Arc<Generations>,
        metrics: Arc<Metrics>,
        sessions: Arc<Sessions>,
    ) -> EdgeProxy {
        let login = LoginService::new(sessions.clone(), metrics.clone());
        EdgeProxy {
            generations,
            metrics,
            sessions,
            login,
        }
    }

    /// Answers a `/vigie/` request (reading the body of a `POST`, within a limit).
    async fn login_answer(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        generation: &Generation,
    ) -> Result<Page> {
        let mut body = Vec::new();
        let wants_json = ctx.wants_json;
        if session.req_header().method == http::Method::POST {
            let limit = login::body_limit(session.req_header().uri.path());
            let announced = session
                .req_header()
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok());
            if announced.is_some_and(|n| n > limit) {
                return Ok(Rejection::BodyTooLarge.render(ctx.request_id().as_str(), wants_json));
            }
            while let Some(chunk) = session.read_request_body().await? {
                if body.len() + chunk.len() > limit {
                    return Ok(
                        Rejection::BodyTooLarge.render(ctx.request_id().as_str(), wants_json)
                    );
                }
                body.extend_from_slice(&chunk);
            }
        }
        let request_id = ctx.request_id().clone();
        let origin = ctx
            .forwarded()
            .map(|f| format!("{}://{}", f.proto, f.host.as_deref().unwrap_or("localhost")))
            .unwrap_or_default();
        let req = LoginRequest {
            head: session.req_header(),
            body: &body,
            request_id: request_id.as_str(),
            wants_json,
            origin,
            client: ctx.client().unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])),
        };
        Ok(self.login.answer(generation, &req).await)
    }

    /// Takes a slot of the route's upstream, waiting within its bounds; `Ok(true)` when the
    /// request was answered 503 instead.
    async fn take_slot(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        route: &Route,
    ) -> Result<bool> {
        let Some(gate) = &route.gate else {
            return Ok(false);
        };
        match gate.enter(route.spec.essential).await {
            Ok(permit) => {
                ctx.permit = Some(permit);
                Ok(false)
            }
            Err(_) => {
                self.reject(session, ctx, Rejection::Overloaded).await?;
                Ok(true)
            }
        }
    }

    /// Sends Vigie's own answer for `rejection`.
    async fn reject(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        rejection: Rejection,
    ) -> Result<()> {
        let wants_json = ctx.wants_json;
        let page = rejection.render(ctx.request_id().as_str(), wants_json);
        ctx.rejection = Some(rejection);
        respond(session, page).await
    }
}

#[async_trait]
impl ProxyHttp for EdgeProxy {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new(self.generations.current(), &self.metrics)
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        ctx.begin(session);
        let generation = ctx.generation.clone();
        if login::is_login_path(session.req_header().uri.path()) {
            let page = self.login_answer(session, ctx, &generation).await?;
            respond(session, page).await?;
            return Ok(true);
        }
        if let Some(jwks) = forward::jwks_request(&generation, session.req_header()) {
            respond(session, jwks).await?;
            return Ok(true);
        }
        let admitted = match forward::admit(&generation, session.req_header()) {
            Ok(admitted) => admitted,
            Err(rejection) => {
                self.reject(session, ctx, rejection).await?;
                return Ok(true);
            }
        };
        let route = admitted.route;
        ctx.route = Some(route.clone());
        ctx.upstream_path = admitted.upstream_path;
        if let Err(rejection) = forward::rate_limit(ctx, &route, &route.pre_auth, None) {
            self.reject(session, ctx, rejection).await?;
            return Ok(true);
        }
        let Access::Protected(rule) = &route.spec.access else {
            if self.plugins_on_request(session, ctx, &route).await? {
                return Ok(true);
            }
            return self.take_slot(session, ctx, &route).await;
        };
        let req = session.req_header();
        let outcome = generation
            .auth
            .authenticate(
                rule,
                &req.headers,
                self.sessions.store.as_ref(),
                crate::sessions::unix_now(),
                Instant::now(),
            )
            .await;
        match outcome {
            Ok(who) => {
                let limited =
                    forward::rate_limit(ctx, &route, &route.post_auth, Some(&who.identity));
                ctx.identity = Some(who);
                if let Err(rejection) = limited {
                    self.reject(session, ctx, rejection).await?;
                    return Ok(true);
                }
                if self.plugins_on_request(session, ctx, &route).await? {
                    return Ok(true);
                }
                self.take_slot(session, ctx, &route).await
            }
            Err(failure) => {
                let rejection = match failure {
                    AuthFailure::Missing if rule.session && forward::is_navigation(req) => {
                        Rejection::LoginRequired(forward::login_location(req))
                    }
                    _ => {
                        self.metrics
                            .auth_failure(&route.spec.name, failure.reason());
                        Rejection::from(&failure)
                    }
                };
                self.reject(session, ctx, rejection).await?;
                Ok(true)
            }
        }
    }

    async fn upstream_peer(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        let route = ctx
            .route
            .clone()
            .ok_or_else(|| Error::explain(ErrorType::InternalError, "no route"))?;
        let pool = &route.upstream;
        let key = match pool.spec.balancing {
            Balancing::ConsistentHash => {
                forward::hash_key(&pool.spec.hash_key, session.req_header(), ctx.client())
            }
            Balancing::RoundRobin => Vec::new(),
        };
        let tried: &[Backend] = &ctx.tried;
        let Some(backend) = pool.select(&key, |b| tried.contains(b)) else {
            self.metrics
                .upstream_error(&pool.spec.name, UpstreamError::NoHealthyBackend);
            ctx.rejection = Some(Rejection::NoHealthyBackend);
            return Error::e_explain(
                ErrorType::HTTPStatus(503),
                format!("no healthy backend in {}", pool.spec.name),
            );
        };
        let peer = pool.peer(&backend).ok_or_else(|| {
            Error::explain(ErrorType::InternalError, "backend without an IP address")
        })?;
        ctx.backend = Some(backend);
        Ok(Box::new(peer))
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        let (Some(route), Some(backend)) = (ctx.route.clone(), ctx.backend.take()) else {
            return e;
        };
        let kind = if failure::is_timeout(&e) {
            UpstreamError::Timeout
        } else {
            UpstreamError::Connect
        };
        self.metrics.upstream_error(&route.upstream.spec.name, kind);
        tracing::warn!(upstream = %route.upstream.spec.name, backend = %backend.addr, error = %e, "cannot connect to backend");
        ctx.tried.push(backend);
        // Nothing was sent yet, so another backend may be tried whatever the method.
        e.set_retry(ctx.tried.len() < route.upstream.len());
        e
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        req: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        forward::upstream_request(req, ctx)
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<bytes::Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        self.plugins_on_request_body(body, end_of_stream, ctx).await
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        forward::client_response(resp, ctx)?;
        self.plugins_on_response(resp, ctx).await
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<bytes::Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<std::time::Duration>> {
        self.plugins_on_response_body(body, end_of_stream, ctx)?;
        Ok(None)
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        if let Some(local) = ctx.plugin_answer.take() {
            let status = local.status;
            if session.response_written().is_none() {
                session.set_keepalive(None);
                if let Err(write) = self.plugin_respond(session, ctx, local).await {
                    tracing::debug!(error = %write, "could not send a plugin's answer");
                }
            }
            return FailToProxy {
                error_code: status,
                can_reuse_downstream: false,
            };
        }
        let outcome = failure::classify(e, ctx.rejection.as_ref());
        if let (Some(kind), Some(route)) = (outcome.upstream_error, &ctx.route) {
            self.metrics.upstream_error(&route.upstream.spec.name, kind);
        }
        let mut code = 0;
        if let Some(rejection) = outcome.rejection {
            code = rejection.status();
            if session.response_written().is_none() {
                // Pingora closes the client connection after a failed proxy attempt; say so,
                // or a client reusing the connection races the close and sees a reset.
                session.set_keepalive(None);
                if let Err(write) = self.reject(session, ctx, rejection).await {
                    tracing::debug!(error = %write, "could not send the error page");
                }
            }
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        ctx.finish(session);
    }
}

/// Writes a complete local answer (no body for HEAD).
async fn respond(session: &mut Session, page: Page) -> Result<()> {
    let mut resp = ResponseHeader::build(page.status, Some(page.headers.len() + 1))?;
    for (name, value) in page.headers {
        resp.append_header(name, value)?;
    }
    resp.insert_header("content-length", page.body.len().to_string())?;
    let head = session.req_header().method == http::Method::HEAD;
    session.write_response_header(Box::new(resp), head).await?;
    if !head {
        session.write_response_body(Some(page.body), true).await?;
    }
    Ok(())
}
