//! A live SAML provider: our keys, ready to sign and decrypt, and the IdP's metadata.
//!
//! Metadata from a file is read with the config. Metadata from a URL is fetched by the key
//! refresher as soon as a generation names the provider, then again every `refresh` (sooner
//! as `validUntil` nears); a failed fetch keeps what was there and retries within 30 s.
//! Metadata past its `validUntil` is never used: logins then answer "service unavailable".

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use parking_lot::Mutex;

use super::decrypt::DecryptKey;
use super::metadata::{self, IdpMetadata, SpDescription};
use super::redirect::SignKey;
use super::spec::{MetadataSource, SamlSpec};
use crate::sessions::unix_now;

/// Largest metadata document fetched.
const MAX_METADATA: usize = 4 * 1024 * 1024;
/// Wait before retrying a failed fetch.
const RETRY: Duration = Duration::from_secs(30);

/// See the module docs.
pub struct SamlProvider {
    /// What the config says.
    pub spec: SamlSpec,
    /// Its name.
    pub name: Arc<str>,
    sign: SignKey,
    decrypt: Vec<DecryptKey>,
    metadata: ArcSwapOption<IdpMetadata>,
    next_fetch: Mutex<Option<Instant>>,
    client: Option<reqwest::Client>,
}

impl std::fmt::Debug for SamlProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlProvider")
            .field("name", &self.name)
            .field("idp", &self.spec.idp_entity_id)
            .finish_non_exhaustive()
    }
}

impl SamlProvider {
    /// A live provider (keys were validated with the config, so this only fails on a
    /// config that was not).
    pub fn build(spec: SamlSpec) -> Result<SamlProvider, String> {
        let sign = SignKey::from_pkcs8(&spec.signing.key)?;
        let decrypt = std::iter::once(spec.encryption.key.as_slice())
            .chain(spec.encryption.next.as_ref().map(|(k, _)| k.as_slice()))
            .map(DecryptKey::from_pkcs8)
            .collect::<Result<Vec<_>, _>>()?;
        let (metadata, client, next_fetch) = match &spec.metadata {
            MetadataSource::Document(doc) => {
                let m = metadata::read_idp(doc, &spec.idp_entity_id, unix_now() as i64)
                    .map_err(|e| e.to_string())?;
                (Some(Arc::new(m)), None, None)
            }
            MetadataSource::Url { ca_pem, .. } => {
                let client =
                    crate::auth::source::client(ca_pem.as_deref(), Duration::from_secs(10))?;
                (None, Some(client), Some(Instant::now()))
            }
        };
        Ok(SamlProvider {
            name: spec.name.as_str().into(),
            spec,
            sign,
            decrypt,
            metadata: ArcSwapOption::new(metadata),
            next_fetch: Mutex::new(next_fetch),
            client,
        })
    }

    /// The IdP's metadata, while valid.
    pub fn metadata(&self) -> Option<Arc<IdpMetadata>> {
        let now = unix_now() as i64;
        self.metadata
            .load_full()
            .filter(|m| m.valid_until.is_none_or(|t| t > now))
    }

    /// Whether metadata was ever loaded. Readiness waits for it at start only: metadata that
    /// expires later stops ÉduConnect logins (a clear page), not the whole edge.
    pub fn has_loaded(&self) -> bool {
        self.metadata.load().is_some()
    }

    /// Our signing key.
    pub fn sign_key(&self) -> &SignKey {
        &self.sign
    }

    /// Our decryption keys, current first.
    pub fn decrypt_keys(&self) -> &[DecryptKey] {
        &self.decrypt
    }

    /// Our metadata document.
    pub fn sp_metadata(&self) -> String {
        metadata::write_sp(&SpDescription {
            entity_id: &self.spec.entity_id,
            acs_url: &self.spec.acs_url,
            slo_url: self.spec.slo_url.as_deref(),
            signing_certs: self.spec.signing.certs(),
            encryption_certs: self.spec.encryption.certs(),
        })
    }

