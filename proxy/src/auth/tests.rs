#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use headers::percent_encode;

fn headers(values: &[&'static str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for v in values {
        h.append(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static(v),
        );
    }
    h
}

#[test]
fn one_bearer_token_exactly() {
    assert_eq!(
        bearer_token(&headers(&["Bearer abc.def.ghi"])),
        Ok("abc.def.ghi")
    );
    assert_eq!(bearer_token(&headers(&["bearer abc"])), Ok("abc"));
    assert_eq!(bearer_token(&headers(&[])), Err(AuthFailure::Missing));
    assert_eq!(
        bearer_token(&headers(&["Bearer a", "Bearer b"])),
        Err(AuthFailure::InvalidRequest)
    );
    for bad in [
        "Basic dXNlcjpwdw==",
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer a,b",
        "Bearer <script>",
    ] {
        assert_eq!(
            bearer_token(&headers(&[bad])),
            Err(AuthFailure::InvalidRequest),
            "{bad:?}"
        );
    }
}

#[test]
fn display_names_are_sent_as_ascii() {
    assert_eq!(
        percent_encode("Léa Martin-Dupont"),
        "L%C3%A9a Martin-Dupont"
    );
    assert_eq!(percent_encode("a\r\nb"), "a%0D%0Ab");
}
