//! Broken `kind: saml` providers, each with the error an operator must read (path and line).

use std::path::Path;

use vigie_load_tests::saml::RsaIdentity;

use crate::config::parse;

fn config(provider: &str) -> String {
    format!(
        r#"
listeners: [{{ name: public, address: "127.0.0.1:0" }}]
admin: {{ address: "127.0.0.1:0" }}
upstreams: {{ ts: {{ backends: ["127.0.0.1:9101"] }} }}
identity_providers:
  educonnect:
{provider}
routes: [{{ name: r, path_prefix: /, upstream: ts, access: {{ session: true }} }}]
"#
    )
}

const GOOD: &str = r#"    kind: saml
    saml:
      entity_id: urn:vigie:test
      acs_url: https://sp.test/vigie/saml/educonnect/acs
      slo_url: https://sp.test/vigie/saml/educonnect/slo
      idp: { entity_id: "https://idp.test/idp", metadata_url: "https://idp.test/metadata" }
      signing: { key_file: sign.key, cert_file: sign.crt }
      encryption: { key_file: enc.key, cert_file: enc.crt }
      offered_to: [eleve]"#;

#[test]
fn saml_providers_are_checked_with_path_and_line() {
    let dir = std::env::temp_dir().join(format!("vigie-saml-spec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (sign, enc, other) = (
        RsaIdentity::generate("s"),
        RsaIdentity::generate("e"),
        RsaIdentity::generate("o"),
    );
    for (name, content) in [
        ("sign.key", &sign.key_pem),
        ("sign.crt", &sign.cert_pem),
        ("enc.key", &enc.key_pem),
        ("enc.crt", &enc.cert_pem),
        ("other.crt", &other.cert_pem),
    ] {
        std::fs::write(dir.join(name), content).unwrap();
    }
    let load = |provider: &str| parse(&config(provider), Some(Path::new("vigie.yaml")), &dir);
    let ok = load(GOOD).expect("the good provider loads");
    assert_eq!(ok.saml["educonnect"].offered_to, ["eleve"]);
    let cases = [
        (
            "    kind: saml".to_string(),
            "vigie.yaml:7:11: identity_providers.educonnect.saml: a provider of kind saml needs a saml: section",
        ),
        (
            GOOD.replace(
                "    kind: saml",
                "    kind: saml\n    issuer: https://idp.test",
            ),
            "vigie.yaml:7:11: identity_providers.educonnect.issuer: issuer is for kind oidc",
        ),
        (
            GOOD.replace("cert_file: enc.crt", "cert_file: other.crt"),
            "identity_providers.educonnect.saml.encryption.cert_file: the certificate is not the key's",
        ),
        (
            GOOD.replace("key_file: sign.key", "key_file: missing.key"),
            "identity_providers.educonnect.saml.signing.key_file: cannot read",
        ),
        (
            GOOD.replace("key_file: sign.key", "key_file: sign.crt"),
            "no PEM block \"PRIVATE KEY\"",
        ),
        (
            GOOD.replace("educonnect/acs", "educonnect/post"),
            "vigie.yaml:10:16: identity_providers.educonnect.saml.acs_url: must end with /vigie/saml/educonnect/acs",
        ),
        (
            GOOD.replace(
                "https://sp.test/vigie/saml/educonnect/slo",
                "ftp://sp.test/vigie/saml/educonnect/slo",
            ),
            "identity_providers.educonnect.saml.slo_url: invalid URL",
        ),
        (
            GOOD.replace(", metadata_url: \"https://idp.test/metadata\"", ""),
            "identity_providers.educonnect.saml.idp: give exactly one of metadata_file and metadata_url",
        ),
        (
            GOOD.replace(
                "metadata_url: \"https://idp.test/metadata\"",
                "metadata_file: nothing.xml",
            ),
            "identity_providers.educonnect.saml.idp.metadata_file: cannot read",
        ),
        (
            GOOD.replace("offered_to: [eleve]", "offered_to: []"),
            "identity_providers.educonnect.saml.offered_to: list the profiles",
        ),
        (
            GOOD.replace("      offered_to", "      colour: blue\n      offered_to"),
            "identity_providers.educonnect.saml.colour: unknown field `colour`",
        ),
    ];
    for (provider, expected) in cases {
        let err = load(&provider).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains(expected), "expected {expected:?}\ngot: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
