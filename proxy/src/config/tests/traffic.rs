//! `rate_limits:`, `concurrency:` and `waiting_room:` settings, good and broken.

use super::*;

/// Each `(from, to, expected)`: `good` with `from` replaced by `to` is refused with an error
/// containing `expected`.
fn refused(good: &str, cases: &[(&str, &str, &str)]) {
    for (from, to, expected) in cases {
        let got = error_of(&good.replacen(from, to, 1));
        assert!(
            got.contains(expected),
            "{to}:\n  got:      {got}\n  expected: …{expected}…"
        );
    }
}

#[test]
fn traffic_settings_are_checked() {
    let limits = "rate_limits:\n  per_client: { key: [client_address], rate: 20/s, burst: 40 }\n  per_person: { key: [subject], rate: 5/s }\nroutes:";
    let good = GOOD.replace("routes:", limits).replace(
        "    access: public\n",
        "    access: public\n    rate_limits: [per_client]\n    essential: true\n",
    );
    let c = parse_str(&good).expect("valid");
    assert_eq!(c.routes[0].rate_limits, ["per_client"]);
    assert!(c.routes[0].essential);
    assert_eq!(c.rate_limits["per_client"].burst, 40);
    assert_eq!(
        c.rate_limits["per_person"].burst, 5,
        "the burst defaults to the count"
    );
    let cases = [
        (
            "rate_limits: [per_client]",
            "rate_limits: [per_clent]",
            "vigie.yaml:20:19: routes[0].rate_limits[0]: no rate limit named \"per_clent\"; known: per_client, per_person",
        ),
        (
            "rate_limits: [per_client]",
            "rate_limits: [per_person]",
            "routes[0].rate_limits[0]: limit \"per_person\" counts by subject, which needs a protected route",
        ),
        (
            "rate_limits: [per_client]",
            "rate_limits: [per_client, per_client]",
            "routes[0].rate_limits[1]: limit \"per_client\" is listed twice",
        ),
        (
            "rate: 20/s",
            "rate: 20/d",
            "rate_limits.per_client.rate: invalid rate \"20/d\"",
        ),
        (
            "burst: 40",
            "burst: 0",
            "rate_limits.per_client.burst: burst must be at least 1",
        ),
        (
            "key: [client_address]",
            "key: [client_ip]",
            "rate_limits.per_client.key[0]: unknown variant `client_ip`, expected one of client_address, subject, route",
        ),
    ];
    refused(&good, &cases);
}

#[test]
fn concurrency_limits_are_checked() {
    let gated = GOOD.replace(
        "backends: [\"127.0.0.1:9101\"]",
        "backends: [\"127.0.0.1:9101\"]\n    concurrency: { max_in_flight: 100, reserved_for_essential: 30 }",
    );
    let c = parse_str(&gated).expect("valid");
    let gate = &c.concurrency["teleservices"];
    assert_eq!(
        (gate.max_in_flight, gate.reserved, gate.max_waiting),
        (100, 30, 100)
    );
    assert_eq!(gate.queue_timeout, std::time::Duration::from_secs(2));
    refused(
        &gated,
        &[
            (
                "max_in_flight: 100,",
                "max_in_flight: 0,",
                "upstreams.teleservices.concurrency.max_in_flight: max_in_flight must be at least 1",
            ),
            (
                "reserved_for_essential: 30",
                "reserved_for_essential: 130",
                "upstreams.teleservices.concurrency.reserved_for_essential: 130 is not a percentage",
            ),
            (
                "max_in_flight: 100,",
                "max_in_flght: 100,",
                "unknown field `max_in_flght`",
            ),
        ],
    );
}

#[test]
fn waiting_rooms_are_checked() {
    let provider = r#"rate_limits:
  per_client: { key: [client_address], rate: 5/s }
  per_person: { key: [subject], rate: 5/s }
identity_providers:
  fc:
    kind: oidc
    issuer: https://fc.example.fr
    audiences: [vigie]
    login:
      client_id: vigie
      client_secret_file: Cargo.toml
      redirect_uri: /vigie/callback/fc
      offered_to: [responsable]
    waiting_room: { admission_rate: 50/s, nodes: 4, rate_limits: [per_client] }
routes:"#;
    // Any non-empty file stands for the client secret (tests run in the crate folder).
    let good = GOOD.replace("routes:", provider);
    let c = parse_str(&good).expect("valid");
    let room = &c.waiting_rooms["fc"];
    assert_eq!(room.rate_limits, ["per_client"]);
    assert_eq!(room.max_waiting, 1_000_000);
    assert_eq!(
        (room.burst, room.nodes),
        (5, 4),
        "the burst defaults to a tenth of a second of the rate"
    );
    assert_eq!(room.node_params().rate_per_ms, 0.0125 / 1.0);
    let cases = [
        (
            "admission_rate: 50/s",
            "admission_rate: fast",
            "identity_providers.fc.waiting_room.admission_rate: invalid rate \"fast\"",
        ),
        (
            "rate_limits: [per_client]",
            "rate_limits: [per_person]",
            "identity_providers.fc.waiting_room.rate_limits[0]: limit \"per_person\" counts by subject",
        ),
        (
            "rate_limits: [per_client]",
            "rate_limits: [per_clint]",
            "identity_providers.fc.waiting_room.rate_limits[0]: no rate limit named \"per_clint\"",
        ),
        (
            "nodes: 4",
            "max_waiting: 0",
            "identity_providers.fc.waiting_room.max_waiting: max_waiting must be at least 1",
        ),
        (
            "nodes: 4",
            "nodes: 0",
            "identity_providers.fc.waiting_room.nodes: nodes must be at least 1",
        ),
        (
            "nodes: 4",
            "refresh: 20s",
            "identity_providers.fc.waiting_room.ticket_ttl: ticket_ttl (30s) must be at least twice refresh (20s)",
        ),
        (
            "nodes: 4",
            "refresh: 500ms",
            "identity_providers.fc.waiting_room.refresh: refresh must be at least 1s",
        ),
        (
            "    login:\n      client_id: vigie\n      client_secret_file: Cargo.toml\n      redirect_uri: /vigie/callback/fc\n      offered_to: [responsable]\n",
            "",
            "identity_providers.fc.waiting_room: a waiting room queues logins: this provider has no `login:` section",
        ),
    ];
    refused(&good, &cases);
}
