//! A development OpenID provider standing in for FranceConnect v2: the demo's way to log in
//! (a few demo parents, no password), and the tests' provider that misbehaves on demand.
//!
//! It follows what FranceConnect requires of a relying party (../shared/IDP.md §1):
//! authorization code flow with PKCE S256, `state` and `nonce` required, ES256 ID tokens
//! carrying `acr`, userinfo as a signed JWT, and RP-initiated logout at `/session/end`.
//! Clients authenticate with `client_secret_post`, `client_secret_basic` or
//! `private_key_jwt`. Redirect URIs are compared exactly with the registered ones.
//!
//! Endpoints: `/.well-known/openid-configuration`, `/jwks`, `/authorize` (GET: the login
//! page; POST: its answer), `/token`, `/userinfo`, `/session/end`.

mod endpoints;
mod page;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::Jwk;
use parking_lot::Mutex;
use tokio::net::TcpListener;

use crate::keys::TestKey;
use crate::serve;

/// A running provider.
#[derive(Clone)]
pub struct DevProvider {
    /// Its issuer identifier (`http://127.0.0.1:PORT` or `https://localhost:PORT`).
    pub issuer: String,
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<State>,
}

/// A registered relying party.
#[derive(Clone, Debug)]
pub struct Client {
    /// `client_id`.
    pub id: String,
    /// How it authenticates at the token endpoint.
    pub auth: ClientAuth,
    /// Callbacks it may use, compared exactly.
    pub redirect_uris: Vec<String>,
    /// Where it may send people back after logout.
    pub post_logout_redirect_uris: Vec<String>,
}

/// Client authentication at the token endpoint.
#[derive(Clone, Debug)]
pub enum ClientAuth {
    /// `client_secret_post` or `client_secret_basic` with this secret.
    Secret(String),
    /// `private_key_jwt`, the assertion verified with this public key.
    PrivateKeyJwt(Box<Jwk>),
}

/// A person who can log in.
#[derive(Clone, Debug)]
pub struct Person {
    /// Stable subject identifier.
    pub sub: &'static str,
    /// `given_name`.
    pub given_name: &'static str,
    /// `family_name`.
    pub family_name: &'static str,
    /// `birthdate`.
    pub birthdate: &'static str,
    /// `gender`.
    pub gender: &'static str,
}

/// Ways to misbehave, for the tests of what Vigie must refuse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fault {
    /// Behave.
    #[default]
    None,
    /// ID token with a `nonce` that is not the one asked.
    WrongNonce,
    /// ID token without `nonce`.
    NoNonce,
    /// ID token from another issuer.
    WrongIssuer,
    /// ID token for another client.
    WrongAudience,
    /// ID token already expired.
    ExpiredIdToken,
    /// ID token signed by a key the provider does not publish (same `kid`).
    ForgedSignature,
    /// Userinfo as plain JSON where a signed JWT is expected.
    JsonUserinfo,
    /// Userinfo about someone else than the ID token.
    UserinfoOtherSubject,
}

/// The demo parents (legal guardians) anyone can log in as.
pub fn demo_parents() -> Vec<Person> {
    vec![
        Person {
            sub: "parent-martin",
            given_name: "Léa",
            family_name: "Martin",
            birthdate: "1984-03-12",
            gender: "female",
        },
        Person {
            sub: "parent-diallo",
            given_name: "Moussa",
            family_name: "Diallo",
            birthdate: "1979-11-02",
            gender: "male",
        },
        Person {
            sub: "parent-nguyen",
            given_name: "Thi Hoa",
            family_name: "Nguyen",
            birthdate: "1988-06-30",
            gender: "female",
        },
    ]
}

struct State {
    issuer: String,
    key: TestKey,
    /// Signs nothing the provider publishes (for [`Fault::ForgedSignature`]).
    impostor: TestKey,
    people: Vec<Person>,
    clients: Mutex<Vec<Client>>,
    fault: Mutex<Fault>,
    codes: Mutex<HashMap<String, Grant>>,
    access_tokens: Mutex<HashMap<String, Grant>>,
    end_session_hints: Mutex<Vec<String>>,
    /// When each valid authorization request arrived (browsers sent by Vigie).
    authorizations: Mutex<Vec<std::time::Instant>>,
    /// Requests for the JWKS.
    jwks_fetches: std::sync::atomic::AtomicU64,
}

/// What a code (then an access token) stands for.
#[derive(Clone, Debug)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    nonce: String,
    code_challenge: String,
    sub: String,
    acr: String,
    expires_at: u64,
}

impl DevProvider {
    /// Starts a provider on `addr` (`127.0.0.1:0` for any free port), over TLS when a
    /// certificate for `localhost` is given, for `clients`.
    pub async fn start(
        addr: SocketAddr,
        tls: Option<(&str, &str)>,
        clients: Vec<Client>,
    ) -> std::io::Result<DevProvider> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (issuer, acceptor) = match tls {
            Some((cert, key)) => (
                format!("https://localhost:{}", addr.port()),
                Some(serve::tls_acceptor(cert, key)?),
            ),
            None => (format!("http://{addr}"), None),
        };
        let state = Arc::new(State {
            issuer: issuer.clone(),
            key: TestKey::generate(Algorithm::ES256, "dev-fc-es256"),
            impostor: TestKey::generate(Algorithm::ES256, "dev-fc-es256"),
            people: demo_parents(),
            clients: Mutex::new(clients),
            fault: Mutex::new(Fault::None),
            codes: Mutex::new(HashMap::new()),
            access_tokens: Mutex::new(HashMap::new()),
            end_session_hints: Mutex::new(Vec::new()),
            authorizations: Mutex::new(Vec::new()),
            jwks_fetches: std::sync::atomic::AtomicU64::new(0),
        });
        let serving = state.clone();
        let handler: serve::Handler =
            Arc::new(move |_peer, req| Box::pin(endpoints::handle(serving.clone(), req)));
        serve::spawn(listener, acceptor, handler);
        Ok(DevProvider {
            issuer,
            addr,
            state,
        })
    }

    /// Registers one more client (a test learns Vigie's port after starting the provider).
    pub fn add_client(&self, client: Client) {
        self.state.clients.lock().push(client);
    }

    /// Misbehaves from now on as `fault` says.
    pub fn set_fault(&self, fault: Fault) {
        *self.state.fault.lock() = fault;
    }

    /// When each valid authorization request arrived: the logins Vigie let through.
    pub fn authorizations(&self) -> Vec<std::time::Instant> {
        self.state.authorizations.lock().clone()
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetches(&self) -> u64 {
        self.state
            .jwks_fetches
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The `id_token_hint` values `/session/end` received.
    pub fn end_session_hints(&self) -> Vec<String> {
        self.state.end_session_hints.lock().clone()
    }

    /// The people who can log in.
    pub fn people(&self) -> Vec<Person> {
        self.state.people.clone()
    }
}
