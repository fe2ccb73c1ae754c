//! The route's plugins in Pingora's phases: the request head after authentication, the
//! request body, the response head and body, and the plugin's answers (see
//! [`crate::plugins::stream`] for the driver; [`maps`] for the conversions).

mod maps;

use std::sync::Arc;

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::{Error, ErrorSource, ErrorType, Result};
use sync_wrapper::SyncWrapper;

use super::EdgeProxy;
use super::ctx::RequestCtx;
use crate::pages::Rejection;
use crate::plugins::{Body, HeaderList, LocalResponse, PluginRun, Verdict};
use crate::routing::Route;
use maps::{
    apply_request_map, apply_response_map, facts, request_map, response_from_map, response_map,
};

/// The error that makes Pingora drop the client connection without an answer.
fn closed() -> Box<Error> {
    let mut e = Error::explain(ErrorType::ConnectionClosed, "a plugin closed the request");
    e.esource = ErrorSource::Downstream;
    e
}

impl EdgeProxy {
    /// Runs the route's plugins on the request head; `Ok(true)` when the request was answered.
    pub(super) async fn plugins_on_request(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        route: &Arc<Route>,
    ) -> Result<bool> {
        if route.plugins.is_empty() {
            return Ok(false);
        }
        let facts = facts(session, ctx, route);
        let map = request_map(session.req_header(), facts.scheme);
        let mut run = PluginRun::new(&route.plugins, facts);
        let eos = session.is_body_empty();
        let verdict = run.request_headers(map, eos).await;
        let changed = run.changed_request();
        ctx.plugin_request_eos = eos;
        ctx.plugins = Some(SyncWrapper::new(run));
        if let Some(map) = changed {
            match apply_request_map(&map, session.req_header_mut()) {
                Ok(Some(path)) => {
                    let (p, q) = path
                        .split_once('?')
                        .map_or((path.as_str(), None), |(p, q)| (p, Some(q)));
                    let target = route.upstream_path(p);
                    ctx.upstream_path = Some(match q {
                        Some(q) => format!("{target}?{q}"),
                        None => target.into_owned(),
                    });
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(route = %route.spec.name, error = %e, "plugin change refused");
                    self.reject(session, ctx, Rejection::PluginFailed).await?;
                    return Ok(true);
                }
            }
        }
        self.plugin_verdict(session, ctx, verdict).await
    }

    /// Acts on a request-side verdict; `Ok(true)` when the request was answered.
    async fn plugin_verdict(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        verdict: Verdict,
    ) -> Result<bool> {
        match verdict {
            Verdict::Continue => Ok(false),
            Verdict::Respond(local) => {
                self.plugin_respond(session, ctx, local).await?;
                Ok(true)
            }
            Verdict::Close => Err(closed()),
            Verdict::Fail { .. } => {
                self.reject(session, ctx, Rejection::PluginFailed).await?;
                Ok(true)
            }
            Verdict::TooLarge => {
                self.reject(session, ctx, Rejection::BodyTooLarge).await?;
                Ok(true)
            }
        }
    }

    /// Writes a plugin's answer, after the response callbacks of the plugins before it saw it
    /// (as Envoy runs a local reply through the encoder filters).
    pub(super) async fn plugin_respond(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        local: LocalResponse,
    ) -> Result<()> {
        let mut map = HeaderList::default();
        map.add(b":status", local.status.to_string().as_bytes());
        map.0.extend(local.headers.0.iter().cloned());
        let mut body = local.body.clone();
        if let Some(run) = ctx.plugins.as_mut().map(SyncWrapper::get_mut) {
            // A second answer from these callbacks is ignored: the first one stands.
            let _ = run.response_headers(map.clone(), body.is_empty()).await;
            if let Some(seen) = run.response_head() {
                map = seen;
            }
            if let Body::Forward(b) = run.response_body(std::mem::take(&mut body), true) {
                body = b;
            } else {
                body = local.body;
            }
        }
        let mut resp =
            response_from_map(&map).or_else(|_| ResponseHeader::build(local.status, None))?;
        // As Envoy's local replies: a body without a type is text.
        if !body.is_empty() && resp.headers.get(http::header::CONTENT_TYPE).is_none() {
            resp.insert_header(http::header::CONTENT_TYPE, "text/plain")?;
        }
        resp.remove_header(&http::header::CONTENT_LENGTH);
        resp.remove_header(&http::header::TRANSFER_ENCODING);
        resp.insert_header(http::header::CONTENT_LENGTH, body.len().to_string())?;
        let head = session.req_header().method == http::Method::HEAD;
        session.write_response_header(Box::new(resp), head).await?;
        if !head {
            session.write_response_body(Some(body.into()), true).await?;
        }
        Ok(())
    }

