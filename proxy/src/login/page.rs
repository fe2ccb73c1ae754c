//! The login and logout pages (French, in the look of the État's design system).

use askama::Template;
use bytes::Bytes;

use crate::config::file::ButtonStyle;
use crate::pages::{Page, SERVICE};
use crate::reload::Generation;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    service: &'a str,
    title: &'a str,
    profile: Option<&'a str>,
    return_to: String,
    providers: Vec<Choice>,
}

struct Choice {
    href: String,
    label: String,
    franceconnect: bool,
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage<'a> {
    service: &'a str,
    title: &'a str,
    lead: &'a str,
    csrf: Option<String>,
}

/// The login page: the profile choice, then the providers offered to that profile
/// (FranceConnect first, with its official button).
pub(super) fn login(generation: &Generation, profile: Option<&str>, return_to: &str) -> Page {
    let encoded: String = form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
    let chosen = profile.and_then(|p| match p {
        "responsable" => Some(("responsable", "représentant légal")),
        "eleve" => Some(("eleve", "élève")),
        _ => None,
    });
    let mut providers: Vec<Choice> = chosen
        .map(|(key, _)| {
            generation
                .auth
                .providers
                .values()
                .filter_map(|p| p.spec.login.as_ref().map(|l| (p, l)))
                .filter(|(_, l)| l.offered_to.iter().any(|o| o == key))
                .map(|(p, l)| Choice {
                    href: format!("/vigie/login/{}?return_to={encoded}", p.name),
                    label: l.label.clone(),
                    franceconnect: l.button == ButtonStyle::Franceconnect,
                })
                .chain(
                    generation
                        .auth
                        .saml
                        .values()
                        .filter(|p| p.spec.offered_to.iter().any(|o| o == key))
                        .map(|p| Choice {
                            href: format!("/vigie/login/{}?return_to={encoded}", p.name),
                            label: p.spec.label.clone(),
                            franceconnect: false,
                        }),
                )
                .collect()
        })
        .unwrap_or_default();
    providers.sort_by_key(|c| !c.franceconnect);
    let page = LoginPage {
        service: SERVICE,
        title: "Connexion",
        profile: chosen.map(|(_, label)| label),
        return_to: encoded,
        providers,
    };
    html(200, page.render(), None)
}

/// The logout confirmation (with a CSRF token) or a plain message. The form's answer
/// redirects to the provider's logout at `provider_origin`, which the page's CSP must allow
/// (browsers apply `form-action` to redirects too).
pub(super) fn logout(
    title: &str,
    lead: &str,
    csrf: Option<String>,
    provider_origin: Option<&str>,
) -> Page {
    let page = LogoutPage {
        service: SERVICE,
        title,
        lead,
        csrf,
    };
    html(200, page.render(), provider_origin)
}

fn html(status: u16, body: Result<String, askama::Error>, form_target: Option<&str>) -> Page {
    let form_action = match form_target {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_string(),
    };
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action {form_action}; frame-ancestors 'none'"
    );
    Page {
        status,
        headers: vec![
            ("content-type", "text/html; charset=utf-8".into()),
            ("cache-control", "no-store".into()),
            ("x-content-type-options", "nosniff".into()),
            ("content-security-policy", csp),
        ],
        body: Bytes::from(body.unwrap_or_else(|_| "Erreur".into())),
    }
}
