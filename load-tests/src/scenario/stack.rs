//! The stack under test: the upstream and both development providers (FranceConnect for
//! parents, ÉduConnect for pupils) in this process, Vigie as a child process.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::browser::{self, Idp, Login};
use crate::educonnect::{DevIdp, ServiceProvider, demo_accounts};
use crate::franceconnect::{Client, ClientAuth, DevProvider};
use crate::saml::RsaIdentity;
use crate::upstream::Upstream;

/// Any free port on the loopback.
const LOOPBACK_ANY: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// What the stack's Vigie is configured with.
#[derive(Clone, Debug)]
pub struct StackSettings {
    /// The `vigie` binary.
    pub vigie: PathBuf,
    /// Worker threads of Vigie.
    pub threads: usize,
    /// CPUs Vigie is pinned to with `taskset` (none: not pinned).
    pub cpus: Option<String>,
    /// FranceConnect's `waiting_room:` (YAML flow mapping), once the sessions are made.
    pub waiting_room: String,
    /// ÉduConnect's `waiting_room:`, once the sessions are made.
    pub educonnect_room: String,
    /// More top-level YAML (`rate_limits:`), and more routes (appended to `routes:`).
    pub extra: String,
    /// Extra routes.
    pub routes: String,
}

/// A running stack; Vigie is killed when it is dropped.
pub struct Stack {
    /// Vigie's base URL.
    pub base: String,
    /// Vigie's admin base URL.
    pub admin: String,
    /// The development FranceConnect.
    pub idp: DevProvider,
    /// The development ÉduConnect.
    pub educonnect: DevIdp,
    /// The demo upstream.
    pub upstream: Upstream,
    child: Child,
    dir: PathBuf,
    settings: StackSettings,
    ports: (u16, u16),
}

