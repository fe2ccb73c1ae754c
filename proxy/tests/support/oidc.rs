//! The real OpenID provider the login tests use (`oidc-provider`, configured like
//! FranceConnect v2), and a scripted browser to go through it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use super::rand_u64;
use vigie_load_tests::html::attr_after;

/// The client secret every test client has (write it to `fc-secret` next to the YAML).
pub const CLIENT_SECRET: &str = "s3cret-for-tests";

/// A Vigie config with `/livret` for logged-in legal guardians and a public `/`, both at
/// `upstream`, served over HTTPS (`cert.pem`, `key.pem`; listener `secure`) or plain HTTP
/// (listener `public`, as in the demo); `more` is inserted at the top level
/// (`identity_providers:`, `sessions:`).
pub fn site_yaml(upstream: std::net::SocketAddr, tls: bool, more: &str) -> String {
    let listener = if tls {
        "{ name: secure, address: \"127.0.0.1:0\", tls: { certificate: cert.pem, private_key: key.pem } }"
    } else {
        "{ name: public, address: \"127.0.0.1:0\" }"
    };
    format!(
        r#"
listeners: [{listener}]
admin: {{ address: "127.0.0.1:0" }}
upstreams:
  ts: {{ backends: ["{upstream}"] }}
routes:
  - name: livret
    path_prefix: /livret
    upstream: ts
    access: {{ session: true, profiles: [responsable] }}
  - name: accueil
    path_prefix: /
    upstream: ts
    access: public
{more}
"#
    )
}

/// An entry of `identity_providers:`: provider `name` at `issuer`, logging in as `client`
/// (its `auth` lines: a secret file by default), asking `acr`, offered to legal guardians.
pub fn provider_yaml(name: &str, issuer: &str, client: &str, acr: &str, auth: &str) -> String {
    format!(
        r#"
  {name}:
    kind: oidc
    issuer: {issuer}
    audiences: [{client}]
    algorithms: [ES256]
    claims: {{ display_name: given_name }}
    login:
      client_id: {client}
      {auth}
      redirect_uri: /vigie/callback/{name}
      post_logout_redirect_uri: /vigie/logged-out
      scope: openid identite_pivot
      acr_values: {acr}
      userinfo: jwt
      label: FranceConnect
      button: franceconnect
      offered_to: [responsable]
      default_profile: responsable"#
    )
}

/// The real OpenID provider (`oidc-provider`, configured like FranceConnect v2) from
/// `proxy/tests/oidc-provider`, installed by `.ci/prepare`.
pub struct OidcProvider {
    child: Child,
    pub issuer: String,
    admin_token: String,
}

impl OidcProvider {
    pub fn start() -> OidcProvider {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider");
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "run .ci/prepare (npm ci in {})",
            dir.display()
        );
        let admin_token = format!("{:x}", rand_u64());
        let mut child = Command::new("node")
            .arg("server.js")
            .current_dir(&dir)
            .env("ADMIN_TOKEN", &admin_token)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let issuer =
            serde_json::from_str::<serde_json::Value>(&line).expect("issuer line")["issuer"]
                .as_str()
                .unwrap()
                .to_string();
        OidcProvider {
            child,
            issuer,
            admin_token,
        }
    }

    /// Registers the provider's clients (their redirect URIs name Vigie's port).
    pub fn configure(&self, clients: serde_json::Value) {
        let status = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
            .arg("-H")
            .arg(format!("Authorization: Bearer {}", self.admin_token))
            .arg("--data")
            .arg(serde_json::json!({ "clients": clients }).to_string())
            .arg(format!("{}/__configure", self.issuer))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&status.stdout),
            "204",
            "provider configuration"
        );
    }

    /// Vigie's YAML for provider `name` at this OP (an entry of `identity_providers:`),
    /// logging in with client `client`, asking `acr`, offered to legal guardians.
    pub fn provider_yaml(&self, name: &str, client: &str, acr: &str) -> String {
        provider_yaml(
            name,
            &self.issuer,
            client,
            acr,
            "client_secret_file: fc-secret",
        )
    }

    /// The registration of client `id` for Vigie's provider `name`, reachable at each of
    /// `bases`; `signed_userinfo` as FranceConnect requires. Its secret is in `fc-secret`.
    pub fn client(
        bases: &[&str],
        id: &str,
        name: &str,
        signed_userinfo: bool,
    ) -> serde_json::Value {
        let mut c = json!({
            "client_id": id, "client_secret": CLIENT_SECRET,
            "redirect_uris": bases.iter().map(|b| format!("{b}/vigie/callback/{name}")).collect::<Vec<_>>(),
            "post_logout_redirect_uris": bases.iter().map(|b| format!("{b}/vigie/logged-out")).collect::<Vec<_>>(),
            "token_endpoint_auth_method": "client_secret_post",
            "id_token_signed_response_alg": "ES256",
            "grant_types": ["authorization_code"], "response_types": ["code"],
        });
        if signed_userinfo {
            c["userinfo_signed_response_alg"] = json!("ES256");
        }
        c
    }

    /// The `id_token_hint` values its end_session endpoint received.
    pub fn end_session_hints(&self) -> Vec<String> {
        let out = std::process::Command::new("curl")
            .args(["-s", "--fail"])
            .arg(format!("{}/__log", self.issuer))
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["end_session_hints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scripted browser: cookie jar, redirects followed, trusting `ca_pem`.
pub fn browser(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .cookie_store(true)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap()
}

/// Starts a login at `base` with `provider` (back to `/livret/eleve`) and signs in at the
/// provider as `account` with `acr`; returns the final response (the protected page, or
/// Vigie's refusal) after every redirect.
pub async fn login_through(
    b: &reqwest::Client,
    base: &str,
    op: &OidcProvider,
    provider: &str,
    account: &str,
    acr: &str,
) -> reqwest::Response {
    let page = b
        .get(format!(
            "{base}/vigie/login/{provider}?return_to=%2Flivret%2Feleve"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "the provider's login form");
    let html = page.text().await.unwrap();
    let action = attr_after(&html, "<form", "action").expect("a login form");
    b.post(format!("{}{action}", op.issuer))
        .form(&[("account", account), ("acr", acr)])
        .send()
        .await
        .unwrap()
}

/// A browser for plain-HTTP sites: a cookie jar, redirects followed.
pub fn plain_browser() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .cookie_store(true)
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap()
}

/// Logs out at `base` as a browser does: the confirmation page, then its form with the
/// CSRF token. The answer after every redirect.
pub async fn logout(b: &reqwest::Client, base: &str) -> reqwest::Response {
    let html = b
        .get(format!("{base}/vigie/logout"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = attr_after(&html, "name=\"csrf\"", "value").expect("a CSRF token");
    b.post(format!("{base}/vigie/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap()
}
