//! The one door for hostile text into markup: escaping for HTML (and the SVG inside it),
//! Markdown and CSV, and the only way a URL becomes a link (`http`/`https` only).
//!
//! Every string from a scan's JSONL is hostile (host names and DHCP strings come from the
//! network): the renderers in `html.rs`, `svg.rs` and `text.rs` write it through these
//! functions. Control characters and bidi overrides become U+FFFD everywhere.

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if (c.is_control() && c != '\n' && c != '\t') || crate::output::is_bidi(c) => {
                o.push('\u{fffd}')
            }
            c => o.push(c),
        }
    }
    o
}

/// A link when `url` is an absolute http(s) URL, plain escaped text otherwise.
pub fn link(url: &str, text: &str) -> String {
    let u = url.trim();
    let ok = (u.starts_with("https://") || u.starts_with("http://"))
        && !u.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        format!(
            r#"<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>"#,
            esc(u),
            esc(text)
        )
    } else {
        esc(text)
    }
}

/// Escapes text for a Markdown table cell or paragraph.
pub fn md_esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' | '(' | ')' => {
                o.push('\\');
                o.push(c);
            }
            '\n' | '\r' => o.push(' '),
            c if c.is_control() || crate::output::is_bidi(c) => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

/// A Markdown link when `url` is an absolute http(s) URL that cannot break out of `<...>`,
/// plain escaped text otherwise.
pub fn md_link(url: &str, text: &str) -> String {
    let u = url.trim();
    if (u.starts_with("https://") || u.starts_with("http://"))
        && !u
            .chars()
            .any(|c| c.is_whitespace() || c == '(' || c == ')' || c == '<' || c == '>')
    {
        format!("[{}](<{u}>)", md_esc(text))
    } else {
        md_esc(text)
    }
}

/// A CSV cell that a spreadsheet will not run as a formula: `=`, `+`, `-`, `@`, tab and CR
/// at the start get a `'` before them.
pub fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_links() {
        assert_eq!(
            esc(r#"<img src=x onerror="a">&'"#),
            "&lt;img src=x onerror=&quot;a&quot;&gt;&amp;&#39;"
        );
        assert_eq!(esc("a\u{1b}[31m"), "a\u{fffd}[31m");
        // Bidi overrides and isolates would reorder what the reader sees.
        assert_eq!(
            esc("evil\u{202e}gpj.exe\u{2066}"),
            "evil\u{fffd}gpj.exe\u{fffd}"
        );
        for (url, is_link) in [
            ("https://www.fcc.gov/supplychain/coveredlist", true),
            ("javascript:alert(1)", false),
            ("data:text/html,x", false),
            ("https://x\" onmouseover=\"a", false),
            ("  https://ok.gov/a?b=1&c=2", true),
        ] {
            assert_eq!(link(url, "t").starts_with("<a "), is_link, "{url}");
        }
        assert!(link("https://ok.gov/a?b=1&c=2", "t").contains("a?b=1&amp;c=2"));
    }

    #[test]
    fn markdown_and_csv() {
        assert_eq!(md_esc("a|b<script>\n*x*"), "a\\|b\\<script\\> \\*x\\*");
        // Bidi overrides and isolates would reorder what the reader sees.
        assert_eq!(md_esc("evil\u{202e}gpj\u{2067}"), "evil\u{fffd}gpj\u{fffd}");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("10.0.0.1"), "10.0.0.1");
        assert_eq!(md_link("javascript:x", "t"), "t");
        assert_eq!(md_link("https://a.gov/x", "t"), "[t](<https://a.gov/x>)");
    }
}
