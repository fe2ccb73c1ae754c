//! Exclusive XML canonicalization without comments
//! (`http://www.w3.org/2001/10/xml-exc-c14n#`), of an element of a tree built by `xml.rs`.
//!
//! The contract that makes the verifier safe does not rest on this code being perfect: the
//! caller hashes these bytes, compares the digest with the signed one, and reads data only
//! from a re-parse of these same bytes. A mistake here can only make a digest differ (a
//! refused login), never make unsigned content readable.
//!
//! Rules applied: namespaces rendered only where visibly used (the element's prefix and its
//! attributes' prefixes) or listed in the InclusiveNamespaces PrefixList, and only when the
//! nearest rendered ancestor did not already declare the same value; `xmlns=""` when an
//! ancestor rendered a default namespace and this element has none; declarations sorted by
//! prefix, attributes by (namespace, local name); empty elements as start and end tags;
//! the escaping of text (`&amp; &lt; &gt; &#xD;`) and attributes
//! (`&amp; &lt; &quot; &#x9; &#xA; &#xD;`).

use std::collections::BTreeMap;

use super::xml::{Element, Node};

/// Canonical bytes of `apex` and its descendants, leaving out `exclude` (the signature an
/// enveloped-signature transform removes), with the `inclusive` prefixes (`#default` for the
/// default namespace) treated as in inclusive canonicalization.
pub fn exclusive(apex: &Element, exclude: Option<&Element>, inclusive: &[String]) -> String {
    let inclusive: Vec<&str> = inclusive
        .iter()
        .map(|p| if p == "#default" { "" } else { p.as_str() })
        .collect();
    let mut out = String::with_capacity(4096);
    element(apex, exclude, &inclusive, &BTreeMap::new(), &mut out);
    out
}

fn element<'a>(
    e: &'a Element,
    exclude: Option<&Element>,
    inclusive: &[&str],
    rendered: &BTreeMap<&'a str, &'a str>,
    out: &mut String,
) {
    // Namespace declarations to render here, sorted by prefix ("" first).
    let mut decls: BTreeMap<&'a str, &'a str> = BTreeMap::new();
    let consider = |prefix: &str, decls: &mut BTreeMap<&'a str, &'a str>| {
        if prefix == "xml" {
            return;
        }
        let (key, value): (&'a str, &'a str) = match e.scope.get_key_value(prefix) {
            Some((k, v)) => (k, v),
            None if prefix.is_empty() => ("", ""),
            None => return,
        };
        let before = rendered.get(key).copied();
        let needed = if value.is_empty() {
            // Only the default namespace can be empty: undeclare it if an ancestor set one.
            before.is_some_and(|b| !b.is_empty())
        } else {
            before != Some(value)
        };
        if needed {
            decls.insert(key, value);
        }
    };
    let own_prefix = e.prefix.as_deref().unwrap_or("");
    consider(own_prefix, &mut decls);
    for a in &e.attrs {
        if let Some(p) = a.prefix.as_deref() {
            consider(p, &mut decls);
        }
    }
    for p in inclusive {
        if e.scope.contains_key(*p) {
            consider(p, &mut decls);
        }
    }

    out.push('<');
    push_name(out, e.prefix.as_deref(), &e.local);
    for (prefix, uri) in &decls {
        if prefix.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(prefix);
            out.push_str("=\"");
        }
        escape_attr(uri, out);
        out.push('"');
    }
    let mut attrs: Vec<_> = e.attrs.iter().collect();
    attrs.sort_by(|a, b| (a.ns.as_str(), a.local.as_str()).cmp(&(b.ns.as_str(), b.local.as_str())));
    for a in attrs {
        out.push(' ');
        push_name(out, a.prefix.as_deref(), &a.local);
        out.push_str("=\"");
        escape_attr(&a.value, out);
        out.push('"');
    }
    out.push('>');

    // The children see what this element rendered; most elements render nothing new.
    let extended;
    let inner = if decls.is_empty() {
        rendered
    } else {
        let mut map = rendered.clone();
        map.extend(decls);
        extended = map;
        &extended
    };
    for child in &e.children {
        match child {
            Node::Element(c) if exclude.is_some_and(|x| std::ptr::eq(x, c)) => {}
            Node::Element(c) => element(c, exclude, inclusive, inner, out),
            Node::Text(t) => escape_text(t, out),
        }
    }
    out.push_str("</");
    push_name(out, e.prefix.as_deref(), &e.local);
    out.push('>');
}

