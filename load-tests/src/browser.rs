//! A browser logging in through Vigie, as the scenarios and the session benchmark need it: a
//! parent with the development FranceConnect (provider `fc`) or a pupil with the development
//! ÉduConnect (provider `educonnect`, SAML). The login start, the waiting room when there is
//! one (the page's refresh obeyed, the ticket cookie kept), the provider's page answered for a
//! demo account, then the callback (or the SAML auto-post to the ACS) that makes the session.

use std::time::{Duration, Instant};

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::html::{attr_after, hidden_fields};

/// Which development provider to log in with.
#[derive(Clone, Copy, Debug)]
pub enum Idp<'a> {
    /// `load-tests/src/franceconnect.rs` at this issuer, as provider `fc`.
    FranceConnect {
        /// Its issuer URL.
        issuer: &'a str,
    },
    /// `load-tests/src/educonnect.rs`, as provider `educonnect`.
    EduConnect,
}

impl Idp<'_> {
    /// The provider's name in Vigie's config.
    pub fn name(&self) -> &'static str {
        match self {
            Idp::FranceConnect { .. } => "fc",
            Idp::EduConnect => "educonnect",
        }
    }
}

/// How a login went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Login {
    /// Logged in: the session cookie (`name=value`), the time spent in the waiting room and
    /// the waiting pages seen.
    Done {
        /// The session cookie.
        session: String,
        /// Time from the first visit to the admission.
        waited: Duration,
        /// Waiting pages seen (0: admitted at once).
        pages: u32,
    },
    /// The parent gave up after seeing this many waiting pages.
    Abandoned(u32),
    /// Something answered what a login never should.
    Failed(String),
}

/// A `reqwest` client for the simulated browsers: redirects and cookies are handled by hand.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

/// Logs `account` in at Vigie (`base`) through `idp`; `forwarded_for` is sent as
/// `X-Forwarded-For` (Vigie trusts the load generator as a proxy, so each simulated person has
/// an address of its own); gives up after `patience` waiting pages.
pub async fn log_in(
    http: &reqwest::Client,
    base: &str,
    idp: Idp<'_>,
    account: &str,
    forwarded_for: &str,
    patience: u32,
) -> Login {
    let started = Instant::now();
    let mut ticket: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut req = http
            .get(format!(
                "{base}/vigie/login/{}?return_to=%2Flivret%2F",
                idp.name()
            ))
            .header("x-forwarded-for", forwarded_for);
        if let Some(t) = &ticket {
            req = req.header(COOKIE, t.as_str());
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Login::Failed(format!("login start: {e}")),
        };
        match resp.status().as_u16() {
            303 => {
                let waited = started.elapsed();
                let finished = match idp {
                    Idp::FranceConnect { issuer } => {
                        oidc(http, issuer, account, forwarded_for, &resp).await
                    }
                    Idp::EduConnect => saml(http, account, forwarded_for, &resp).await,
                };
                return match finished {
                    Ok(session) => Login::Done {
                        session,
                        waited,
                        pages,
                    },
                    Err(e) => Login::Failed(e),
                };
            }
            200 => {
                pages += 1;
                let Some(cookie) = set_cookie(&resp, "__Host-vigie_wait=") else {
                    return Login::Failed("a 200 without a ticket".into());
                };
                ticket = Some(cookie);
                if pages > patience {
                    return Login::Abandoned(pages);
                }
                let body = resp.text().await.unwrap_or_default();
                tokio::time::sleep(Duration::from_secs(refresh_of(&body))).await;
            }
            other => return Login::Failed(format!("login start answered {other}")),
        }
    }
}

/// FranceConnect's form, then the callback: the session cookie.
async fn oidc(
    http: &reqwest::Client,
    issuer: &str,
    account: &str,
    forwarded_for: &str,
    start: &reqwest::Response,
) -> Result<String, String> {
    let login_cookie = set_cookie(start, "__Host-vigie_login=").ok_or("no login cookie")?;
    let authorize = start
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .ok_or("no Location")?;
    // The browser arrives at the provider; its page posts back the request's parameters.
    let page = http
        .get(authorize)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if page.status() != 200 {
        return Err(format!("the provider's page answered {}", page.status()));
    }
    let query = authorize.split_once('?').map_or("", |(_, q)| q);
    let answer = http
        .post(format!("{issuer}/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("{query}&account={account}&action=login"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let callback = answer
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .ok_or("the provider did not redirect back")?;
    let done = http
        .get(callback)
        .header(COOKIE, login_cookie)
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if done.status() != 303 {
        return Err(format!("the callback answered {}", done.status()));
    }
    set_cookie(&done, "__Host-vigie_session=").ok_or_else(|| "no session cookie".into())
}

/// ÉduConnect's account chooser, its auto-post page, then the ACS: the session cookie.
async fn saml(
    http: &reqwest::Client,
    account: &str,
    forwarded_for: &str,
    start: &reqwest::Response,
) -> Result<String, String> {
    let pending = set_cookie(start, "__Host-vigie_saml=").ok_or("no pending-login cookie")?;
    let sso = start
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .ok_or("no Location")?;
    let chooser = http.get(sso).send().await.map_err(|e| e.to_string())?;
    if chooser.status() != 200 {
        return Err(format!("the IdP's page answered {}", chooser.status()));
    }
    let idp_url = chooser.url().clone();
    let html = chooser.text().await.map_err(|e| e.to_string())?;
    let action = attr_after(&html, "<form", "action").ok_or("no form at the IdP")?;
    let mut form = hidden_fields(&html);
    form.push(("account".into(), account.into()));
    form.push(("action".into(), "login".into()));
    let target = idp_url.join(&action).map_err(|e| e.to_string())?;
    let posted = http
        .post(target)
        .form(&form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let html = posted.text().await.map_err(|e| e.to_string())?;
    let acs = attr_after(&html, "<form", "action").ok_or("no auto-post form")?;
    let done = http
        .post(acs)
        .header(COOKIE, pending)
        .header("x-forwarded-for", forwarded_for)
        .form(&hidden_fields(&html))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if done.status() != 303 {
        return Err(format!("the ACS answered {}", done.status()));
    }
    set_cookie(&done, "__Host-vigie_session=").ok_or_else(|| "no session cookie".into())
}

/// The `name=value` of the cookie a response sets whose header starts with `prefix`.
pub fn set_cookie(resp: &reqwest::Response, prefix: &str) -> Option<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(prefix))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
}

/// Seconds of the waiting page's `<meta http-equiv="refresh" content="N">` (5 if absent).
fn refresh_of(html: &str) -> u64 {
    html.split("http-equiv=\"refresh\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(5)
}
