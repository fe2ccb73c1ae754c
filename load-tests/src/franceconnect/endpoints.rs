//! The provider's endpoints: each request checked against the registered clients and the
//! grants given so far, then answered (an OAuth error names what was wrong).

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::{Client, ClientAuth, Fault, Grant, State, page};
use crate::keys::{jwks, now};
use crate::serve::Reply;

type Params = HashMap<String, String>;

/// A checked authorization request.
struct AuthRequest {
    client_id: String,
    redirect_uri: String,
    state: String,
    nonce: String,
    code_challenge: String,
    acr: String,
}

/// Answers one request.
pub(super) async fn handle(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    let Ok(body) = Limited::new(body, 64 * 1024).collect().await else {
        return Ok(oauth_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "body too large",
        ));
    };
    let query = params(parts.uri.query().unwrap_or("").as_bytes());
    let form = params(&body.to_bytes());
    Ok(match (parts.method.as_str(), parts.uri.path()) {
        ("GET", "/.well-known/openid-configuration") => state.discovery(),
        ("GET", "/jwks") => {
            state
                .jwks_fetches
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            json_reply(
                StatusCode::OK,
                serde_json::from_str(&jwks(&[&state.key])).unwrap_or_default(),
            )
        }
        ("GET", "/authorize") => match state.check_authorize(&query) {
            Ok(_) => {
                state.authorizations.lock().push(std::time::Instant::now());
                page::login(&state.people, &query)
            }
            Err(refusal) => *refusal,
        },
        ("POST", "/authorize") => state.sign_in(&form),
        ("POST", "/token") => state.token(&parts.headers, &form),
        ("GET", "/userinfo") => state.userinfo(&parts.headers),
        ("GET", "/session/end") => state.end_session(&query),
        _ => page::message(
            StatusCode::NOT_FOUND,
            "Page introuvable",
            "Cette adresse n'existe pas.",
        ),
    })
}

impl State {
    fn discovery(&self) -> Response<Full<Bytes>> {
        let i = &self.issuer;
        json_reply(
            StatusCode::OK,
            json!({
                "issuer": i,
                "authorization_endpoint": format!("{i}/authorize"),
                "token_endpoint": format!("{i}/token"),
                "userinfo_endpoint": format!("{i}/userinfo"),
                "end_session_endpoint": format!("{i}/session/end"),
                "jwks_uri": format!("{i}/jwks"),
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"],
                "userinfo_signing_alg_values_supported": ["ES256"],
                "code_challenge_methods_supported": ["S256"],
                "acr_values_supported": ["eidas1", "eidas2", "eidas3"],
                "scopes_supported": ["openid", "given_name", "family_name", "birthdate", "gender", "identite_pivot"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "private_key_jwt"],
            }),
        )
    }

    fn client(&self, id: &str) -> Option<Client> {
        self.clients.lock().iter().find(|c| c.id == id).cloned()
    }

