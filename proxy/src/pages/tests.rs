#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn html_page_is_french_accessible_and_carries_the_request_id() {
    let page = Rejection::NoRoute.render("abc123", false);
    assert_eq!(page.status, 404);
    let body = std::str::from_utf8(&page.body).expect("utf-8");
    assert!(body.contains(r#"<html lang="fr""#));
    assert!(body.contains("<h1>Page non trouvée</h1>"));
    assert!(body.contains("abc123"));
    assert!(body.contains("role=\"main\""));
    assert!(
        page.headers
            .iter()
            .any(|(k, v)| *k == "content-type" && v.starts_with("text/html"))
    );
}

#[test]
fn json_clients_get_problem_details() {
    let page = Rejection::NoHealthyBackend.render("r-1", true);
    assert_eq!(page.status, 503);
    let doc: serde_json::Value = serde_json::from_slice(&page.body).expect("json");
    assert_eq!(doc["status"], 503);
    assert_eq!(doc["request_id"], "r-1");
    assert_eq!(doc["type"], "urn:vigie:probleme:service-indisponible");
    assert!(
        page.headers
            .iter()
            .any(|(k, v)| *k == "retry-after" && v == "5")
    );
    assert!(
        page.headers
            .iter()
            .any(|(k, v)| *k == "content-type" && v == "application/problem+json")
    );
}

#[test]
fn accept_negotiation() {
    assert!(wants_json(Some(b"application/json")));
    assert!(wants_json(Some(b"application/problem+json")));
    assert!(!wants_json(Some(
        b"text/html,application/xhtml+xml,application/json;q=0.9"
    )));
    assert!(!wants_json(Some(b"*/*")));
    assert!(!wants_json(None));
}

#[test]
fn raw_responses_are_complete_http1_messages() {
    let raw = Rejection::HeadTooLarge.raw_http1();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    assert!(head.contains("connection: close"));
    assert!(head.contains(&format!("content-length: {}", body.len())));
}
