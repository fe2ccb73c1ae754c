//! The stack under test: upstream and provider in this process, Vigie as a child process.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::franceconnect::{Client, ClientAuth, DevProvider};
use crate::parent::{self, Login};
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
    /// The provider's `waiting_room:` (YAML flow mapping), once the sessions are made.
    pub waiting_room: String,
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
        let dir = std::env::temp_dir().join(format!(
            "vigie-scenario-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("fc-secret"), "load-secret").map_err(|e| e.to_string())?;
        let mut stack = Stack {
            base,
            admin: format!("http://127.0.0.1:{}", ports.1),
            idp,
            upstream,
            child: Command::new("true").spawn().map_err(|e| e.to_string())?,
            dir,
            settings,
            ports,
        };
        stack.write_config("{ admission_rate: 1000/s, burst: 1000 }")?;
        stack.child = stack.spawn()?;
        stack.wait_ready().await?;
        Ok(stack)
    }

    /// Logs `n` parents in (16 at a time); their session cookies.
    pub async fn make_sessions(&self, n: usize) -> Result<Vec<String>, String> {
        let http = parent::client();
        let mut sessions = Vec::with_capacity(n);
        for chunk in (0..n).collect::<Vec<_>>().chunks(16) {
            let logins = chunk.iter().map(|&i| {
                let account = ["parent-martin", "parent-diallo", "parent-nguyen"][i % 3];
                let address = client_address(i as u32);
                let (http, base, issuer) = (&http, &self.base, &self.idp.issuer);
                async move { parent::log_in(http, base, issuer, account, &address, 0).await }
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

    /// Installs the scenario's waiting room (a reload) and waits until it is served.
    pub async fn close_the_gates(&self) -> Result<(), String> {
        let generation = self.metric("vigie_config_generation").await;
        self.write_config(&self.settings.waiting_room)?;
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

    fn write_config(&self, waiting_room: &str) -> Result<(), String> {
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
{extra}
upstreams:
  ts: {{ backends: ["{upstream}"] }}
routes:
  - name: livret
    path_prefix: /livret
    upstream: ts
    access: {{ session: true, profiles: [responsable] }}
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
        let _ = std::fs::remove_dir_all(&self.dir);
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
