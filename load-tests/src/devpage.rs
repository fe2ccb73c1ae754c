//! The look of the development identity providers' pages (French, plain, accessible).

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;

/// A page of the development provider `brand`, titled `title`, around `body` (HTML).
pub fn html(brand: &str, status: StatusCode, title: &str, body: &str) -> Response<Full<Bytes>> {
    let page = format!(
        r#"<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – {brand} (démonstration)</title>
<style>
body{{font-family:Marianne,Arial,sans-serif;margin:0;color:#161616;background:#f6f6f6}}
header{{background:#000091;color:#fff;padding:1rem 1.5rem;font-weight:700}}
main{{max-width:36rem;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border:1px solid #ddd}}
h1{{font-size:1.6rem;margin-top:0}} fieldset{{border:0;padding:0}} legend{{font-weight:700;margin-bottom:.5rem}}
.choice{{margin:.5rem 0}} .hint{{display:block;color:#666;font-size:.85rem;margin-left:1.6rem}}
button{{background:#000091;color:#fff;border:0;padding:.6rem 1.2rem;font-size:1rem;cursor:pointer;margin:.25rem .5rem .25rem 0}}
button.secondary{{background:#fff;color:#000091;border:1px solid #000091}}
button:focus,input:focus{{outline:3px solid #0a76f6;outline-offset:2px}}
</style></head>
<body><header>{brand} <span aria-hidden="true">·</span> démonstration</header>
<main><h1>{title}</h1>{body}</main></body></html>"#,
        title = escape(title),
        brand = escape(brand),
    );
    let mut resp = Response::new(Full::new(Bytes::from(page)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// `text` safe inside HTML text and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
