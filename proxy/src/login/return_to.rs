//! `return_to`: where a browser goes after logging in. Only a path on this site is accepted,
//! so the login flow can never be used as an open redirect.

/// Longest `return_to` accepted.
const MAX_LEN: usize = 2048;

/// `raw` if it is a same-origin relative path (`/…`, not `//…`), without backslashes,
/// control characters, encoded slashes or dot segments; `/` otherwise.
pub(super) fn safe(raw: Option<&str>) -> String {
    raw.filter(|r| is_safe(r))
        .map_or_else(|| "/".to_string(), str::to_string)
}

fn is_safe(r: &str) -> bool {
    let lower = r.to_ascii_lowercase();
    r.len() <= MAX_LEN
        && r.starts_with('/')
        && !r.starts_with("//")
        && !r.contains('\\')
        && !r.chars().any(|c| c.is_control() || c == ' ')
        // An encoded slash or backslash becomes `//evil` or `/\evil` once a browser decodes it.
        && !lower.contains("%2f")
        && !lower.contains("%5c")
        && !lower.contains("%09")
        && !lower.contains("%0a")
        && !lower.contains("%0d")
        && crate::routing::normalize_path(r.split(['?', '#']).next().unwrap_or("/")).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_accepted() {
        for good in [
            "/",
            "/livret",
            "/livret/eleve?annee=2026",
            "/bourses#demande",
            "/caf%C3%A9",
        ] {
            assert_eq!(safe(Some(good)), good, "{good}");
        }
        let attacks = [
            "https://evil.example/",
            "http:evil.example",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/%2Fevil.example",
            "/%5Cevil.example",
            "javascript:alert(1)",
            "data:text/html,x",
            "/\tevil",
            "/x\r\nSet-Cookie: a=b",
            "/%0d%0aSet-Cookie:a=b",
            "evil.example",
            "/../../etc",
            "/a/./b",
            "",
        ];
        assert!(attacks.len() >= 10);
        for attack in attacks {
            assert_eq!(safe(Some(attack)), "/", "{attack:?} must not be followed");
        }
        assert_eq!(safe(Some(&format!("/{}", "a".repeat(3000)))), "/");
        assert_eq!(safe(None), "/");
    }
}
