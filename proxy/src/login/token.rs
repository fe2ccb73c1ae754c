//! The token request: the code exchanged for the ID token and an access token, with the
//! client authenticated by `client_secret_post`, `client_secret_basic` or `private_key_jwt`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{EncodingKey, Header};

use super::flow::LoginError;
use super::{ClientAuth, LoginSpec};
use crate::auth::provider::Provider;

/// What the token endpoint returned (both are credentials: never logged).
pub(super) struct Tokens {
    pub(super) id_token: String,
    pub(super) access_token: String,
}

/// Exchanges `code` (with its PKCE `verifier`) at `endpoint`.
pub(super) async fn exchange(
    provider: &Provider,
    login: &LoginSpec,
    endpoint: &str,
    code: &str,
    pending: &super::flow::Pending,
    now: u64,
) -> Result<Tokens, LoginError> {
    let failed = |why: String| LoginError::TokenExchange(why);
    // The form is built (and its serializer dropped) before any await.
    let (body, basic) = {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", &pending.redirect_uri)
            .append_pair("code_verifier", &pending.verifier);
        let mut basic = None;
        match &login.client_auth {
            ClientAuth::SecretPost(secret) => {
                form.append_pair("client_id", &login.client_id)
                    .append_pair("client_secret", &secret.0);
            }
            ClientAuth::SecretBasic(secret) => {
                // RFC 6749 §2.3.1: both parts are form-encoded before Basic encoding.
                let enc =
                    |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                basic =
                    Some(STANDARD.encode(format!("{}:{}", enc(&login.client_id), enc(&secret.0))));
            }
            ClientAuth::PrivateKeyJwt { alg, pem } => {
                let assertion =
                    client_assertion(login, *alg, pem, endpoint, now).map_err(failed)?;
                form.append_pair("client_id", &login.client_id)
                    .append_pair(
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    )
                    .append_pair("client_assertion", &assertion);
            }
        }
        (form.finish(), basic)
    };
    let mut request = provider.client.post(endpoint);
    if let Some(credentials) = basic {
        request = request.header(
            reqwest::header::AUTHORIZATION,
            format!("Basic {credentials}"),
        );
    }
    let resp = request
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await
        .map_err(|e| LoginError::Unavailable(e.to_string()))?;
    let status = resp.status();
    let body = read_limited(resp, 64 * 1024).await.map_err(failed)?;
    let doc: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| failed(format!("HTTP {status}, not JSON")))?;
    if !status.is_success() {
        let error = doc["error"]
            .as_str()
            .unwrap_or("unknown")
            .chars()
            .take(64)
            .collect::<String>();
        return Err(failed(format!("HTTP {}: {error}", status.as_u16())));
    }
    let field = |name: &str| {
        doc[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| failed(format!("no {name}")))
    };
    Ok(Tokens {
        id_token: field("id_token")?,
        access_token: field("access_token")?,
    })
}

/// An RFC 7523 client assertion for the token endpoint `audience`.
fn client_assertion(
    login: &LoginSpec,
    alg: jsonwebtoken::Algorithm,
    pem: &super::Secret,
    audience: &str,
    now: u64,
) -> Result<String, String> {
    let key = match alg {
        jsonwebtoken::Algorithm::ES256 => EncodingKey::from_ec_pem(pem.0.as_bytes()),
        _ => EncodingKey::from_rsa_pem(pem.0.as_bytes()),
    }
    .map_err(|e| format!("client key: {e}"))?;
    let claims = serde_json::json!({
        "iss": login.client_id, "sub": login.client_id, "aud": audience,
        "iat": now, "exp": now + 60, "jti": format!("{:032x}", rand::random::<u128>()),
    });
    jsonwebtoken::encode(&Header::new(alg), &claims, &key).map_err(|e| e.to_string())
}

/// The body of `resp`, refused beyond `limit` bytes.
pub(super) async fn read_limited(
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > limit {
            return Err(format!("answer larger than {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
