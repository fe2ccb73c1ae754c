//! Test harness: the real `vigie` binary on `127.0.0.1:0`, demo upstreams, a TLS
//! certificate authority, and helpers that poll with a deadline instead of sleeping.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use std::time::{Duration, Instant};

#[allow(unused_imports)] // each test binary uses its own part of the harness
pub use vigie_load_tests::html::{attr_after, hidden_fields};
pub use vigie_load_tests::upstream::Upstream;

mod fixed;
mod oidc;
mod pysaml2;
mod saml;
mod wasm;
#[allow(unused_imports)]
pub use fixed::*;
#[allow(unused_imports)]
pub use oidc::*;
#[allow(unused_imports)]
pub use pysaml2::*;
#[allow(unused_imports)]
pub use saml::*;
#[allow(unused_imports)]
pub use wasm::*;

/// The start of a test config: one plain listener and the admin listener, on free ports.
pub const LISTENERS: &str = "listeners: [{ name: public, address: \"127.0.0.1:0\" }]\nadmin: { address: \"127.0.0.1:0\" }\n";

/// Default deadline for anything the tests wait for.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A private folder for one test, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "vigie-test-{}-{}-{:x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rand_u64()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `content` to `name` atomically (write then rename), as config tools do.
    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a file name");
        let tmp = path.with_file_name(format!(".{file_name}.tmp"));
        std::fs::write(&tmp, content).expect("write");
        std::fs::rename(&tmp, &path).expect("rename");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(Instant::now().elapsed().as_nanos() as u64);
    h.finish()
}

/// A running `vigie` process.
pub struct Vigie {
    child: Child,
    pub dir: TempDir,
    pub config: PathBuf,
    pub listeners: HashMap<String, SocketAddr>,
    pub admin: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Vigie {
    /// Starts `vigie run` with `yaml` (written to a fresh folder) and waits until every
    /// listener reported its address and `/healthz` answers.
    pub fn start(yaml: &str) -> Vigie {
        Vigie::start_in(TempDir::new(), yaml)
    }

    /// Same as [`Vigie::start`], in a folder already holding files the config refers to.
    pub fn start_in(dir: TempDir, yaml: &str) -> Vigie {
        let config = dir.write("vigie.yaml", yaml);
        let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
            .args(["run", "-c"])
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn vigie");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("stdout");
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().push(line);
            }
        });

        let mut vigie = Vigie {
            child,
            dir,
            config,
            listeners: HashMap::new(),
            admin: "0.0.0.0:0".parse().unwrap(),
            logs,
        };
        let expected = vigie::config::parse(yaml, None, vigie.dir_path())
            .map(|c| c.listeners.len())
            .unwrap_or_else(|e| panic!("test config is invalid: {e}"));
        let start = Instant::now();
        loop {
            vigie.read_listening();
            if vigie.admin.port() != 0 && vigie.listeners.len() >= expected.max(1) {
                break;
            }
            vigie.assert_running();
            assert!(
                start.elapsed() < DEADLINE,
                "vigie did not report its listeners:\n{}",
                vigie.logs().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let admin = vigie.admin;
        vigie.poll_until("/healthz to answer", || {
            http_status_blocking(admin, "/healthz") == Some(200)
        });
        for addr in vigie.listeners.values().copied().collect::<Vec<_>>() {
            vigie.poll_until("the listener to accept", || {
                std::net::TcpStream::connect(addr).is_ok()
            });
        }
        vigie
    }

    fn dir_path(&self) -> &Path {
        self.dir.path()
    }

    fn read_listening(&mut self) {
        for line in self.logs() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if v["message"] != "listening" {
                continue;
            }
            let addr: SocketAddr = v["address"].as_str().unwrap().parse().unwrap();
            match v["listener"].as_str().unwrap() {
                "admin" => self.admin = addr,
                name => {
                    self.listeners.insert(name.to_string(), addr);
                }
            }
        }
    }

    /// The address of the listener named `name`.
    pub fn addr(&self, name: &str) -> SocketAddr {
        self.listeners[name]
    }

    /// `http://ADDR{path}` on the only (or first plain) listener.
    pub fn url(&self, path: &str) -> String {
        let addr = self
            .listeners
            .get("public")
            .or_else(|| self.listeners.values().next())
            .unwrap();
        format!("http://{addr}{path}")
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    /// Waits for `/readyz` to answer 200.
    pub fn wait_ready(&self) {
        let admin = self.admin;
        self.poll_until("/readyz to answer 200", || {
            http_status_blocking(admin, "/readyz") == Some(200)
        });
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().clone()
    }

    /// JSON log lines for which `pred` holds.
    pub fn json_logs(&self, pred: impl Fn(&serde_json::Value) -> bool) -> Vec<serde_json::Value> {
        self.logs()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| pred(v))
            .collect()
    }

    /// Sends a signal (`HUP`, `TERM`, `INT`) to the process.
    pub fn signal(&self, name: &str) {
        use nix::sys::signal::{Signal, kill};
        let signal = match name {
            "HUP" => Signal::SIGHUP,
            "TERM" => Signal::SIGTERM,
            "INT" => Signal::SIGINT,
            other => panic!("unknown signal {other}"),
        };
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        kill(pid, signal).expect("kill");
    }

    /// Replaces the config file atomically.
    pub fn rewrite_config(&self, yaml: &str) {
        self.dir.write("vigie.yaml", yaml);
    }

    /// Polls `cond` every 20 ms until it holds; fails the test after [`DEADLINE`].
    pub fn poll_until(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let start = Instant::now();
        while !cond() {
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for {what}; logs:\n{}",
                self.logs().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The value of a metric line starting with `prefix` (name and labels), 0 when absent.
    pub fn metric(&self, prefix: &str) -> f64 {
        let text = http_get_blocking(self.admin, "/metrics").unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "vigie exited with {status}; logs:\n{}",
                self.logs().join("\n")
            );
        }
    }

    /// Waits for the process to exit, returning how long it took.
    pub fn wait_exit(&mut self, deadline: Duration) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Vigie {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain blocking GET over HTTP/1.1 (for polling from non-async code).
pub fn http_get_blocking(addr: SocketAddr, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

pub fn http_status_blocking(addr: SocketAddr, path: &str) -> Option<u16> {
    http_get_blocking(addr, path)?
        .split(' ')
        .nth(1)?
        .parse()
        .ok()
}

/// A reqwest client for plain HTTP that never reuses proxies from the environment.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Starts a demo upstream called `name` on a free loopback port.
pub async fn upstream(name: &str) -> Upstream {
    Upstream::start(name, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// A test certificate authority and a server certificate for `localhost` and 127.0.0.1.
pub struct Certs {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl Certs {
    pub fn generate() -> Certs {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Vigie test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .unwrap();
        let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Certs {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Writes `cert.pem`, `key.pem` and `ca.pem` into `dir`.
    pub fn write_to(&self, dir: &TempDir) {
        dir.write("cert.pem", &self.cert_pem);
        dir.write("key.pem", &self.key_pem);
        dir.write("ca.pem", &self.ca_pem);
    }
}
