//! A Vigie site logging people in with a SAML IdP (provider `educonnect`). Vigie's port is
//! known only once it runs, so its ACS and SLO URLs are set by a reload.

use std::path::PathBuf;

use vigie_load_tests::saml::RsaIdentity;

use super::{TempDir, Vigie, http_get_blocking, site_yaml};

/// Vigie running with provider `educonnect`, and its SP keys.
pub struct SamlSite {
    /// The running proxy.
    pub vigie: Vigie,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its signing key pair.
    pub sign: RsaIdentity,
    /// Its encryption key pair.
    pub enc: RsaIdentity,
    /// Where its encryption key is (PEM).
    pub enc_key: PathBuf,
}

fn yaml(
    up: std::net::SocketAddr,
    entity: &str,
    idp: &str,
    metadata_url: &str,
    base: &str,
    slo: bool,
) -> String {
    let entity = entity.replace("{base}", base);
    let slo = if slo {
        format!("slo_url: {base}/vigie/saml/educonnect/slo")
    } else {
        "# no single logout".to_string()
    };
    let saml = format!(
        r#"
identity_providers:
  educonnect:
    kind: saml
    saml:
      entity_id: {entity}
      acs_url: {base}/vigie/saml/educonnect/acs
      {slo}
      idp: {{ entity_id: "{idp}", metadata_url: "{metadata_url}" }}
      signing: {{ key_file: sign.key, cert_file: sign.crt }}
      encryption: {{ key_file: enc.key, cert_file: enc.crt }}
      allow_idp_initiated: true
      offered_to: [eleve, responsable]
"#
    );
    site_yaml(up, false, &saml).replace(
        "access: { session: true, profiles: [responsable] }",
        "access: { session: true, profiles: [responsable, eleve] }",
    )
}

impl SamlSite {
    /// Starts Vigie in front of `up` as SP `entity` (`{base}` is replaced by its URL) of the
    /// IdP `idp` whose metadata is at `metadata_url`, and waits until it is ready.
    pub fn start(
        up: std::net::SocketAddr,
        entity: &str,
        idp: &str,
        metadata_url: &str,
    ) -> SamlSite {
        SamlSite::start_with(up, entity, idp, metadata_url, true)
    }

    /// The same, with single logout (`slo_url`) on or off.
    pub fn start_with(
        up: std::net::SocketAddr,
        entity: &str,
        idp: &str,
        metadata_url: &str,
        slo: bool,
    ) -> SamlSite {
        let (sign, enc) = (
            RsaIdentity::generate("sp-sign"),
            RsaIdentity::generate("sp-enc"),
        );
        let dir = TempDir::new();
        dir.write("sign.key", &sign.key_pem);
        dir.write("sign.crt", &sign.cert_pem);
        let enc_key = dir.write("enc.key", &enc.key_pem);
        dir.write("enc.crt", &enc.cert_pem);
        let vigie = Vigie::start_in(
            dir,
            &yaml(up, entity, idp, metadata_url, "http://127.0.0.1:1", slo),
        );
        let base = format!("http://127.0.0.1:{}", vigie.addr("public").port());
        vigie.rewrite_config(&yaml(up, entity, idp, metadata_url, &base, slo));
        vigie.signal("HUP");
        let acs = format!("{base}/vigie/saml/educonnect/acs");
        vigie.poll_until("the reloaded ACS", || {
            http_get_blocking(vigie.addr("public"), "/vigie/saml/educonnect/metadata")
                .is_some_and(|m| m.contains(&acs))
        });
        vigie.wait_ready();
        SamlSite {
            vigie,
            base,
            sign,
            enc,
            enc_key,
        }
    }
}

/// The path a browser asking `b` for the HTML page `url` lands on, after redirects.
pub async fn lands_on(b: &reqwest::Client, url: &str) -> String {
    b.get(url)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .url()
        .path()
        .to_string()
}
