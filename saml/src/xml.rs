//! A narrow, hardened XML reader for SAML messages.
//!
//! It accepts only what an identity provider sends: elements, attributes, namespace
//! declarations, text, the five predefined entities and character references, and an XML
//! declaration at the very start. Everything else is refused before any cryptography runs:
//! DOCTYPE (so no entity expansion), processing instructions, comments (they can cut a signed
//! text node in two), CDATA, undeclared prefixes, duplicate attributes, duplicate `ID`/`Id`
//! values, and documents beyond [`Limits`] in size, depth, element count, attributes or
//! namespace declarations per element.
//!
//! The tree keeps, for every element, its prefix, resolved namespace, its own declarations and
//! every namespace in scope, which is what exclusive canonicalization needs (`c14n.rs`).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// Namespaces in scope: prefix (`""` for the default namespace) → namespace name.
pub type Scope = BTreeMap<String, String>;

/// Bounds on what is parsed.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes of the document.
    pub max_bytes: usize,
    /// Depth of element nesting.
    pub max_depth: usize,
    /// Elements in the document.
    pub max_elements: usize,
    /// Attributes on one element (namespace declarations excluded).
    pub max_attributes: usize,
    /// Namespace declarations on one element.
    pub max_namespaces: usize,
    /// Whether comments are skipped rather than refused (configuration documents such as
    /// metadata files carry them; protocol messages never do).
    pub allow_comments: bool,
}

/// The limits for SAML protocol messages: an ÉduConnect response is a few kilobytes, about
/// ten levels deep.
pub const LIMITS: Limits = Limits {
    max_bytes: 256 * 1024,
    max_depth: 32,
    max_elements: 4096,
    max_attributes: 32,
    max_namespaces: 16,
    allow_comments: false,
};

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Larger than the limit (size, limit).
    #[error("the document has {0} bytes, more than the {1} accepted")]
    TooLarge(usize, usize),
    /// A DOCTYPE: refused, so no entity is ever expanded.
    #[error("a DOCTYPE is not accepted")]
    Doctype,
    /// A processing instruction, or an XML declaration not at the start.
    #[error("processing instructions are not accepted")]
    ProcessingInstruction,
    /// A comment: it could split a signed text node.
    #[error("comments are not accepted")]
    Comment,
    /// A CDATA section.
    #[error("CDATA sections are not accepted")]
    Cdata,
    /// An entity other than the five predefined ones.
    #[error("the entity &{0}; is not accepted (only the five predefined ones)")]
    Entity(String),
    /// Nested deeper than the limit.
    #[error("elements are nested more than {0} deep")]
    TooDeep(usize),
    /// More elements than the limit.
    #[error("more than {0} elements")]
    TooManyElements(usize),
    /// More attributes on one element than the limit.
    #[error("more than {0} attributes on one element")]
    TooManyAttributes(usize),
    /// More namespace declarations on one element than the limit.
    #[error("more than {0} namespace declarations on one element")]
    TooManyNamespaces(usize),
    /// The same attribute twice on one element.
    #[error("attribute {0} appears twice")]
    DuplicateAttribute(String),
    /// The same `ID`/`Id` value twice in the document.
    #[error("the ID {0:?} appears twice")]
    DuplicateId(String),
    /// A prefix used without a declaration.
    #[error("the prefix {0:?} is not declared")]
    UnboundPrefix(String),
    /// A declaration of `xml`, `xmlns`, or an empty prefixed namespace.
    #[error("the prefix {0:?} cannot be declared")]
    ReservedPrefix(String),
    /// Not exactly one root element.
    #[error("not one root element")]
    Root,
    /// Not well-formed.
    #[error("malformed XML: {0}")]
    Malformed(String),
}

/// An element, with what canonicalization and reading need.
#[derive(Debug, Clone)]
pub struct Element {
    /// Prefix as written (`None`: unprefixed).
    pub prefix: Option<String>,
    /// Local name.
    pub local: String,
    /// Namespace name (`""`: none).
    pub ns: String,
    /// Attributes other than namespace declarations, in document order.
    pub attrs: Vec<Attr>,
    /// Every namespace in scope here, its own declarations included.
    pub scope: Arc<Scope>,
    /// Children in document order.
    pub children: Vec<Node>,
}

