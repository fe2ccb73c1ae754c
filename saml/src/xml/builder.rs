//! Builds the tree from the reader's events, enforcing the limits and namespace rules.

use std::collections::HashSet;
use std::sync::Arc;

use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::BytesStart;

use super::{Attr, Element, Limits, Node, Scope, XML_NS, XmlError, qualified};

pub(super) struct Builder<'l> {
    pub(super) stack: Vec<Element>,
    pub(super) root: Option<Element>,
    pub(super) ids: HashSet<String>,
    pub(super) elements: usize,
    pub(super) limits: &'l Limits,
    pub(super) outer: Arc<Scope>,
    pub(super) seen_anything: bool,
}

impl Builder<'_> {
    pub(super) fn open(&mut self, start: &BytesStart<'_>) -> Result<(), XmlError> {
        if self.root.is_some() {
            return Err(XmlError::Root);
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep(self.limits.max_depth));
        }
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(XmlError::TooManyElements(self.limits.max_elements));
        }
        let parent_scope = self.stack.last().map_or(&self.outer, |p| &p.scope).clone();
        let mut declared: Vec<(String, String)> = Vec::new();
        let mut raw_attrs: Vec<(Option<String>, String, String)> = Vec::new();
        for attr in start.attributes().with_checks(false) {
            let attr = attr.map_err(|e| XmlError::Malformed(e.to_string()))?;
            let key: &str = attr.key.as_ref();
            let key = key.to_string();
            if attr.value.contains('<') {
                return Err(XmlError::Malformed(format!("'<' in the value of {key}")));
            }
            let value = attr
                .normalized_value_with(XmlVersion::Implicit1_0, 1, resolve_predefined_entity)
                .map_err(|e| match e {
                    quick_xml::Error::Escape(
                        quick_xml::escape::EscapeError::UnrecognizedEntity(_, name),
                    ) => XmlError::Entity(name),
                    other => XmlError::Malformed(other.to_string()),
                })?
                .into_owned();
            chars(&value)?;
            if key == "xmlns" {
                declared.push((String::new(), value));
            } else if let Some(prefix) = key.strip_prefix("xmlns:") {
                if prefix == "xml" || prefix == "xmlns" || value.is_empty() {
                    return Err(XmlError::ReservedPrefix(prefix.to_string()));
                }
                if !is_ncname(prefix) {
                    return Err(XmlError::Malformed(format!("{key:?} is not an XML name")));
                }
                declared.push((prefix.to_string(), value));
            } else {
                let (prefix, local) = split(&key)?;
                raw_attrs.push((prefix, local, value));
            }
        }
        if declared.len() > self.limits.max_namespaces {
            return Err(XmlError::TooManyNamespaces(self.limits.max_namespaces));
        }
        if raw_attrs.len() > self.limits.max_attributes {
            return Err(XmlError::TooManyAttributes(self.limits.max_attributes));
        }
        let scope = if declared.is_empty() {
            parent_scope
        } else {
            let mut scope = (*parent_scope).clone();
            for (i, (prefix, uri)) in declared.iter().enumerate() {
                if declared[..i].iter().any(|(p, _)| p == prefix) {
                    return Err(XmlError::DuplicateAttribute(format!("xmlns:{prefix}")));
                }
                if uri.is_empty() {
                    scope.remove(prefix);
                } else {
                    scope.insert(prefix.clone(), uri.clone());
                }
            }
            Arc::new(scope)
        };
        let qname = start.name();
        let name: &str = qname.as_ref();
        let name = name.to_string();
        let (prefix, local) = split(&name)?;
        let ns = resolve(&scope, prefix.as_deref(), true)?;
        let mut attrs: Vec<Attr> = Vec::with_capacity(raw_attrs.len());
        for (prefix, local, value) in raw_attrs {
            let ns = resolve(&scope, prefix.as_deref(), false)?;
            if attrs.iter().any(|a| a.ns == ns && a.local == local) {
                return Err(XmlError::DuplicateAttribute(qualified(
                    prefix.as_deref(),
                    &local,
                )));
            }
            if prefix.is_none()
                && (local == "ID" || local == "Id")
                && !self.ids.insert(value.clone())
            {
                return Err(XmlError::DuplicateId(value));
            }
            attrs.push(Attr {
                prefix,
                local,
                ns,
                value,
            });
        }
        self.stack.push(Element {
            prefix,
            local,
            ns,
            attrs,
            scope,
            children: Vec::new(),
        });
        Ok(())
    }

    pub(super) fn close(&mut self) -> Result<(), XmlError> {
        let done = self
            .stack
            .pop()
            .ok_or_else(|| XmlError::Malformed("an end tag without a start".into()))?;
        match self.stack.last_mut() {
            Some(parent) => parent.children.push(Node::Element(done)),
            None => self.root = Some(done),
        }
        Ok(())
    }

    pub(super) fn text(&mut self, text: &str) -> Result<(), XmlError> {
        chars(text)?;
        match self.stack.last_mut() {
            Some(parent) => {
                if let Some(Node::Text(last)) = parent.children.last_mut() {
                    last.push_str(text);
                } else if !text.is_empty() {
                    parent.children.push(Node::Text(text.to_string()));
                }
                Ok(())
            }
            // Only whitespace may surround the root element.
            None if text.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r')) => Ok(()),
            None => Err(XmlError::Malformed("text outside the root element".into())),
        }
    }
}