impl Stack {
    /// Starts everything and waits until Vigie is ready. The waiting room starts wide open
    /// (sessions are made first); [`Stack::close_the_gates`] sets the scenario's one.
    pub async fn start(settings: StackSettings) -> Result<Stack, String> {
        if settings.waiting_room.is_empty() || settings.educonnect_room.is_empty() {
            // An empty value would be YAML null: no room at all, silently.
            return Err("both waiting rooms must be set".into());
        }
        let upstream = Upstream::start("teleservices", LOOPBACK_ANY)
            .await
            .map_err(|e| format!("upstream: {e}"))?;
        let ports = (free_port()?, free_port()?);
        let base = format!("http://127.0.0.1:{}", ports.0);
        let client = Client {
            id: "vigie".into(),
            auth: ClientAuth::Secret("load-secret".into()),
            redirect_uris: vec![format!("{base}/vigie/callback/fc")],
            post_logout_redirect_uris: vec![format!("{base}/vigie/logged-out")],
        };
        let idp = DevProvider::start(LOOPBACK_ANY, None, vec![client])
            .await
            .map_err(|e| format!("provider: {e}"))?;
        let educonnect = DevIdp::start(LOOPBACK_ANY)
            .await
            .map_err(|e| format!("ÉduConnect: {e}"))?;
        let (sign, enc) = (
            RsaIdentity::generate("sp-sign"),
            RsaIdentity::generate("sp-enc"),
        );
        educonnect.register(ServiceProvider {
            entity_id: format!("{base}/vigie/saml/educonnect"),
            acs_url: format!("{base}/vigie/saml/educonnect/acs"),
            slo_url: None,
            signing_cert: sign.cert_der.clone(),
            encryption_cert: enc.cert_der.clone(),
        });
        let dir = std::env::temp_dir().join(format!(
            "vigie-scenario-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let files = [
            ("fc-secret", "load-secret"),
            ("sign.key", sign.key_pem.as_str()),
            ("sign.crt", sign.cert_pem.as_str()),
            ("enc.key", enc.key_pem.as_str()),
            ("enc.crt", enc.cert_pem.as_str()),
        ];
        for (name, content) in files {
            std::fs::write(dir.join(name), content).map_err(|e| e.to_string())?;
        }
        let mut stack = Stack {
            base,
            admin: format!("http://127.0.0.1:{}", ports.1),
            idp,
            educonnect,
            upstream,
            child: Command::new("true").spawn().map_err(|e| e.to_string())?,
            dir,
            settings,
            ports,
        };
        let open = "{ admission_rate: 1000/s, burst: 1000 }";
        stack.write_config(open, open)?;
        stack.child = stack.spawn()?;
        stack.wait_ready().await?;
        Ok(stack)
    }

    /// Logs `n` people in (16 at a time), parents through FranceConnect and pupils through
    /// ÉduConnect in turn; their session cookies.
    pub async fn make_sessions(&self, n: usize) -> Result<Vec<String>, String> {
        let http = browser::client();
        let mut sessions = Vec::with_capacity(n);
        for chunk in (0..n).collect::<Vec<_>>().chunks(16) {
            let logins = chunk.iter().map(|&i| {
                let (idp, account) = self.person(i);
                let address = client_address(i as u32);
                let (http, base) = (&http, &self.base);
                async move { browser::log_in(http, base, idp, &account, &address, 0).await }
            });
            for login in futures::future::join_all(logins).await {
                match login {
                    Login::Done { session, .. } => sessions.push(session),
                    other => return Err(format!("making sessions: {other:?}")),
                }
            }
        }
        Ok(sessions)
    }

    /// Person `i`: a parent with FranceConnect when `i` is even, a pupil with ÉduConnect
    /// when odd (demo accounts in turn).
    pub fn person(&self, i: usize) -> (Idp<'_>, String) {
        if i.is_multiple_of(2) {
            let parent = ["parent-martin", "parent-diallo", "parent-nguyen"][(i / 2) % 3];
            let idp = Idp::FranceConnect {
                issuer: &self.idp.issuer,
            };
            (idp, parent.to_string())
        } else {
            let pupils = demo_accounts();
            let pupil = &pupils[(i / 2) % 2];
            (Idp::EduConnect, pupil.id.to_string())
        }
    }

    /// Installs the scenario's waiting rooms (a reload) and waits until they are served.
    pub async fn close_the_gates(&self) -> Result<(), String> {
        let generation = self.metric("vigie_config_generation").await;
        self.write_config(&self.settings.waiting_room, &self.settings.educonnect_room)?;
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.metric("vigie_config_generation").await <= generation {
            if Instant::now() > deadline {
                return Err("Vigie did not reload the config".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// The sum of the metric lines starting with `prefix`.
    pub async fn metric(&self, prefix: &str) -> f64 {
        let text = match reqwest::get(format!("{}/metrics", self.admin)).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    fn write_config(&self, waiting_room: &str, educonnect_room: &str) -> Result<(), String> {
        let s = &self.settings;
        let yaml = format!(
            r#"
server: {{ threads: {threads}, watch_interval: 200ms }}
logging: {{ format: json, level: warn, access_log: false }}
listeners: [{{ name: public, address: "127.0.0.1:{port}" }}]
admin: {{ address: "127.0.0.1:{admin}" }}
trusted_proxies: ["127.0.0.1/32"]
identity_providers:
  fc:
    kind: oidc
    issuer: {issuer}
    audiences: [vigie]
    algorithms: [ES256]
    keys: {{ unknown_kid_interval: 10s }}
    login:
      client_id: vigie
      client_secret_file: fc-secret
      redirect_uri: /vigie/callback/fc
      post_logout_redirect_uri: /vigie/logged-out
      scope: openid given_name family_name
      acr_values: eidas1
      userinfo: jwt
      offered_to: [responsable]
      default_profile: responsable
    waiting_room: {waiting_room}
  educonnect:
    kind: saml
    saml:
      entity_id: {base}/vigie/saml/educonnect
      acs_url: {base}/vigie/saml/educonnect/acs
      idp: {{ entity_id: "{ec_entity}", metadata_url: "{ec_metadata}" }}
      signing: {{ key_file: sign.key, cert_file: sign.crt }}
      encryption: {{ key_file: enc.key, cert_file: enc.crt }}
      offered_to: [eleve, responsable]
    waiting_room: {educonnect_room}
{extra}
upstreams:
  ts: {{ backends: ["{upstream}"] }}
routes:
  - name: livret
    path_prefix: /livret
    upstream: ts
    access: {{ session: true, profiles: [responsable, eleve] }}
    essential: true
{routes}
  - name: accueil
    path_prefix: /
    upstream: ts
    access: public
"#,
            threads = s.threads,
            port = self.ports.0,
            admin = self.ports.1,
            issuer = self.idp.issuer,
            base = self.base,
            ec_entity = self.educonnect.entity_id,
            ec_metadata = self.educonnect.metadata_url(),
            upstream = self.upstream.addr,
            extra = s.extra,
            routes = s.routes,
        );
        std::fs::write(self.dir.join("vigie.yaml"), yaml).map_err(|e| e.to_string())
    }

    fn spawn(&self) -> Result<Child, String> {
        let config = self.dir.join("vigie.yaml");
        let mut cmd = match &self.settings.cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cpus]).arg(&self.settings.vigie);
                c
            }
            None => Command::new(&self.settings.vigie),
        };
        cmd.args(["run", "-c"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.settings.vigie.display()))
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("vigie exited: {status}"));
            }
            let ready = reqwest::get(format!("{}/readyz", self.admin)).await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("vigie was not ready within 30 s".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::env::var_os("KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The address simulated client `i` comes from (sent as `X-Forwarded-For`).
pub fn client_address(i: u32) -> String {
    let [_, b, c, d] = (0x0a00_0000u32 + i).to_be_bytes();
    format!("10.{b}.{c}.{d}")
}

/// A port free now (the listener is closed at once; the run takes it right after).
fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}
