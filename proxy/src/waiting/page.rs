//! The ticket a waiting browser holds, and the waiting page (French, in the look of the
//! État's design system, accessible: the position is announced politely by screen readers,
//! the page reloads itself and can be reloaded by hand).

use std::time::Duration;

use askama::Template;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{Admission, Scope};
use crate::pages::{Page, SERVICE};
use crate::sessions::cookie;
use crate::sessions::seal::Sealer;

/// Name of the cookie holding the sealed ticket.
pub const COOKIE: &str = "__Host-vigie_wait";
/// Purpose of the seal: a ticket cannot be passed off as any other sealed value.
const PURPOSE: &str = "waiting-room";

/// A place in a room; sealed in [`COOKIE`], so the browser can neither forge nor edit it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// The provider the person waits for.
    pub provider: String,
    /// The queue that issued it.
    pub scope: Scope,
    /// Its number in that queue.
    pub number: u64,
    /// When it was issued (ms since the epoch).
    pub issued: u64,
}

#[derive(Template)]
#[template(path = "waiting.html")]
struct WaitingPage<'a> {
    service: &'a str,
    title: &'a str,
    provider: &'a str,
    position: String,
    estimate: String,
    refresh: u64,
    ttl: u64,
    here: &'a str,
}

impl Ticket {
    /// The ticket in the request's cookie, if one is there and its seal holds.
    pub fn from_cookie(headers: &http::HeaderMap, sealer: &Sealer) -> Option<Ticket> {
        let sealed = cookie::get(headers, COOKIE)?;
        serde_json::from_slice(&sealer.open(PURPOSE, sealed)?).ok()
    }

    /// The `Set-Cookie` value carrying this ticket for `lifetime`.
    pub fn set_cookie(&self, sealer: &Sealer, lifetime: Duration) -> String {
        let sealed = sealer.seal(PURPOSE, &serde_json::to_vec(self).unwrap_or_default());
        cookie::set(COOKIE, &sealed, Some(lifetime))
    }

    /// The `Set-Cookie` value removing the ticket.
    pub fn clear_cookie() -> String {
        cookie::clear(COOKIE)
    }
}

/// The page for a person told to wait (`admission` is a [`Admission::Wait`]); `here` is the
/// login URL the page reloads.
pub fn waiting_page(
    admission: &Admission,
    provider_label: &str,
    ttl: Duration,
    sealer: &Sealer,
    here: &str,
) -> Option<Page> {
    let Admission::Wait {
        ticket,
        ahead,
        estimate,
        refresh,
    } = admission
    else {
        return None;
    };
    let page = WaitingPage {
        service: SERVICE,
        title: "Vous êtes dans la file d'attente",
        provider: provider_label,
        position: group_digits(ahead + 1),
        estimate: estimate_fr(*estimate),
        refresh: refresh.as_secs().max(1),
        ttl: ttl.as_secs(),
        here,
    };
    let body = page.render().unwrap_or_else(|_| "File d'attente".into());
    Some(Page {
        status: 200,
        headers: vec![
            ("content-type", "text/html; charset=utf-8".into()),
            ("cache-control", "no-store".into()),
            ("retry-after", refresh.as_secs().max(1).to_string()),
            (
                "content-security-policy",
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'".into(),
            ),
            ("set-cookie", ticket.set_cookie(sealer, ttl + *refresh)),
        ],
        body: Bytes::from(body),
    })
}

/// `12345` as `12 345` (French grouping, with a narrow no-break space).
fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// A wait in words, rounded up: "moins d'une minute", "environ 4 minutes", "environ 2 h 15".
fn estimate_fr(d: Duration) -> String {
    let minutes = d.as_secs().div_ceil(60);
    match minutes {
        0 | 1 => "moins d'une minute".into(),
        2..=59 => format!("environ {minutes} minutes"),
        _ => format!("environ {} h {:02}", minutes / 60, minutes % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_waits_read_as_french() {
        assert_eq!(group_digits(7), "7");
        assert_eq!(group_digits(1234), "1\u{202f}234");
        assert_eq!(group_digits(1234567), "1\u{202f}234\u{202f}567");
        assert_eq!(estimate_fr(Duration::from_secs(20)), "moins d'une minute");
        assert_eq!(estimate_fr(Duration::from_secs(61)), "environ 2 minutes");
        assert_eq!(estimate_fr(Duration::from_secs(8100)), "environ 2 h 15");
    }
}