/// A qualified name split at its colon; each part must be an XML name (NCName).
fn split(name: &str) -> Result<(Option<String>, String), XmlError> {
    let (prefix, local) = match name.split_once(':') {
        Some((prefix, local)) => (Some(prefix), local),
        None => (None, name),
    };
    if prefix.is_some_and(|p| !is_ncname(p)) || !is_ncname(local) {
        return Err(XmlError::Malformed(format!("{name:?} is not an XML name")));
    }
    Ok((prefix.map(str::to_string), local.to_string()))
}

/// An NCName: a letter, `_` or a non-ASCII character, then also digits, `-` and `.`. (Non-ASCII
/// characters are accepted whole; SAML names are ASCII.)
fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || !c.is_ascii())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') || !c.is_ascii())
}

/// Only characters XML 1.0 allows (no controls but tab, newline and carriage return, no
/// U+FFFE or U+FFFF). Checked on bytes: in UTF-8 a byte below 0x20 is always that control
/// character, and the two non-characters are `EF BF BE` and `EF BF BF`.
pub(super) fn chars(text: &str) -> Result<(), XmlError> {
    let bytes = text.as_bytes();
    // Most text (signature and cipher values) has no byte that needs a closer look.
    if !bytes.iter().any(|&b| b < 0x20 || b == 0xEF) {
        return Ok(());
    }
    let bad = bytes.iter().enumerate().find_map(|(i, &b)| {
        let control = b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r');
        let nonchar = b == 0xEF
            && bytes.get(i + 1) == Some(&0xBF)
            && matches!(bytes.get(i + 2), Some(0xBE | 0xBF));
        (control || nonchar).then(|| text[i..].chars().next().map_or(0, |c| c as u32))
    });
    match bad {
        Some(c) => Err(XmlError::Malformed(format!(
            "character U+{c:04X} is not allowed"
        ))),
        None => Ok(()),
    }
}

/// The namespace of `prefix`; unprefixed elements take the default namespace, unprefixed
/// attributes none.
fn resolve(scope: &Scope, prefix: Option<&str>, element: bool) -> Result<String, XmlError> {
    match prefix {
        Some("xml") => Ok(XML_NS.to_string()),
        Some(p) => scope
            .get(p)
            .cloned()
            .ok_or_else(|| XmlError::UnboundPrefix(p.to_string())),
        None if element => Ok(scope.get("").cloned().unwrap_or_default()),
        None => Ok(String::new()),
    }
}
