use super::*;

#[test]
fn a_saml_like_document_is_read_with_its_namespaces() {
    let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r1" Version="2.0">
  <saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">https://idp&amp;co</saml:Issuer>
</samlp:Response>"#;
    let root = parse(doc).unwrap();
    assert!(root.is("urn:oasis:names:tc:SAML:2.0:protocol", "Response"));
    assert_eq!(root.attr("ID"), Some("_r1"));
    let issuer = root
        .child("urn:oasis:names:tc:SAML:2.0:assertion", "Issuer")
        .unwrap();
    assert_eq!(issuer.text(), "https://idp&co");
    assert_eq!(issuer.qname(), "saml:Issuer");
    assert_eq!(issuer.scope.len(), 2);
}

#[test]
fn everything_outside_the_narrow_shape_is_refused() {
    let deep = format!("{}{}", "<a>".repeat(40), "</a>".repeat(40));
    let many_attrs = format!(
        "<a {}/>",
        (0..40)
            .map(|i| format!("a{i}=\"x\""))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let many_ns = format!(
        "<a {}/>",
        (0..20)
            .map(|i| format!("xmlns:p{i}=\"urn:{i}\""))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let many_elements = format!("<a>{}</a>", "<b/>".repeat(5000));
    let big = format!("<a>{}</a>", "x".repeat(1024 * 1024));
    let cases: Vec<(String, XmlError)> = vec![
        (
            "<!DOCTYPE a [<!ENTITY x \"boom\">]><a>&x;</a>".into(),
            XmlError::Doctype,
        ),
        ("<a>&x;</a>".into(), XmlError::Entity("x".into())),
        ("<a b=\"&x;\"/>".into(), XmlError::Entity("x".into())),
        ("<a><?php x?></a>".into(), XmlError::ProcessingInstruction),
        (
            "<a><?xml version=\"1.0\"?></a>".into(),
            XmlError::ProcessingInstruction,
        ),
        ("<a>ad<!---->min</a>".into(), XmlError::Comment),
        ("<a><![CDATA[x]]></a>".into(), XmlError::Cdata),
        (deep, XmlError::TooDeep(32)),
        (many_attrs, XmlError::TooManyAttributes(32)),
        (many_ns, XmlError::TooManyNamespaces(16)),
        (many_elements, XmlError::TooManyElements(4096)),
        (big, XmlError::TooLarge(1024 * 1024 + 7, 256 * 1024)),
        (
            "<a b=\"1\" b=\"2\"/>".into(),
            XmlError::DuplicateAttribute("b".into()),
        ),
        (
            "<a xmlns:p=\"urn:x\" xmlns:q=\"urn:x\" p:b=\"1\" q:b=\"2\"/>".into(),
            XmlError::DuplicateAttribute("q:b".into()),
        ),
        (
            "<a ID=\"_1\"><b Id=\"_1\"/></a>".into(),
            XmlError::DuplicateId("_1".into()),
        ),
        ("<p:a/>".into(), XmlError::UnboundPrefix("p".into())),
        ("<a p:b=\"1\"/>".into(), XmlError::UnboundPrefix("p".into())),
        (
            "<a xmlns:xml=\"urn:x\"/>".into(),
            XmlError::ReservedPrefix("xml".into()),
        ),
        ("<a/><b/>".into(), XmlError::Root),
        ("".into(), XmlError::Root),
    ];
    for (doc, expected) in cases {
        let short: String = doc.chars().take(60).collect();
        assert_eq!(parse(&doc).unwrap_err(), expected, "{short}");
    }
    for malformed in [
        "<a>",
        "<a></b>",
        "x<a/>",
        "<a b=\"<\"/>",
        "<a>&amp</a>",
        "<ct/\u{1}\0\0\0//>",
        "<a\u{1}/>",
        "<1a/>",
        "<a:b:c xmlns:a=\"urn:a\"/>",
        "<a>\u{1}</a>",
        "<a>&#1;</a>",
        "<a b=\"&#0;\"/>",
        "<a xmlns:-p=\"urn:p\"/>",
    ] {
        assert!(
            matches!(parse(malformed), Err(XmlError::Malformed(_))),
            "{malformed}: {:?}",
            parse(malformed)
        );
    }
}

#[test]
fn a_fragment_inherits_the_namespaces_around_it() {
    let mut outer = Scope::new();
    outer.insert(
        "saml".into(),
        "urn:oasis:names:tc:SAML:2.0:assertion".into(),
    );
    let e = parse_in("<saml:Assertion ID=\"_a\"/>", &outer, &LIMITS).unwrap();
    assert!(e.is("urn:oasis:names:tc:SAML:2.0:assertion", "Assertion"));
    assert!(parse("<saml:Assertion/>").is_err());
}

#[test]
fn line_ends_and_references_are_normalized() {
    let e = parse("<a v=\"1\r\n2&#10;3\">x\r\ny\rz&#13;</a>").unwrap();
    assert_eq!(e.attr("v"), Some("1 2\n3"));
    assert_eq!(e.text(), "x\ny\nz\r");
}
