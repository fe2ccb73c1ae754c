//! Who is asking, for académie plugins running in Vigie: one call reads Vigie's identity
//! properties into an [`Identity`].
//!
//! Vigie exposes the authenticated person under the property namespace `vigie` (absent on
//! public routes and for anonymous requests):
//!
//! | path | value |
//! |---|---|
//! | `vigie.subject` | the stable id at the provider (UTF-8) |
//! | `vigie.issuer` | the provider's name in Vigie's config |
//! | `vigie.profile` | `eleve`, `responsable`, ... |
//! | `vigie.acr` | the authentication level (`eidas1`, ...) |
//! | `vigie.school_ids` | UAIs, as a list (a proxy-wasm map whose keys are the items) |
//! | `vigie.children_ids` | a legal guardian's children, as a list |
//!
//! ```ignore
//! let who = vigie_plugin::identity(self); // in any HttpContext callback
//! ```
//!
//! Also the plumbing every policy plugin repeats: [`JsonRoot`] (a root context reading a JSON
//! configuration, refusing a bad one with a logged reason) and [`refuse`] (a French page as
//! the request's answer).

pub mod paris;
mod plumbing;

pub use plumbing::{JsonRoot, MUST_LOG_IN, denied, page, refuse};

use proxy_wasm::traits::Context;

/// The person behind a request, as Vigie authenticated them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// Stable id at the provider.
    pub subject: String,
    /// The provider's name in Vigie's config.
    pub issuer: String,
    /// Vigie profile, when the provider gives one.
    pub profile: Option<String>,
    /// Authentication level.
    pub acr: Option<String>,
    /// School ids (UAI).
    pub school_ids: Vec<String>,
    /// Ids of a legal guardian's children.
    pub children_ids: Vec<String>,
}

/// The identity of the current request; `None` when nobody is authenticated.
pub fn identity(ctx: &dyn Context) -> Option<Identity> {
    let text = |name: &str| ctx.get_property(vec!["vigie", name]).and_then(utf8);
    let list = |name: &str| {
        ctx.get_property(vec!["vigie", name])
            .map(|bytes| decode_list(&bytes))
            .unwrap_or_default()
    };
    Some(Identity {
        subject: text("subject")?,
        issuer: text("issuer").unwrap_or_default(),
        profile: text("profile"),
        acr: text("acr"),
        school_ids: list("school_ids"),
        children_ids: list("children_ids"),
    })
}

fn utf8(bytes: Vec<u8>) -> Option<String> {
    String::from_utf8(bytes).ok()
}

/// The items of a list property: a proxy-wasm map (`u32` count, `u32` lengths, NUL-ended
/// strings) whose keys are the items. Malformed input gives no items.
pub fn decode_list(bytes: &[u8]) -> Vec<String> {
    let word = |at: usize| -> Option<usize> {
        let b = bytes.get(at..at + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let Some(count) = word(0) else {
        return Vec::new();
    };
    let mut data = 4usize.saturating_add(count.saturating_mul(8));
    let mut items = Vec::new();
    for i in 0..count {
        let (Some(klen), Some(vlen)) = (word(4 + 8 * i), word(8 + 8 * i)) else {
            return Vec::new();
        };
        let key = data
            .checked_add(klen)
            .and_then(|end| bytes.get(data..end).map(|k| (k, end)));
        let Some((key, end)) = key else {
            return Vec::new();
        };
        match String::from_utf8(key.to_vec()) {
            Ok(item) => items.push(item),
            Err(_) => return Vec::new(),
        }
        data = end.saturating_add(1).saturating_add(vlen).saturating_add(1);
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<u8> {
        let mut out = (items.len() as u32).to_le_bytes().to_vec();
        for i in items {
            out.extend_from_slice(&(i.len() as u32).to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
        }
        for i in items {
            out.extend_from_slice(i.as_bytes());
            out.extend_from_slice(&[0, 0]);
        }
        out
    }

    #[test]
    fn lists_decode_and_malformed_ones_give_nothing() {
        assert_eq!(
            decode_list(&list(&["0350001A", "0350002B"])),
            ["0350001A", "0350002B"]
        );
        assert_eq!(decode_list(&list(&[])), Vec::<String>::new());
        assert!(decode_list(&[]).is_empty());
        assert!(decode_list(&[5, 0, 0, 0, 1]).is_empty(), "truncated");
        let mut huge = vec![1, 0, 0, 0];
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(&[0, 0, 0, 0, b'a', 0, 0]);
        assert!(decode_list(&huge).is_empty(), "a length past the end");
    }
}
