//! Terminal styling: colour only when stdout is a terminal and NO_COLOR is unset.
//!
//! Text is written through `anstream`, which strips these escapes when they should not be
//! shown, so callers can always paint.

use anstyle::{AnsiColor, Effects};

#[derive(Copy, Clone, Debug)]
pub enum Style {
    Bold,
    Dim,
    /// A company of concern, a severity, a designation.
    Alert,
    /// Nothing found, all clear.
    Good,
}

/// `text` in a style; the text is made [`safe`] first.
pub fn paint(style: Style, text: &str) -> String {
    let text = safe(text);
    let s = match style {
        Style::Bold => anstyle::Style::new().effects(Effects::BOLD),
        Style::Dim => anstyle::Style::new().effects(Effects::DIMMED),
        Style::Alert => anstyle::Style::new()
            .fg_color(Some(AnsiColor::Red.into()))
            .effects(Effects::BOLD),
        Style::Good => anstyle::Style::new().fg_color(Some(AnsiColor::Green.into())),
    };
    format!("{s}{text}{s:#}")
}

/// Text from telemetry or a dataset, made safe to print: control characters (C0 but the
/// newline, DEL, C1) and the invisible bidirectional and direction marks that can reorder
/// what a reader sees are written as `\u{…}` escapes, so no input can move the cursor,
/// retitle the terminal, plant a link or disguise a name. Everything cordon prints for
/// people goes through this or [`paint`]; JSON output is escaped by its serializer.
pub fn safe(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A character that [`safe`] escapes.
pub fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n') || is_bidi(c)
}

/// The invisible marks that set or override the direction of text (Unicode's bidi
/// controls): shown raw, they can make `gpj.exe` read as `exe.jpg`.
pub fn is_bidi(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// [`safe`] as a `Display` value, for format strings.
pub struct Safe<'a>(pub &'a str);

impl std::fmt::Display for Safe<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Padding (`{:<18}`) applies to the escaped text.
        f.pad(&safe(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_escaped() {
        let cases = [
            ("plain.example.com", "plain.example.com"),
            ("a\x1b[2Jb", "a\\u{1b}[2Jb"),
            ("\x1b]0;pwned\x07", "\\u{1b}]0;pwned\\u{7}"),
            ("x\u{9b}31m", "x\\u{9b}31m"),
            ("evil\u{202e}gpj.exe", "evil\\u{202e}gpj.exe"),
            ("\u{2066}iso\u{2069}", "\\u{2066}iso\\u{2069}"),
            ("tab\there\r", "tab\\u{9}here\\u{d}"),
            ("line\nbreak", "line\nbreak"),
            ("數據.中国", "數據.中国"),
        ];
        for (input, want) in cases {
            assert_eq!(safe(input), want, "{input:?}");
            assert_eq!(format!("{}", Safe(input)), want);
        }
        assert_eq!(format!("[{:<6}]", Safe("ab")), "[ab    ]");
    }
}
