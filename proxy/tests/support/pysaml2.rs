//! pysaml2 (IdentityPython) as a SAML IdP, driven by `tests/pysaml2/idp.py`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use super::TempDir;

/// The entityID `idp.py` uses.
pub const IDP_ENTITY: &str = "https://idp.pysaml2.test/idp/shibboleth";

/// The pysaml2 IdP, stopped when dropped.
pub struct PyIdp {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    dir: TempDir,
}

impl PyIdp {
    /// Starts `idp.py`; returns once it listens.
    pub fn start() -> PyIdp {
        let dir = TempDir::new();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pysaml2/idp.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with pysaml2 (installed by .ci/prepare)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("idp.py said {line:?}"));
        PyIdp {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    /// Changes its settings (see `idp.py`).
    pub async fn configure(&self, settings: Value) {
        let resp = reqwest::Client::new()
            .post(format!("{}/configure", self.base))
            .json(&settings)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    }

    /// What it did last (see `idp.py`).
    pub async fn state(&self) -> Value {
        reqwest::get(format!("{}/state", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Its signing key (PKCS#8 PEM file).
    pub fn key(&self) -> PathBuf {
        self.dir.path().join("idp.key")
    }

    /// Its signing certificate (PEM file).
    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("idp.crt")
    }
}

impl Drop for PyIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// pysaml2 and Vigie introduced to each other: Vigie (SP `{base}/vigie/saml/educonnect`)
/// in front of `up`, trusting the IdP's metadata; the IdP having fetched Vigie's.
pub async fn pysaml2_site(up: std::net::SocketAddr) -> (PyIdp, super::SamlSite) {
    let idp = PyIdp::start();
    let site = super::SamlSite::start(
        up,
        "{base}/vigie/saml/educonnect",
        IDP_ENTITY,
        &format!("{}/metadata", idp.base),
    );
    let metadata = format!("{}/vigie/saml/educonnect/metadata", site.base);
    idp.configure(serde_json::json!({ "sp_metadata_url": metadata }))
        .await;
    (idp, site)
}
