//! The development provider's pages (French, plain and accessible): the login page, where
//! one picks a demo parent, and short messages.

use std::collections::HashMap;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;

use super::Person;

/// Parameters of the authorization request carried through the login form.
const CARRIED: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "acr_values",
];

/// The login page for the (already checked) authorization request `query`.
pub(super) fn login(people: &[Person], query: &HashMap<String, String>) -> Response<Full<Bytes>> {
    let hidden: String = CARRIED
        .iter()
        .filter_map(|k| query.get(*k).map(|v| (k, v)))
        .map(|(k, v)| format!(r#"<input type="hidden" name="{k}" value="{}">"#, escape(v)))
        .collect();
    let accounts: String = people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                r#"<div class="choice"><input type="radio" id="account-{i}" name="account" value="{sub}"{checked}>
<label for="account-{i}">{given} {family} <span class="hint">née ou né le {birth}</span></label></div>"#,
                sub = escape(p.sub),
                checked = if i == 0 { " checked" } else { "" },
                given = escape(p.given_name),
                family = escape(p.family_name),
                birth = escape(p.birthdate),
            )
        })
        .collect();
    let body = format!(
        r#"<p class="lead">Fournisseur d'identité de <strong>démonstration</strong>, à la place de FranceConnect. Aucun mot de passe : choisissez la personne à connecter.</p>
<form method="post" action="/authorize">{hidden}
<fieldset><legend>Je me connecte en tant que</legend>{accounts}</fieldset>
<p class="actions"><button type="submit" name="action" value="login">Se connecter</button>
<button type="submit" name="action" value="cancel" class="secondary">Annuler et revenir au service</button></p>
</form>"#
    );
    html(StatusCode::OK, "Connexion", &body)
}

/// A page saying `text` under `title`.
pub(super) fn message(status: StatusCode, title: &str, text: &str) -> Response<Full<Bytes>> {
    html(status, title, &format!("<p>{}</p>", escape(text)))
}

fn html(status: StatusCode, title: &str, body: &str) -> Response<Full<Bytes>> {
    let page = format!(
        r#"<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – FranceConnect (démonstration)</title>
<style>
body{{font-family:Marianne,Arial,sans-serif;margin:0;color:#161616;background:#f6f6f6}}
header{{background:#000091;color:#fff;padding:1rem 1.5rem;font-weight:700}}
main{{max-width:36rem;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border:1px solid #ddd}}
h1{{font-size:1.6rem;margin-top:0}} fieldset{{border:0;padding:0}} legend{{font-weight:700;margin-bottom:.5rem}}
.choice{{margin:.5rem 0}} .hint{{display:block;color:#666;font-size:.85rem;margin-left:1.6rem}}
button{{background:#000091;color:#fff;border:0;padding:.6rem 1.2rem;font-size:1rem;cursor:pointer;margin:.25rem .5rem .25rem 0}}
button.secondary{{background:#fff;color:#000091;border:1px solid #000091}}
button:focus,input:focus{{outline:3px solid #0a76f6;outline-offset:2px}}
</style></head>
<body><header>FranceConnect <span aria-hidden="true">·</span> démonstration</header>
<main><h1>{title}</h1>{body}</main></body></html>"#,
        title = escape(title),
    );
    let mut resp = Response::new(Full::new(Bytes::from(page)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// `text` safe inside HTML text and double-quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
