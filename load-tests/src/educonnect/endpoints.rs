//! The development IdP's endpoints: every message from the SP checked (signature over the
//! raw query, issuer, destination) before anything is answered.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use vigie::saml::dsig::VerifyKey;
use vigie::saml::messages::{self, Origin, Subject};
use vigie::saml::redirect::{self, Kind, SignKey};
use vigie::saml::xml;

use super::{Account, ServiceProvider, State};
use crate::devpage::{escape, html};
use crate::keys::now;
use crate::saml::{ResponseSpec, oid};
use crate::serve::Reply;

const SSO: &str = "/idp/profile/SAML2/Redirect/SSO";
const SLO: &str = "/idp/profile/SAML2/Redirect/SLO";
const UNSOLICITED: &str = "/idp/profile/SAML2/Unsolicited/SSO";
const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

type Params = HashMap<String, String>;

/// Answers one request.
pub(super) async fn handle(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    let Ok(body) = Limited::new(body, 64 * 1024).collect().await else {
        return Ok(message(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Requête trop volumineuse",
        ));
    };
    let raw_query = parts.uri.query().unwrap_or("");
    let query = params(raw_query.as_bytes());
    let form = params(&body.to_bytes());
    Ok(match (parts.method.as_str(), parts.uri.path()) {
        ("GET", "/idp/metadata") => state.metadata(),
        ("GET", SSO) => match state.authn_request(raw_query) {
            Ok((id, relay)) => {
                state.authn_requests.lock().push(std::time::Instant::now());
                state.chooser(Some(&id), relay.as_deref())
            }
            Err(why) => message(StatusCode::BAD_REQUEST, &why),
        },
        ("GET", UNSOLICITED) => match state.sp() {
            Some(sp) if query.get("providerId") == Some(&sp.entity_id) => {
                state.chooser(None, query.get("target").map(String::as_str))
            }
            _ => message(StatusCode::BAD_REQUEST, "Fournisseur de service inconnu."),
        },
        ("POST", SSO) => state.respond(&form),
        ("GET", SLO) => state.single_logout(raw_query),
        // FrEduUrlRetour: where SPs without single logout send the browser.
        ("GET", "/Logout") => message(StatusCode::OK, "Vous êtes déconnecté d'ÉduConnect."),
        _ => message(StatusCode::NOT_FOUND, "Cette adresse n'existe pas."),
    })
}

fn params(raw: &[u8]) -> Params {
    form_urlencoded::parse(raw).into_owned().collect()
}

fn message(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    html(
        "ÉduConnect",
        status,
        if status.is_success() {
            "ÉduConnect"
        } else {
            "Requête refusée"
        },
        &format!("<p>{}</p>", escape(text)),
    )
}

impl State {
    pub(super) fn sp(&self) -> Option<ServiceProvider> {
        self.sp.lock().clone()
    }

    fn base(&self) -> String {
        self.entity_id.trim_end_matches("/idp").to_string()
    }