fn push_name(out: &mut String, prefix: Option<&str>, local: &str) {
    if let Some(p) = prefix {
        out.push_str(p);
        out.push(':');
    }
    out.push_str(local);
}

fn escape_text(text: &str, out: &mut String) {
    escape(text, out, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'\r' => Some("&#xD;"),
        _ => None,
    });
}

fn escape_attr(value: &str, out: &mut String) {
    escape(value, out, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'"' => Some("&quot;"),
        b'\t' => Some("&#x9;"),
        b'\n' => Some("&#xA;"),
        b'\r' => Some("&#xD;"),
        _ => None,
    });
}

/// Copies `text` to `out`, replacing the ASCII bytes `replace` names; runs without them are
/// copied whole (signature and cipher values are long runs).
fn escape(text: &str, out: &mut String, replace: impl Fn(u8) -> Option<&'static str>) {
    let mut run = 0;
    for (i, b) in text.bytes().enumerate() {
        if let Some(with) = replace(b) {
            out.push_str(&text[run..i]);
            out.push_str(with);
            run = i + 1;
        }
    }
    out.push_str(&text[run..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse;

    fn c14n(xml: &str) -> String {
        exclusive(&parse(xml).unwrap(), None, &[])
    }

    #[test]
    fn namespaces_are_rendered_where_used_and_sorted() {
        let doc = r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" xmlns:unused="urn:u" z="1" b:y="2" a:x="3"><a:c/><d xmlns="urn:d"><e/></d></a:r>"#;
        assert_eq!(
            c14n(doc),
            r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" z="1" a:x="3" b:y="2"><a:c></a:c><d xmlns="urn:d"><e></e></d></a:r>"#
        );
    }

    #[test]
    fn a_subtree_declares_what_it_uses_from_its_ancestors() {
        let root = parse(r#"<a:r xmlns:a="urn:a" xmlns="urn:dflt"><a:c><x/></a:c></a:r>"#).unwrap();
        let Node::Element(c) = &root.children[0] else {
            panic!()
        };
        assert_eq!(
            exclusive(c, None, &[]),
            r#"<a:c xmlns:a="urn:a"><x xmlns="urn:dflt"></x></a:c>"#
        );
        assert_eq!(
            exclusive(c, None, &["#default".into()]),
            r#"<a:c xmlns="urn:dflt" xmlns:a="urn:a"><x></x></a:c>"#
        );
    }

    #[test]
    fn shadowed_prefixes_and_undeclared_default() {
        let doc = r#"<p:r xmlns:p="urn:1" xmlns="urn:d"><p:s xmlns:p="urn:2"><t xmlns=""/></p:s><p:u/></p:r>"#;
        assert_eq!(
            c14n(doc),
            r#"<p:r xmlns:p="urn:1"><p:s xmlns:p="urn:2"><t></t></p:s><p:u></p:u></p:r>"#
        );
        let doc = r#"<r xmlns="urn:d"><t xmlns=""/></r>"#;
        assert_eq!(c14n(doc), r#"<r xmlns="urn:d"><t xmlns=""></t></r>"#);
    }

    #[test]
    fn text_and_attribute_escaping() {
        let doc = "<r a=\"x&#9;y&#10;z&#13;&quot;&lt;&gt;&amp;\"\n b=\"l1\nl2\">a &amp; b &lt; c &gt; d&#13;\r\n'\"</r>";
        assert_eq!(
            c14n(doc),
            "<r a=\"x&#x9;y&#xA;z&#xD;&quot;&lt;>&amp;\" b=\"l1 l2\">a &amp; b &lt; c &gt; d&#xD;\n'\"</r>"
        );
    }

    #[test]
    fn the_excluded_element_is_left_out() {
        let root = parse(r#"<r><s>sig</s><t>kept</t></r>"#).unwrap();
        let Node::Element(s) = &root.children[0] else {
            panic!()
        };
        assert_eq!(exclusive(&root, Some(s), &[]), "<r><t>kept</t></r>");
    }
}