    /// Fetches the metadata from its URL when due.
    pub async fn refresh_if_due(&self, now: Instant) {
        let (Some(client), MetadataSource::Url { url, refresh, .. }) =
            (&self.client, &self.spec.metadata)
        else {
            return;
        };
        {
            let mut next = self.next_fetch.lock();
            match *next {
                Some(at) if at <= now => *next = Some(now + RETRY),
                _ => return,
            }
        }
        match fetch(client, url).await.and_then(|doc| {
            metadata::read_idp(&doc, &self.spec.idp_entity_id, unix_now() as i64)
                .map_err(|e| e.to_string())
        }) {
            Ok(m) => {
                let mut wait = *refresh;
                if let Some(until) = m.valid_until {
                    let left = Duration::from_secs((until - unix_now() as i64).max(0) as u64);
                    wait = wait.min(left / 2).max(RETRY);
                }
                tracing::info!(provider = %self.name, idp = %m.entity_id, keys = m.signing_keys.len(), "SAML metadata loaded");
                self.metadata.store(Some(Arc::new(m)));
                *self.next_fetch.lock() = Some(now + wait);
            }
            Err(e) => {
                tracing::warn!(provider = %self.name, url = %url, error = %e, "SAML metadata fetch failed; keeping the previous one");
            }
        }
    }
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let mut resp = client.get(url).send().await.map_err(|e| e.to_string())?;
    if resp.status() != reqwest::StatusCode::OK {
        return Err(format!("status {}", resp.status().as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_METADATA {
            return Err(format!("larger than {MAX_METADATA} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| "not UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use vigie_load_tests::educonnect::DevIdp;
    use vigie_load_tests::saml::RsaIdentity;

    use super::*;
    use crate::config::file::SamlAttributesSection;
    use crate::saml::attributes::AttributeMap;
    use crate::saml::spec::KeyMaterial;

    /// Serves `metadata` to the first `good` requests, then answers 500.
    async fn flaky_server(metadata: String, good: usize) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Arc::new(AtomicUsize::new(0));
        let count = served.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let reply = if served.fetch_add(1, Ordering::SeqCst) < good {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{metadata}",
                        metadata.len()
                    )
                } else {
                    "HTTP/1.1 500 Oops\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into()
                };
                let _ = stream.write_all(reply.as_bytes()).await;
            }
        });
        (format!("http://{addr}/metadata"), count)
    }

    fn spec(idp: &DevIdp, url: &str) -> SamlSpec {
        let pair = |id: RsaIdentity| KeyMaterial {
            key: id.key_der.clone(),
            cert: id.cert_der.clone(),
            next: None,
        };
        SamlSpec {
            name: "educonnect".into(),
            entity_id: "urn:vigie:test".into(),
            acs_url: "https://sp.test/vigie/saml/educonnect/acs".into(),
            slo_url: None,
            idp_entity_id: idp.entity_id.clone(),
            metadata: MetadataSource::Url {
                url: url.into(),
                ca_pem: None,
                refresh: Duration::from_secs(3600),
            },
            signing: pair(RsaIdentity::generate("s")),
            encryption: pair(RsaIdentity::generate("e")),
            clock_skew: Duration::from_secs(60),
            max_response_age: Duration::from_secs(600),
            allow_idp_initiated: false,
            attributes: AttributeMap::from_file(&SamlAttributesSection::default()),
            label: "ÉduConnect".into(),
            offered_to: vec!["eleve".into()],
        }
    }

    #[tokio::test]
    async fn metadata_is_fetched_refreshed_and_kept_when_a_refresh_fails() {
        let idp = DevIdp::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let document = reqwest::get(idp.metadata_url())
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let (url, fetches) = flaky_server(document, 1).await;
        let p = SamlProvider::build(spec(&idp, &url)).unwrap();
        assert!(!p.has_loaded(), "nothing before the first fetch");
        let start = Instant::now();
        p.refresh_if_due(start).await;
        let first = p.metadata().expect("fetched");
        assert_eq!(first.entity_id, idp.entity_id);
        // Not due again before its interval.
        p.refresh_if_due(start + Duration::from_secs(60)).await;
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        // Due, and the IdP fails: the metadata stays.
        p.refresh_if_due(start + Duration::from_secs(7200)).await;
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        assert!(p.metadata().is_some(), "kept through a failed refresh");

        // Unreachable from the start: never ready, logins answer "unavailable".
        let closed = SamlProvider::build(spec(&idp, "http://127.0.0.1:9/metadata")).unwrap();
        closed.refresh_if_due(Instant::now()).await;
        assert!(!closed.has_loaded());
    }
}
