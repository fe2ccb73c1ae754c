//! The development provider's pages (French, plain and accessible): the login page, where
//! one picks a demo parent, and short messages.

use std::collections::HashMap;

use bytes::Bytes;
use http::{Response, StatusCode};
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
    crate::devpage::html("FranceConnect", status, title, body)
}

fn escape(text: &str) -> String {
    crate::devpage::escape(text)
}
