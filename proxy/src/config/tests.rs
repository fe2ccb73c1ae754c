#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Broken configurations, each with the precise error an operator must read.

use std::path::Path;

use super::*;

const GOOD: &str = r#"
listeners:
  - name: public
    address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
upstreams:
  teleservices:
    backends: ["127.0.0.1:9101"]
  ent-rennes:
    backends: ["127.0.0.1:9201"]
routes:
  - name: ts
    path_prefix: /
    upstream: teleservices
    access: public
"#;

fn parse_str(yaml: &str) -> Result<Config, ConfigErrors> {
    parse(yaml, Some(Path::new("vigie.yaml")), Path::new("."))
}

/// The one error `yaml` produces, as displayed.
fn error_of(yaml: &str) -> String {
    match parse_str(yaml) {
        Ok(_) => panic!("this config must be refused:\n{yaml}"),
        Err(e) => {
            assert_eq!(e.0.len(), 1, "expected one error, got: {e}");
            e.0[0].to_string()
        }
    }
}

#[test]
fn good_config_loads_with_defaults() {
    let c = parse_str(GOOD).expect("valid");
    assert_eq!(c.routes.len(), 1);
    assert_eq!(c.limits.max_request_header_size, 32 * 1024);
    assert_eq!(c.upstreams["teleservices"].backends[0].1[0].port(), 9101);
    assert_eq!(
        c.server.watch_interval,
        Some(std::time::Duration::from_secs(2))
    );
    assert!(!c.server.work_stealing, "no work stealing by default");
}

#[test]
fn broken_configs_name_path_line_and_expectation() {
    let cases: &[(&str, &str)] = &[
        (
            "unknown key",
            "vigie.yaml:5:3: admin.adress: unknown field `adress`, expected one of address",
        ),
        (
            "bad type",
            "vigie.yaml:19:28: limits.max_request_header_size: invalid size \"lots\": expected bytes such as 16384 or \"16KiB\"",
        ),
        (
            "unknown upstream",
            r#"vigie.yaml:14:15: routes[0].upstream: no upstream named "ent-nantes"; known: ent-rennes, teleservices"#,
        ),
        (
            "bad CIDR",
            r#"vigie.yaml:17:5: trusted_proxies[0]: invalid CIDR "10.0.0.0/33""#,
        ),
        (
            "missing cert file",
            "vigie.yaml:5:20: listeners[0].tls.certificate: cannot read certificate ./absent.pem",
        ),
        (
            "duplicate route",
            r#"vigie.yaml:16:11: routes[1]: duplicate route: any host with path_prefix "/ts" is already served by routes[0] ("ts")"#,
        ),
    ];
    for (case, expected) in cases {
        let yaml = broken(case);
        let got = error_of(&yaml);
        assert!(
            got.starts_with(expected),
            "{case}:\n  got:      {got}\n  expected: {expected}…"
        );
    }
}

/// GOOD with one mistake, written so each mistake sits on a known line.
fn broken(case: &str) -> String {
    let listeners = if case == "missing cert file" {
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\n    tls:\n      certificate: absent.pem\n      private_key: absent.key\n"
    } else {
        "listeners:\n  - name: public\n    address: 127.0.0.1:0\n"
    };
    let admin = if case == "unknown key" {
        "admin:\n  adress: 127.0.0.1:0\n"
    } else {
        "admin:\n  address: 127.0.0.1:0\n"
    };
    let admin = if case == "missing cert file" {
        format!("\n\n{admin}")
    } else {
        admin.to_string()
    };
    let upstream = if case == "unknown upstream" {
        "ent-nantes"
    } else {
        "teleservices"
    };
    let second = if case == "duplicate route" {
        "  - name: ts2\n    path_prefix: /ts/\n    upstream: teleservices\n    access: public\n"
    } else {
        ""
    };
    let cidr = if case == "bad CIDR" {
        "10.0.0.0/33"
    } else {
        "10.0.0.0/8"
    };
    let size = if case == "bad type" { "lots" } else { "16KiB" };
    format!(
        "{listeners}{admin}upstreams:\n  teleservices:\n    backends: [\"127.0.0.1:9101\"]\n  ent-rennes:\n    backends: [\"127.0.0.1:9201\"]\nroutes:\n  - name: ts\n    path_prefix: /ts\n    upstream: {upstream}\n    access: public\n{second}trusted_proxies:\n  - {cidr}\nlimits:\n  max_request_header_size: {size}\n"
    )
}

#[test]
fn every_semantic_error_is_reported_at_once() {
    let yaml = GOOD
        .replace("upstream: teleservices", "upstream: nowhere")
        .replace("127.0.0.1:9201", "nohost");
    let errors = parse_str(&yaml).expect_err("two mistakes");
    let text = errors.to_string();
    assert_eq!(errors.0.len(), 2, "{text}");
    assert!(
        text.contains("upstreams.ent-rennes.backends[0]: invalid backend \"nohost\""),
        "{text}"
    );
    assert!(
        text.contains("routes[0].upstream: no upstream named \"nowhere\""),
        "{text}"
    );
}