/// An attribute, its value normalized and unescaped.
#[derive(Debug, Clone)]
pub struct Attr {
    /// Prefix as written (`None`: unprefixed, hence in no namespace).
    pub prefix: Option<String>,
    /// Local name.
    pub local: String,
    /// Namespace name (`""`: none).
    pub ns: String,
    /// Value.
    pub value: String,
}

/// A child of an element.
#[derive(Debug, Clone)]
pub enum Node {
    /// An element.
    Element(Element),
    /// Character data, unescaped, line ends normalized.
    Text(String),
}

/// The namespace of the `xml:` prefix, bound in every document.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

impl Element {
    /// Whether this element is `{ns}local`.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local == local
    }

    /// The element children.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The element children named `{ns}local`.
    pub fn children_named<'a>(
        &'a self,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> {
        self.elements().filter(move |e| e.is(ns, local))
    }

    /// The first child named `{ns}local`.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(ns, local))
    }

    /// The value of the unprefixed attribute `local`.
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.prefix.is_none() && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// The concatenated text children (not of descendants).
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }

    /// Whether there is character data other than whitespace among the children.
    pub fn has_text(&self) -> bool {
        self.children
            .iter()
            .any(|n| matches!(n, Node::Text(t) if !t.trim().is_empty()))
    }

    /// The qualified name as written.
    pub fn qname(&self) -> String {
        qualified(self.prefix.as_deref(), &self.local)
    }
}

pub(super) fn qualified(prefix: Option<&str>, local: &str) -> String {
    match prefix {
        Some(p) => format!("{p}:{local}"),
        None => local.to_string(),
    }
}

/// `s` escaped for XML text and double-quoted attribute values.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Parses `input` as a standalone document under [`LIMITS`].
pub fn parse(input: &str) -> Result<Element, XmlError> {
    parse_in(input, &Scope::new(), &LIMITS)
}

/// Parses `input` with `outer` namespaces in scope (a fragment decrypted from inside a
/// verified document), under `limits`.
pub fn parse_in(input: &str, outer: &Scope, limits: &Limits) -> Result<Element, XmlError> {
    if input.len() > limits.max_bytes {
        return Err(XmlError::TooLarge(input.len(), limits.max_bytes));
    }
    let mut reader = Reader::from_str(input);
    let config = reader.config_mut();
    config.trim_text(false);
    config.expand_empty_elements = true;
    config.check_end_names = true;
    config.allow_dangling_amp = false;
    let mut builder = Builder {
        stack: Vec::new(),
        root: None,
        ids: HashSet::new(),
        elements: 0,
        limits,
        outer: Arc::new(outer.clone()),
        seen_anything: false,
    };
    loop {
        let event = reader.read_event().map_err(|e| {
            XmlError::Malformed(format!("at byte {}: {e}", reader.error_position()))
        })?;
        let first = !builder.seen_anything;
        builder.seen_anything = true;
        match event {
            Event::Eof => break,
            Event::Decl(_) if first => {}
            Event::Decl(_) | Event::PI(_) => return Err(XmlError::ProcessingInstruction),
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Comment(_) if limits.allow_comments => {}
            Event::Comment(_) => return Err(XmlError::Comment),
            Event::CData(_) => return Err(XmlError::Cdata),
            Event::Start(start) => builder.open(&start)?,
            Event::Empty(_) => return Err(XmlError::Malformed("unexpanded empty element".into())),
            Event::End(_) => builder.close()?,
            Event::Text(text) => builder.text(&text.xml_content(XmlVersion::Implicit1_0))?,
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = reference.into_inner();
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| XmlError::Entity(name.to_string()))?
                            .to_string()
                    }
                    Err(e) => return Err(XmlError::Malformed(e.to_string())),
                };
                builder.text(&resolved)?;
            }
        }
    }
    if !builder.stack.is_empty() {
        return Err(XmlError::Malformed(
            "the document ends inside an element".into(),
        ));
    }
    builder.root.ok_or(XmlError::Root)
}

mod builder;

use builder::Builder;

#[cfg(test)]
#[path = "xml_tests.rs"]
mod tests;
