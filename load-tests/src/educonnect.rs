//! A development ÉduConnect: a SAML 2.0 identity provider standing for the real one in the
//! demo and the tests. Demo pupils and parents, no password; signed Responses holding
//! signed, encrypted assertions (AES-GCM, RSA-OAEP), as Shibboleth sends them.
//!
//! - `GET /idp/metadata`: its metadata (signing certificate, SSO and SLO, HTTP-Redirect).
//! - `GET /idp/profile/SAML2/Redirect/SSO`: a signed AuthnRequest from the registered SP,
//!   then a page to pick an account; `POST` on the same path answers with a page posting the
//!   Response to the SP's ACS.
//! - `GET /idp/profile/SAML2/Unsolicited/SSO?providerId=SP`: IdP-initiated login.
//! - `GET /idp/profile/SAML2/Redirect/SLO`: the SP's signed LogoutRequest (answered with a
//!   signed LogoutResponse) or the SP's LogoutResponse to ours.
//! - `GET /Logout`: the logout URL its assertions give (`FrEduUrlRetour`).

mod endpoints;

use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::net::TcpListener;

use crate::saml::{Content, RsaIdentity};
use crate::serve;

/// A demo account.
#[derive(Clone, Debug)]
pub struct Account {
    /// `FrEduCtId`.
    pub id: &'static str,
    /// `FrEduCtPersonAffiliation`: eleve1d, eleve2d, resp1d, resp2d.
    pub affiliation: &'static str,
    /// Given name.
    pub given_name: &'static str,
    /// Family name.
    pub family_name: &'static str,
    /// School UAI (pupils).
    pub uai: &'static str,
    /// Birth date.
    pub birth_date: &'static str,
}

/// The demo's pupils and parents.
pub fn demo_accounts() -> Vec<Account> {
    vec![
        Account {
            id: "e1b2c3d4eleve2d0000000000000000000000000000000000000000000000000000000000000000000000000001",
            affiliation: "eleve2d",
            given_name: "Léa",
            family_name: "Martin",
            uai: "0350001A",
            birth_date: "2011-03-04",
        },
        Account {
            id: "e1b2c3d4eleve1d0000000000000000000000000000000000000000000000000000000000000000000000000002",
            affiliation: "eleve1d",
            given_name: "Noah",
            family_name: "Diallo",
            uai: "0350002B",
            birth_date: "2016-09-12",
        },
        Account {
            id: "e1b2c3d4resp2d00000000000000000000000000000000000000000000000000000000000000000000000000003",
            affiliation: "resp2d",
            given_name: "Claire",
            family_name: "Martin",
            uai: "",
            birth_date: "1982-06-21",
        },
    ]
}

/// The one service provider it serves, as its metadata would say.
#[derive(Clone, Debug)]
pub struct ServiceProvider {
    /// Its entityID.
    pub entity_id: String,
    /// Its ACS (HTTP-POST).
    pub acs_url: String,
    /// Its SLO (HTTP-Redirect), if any.
    pub slo_url: Option<String>,
    /// Its signing certificate (DER): AuthnRequests and logout messages are checked with it.
    pub signing_cert: Vec<u8>,
    /// Its encryption certificate (DER): assertions are encrypted to it.
    pub encryption_cert: Vec<u8>,
}

/// See the module docs.
pub struct DevIdp {
    /// Its entityID (also its base URL).
    pub entity_id: String,
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<State>,
}

struct State {
    entity_id: String,
    key: RsaIdentity,
    accounts: Vec<Account>,
    sp: Mutex<Option<ServiceProvider>>,
    content: Mutex<Content>,
    logouts: Mutex<Vec<String>>,
    pending_logout: Mutex<Option<String>>,
    issued: Mutex<Vec<(String, String)>>,
    /// When each valid AuthnRequest arrived (browsers sent by Vigie).
    authn_requests: Mutex<Vec<std::time::Instant>>,
}

impl DevIdp {
    /// Starts on `addr` (`127.0.0.1:0` for any free port), plain HTTP.
    pub async fn start(addr: SocketAddr) -> std::io::Result<DevIdp> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let entity_id = format!("http://{addr}/idp");
        let state = Arc::new(State {
            entity_id: entity_id.clone(),
            key: RsaIdentity::generate("educonnect-dev"),
            accounts: demo_accounts(),
            sp: Mutex::new(None),
            content: Mutex::new(Content::Aes128Gcm),
            logouts: Mutex::new(Vec::new()),
            pending_logout: Mutex::new(None),
            issued: Mutex::new(Vec::new()),
            authn_requests: Mutex::new(Vec::new()),
        });
        let serving = state.clone();
        let handler: serve::Handler =
            Arc::new(move |_peer, req| Box::pin(endpoints::handle(serving.clone(), req)));
        serve::spawn(listener, None, handler);
        Ok(DevIdp {
            entity_id,
            addr,
            state,
        })
    }

    /// Where its metadata is.
    pub fn metadata_url(&self) -> String {
        format!("http://{}/idp/metadata", self.addr)
    }

    /// Registers the SP it serves (a test learns Vigie's port after starting the IdP).
    pub fn register(&self, sp: ServiceProvider) {
        *self.state.sp.lock() = Some(sp);
    }

    /// Encrypts assertions with `content` from now on.
    pub fn set_content(&self, content: Content) {
        *self.state.content.lock() = content;
    }

    /// The NameIDs of the LogoutRequests received from the SP.
    pub fn logouts(&self) -> Vec<String> {
        self.state.logouts.lock().clone()
    }

    /// When each valid AuthnRequest arrived: the logins Vigie let through.
    pub fn authn_requests(&self) -> Vec<std::time::Instant> {
        self.state.authn_requests.lock().clone()
    }

    /// The (account id, NameID) of each login answered so far.
    pub fn issued(&self) -> Vec<(String, String)> {
        self.state.issued.lock().clone()
    }

    /// Its signing key.
    pub fn key(&self) -> &RsaIdentity {
        &self.state.key
    }

    /// A URL sending the browser to the SP with a signed LogoutRequest for `name_id`
    /// (IdP-initiated single logout).
    pub fn logout_url(&self, name_id: &str) -> Option<String> {
        self.state.logout_request(name_id)
    }
}