#[test]
fn values_are_checked_where_they_are_written() {
    let cases = [
        (
            "path_prefix: /",
            "path_prefix: ts",
            "routes[0].path_prefix: invalid path_prefix \"ts\"",
        ),
        (
            "path_prefix: /",
            "path_prefix: /a/../b",
            "invalid path_prefix \"/a/../b\"",
        ),
        (
            "address: 127.0.0.1:0\nadmin",
            "address: localhost\nadmin",
            "listeners[0].address: invalid listen address \"localhost\"",
        ),
        (
            "    upstream: teleservices",
            "    upstream: teleservices\n    hosts: [\"ent:443\"]",
            "routes[0].hosts[0]: invalid host \"ent:443\"",
        ),
        (
            "backends: [\"127.0.0.1:9101\"]",
            "backends: [\"127.0.0.1\"]",
            "upstreams.teleservices.backends[0]: invalid backend \"127.0.0.1\"",
        ),
        (
            "backends: [\"127.0.0.1:9101\"]",
            "backends: []",
            "upstreams.teleservices.backends: at least one backend is needed",
        ),
        (
            "backends: [\"127.0.0.1:9101\"]",
            "backends: [\"127.0.0.1:9101\"]\n    hash_key: path",
            "upstreams.teleservices.hash_key: hash_key needs `balancing: consistent_hash`",
        ),
        (
            "backends: [\"127.0.0.1:9101\"]",
            "backends: [\"127.0.0.1:9101\"]\n    connect_timeout: 5",
            "upstreams.teleservices.connect_timeout: invalid duration \"5\": expected a number with a unit",
        ),
        (
            "backends: [\"127.0.0.1:9101\"]",
            "backends: [\"127.0.0.1:9101\"]\n    balancing: random",
            "upstreams.teleservices.balancing: unknown variant `random`, expected one of round_robin, consistent_hash",
        ),
    ];
    for (from, to, expected) in cases {
        let yaml = GOOD.replacen(from, to, 1);
        let got = error_of(&yaml);
        assert!(
            got.contains(expected),
            "{to}:\n  got:      {got}\n  expected: …{expected}…"
        );
    }
}

#[test]
fn listener_addresses_and_names_are_unique() {
    let yaml = GOOD.replace(
        "  - name: public\n    address: 127.0.0.1:0\n",
        "  - name: public\n    address: 127.0.0.1:8080\n  - name: public\n    address: 127.0.0.1:8080\n",
    );
    let text = parse_str(&yaml).expect_err("duplicates").to_string();
    assert!(
        text.contains("listeners[1].name: duplicate listener name \"public\""),
        "{text}"
    );
    assert!(
        text.contains(
            "listeners[1].address: 127.0.0.1:8080 is already used by listeners[0].address"
        ),
        "{text}"
    );
}

#[test]
fn yaml_syntax_errors_have_a_line() {
    let got = error_of("listeners: [\n");
    assert!(got.starts_with("vigie.yaml:1:"), "{got}");
}

#[test]
fn identity_settings_are_checked() {
    let with_idp = |providers: &str, access: &str| {
        GOOD.replace("    access: public\n", &format!("    access: {access}\n"))
            .replace(
                "routes:",
                &format!("identity_providers:\n{providers}\nroutes:"),
            )
    };
    let idp = "  idp:\n    kind: oidc\n    issuer: https://idp.example\n    audiences: [vigie]";
    assert!(parse_str(&with_idp(idp, "{ bearer: [idp], profiles: [eleve] }")).is_ok());
    let cases = [
        (
            with_idp(idp, "{ bearer: [nope] }"),
            r#"routes[0].access.bearer[0]: no identity provider named "nope"; known: idp"#,
        ),
        (
            with_idp(
                &idp.replace(
                    "audiences: [vigie]",
                    "audiences: [vigie]\n    algorithms: [ES256, HS256]",
                ),
                "public",
            ),
            r#"identity_providers.idp.algorithms[1]: algorithm "HS256" is not accepted"#,
        ),
        (
            with_idp(
                &idp.replace("https://idp.example", "http://idp.example"),
                "public",
            ),
            r#"identity_providers.idp.issuer: invalid issuer "http://idp.example": expected an https URL"#,
        ),
        (
            with_idp(&idp.replace("[vigie]", "[]"), "public"),
            "identity_providers.idp.audiences: at least one audience is needed",
        ),
        (
            with_idp(idp, "{ bearer: [idp], min_acr: eidas9 }"),
            r#"routes[0].access.min_acr: "eidas9" is not in identity.acr_order (eidas1 < eidas2 < eidas3)"#,
        ),
        (
            with_idp(idp, "private"),
            r#"routes[0].access: invalid access "private": expected `public` or a mapping"#,
        ),
        (
            GOOD.replace("    access: public\n", ""),
            "routes[0]: missing field `access`",
        ),
        (
            with_idp(idp, "{ profiles: [eleve] }"),
            "routes[0].access: a protected route needs at least one credential",
        ),
        (
            GOOD.replace(
                "routes:",
                "identity:\n  assertion: { issuer: vigie, signing_key: absent.pem }\nroutes:",
            ),
            "identity.assertion.signing_key: cannot use ./absent.pem as an ES256 signing key",
        ),
    ];
    for (yaml, expected) in cases {
        let got = error_of(&yaml);
        assert!(
            got.contains(expected),
            "\n  got:      {got}\n  expected: …{expected}…"
        );
    }
}

mod traffic;
