//! The waiting room at the start of a login: a visit to `/vigie/login/NAME` either goes on
//! to the provider or gets the waiting page (see `crate::waiting`).

use super::{LoginRequest, LoginService};
use crate::pages::{Page, Rejection};
use crate::ratelimit::{self, RateHeaders, Requester};
use crate::reload::Generation;
use crate::sessions::{SessionId, cookie};
use crate::waiting::{Admission, Ticket, WaitingRoom, now_ms, waiting_page};

/// What the start of a login does.
pub(super) enum Turn {
    /// Answer with this waiting page.
    Wait(Page),
    /// Go on; `had_ticket` when the browser's ticket must now be cleared.
    Go {
        /// Whether the browser held a ticket.
        had_ticket: bool,
    },
}

impl LoginService {
    /// The visit of `req` to the waiting room of provider `name`.
    pub(super) async fn wait_turn(
        &self,
        generation: &Generation,
        room: &WaitingRoom,
        name: &str,
        req: &LoginRequest<'_>,
    ) -> Turn {
        let headers = &req.head.headers;
        let ticket = Ticket::from_cookie(headers, &self.sessions.sealer);
        // People already logged in never queue (a failing store does not count as a session).
        if let Some(id) = cookie::get(headers, cookie::SESSION).and_then(SessionId::parse)
            && let Ok(Some(_)) = self.sessions.store.get(&id).await
        {
            return Turn::Go {
                had_ticket: ticket.is_some(),
            };
        }
        // The room's rate limits first: one client cannot take a thousand places.
        let limits: Vec<_> = room
            .spec
            .rate_limits
            .iter()
            .filter_map(|n| generation.rate_limits.get(n).cloned())
            .collect();
        let route: std::sync::Arc<str> = format!("login:{name}").into();
        let who = Requester {
            client: req.client,
            identity: None,
            route: &route,
        };
        if let Err(refusal) = ratelimit::check_all(&limits, &who, &mut RateHeaders::default()) {
            let page = Rejection::RateLimited(Box::new(refusal));
            return Turn::Wait(page.render(req.request_id, req.wants_json));
        }
        let admission = room
            .visit(ticket.as_ref(), self.sessions.redis.as_deref(), now_ms())
            .await;
        if admission == Admission::Full {
            return Turn::Wait(Rejection::Overloaded.render(req.request_id, req.wants_json));
        }
        let here = req
            .head
            .uri
            .path_and_query()
            .map_or("/vigie/login", |p| p.as_str());
        let page = waiting_page(
            &admission,
            &provider_label(generation, name),
            room.spec.ticket_ttl,
            &self.sessions.sealer,
            here,
        );
        match page {
            Some(page) => Turn::Wait(page),
            None => Turn::Go {
                had_ticket: ticket.is_some(),
            },
        }
    }
}

/// How the page names provider `name`: its login label.
fn provider_label(generation: &Generation, name: &str) -> String {
    let oidc = generation
        .auth
        .providers
        .get(name)
        .and_then(|p| p.spec.login.as_ref())
        .map(|l| l.label.clone());
    let saml = || generation.auth.saml.get(name).map(|p| p.spec.label.clone());
    oidc.or_else(saml).unwrap_or_else(|| name.to_string())
}
