//! Vigie's cookies: read from `Cookie` headers, written as `Set-Cookie` values. Every cookie
//! is `__Host-` prefixed, `Secure`, `HttpOnly`, `SameSite=Lax`, `Path=/`, with no `Domain`.

use std::time::Duration;

use http::HeaderMap;

/// The session cookie: only the opaque session id.
pub const SESSION: &str = "__Host-vigie_session";
/// A login in progress: sealed state, nonce, PKCE verifier, provider and return path.
pub const LOGIN: &str = "__Host-vigie_login";
/// A logout in progress: sealed `state` expected back from the provider.
pub const LOGOUT: &str = "__Host-vigie_logout";
/// A SAML login in progress: the sealed AuthnRequest ID and return path. `SameSite=None`,
/// since the IdP answers with a cross-site POST.
pub const SAML: &str = "__Host-vigie_saml";

/// The value of cookie `name` in the request, if sent (the first one, if sent twice).
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim())
}

/// A `Set-Cookie` value storing `value` for `max_age` (a session cookie when `None`).
pub fn set(name: &str, value: &str, max_age: Option<Duration>) -> String {
    let mut cookie = format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={}", age.as_secs()));
    }
    cookie
}

/// A `Set-Cookie` value also sent on cross-site requests (`SameSite=None`): only for the
/// sealed, short-lived state a cross-site POST must bring back.
pub fn set_cross_site(name: &str, value: &str, max_age: Option<Duration>) -> String {
    set(name, value, max_age).replace("SameSite=Lax", "SameSite=None")
}

/// Removes a cookie set by [`set_cross_site`].
pub fn clear_cross_site(name: &str) -> String {
    clear(name).replace("SameSite=Lax", "SameSite=None")
}

/// A `Set-Cookie` value removing cookie `name`.
pub fn clear(name: &str) -> String {
    format!("{name}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_and_written_strictly() {
        let mut h = HeaderMap::new();
        h.append(
            http::header::COOKIE,
            http::HeaderValue::from_static("a=1; __Host-vigie_session=abc ; b=2"),
        );
        h.append(
            http::header::COOKIE,
            http::HeaderValue::from_static("__Host-vigie_session=second"),
        );
        assert_eq!(get(&h, SESSION), Some("abc"));
        assert_eq!(get(&h, "missing"), None);
        let c = set(SESSION, "id", Some(Duration::from_secs(60)));
        assert_eq!(
            c,
            "__Host-vigie_session=id; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=60"
        );
        assert!(clear(LOGIN).ends_with("Max-Age=0"));
    }
}