    /// Runs the plugins on a request body chunk.
    pub(super) async fn plugins_on_request_body(
        &self,
        body: &mut Option<Bytes>,
        eos: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if ctx.plugin_request_eos {
            return Ok(());
        }
        let Some(run) = ctx.plugins.as_mut().map(SyncWrapper::get_mut) else {
            return Ok(());
        };
        let chunk = body.take().map(Vec::from).unwrap_or_default();
        match run.request_body(chunk, eos).await {
            Body::Forward(data) => {
                *body = (!data.is_empty()).then(|| Bytes::from(data));
                Ok(())
            }
            Body::Stop(verdict) => Err(self.late_verdict(ctx, verdict)),
        }
    }

    /// A verdict given once the upstream exchange began: the answer is left for
    /// `fail_to_proxy` to write, and the exchange is aborted.
    fn late_verdict(&self, ctx: &mut RequestCtx, verdict: Verdict) -> Box<Error> {
        match verdict {
            Verdict::Respond(local) => {
                ctx.plugin_answer = Some(local);
                Error::explain(ErrorType::HTTPStatus(599), "a plugin answered")
            }
            Verdict::Fail { .. } => {
                ctx.rejection = Some(Rejection::PluginFailed);
                Error::explain(ErrorType::HTTPStatus(503), "a plugin failed")
            }
            Verdict::TooLarge => {
                ctx.rejection = Some(Rejection::BodyTooLarge);
                Error::explain(ErrorType::HTTPStatus(413), "a plugin held too much body")
            }
            Verdict::Close | Verdict::Continue => closed(),
        }
    }

    /// Runs the plugins on the response head.
    pub(super) async fn plugins_on_response(
        &self,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let Some(run) = ctx.plugins.as_mut().map(SyncWrapper::get_mut) else {
            return Ok(());
        };
        let empty = matches!(resp.status.as_u16(), 204 | 304)
            || resp
                .headers
                .get(http::header::CONTENT_LENGTH)
                .is_some_and(|v| v == "0");
        let verdict = run.response_headers(response_map(resp), empty).await;
        let replacement = match verdict {
            Verdict::Continue => {
                if let Some(map) = run.changed_response() {
                    apply_response_map(&map, resp).map_err(|e| {
                        Error::because(ErrorType::InternalError, "plugin response change", e)
                    })?;
                }
                return Ok(());
            }
            Verdict::Respond(local) => local,
            Verdict::Fail { .. } | Verdict::TooLarge => {
                let wants_json = ctx.wants_json;
                let page = Rejection::PluginFailed.render(ctx.request_id().as_str(), wants_json);
                ctx.rejection = Some(Rejection::PluginFailed);
                let mut headers = HeaderList::default();
                for (name, value) in page.headers {
                    headers.add(name.as_bytes(), value.as_bytes());
                }
                LocalResponse {
                    status: 503,
                    headers,
                    body: page.body.to_vec(),
                    details: String::new(),
                }
            }
            Verdict::Close => return Err(closed()),
        };
        let mut map = HeaderList::default();
        map.add(b":status", replacement.status.to_string().as_bytes());
        map.0.extend(replacement.headers.0);
        let mut new = response_from_map(&map)
            .map_err(|e| Error::because(ErrorType::InternalError, "plugin answer", e))?;
        new.insert_header(
            http::header::CONTENT_LENGTH,
            replacement.body.len().to_string(),
        )?;
        *resp = new;
        ctx.plugin_body = Some(replacement.body);
        Ok(())
    }

    /// Runs the plugins on a response body chunk (or replaces the body by a plugin's answer).
    pub(super) fn plugins_on_response_body(
        &self,
        body: &mut Option<Bytes>,
        eos: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some(replacement) = &mut ctx.plugin_body {
            *body = eos.then(|| Bytes::from(std::mem::take(replacement)));
            return Ok(());
        }
        let Some(run) = ctx.plugins.as_mut().map(SyncWrapper::get_mut) else {
            return Ok(());
        };
        let chunk = body.take().map(Vec::from).unwrap_or_default();
        match run.response_body(chunk, eos) {
            Body::Forward(data) => {
                *body = (!data.is_empty()).then(|| Bytes::from(data));
                Ok(())
            }
            Body::Stop(verdict) => {
                // The head is gone: nothing but closing the connection is left.
                tracing::warn!(?verdict, "a plugin stopped a response already under way");
                Err(closed())
            }
        }
    }
}