    /// Checks an authorization request; the refusal is a page when the client or its
    /// callback is unknown (never redirect there), else a redirect carrying the error.
    fn check_authorize(&self, p: &Params) -> Result<AuthRequest, Box<Response<Full<Bytes>>>> {
        let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
        let Some(client) = self.client(get("client_id")) else {
            return Err(Box::new(page::message(
                StatusCode::BAD_REQUEST,
                "Demande refusée",
                "Ce service (client_id) n'est pas enregistré.",
            )));
        };
        let redirect_uri = get("redirect_uri");
        if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
            return Err(Box::new(page::message(
                StatusCode::BAD_REQUEST,
                "Demande refusée",
                "Cette adresse de retour (redirect_uri) n'est pas enregistrée pour ce service.",
            )));
        }
        let fail = |error: &str, why: &str| {
            Err(Box::new(redirect(
                redirect_uri,
                &[
                    ("error", error),
                    ("error_description", why),
                    ("state", get("state")),
                ],
            )))
        };
        if get("response_type") != "code" {
            return fail("unsupported_response_type", "only response_type=code");
        }
        if !get("scope").split(' ').any(|s| s == "openid") {
            return fail("invalid_scope", "the openid scope is required");
        }
        if get("state").is_empty() {
            return fail("invalid_request", "state is required");
        }
        if get("nonce").len() < 22 {
            return fail(
                "invalid_request",
                "a nonce of at least 22 characters is required",
            );
        }
        if get("code_challenge_method") != "S256" || get("code_challenge").len() != 43 {
            return fail(
                "invalid_request",
                "PKCE with code_challenge_method=S256 is required",
            );
        }
        Ok(AuthRequest {
            client_id: client.id,
            redirect_uri: redirect_uri.to_string(),
            state: get("state").to_string(),
            nonce: get("nonce").to_string(),
            code_challenge: get("code_challenge").to_string(),
            acr: get("acr_values")
                .split(' ')
                .next()
                .filter(|a| !a.is_empty())
                .unwrap_or("eidas1")
                .to_string(),
        })
    }

    /// The login page's answer: a code for the chosen person, or `access_denied`.
    fn sign_in(&self, form: &Params) -> Response<Full<Bytes>> {
        let request = match self.check_authorize(form) {
            Ok(r) => r,
            Err(refusal) => return *refusal,
        };
        if form.get("action").map(String::as_str) == Some("cancel") {
            return redirect(
                &request.redirect_uri,
                &[
                    ("error", "access_denied"),
                    ("error_description", "cancelled by the user"),
                    ("state", &request.state),
                ],
            );
        }
        let account = form.get("account").map(String::as_str).unwrap_or("");
        if !self.people.iter().any(|p| p.sub == account) {
            return page::message(
                StatusCode::BAD_REQUEST,
                "Compte inconnu",
                "Ce compte de démonstration n'existe pas.",
            );
        }
        let code = random_token();
        let grant = Grant {
            client_id: request.client_id,
            redirect_uri: request.redirect_uri.clone(),
            nonce: request.nonce,
            code_challenge: request.code_challenge,
            sub: account.to_string(),
            acr: request.acr,
            expires_at: now() + 60,
        };
        self.codes.lock().insert(code.clone(), grant);
        redirect(
            &request.redirect_uri,
            &[("code", &code), ("state", &request.state)],
        )
    }

    fn token(&self, headers: &HeaderMap, form: &Params) -> Response<Full<Bytes>> {
        let client = match self.authenticate(headers, form) {
            Ok(client) => client,
            Err(why) => return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &why),
        };
        if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only authorization_code",
            );
        }
        let code = form.get("code").map(String::as_str).unwrap_or("");
        let Some(grant) = self.codes.lock().remove(code) else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "unknown, expired or already used code",
            );
        };
        let verifier = form.get("code_verifier").map(String::as_str).unwrap_or("");
        let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            verifier.as_bytes(),
        ));
        let why = if grant.client_id != client.id {
            Some("the code was given to another client")
        } else if form.get("redirect_uri") != Some(&grant.redirect_uri) {
            Some("redirect_uri differs from the authorization request's")
        } else if grant.expires_at < now() {
            Some("expired code")
        } else if challenge != grant.code_challenge {
            Some("code_verifier does not match code_challenge")
        } else {
            None
        };
        if let Some(why) = why {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why);
        }
        let id_token = self.id_token(&grant, *self.fault.lock());
        let access_token = random_token();
        self.access_tokens.lock().insert(
            access_token.clone(),
            Grant {
                expires_at: now() + 60,
                ..grant
            },
        );
        let mut resp = json_reply(
            StatusCode::OK,
            json!({ "access_token": access_token, "token_type": "Bearer", "expires_in": 60, "id_token": id_token }),
        );
        resp.headers_mut().insert(
            header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
        resp
    }

    /// The client the token request authenticates, or why not.
    fn authenticate(&self, headers: &HeaderMap, form: &Params) -> Result<Client, String> {
        let (id, secret) = if let Some(basic) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
        {
            let decoded = STANDARD
                .decode(basic)
                .map_err(|_| "malformed Basic credentials")?;
            let text = String::from_utf8(decoded).map_err(|_| "malformed Basic credentials")?;
            let (id, secret) = text.split_once(':').ok_or("malformed Basic credentials")?;
            let dec = |s: &str| {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            (dec(id), Some(dec(secret)))
        } else {
            let id = form.get("client_id").cloned().ok_or("no client_id")?;
            (id, form.get("client_secret").cloned())
        };
        let client = self.client(&id).ok_or("unknown client")?;
        match (&client.auth, secret, form.get("client_assertion")) {
            (ClientAuth::Secret(expected), Some(given), None) if *expected == given => Ok(client),
            (ClientAuth::Secret(_), _, _) => Err("wrong client secret".into()),
            (ClientAuth::PrivateKeyJwt(jwk), None, Some(assertion)) => {
                if form.get("client_assertion_type").map(String::as_str)
                    != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                {
                    return Err("unsupported client_assertion_type".into());
                }
                let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
                let alg = jsonwebtoken::decode_header(assertion)
                    .map_err(|e| e.to_string())?
                    .alg;
                let mut v = jsonwebtoken::Validation::new(alg);
                v.set_audience(&[format!("{}/token", self.issuer)]);
                v.set_issuer(&[&client.id]);
                v.sub = Some(client.id.clone());
                v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
                jsonwebtoken::decode::<Value>(assertion, &key, &v)
                    .map_err(|e| format!("client assertion: {e}"))?;
                Ok(client)
            }
            (ClientAuth::PrivateKeyJwt(_), _, _) => {
                Err("this client authenticates with private_key_jwt".into())
            }
        }
    }

    fn id_token(&self, grant: &Grant, fault: Fault) -> String {
        let t = now();
        let mut claims = json!({
            "iss": if fault == Fault::WrongIssuer { "https://autre-fournisseur.example" } else { self.issuer.as_str() },
            "sub": grant.sub,
            "aud": if fault == Fault::WrongAudience { "un-autre-service" } else { grant.client_id.as_str() },
            "iat": if fault == Fault::ExpiredIdToken { t - 900 } else { t },
            "exp": if fault == Fault::ExpiredIdToken { t - 600 } else { t + 60 },
            "auth_time": t,
            "nonce": if fault == Fault::WrongNonce { "pas-le-nonce-envoye-par-le-service" } else { grant.nonce.as_str() },
            "acr": grant.acr,
        });
        if fault == Fault::NoNonce
            && let Some(map) = claims.as_object_mut()
        {
            map.remove("nonce");
        }
        let key = if fault == Fault::ForgedSignature {
            &self.impostor
        } else {
            &self.key
        };
        key.sign(&claims)
    }

    fn userinfo(&self, headers: &HeaderMap) -> Response<Full<Bytes>> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let grant = self
            .access_tokens
            .lock()
            .get(token)
            .filter(|g| g.expires_at >= now())
            .cloned();
        let (Some(grant), Some(person)) = (
            grant.as_ref(),
            grant
                .as_ref()
                .and_then(|g| self.people.iter().find(|p| p.sub == g.sub)),
        ) else {
            let mut resp = oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "unknown or expired access token",
            );
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            return resp;
        };
        let fault = *self.fault.lock();
        let claims = json!({
            "iss": self.issuer, "aud": grant.client_id, "iat": now(),
            "sub": if fault == Fault::UserinfoOtherSubject { "quelqu-un-d-autre" } else { person.sub },
            "given_name": person.given_name, "family_name": person.family_name,
            "birthdate": person.birthdate, "gender": person.gender,
        });
        if fault == Fault::JsonUserinfo {
            return json_reply(StatusCode::OK, claims);
        }
        let mut resp = Response::new(Full::new(Bytes::from(self.key.sign(&claims))));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/jwt"),
        );
        resp
    }

    fn end_session(&self, p: &Params) -> Response<Full<Bytes>> {
        if let Some(hint) = p.get("id_token_hint") {
            self.end_session_hints.lock().push(hint.clone());
        }
        match p.get("post_logout_redirect_uri") {
            None => page::message(
                StatusCode::OK,
                "Vous êtes déconnecté",
                "Vous êtes déconnecté du fournisseur d'identité de démonstration.",
            ),
            Some(uri)
                if self
                    .clients
                    .lock()
                    .iter()
                    .any(|c| c.post_logout_redirect_uris.contains(uri)) =>
            {
                redirect(
                    uri,
                    &[("state", p.get("state").map(String::as_str).unwrap_or(""))],
                )
            }
            Some(_) => page::message(
                StatusCode::BAD_REQUEST,
                "Demande refusée",
                "Cette adresse de retour après déconnexion n'est pas enregistrée.",
            ),
        }
    }
}

fn params(raw: &[u8]) -> Params {
    let mut out = Params::new();
    for (k, v) in form_urlencoded::parse(raw) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// A 303 to `uri` with `params` added to its query (empty values left out).
fn redirect(uri: &str, params: &[(&str, &str)]) -> Response<Full<Bytes>> {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params.iter().filter(|(_, v)| !v.is_empty()) {
        query.append_pair(k, v);
    }
    let sep = if uri.contains('?') { '&' } else { '?' };
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(location) = http::HeaderValue::try_from(format!("{uri}{sep}{}", query.finish())) {
        resp.headers_mut().insert(header::LOCATION, location);
    }
    resp
}

fn json_reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn oauth_error(status: StatusCode, error: &str, why: &str) -> Response<Full<Bytes>> {
    json_reply(status, json!({ "error": error, "error_description": why }))
}
