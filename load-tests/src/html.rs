//! Reading the forms of the pages a simulated browser gets (the providers' login pages, the
//! SAML auto-post page), the way a browser would submit them.

/// The value of attribute `attr` of the first element after `marker` in `html`.
pub fn attr_after(html: &str, marker: &str, attr: &str) -> Option<String> {
    let from = html.find(marker)?;
    let rest = &html[from..];
    let start = rest.find(&format!("{attr}=\""))? + attr.len() + 2;
    let end = rest[start..].find('"')? + start;
    Some(
        rest[start..end]
            .replace("&#x2F;", "/")
            .replace("&#x3D;", "=")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// The `name`/`value` pairs of the hidden inputs in `html` (a form a browser would post).
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input")
        .skip(1)
        .filter(|input| input.contains(r#"type="hidden""#))
        .filter_map(|input| {
            let tag = &input[..input.find('>')?];
            Some((attr_after(tag, "", "name")?, attr_after(tag, "", "value")?))
        })
        .collect()
}
