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

pub fn paint(style: Style, text: &str) -> String {
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
