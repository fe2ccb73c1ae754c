//! `config/kubernetes/`: every manifest validates against the Kubernetes schemas
//! (`kubernetes-validate --strict`, installed by `.ci/prepare`), the fleet's Vigie
//! configuration in the ConfigMap is valid for Vigie itself, and the Deployment keeps the
//! promises operators rely on (probes, non-root, read-only root filesystem, resources).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{Certs, TempDir};

fn manifests() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn load(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../config/kubernetes")
        .join(name);
    serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_manifest_passes_strict_schema_validation() {
    let files = manifests();
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for needed in [
        "configmap.yaml",
        "deployment.yaml",
        "hpa.yaml",
        "pdb.yaml",
        "redis.yaml",
        "service.yaml",
    ] {
        assert!(
            names.iter().any(|n| n == needed),
            "config/kubernetes/{needed} is missing"
        );
    }
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "--kubernetes-version", "1.31.0"])
        .args(&files)
        .output()
        .unwrap_or_else(|e| {
            panic!("kubernetes-validate is needed ({e}); `.ci/prepare` installs it")
        });
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    assert!(
        !report.contains("ERROR") && report.matches("passed").count() >= 10,
        "{report}"
    );
}

#[test]
fn the_configmap_holds_a_valid_fleet_configuration() {
    let configmap = load("configmap.yaml");
    // Backend names are resolved at load; the cluster's exist only in the cluster.
    let text = configmap["data"]["vigie.yaml"]
        .as_str()
        .unwrap()
        .replace("teleservices.scolarite.svc.cluster.local", "localhost");
    // Laid out as in the pod: config/, secrets/ and tls/ side by side.
    let root = TempDir::new();
    for dir in ["config", "secrets", "tls"] {
        std::fs::create_dir_all(root.path().join(dir)).unwrap();
    }
    let certs = Certs::generate();
    root.write("tls/tls.crt", &certs.cert_pem);
    root.write("tls/tls.key", &certs.key_pem);
    root.write("secrets/franceconnect-client-secret", "client-secret");
    root.write("secrets/session-secret", "0123456789abcdef0123456789abcdef");
    root.write("secrets/redis-password", "redis-password");
    let base = root.path().join("config");
    let config = vigie::config::parse(&text, Some(&base.join("vigie.yaml")), &base)
        .unwrap_or_else(|e| panic!("the ConfigMap's vigie.yaml must be valid:\n{e}"));
    assert_eq!(
        config.sessions.store,
        vigie::config::file::StoreKind::Redis,
        "a fleet shares sessions"
    );
    let redis = config.sessions.redis.as_ref().unwrap();
    assert!(
        redis.urls[0].contains("vigie-redis"),
        "the Redis of redis.yaml"
    );
}

#[test]
fn the_deployment_is_probed_unprivileged_and_bounded() {
    let deployment = load("deployment.yaml");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    for kind in ["requests", "limits"] {
        assert!(
            c["resources"][kind]["memory"].is_string(),
            "resources.{kind}.memory"
        );
    }
    // The pod outlives Vigie's own drain (grace_period 30s + shutdown_timeout 5s).
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() > 35);
    let mounts: Vec<&str> = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    assert!(
        mounts.contains(&"/etc/vigie/config") && mounts.contains(&"/tmp"),
        "{mounts:?}"
    );
    let env = &c["env"][0];
    assert_eq!(
        (env["name"].as_str(), env["value"].as_str()),
        (Some("VIGIE_CONFIG"), Some("/etc/vigie/config/vigie.yaml"))
    );
}