    fn metadata(&self) -> Response<Full<Bytes>> {
        let base = self.base();
        let doc = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- development ÉduConnect -->\n\
             <md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" \
             xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{entity}\">\
             <md:IDPSSODescriptor protocolSupportEnumeration=\"{PROTOCOL}\" WantAuthnRequestsSigned=\"true\">\
             <md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}\
             </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\
             <md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{base}{SLO}\"/>\
             <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{base}{SSO}\"/>\
             </md:IDPSSODescriptor></md:EntityDescriptor>\n",
            entity = self.entity_id,
            cert = self.key.cert_base64(),
        );
        let mut resp = Response::new(Full::new(Bytes::from(doc)));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/samlmetadata+xml"),
        );
        resp
    }

    fn sp_keys(&self) -> Option<(ServiceProvider, Vec<VerifyKey>)> {
        let sp = self.sp()?;
        let key = VerifyKey::from_certificate(&sp.signing_cert).ok()?;
        Some((sp, vec![key]))
    }

    /// The checked AuthnRequest of `raw_query`: its ID and RelayState.
    fn authn_request(&self, raw_query: &str) -> Result<(String, Option<String>), String> {
        let (sp, keys) = self
            .sp_keys()
            .ok_or("Aucun fournisseur de service enregistré.")?;
        let got = redirect::verify(Kind::Request, raw_query, &keys)
            .map_err(|e| format!("Demande refusée : {e}."))?;
        let root = xml::parse(&got.xml).map_err(|e| format!("Demande illisible : {e}."))?;
        let issuer = root.child(ASSERTION, "Issuer").map(|i| i.text());
        if !root.is(PROTOCOL, "AuthnRequest") || issuer.as_deref() != Some(sp.entity_id.as_str()) {
            return Err(
                "Ce n'est pas une demande d'authentification du fournisseur de service.".into(),
            );
        }
        if root
            .attr("AssertionConsumerServiceURL")
            .is_some_and(|a| a != sp.acs_url)
        {
            return Err("Adresse de retour inconnue.".into());
        }
        let id = root
            .attr("ID")
            .ok_or("Demande sans identifiant.")?
            .to_string();
        Ok((id, got.relay_state))
    }

    /// The page where one picks an account.
    fn chooser(&self, request: Option<&str>, relay: Option<&str>) -> Response<Full<Bytes>> {
        let accounts: String = self
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let who = match a.affiliation {
                    "eleve1d" => "élève (école)",
                    "eleve2d" => "élève (collège, lycée)",
                    _ => "représentant légal",
                };
                format!(
                    r#"<div class="choice"><input type="radio" id="account-{i}" name="account" value="{id}"{checked}>
<label for="account-{i}">{given} {family} <span class="hint">{who}</span></label></div>"#,
                    id = escape(a.id),
                    checked = if i == 0 { " checked" } else { "" },
                    given = escape(a.given_name),
                    family = escape(a.family_name),
                )
            })
            .collect();
        let body = format!(
            r#"<p class="lead">Fournisseur d'identité de <strong>démonstration</strong>, à la place d'ÉduConnect. Aucun mot de passe : choisissez le compte à connecter.</p>
<form method="post" action="{SSO}"><input type="hidden" name="request" value="{request}"><input type="hidden" name="relay" value="{relay}">
<fieldset><legend>Je me connecte avec le compte</legend>{accounts}</fieldset>
<p class="actions"><button type="submit" name="action" value="login">Se connecter</button>
<button type="submit" name="action" value="cancel" class="secondary">Annuler et revenir au service</button></p>
</form>"#,
            request = escape(request.unwrap_or("")),
            relay = escape(relay.unwrap_or("")),
        );
        html("ÉduConnect", StatusCode::OK, "Connexion", &body)
    }

    /// The Response for the chosen account, in a page posting it to the ACS.
    fn respond(&self, form: &Params) -> Response<Full<Bytes>> {
        let Some(sp) = self.sp() else {
            return message(
                StatusCode::BAD_REQUEST,
                "Aucun fournisseur de service enregistré.",
            );
        };
        let mut spec = ResponseSpec::new(&self.entity_id, &sp.entity_id, &sp.acs_url, now() as i64);
        spec.in_response_to = form.get("request").filter(|r| !r.is_empty()).cloned();
        spec.content = Some(*self.content.lock());
        if form.get("action").map(String::as_str) == Some("cancel") {
            spec.status = Some("urn:oasis:names:tc:SAML:2.0:status:AuthnFailed".into());
        } else {
            let Some(account) = form
                .get("account")
                .and_then(|id| self.accounts.iter().find(|a| a.id == id))
            else {
                return message(StatusCode::BAD_REQUEST, "Compte inconnu.");
            };
            spec = with_attributes(spec, account, &self.entity_id);
            self.issued
                .lock()
                .push((account.id.to_string(), spec.name_id.clone()));
        }
        let xml = spec.response(&self.key, &sp.encryption_cert);
        let relay = form
            .get("relay")
            .filter(|r| !r.is_empty())
            .map(|r| {
                format!(
                    r#"<input type="hidden" name="RelayState" value="{}">"#,
                    escape(r)
                )
            })
            .unwrap_or_default();
        let body = format!(
            r#"<p>Retour au service en cours…</p><form method="post" action="{acs}"><input type="hidden" name="SAMLResponse" value="{response}">{relay}<button type="submit">Continuer</button></form><script>document.forms[0].submit()</script>"#,
            acs = escape(&sp.acs_url),
            response = STANDARD.encode(xml),
        );
        html("ÉduConnect", StatusCode::OK, "Connexion", &body)
    }

    /// Single logout at the IdP: the SP's request, or the SP's answer to ours.
    fn single_logout(&self, raw_query: &str) -> Response<Full<Bytes>> {
        let Some((sp, keys)) = self.sp_keys() else {
            return message(
                StatusCode::BAD_REQUEST,
                "Aucun fournisseur de service enregistré.",
            );
        };
        let origin = Origin {
            idp: &sp.entity_id,
            slo_url: &format!("{}{SLO}", self.base()),
            now: now() as i64,
            max_age: 300,
        };
        if raw_query.contains("SAMLRequest=") {
            let request = redirect::verify(Kind::Request, raw_query, &keys)
                .map_err(|e| e.to_string())
                .and_then(|got| {
                    messages::read_logout_request(&got.xml, &origin).map_err(|e| e.to_string())
                });
            let request = match request {
                Ok(r) => r,
                Err(e) => {
                    return message(
                        StatusCode::BAD_REQUEST,
                        &format!("Demande de déconnexion refusée : {e}."),
                    );
                }
            };
            self.logouts.lock().push(request.name_id);
            let Some(slo) = sp.slo_url.as_deref() else {
                return message(StatusCode::OK, "Vous êtes déconnecté.");
            };
            let answer = messages::logout_response(
                &messages::new_id(),
                now() as i64,
                &self.entity_id,
                slo,
                &request.id,
            );
            return self.redirect(slo, Kind::Response, &answer);
        }
        let ours = self.pending_logout.lock().take().unwrap_or_default();
        match redirect::verify(Kind::Response, raw_query, &keys)
            .map_err(|e| e.to_string())
            .and_then(|got| {
                messages::read_logout_response(&got.xml, &ours, &origin).map_err(|e| e.to_string())
            }) {
            Ok(true) => message(StatusCode::OK, "Vous êtes déconnecté de tous les services."),
            Ok(false) => message(
                StatusCode::OK,
                "Le service n'a pas confirmé la déconnexion.",
            ),
            Err(e) => message(
                StatusCode::BAD_REQUEST,
                &format!("Réponse de déconnexion refusée : {e}."),
            ),
        }
    }

    fn redirect(&self, to: &str, kind: Kind, xml: &str) -> Response<Full<Bytes>> {
        let Ok(key) = SignKey::from_pkcs8(&self.key.key_der) else {
            return message(StatusCode::INTERNAL_SERVER_ERROR, "Clé inutilisable.");
        };
        let location = redirect::location(to, kind, xml, None, &key);
        let mut resp = Response::new(Full::new(Bytes::new()));
        *resp.status_mut() = StatusCode::FOUND;
        if let Ok(v) = http::HeaderValue::try_from(location) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        resp
    }

    /// A signed LogoutRequest to the SP for `name_id`, as a URL.
    pub(super) fn logout_request(&self, name_id: &str) -> Option<String> {
        let sp = self.sp()?;
        let slo = sp.slo_url.as_deref()?;
        let id = messages::new_id();
        let subject = Subject {
            name_id: name_id.to_string(),
            format: Some("urn:oasis:names:tc:SAML:2.0:nameid-format:transient".into()),
            session_index: None,
        };
        let xml = messages::logout_request(&id, now() as i64, &self.entity_id, slo, &subject);
        *self.pending_logout.lock() = Some(id);
        let key = SignKey::from_pkcs8(&self.key.key_der).ok()?;
        Some(redirect::location(slo, Kind::Request, &xml, None, &key))
    }
}

/// The ÉduConnect attributes of `account`.
fn with_attributes(spec: ResponseSpec, a: &Account, idp: &str) -> ResponseSpec {
    let logout = format!("{}/Logout", idp.trim_end_matches("/idp"));
    let mut spec = spec
        .attribute(oid::ID, "FrEduCtId", &[a.id])
        .attribute(
            oid::AFFILIATION,
            "FrEduCtPersonAffiliation",
            &[a.affiliation],
        )
        .attribute(oid::GIVEN_NAME, "givenName", &[a.given_name])
        .attribute(oid::SURNAME, "sn", &[a.family_name])
        .attribute(oid::BIRTH_DATE, "FrEduCtDateNaissance", &[a.birth_date])
        .attribute(oid::LOGOUT_URL, "FrEduUrlRetour", &[&logout]);
    if a.affiliation.starts_with("eleve") {
        spec = spec
            .attribute(oid::UAI, "FrEduCtEleveUAI", &[a.uai])
            .attribute(
                oid::INE_HASH,
                "FrEduCtEleveINEHash",
                &[&format!("{:032x}", a.id.len() * 7919)],
            )
            .attribute(
                oid::LEVEL,
                "FrEduCtEleveNiveau",
                &[if a.affiliation == "eleve1d" {
                    "1D03"
                } else {
                    "2212"
                }],
            );
    }
    spec
}
