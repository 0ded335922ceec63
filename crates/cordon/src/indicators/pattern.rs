//! A small, careful parser for the subset of the STIX 2.1 patterning language that network
//! telemetry can decide.
//!
//! Supported: observation expressions `[ ... ]` joined by `OR` (and grouped with
//! parentheses); inside one observation, comparisons joined by `AND` / `OR` with
//! parentheses; the operators `=`, `IN (...)` and `ISSUBSET`; string literals in single
//! quotes with the two escapes STIX defines (`\'` and `\\`), integers, booleans; object paths
//! such as `ipv4-addr:value`, `network-traffic:dst_ref.value` and
//! `file:hashes.'SHA-256'`.
//!
//! Everything else in the language — `NOT`, `!=`, `<`, `LIKE`, `MATCHES`, `ISSUPERSET`,
//! `EXISTS`, `AND` / `FOLLOWEDBY` between observations, and the qualifiers `WITHIN`,
//! `REPEATS`, `START ... STOP` — is recognised and reported as
//! [`PatternError::Unsupported`] with the construct's name, so a caller can count it with the
//! pattern's text. **Parsing never panics: nesting and length are capped, and every failure
//! is an error value with a byte offset.**

use std::fmt;

/// Deepest nesting of brackets and parentheses accepted.
pub const MAX_DEPTH: usize = 32;
/// Longest pattern accepted, in bytes.
pub const MAX_LEN: usize = 64 * 1024;

/// A parsed pattern: observation expressions joined by `OR`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    pub observations: Vec<Expr>,
}

/// A boolean expression over comparisons, within one observation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Cmp(Comparison),
}

/// `object:path op value(s)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    /// The object type: `ipv4-addr`, `domain-name`, `network-traffic`, `file`, ...
    pub object: String,
    /// The property path, components joined by `.`; list indexes are kept as `[*]` / `[0]`.
    pub path: String,
    pub op: Op,
    /// One value for `=` and `ISSUBSET`, one or more for `IN`.
    pub values: Vec<Value>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    In,
    IsSubset,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
}

/// Why a pattern was not parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatternError {
    /// Not a valid pattern (or one that exceeds a cap): what was wrong, and where.
    Syntax { offset: usize, message: String },
    /// Valid STIX, but a construct cordon does not evaluate (named, e.g. `qualifier WITHIN`).
    Unsupported(String),
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatternError::Syntax { offset, message } => write!(f, "{message} at byte {offset}"),
            PatternError::Unsupported(what) => write!(f, "unsupported: {what}"),
        }
    }
}

impl std::error::Error for PatternError {}

/// Parses a STIX 2.1 pattern.
pub fn parse(input: &str) -> Result<Pattern, PatternError> {
    if input.len() > MAX_LEN {
        return Err(syntax(0, format!("pattern longer than {MAX_LEN} bytes")));
    }
    let tokens = lex(input)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
        end: input.len(),
    };
    let observations = p.pattern()?;
    if let Some(t) = p.peek() {
        let (off, tok) = (t.offset, t.tok.clone());
        return Err(match tok {
            Tok::Word(w) if is_keyword(&w) => unsupported_keyword(&w, off),
            Tok::RBracket | Tok::RParen => syntax(off, "unbalanced brackets".into()),
            other => syntax(off, format!("unexpected {}", other.describe())),
        });
    }
    Ok(Pattern { observations })
}

/// Recognises the form most indicators take, `[type:value = 'text']` (one comparison, no
/// escapes), without the general parser: a million-indicator bundle is mostly these.
/// `None` means "use [`parse`]"; when it answers, the answer equals [`parse`]'s.
pub fn parse_simple(input: &str) -> Option<Pattern> {
    if input.len() > MAX_LEN {
        return None;
    }
    let inner = input
        .trim_matches(is_space)
        .strip_prefix('[')?
        .strip_suffix(']')?;
    let (path, rest) = inner.split_once('=')?;
    let (object, prop) = path.trim_matches(is_space).split_once(':')?;
    let word = |w: &str| {
        !w.is_empty()
            && w.as_bytes()[0].is_ascii_alphabetic()
            && w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !is_keyword(w)
    };
    if !word(object) || !word(prop) {
        return None;
    }
    let value = rest
        .trim_matches(is_space)
        .strip_prefix('\'')?
        .strip_suffix('\'')?;
    if value.contains(['\'', '\\']) {
        return None;
    }
    Some(Pattern {
        observations: vec![Expr::Cmp(Comparison {
            object: object.to_string(),
            path: prop.to_string(),
            op: Op::Eq,
            values: vec![Value::Str(value.to_string())],
        })],
    })
}

/// White space between tokens, one definition for both parsers: the ASCII part of the STIX
/// grammar's `WS` (space, tab, CR, LF, vertical tab, form feed). Other Unicode spaces are
/// refused by both, so the fast path never accepts what the full parser refuses.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '\u{b}' | '\u{c}')
}

fn syntax(offset: usize, message: String) -> PatternError {
    PatternError::Syntax { offset, message }
}

// ---- lexer ----

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LBracket,
    RBracket,
    LParen,
    RParen,
    Comma,
    Colon,
    Dot,
    Star,
    /// `=`, `!=`, `<`, `<=`, `>`, `>=`.
    Cmp(&'static str),
    /// A plain string literal.
    Str(String),
    /// A prefixed literal: `t'...'`, `h'...'`, `b'...'`.
    Typed(char, String),
    Int(i64),
    Float,
    /// An identifier or keyword (object types contain `-`).
    Word(String),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Comma => "','".into(),
            Tok::Colon => "':'".into(),
            Tok::Dot => "'.'".into(),
            Tok::Star => "'*'".into(),
            Tok::Cmp(c) => format!("'{c}'"),
            Tok::Str(_) | Tok::Typed(..) => "string".into(),
            Tok::Int(_) | Tok::Float => "number".into(),
            Tok::Word(w) => format!("'{}'", truncate(w, 40)),
        }
    }
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

struct Token {
    offset: usize,
    tok: Tok,
}

fn lex(input: &str) -> Result<Vec<Token>, PatternError> {
    let b = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let simple = match c {
            c if is_space(char::from(c)) => {
                i += 1;
                continue;
            }
            b'[' => Some(Tok::LBracket),
            b']' => Some(Tok::RBracket),
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            b'.' => Some(Tok::Dot),
            b'*' => Some(Tok::Star),
            _ => None,
        };
        if let Some(t) = simple {
            out.push(Token {
                offset: start,
                tok: t,
            });
            i += 1;
            continue;
        }
        let tok = match c {
            b'=' => {
                i += 1;
                // `==` is not STIX, but some producers write it; treat it as `=`.
                if b.get(i) == Some(&b'=') {
                    i += 1;
                }
                Tok::Cmp("=")
            }
            b'!' if b.get(i + 1) == Some(&b'=') => {
                i += 2;
                Tok::Cmp("!=")
            }
            b'<' | b'>' => {
                let eq = b.get(i + 1) == Some(&b'=');
                i += 1 + usize::from(eq);
                Tok::Cmp(match (c, eq) {
                    (b'<', false) => "<",
                    (b'<', true) => "<=",
                    (_, false) => ">",
                    (_, true) => ">=",
                })
            }
            b'\'' => {
                let (s, next) = string(input, i)?;
                i = next;
                Tok::Str(s)
            }
            b'-' | b'0'..=b'9' => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
                    j += 1;
                }
                let text = &input[i..j];
                i = j;
                if text.contains('.') {
                    Tok::Float
                } else {
                    match text.parse::<i64>() {
                        Ok(n) => Tok::Int(n),
                        Err(_) => return Err(syntax(start, format!("bad number '{text}'"))),
                    }
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                // A one-letter prefix glued to a quote is a typed literal: t'..', h'..', b'..'.
                if matches!(c, b't' | b'h' | b'b') && b.get(i + 1) == Some(&b'\'') {
                    let (s, next) = string(input, i + 1)?;
                    i = next;
                    Tok::Typed(c as char, s)
                } else {
                    let mut j = i + 1;
                    while j < b.len()
                        && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'-')
                    {
                        j += 1;
                    }
                    let w = input[i..j].to_string();
                    i = j;
                    Tok::Word(w)
                }
            }
            _ => {
                let ch = input[i..].chars().next().unwrap_or('?');
                return Err(syntax(start, format!("unexpected character {ch:?}")));
            }
        };
        out.push(Token { offset: start, tok });
    }
    Ok(out)
}

/// A quoted string starting at the quote at `at`: its value and the index after the closing
/// quote. Only `\'` and `\\` are escapes in STIX; anything else after `\` is an error.
fn string(input: &str, at: usize) -> Result<(String, usize), PatternError> {
    let b = input.as_bytes();
    let mut s = String::new();
    let mut i = at + 1;
    let mut run = i;
    while i < b.len() {
        match b[i] {
            b'\'' => {
                s.push_str(&input[run..i]);
                return Ok((s, i + 1));
            }
            b'\\' => {
                s.push_str(&input[run..i]);
                match b.get(i + 1) {
                    Some(&e @ (b'\'' | b'\\')) => s.push(e as char),
                    Some(_) => return Err(syntax(i, "invalid escape in string".into())),
                    None => break,
                }
                i += 2;
                run = i;
            }
            _ => i += 1,
        }
    }
    Err(syntax(at, "unterminated string".into()))
}

fn is_keyword(w: &str) -> bool {
    const KW: &[&str] = &[
        "AND",
        "OR",
        "NOT",
        "IN",
        "LIKE",
        "MATCHES",
        "ISSUBSET",
        "ISSUPERSET",
        "EXISTS",
        "FOLLOWEDBY",
        "WITHIN",
        "SECONDS",
        "REPEATS",
        "TIMES",
        "START",
        "STOP",
    ];
    KW.contains(&w)
}

fn unsupported_keyword(w: &str, offset: usize) -> PatternError {
    match w {
        "WITHIN" | "REPEATS" | "START" => PatternError::Unsupported(format!("qualifier {w}")),
        "AND" | "FOLLOWEDBY" => {
            PatternError::Unsupported(format!("{w} between observation expressions"))
        }
        "NOT" | "LIKE" | "MATCHES" | "ISSUPERSET" | "EXISTS" => {
            PatternError::Unsupported(format!("operator {w}"))
        }
        _ => syntax(offset, format!("unexpected '{w}'")),
    }
}

// ---- parser ----

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn offset(&self) -> usize {
        self.peek().map_or(self.end, |t| t.offset)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.pos)?.tok.clone();
        self.pos += 1;
        Some(t)
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(x), .. }) if x == w)
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<(), PatternError> {
        let off = self.offset();
        match self.next() {
            Some(t) if t == want => Ok(()),
            Some(Tok::RBracket | Tok::RParen | Tok::LBracket) | None
                if matches!(want, Tok::RBracket | Tok::RParen) =>
            {
                Err(syntax(off, "unbalanced brackets".into()))
            }
            Some(t) => Err(syntax(
                off,
                format!("expected {what}, found {}", t.describe()),
            )),
            None => Err(syntax(
                off,
                format!("expected {what}, found end of pattern"),
            )),
        }
    }

    fn enter(&mut self) -> Result<(), PatternError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            // Reported at the bracket just read.
            let at = self.pos.checked_sub(1).and_then(|i| self.tokens.get(i));
            return Err(syntax(
                at.map_or(self.end, |t| t.offset),
                format!("nesting deeper than {MAX_DEPTH}"),
            ));
        }
        Ok(())
    }

    /// observation (OR observation)*
    fn pattern(&mut self) -> Result<Vec<Expr>, PatternError> {
        let mut obs = self.observation()?;
        loop {
            if self.is_word("OR") {
                self.pos += 1;
                obs.extend(self.observation()?);
            } else if self.is_word("AND") || self.is_word("FOLLOWEDBY") {
                let w = if self.is_word("AND") {
                    "AND"
                } else {
                    "FOLLOWEDBY"
                };
                return Err(unsupported_keyword(w, self.offset()));
            } else {
                return Ok(obs);
            }
        }
    }

    /// `[ expr ] qualifiers*` or `( pattern )`.
    fn observation(&mut self) -> Result<Vec<Expr>, PatternError> {
        let off = self.offset();
        let obs = match self.next() {
            Some(Tok::LBracket) => {
                self.enter()?;
                let e = self.or_expr()?;
                self.expect(Tok::RBracket, "']'")?;
                self.depth -= 1;
                vec![e]
            }
            Some(Tok::LParen) => {
                self.enter()?;
                let p = self.pattern()?;
                self.expect(Tok::RParen, "')'")?;
                self.depth -= 1;
                p
            }
            Some(Tok::RBracket | Tok::RParen) => {
                return Err(syntax(off, "unbalanced brackets".into()))
            }
            Some(t) => {
                return Err(syntax(
                    off,
                    format!(
                        "expected '[' to open an observation, found {}",
                        t.describe()
                    ),
                ))
            }
            None => return Err(syntax(off, "expected '[', found end of pattern".into())),
        };
        for q in ["WITHIN", "REPEATS", "START"] {
            if self.is_word(q) {
                return Err(unsupported_keyword(q, self.offset()));
            }
        }
        Ok(obs)
    }

    fn or_expr(&mut self) -> Result<Expr, PatternError> {
        let mut items = vec![self.and_expr()?];
        while self.is_word("OR") {
            self.pos += 1;
            items.push(self.and_expr()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::Or(Vec::new()))
        } else {
            Expr::Or(items)
        })
    }

    fn and_expr(&mut self) -> Result<Expr, PatternError> {
        let mut items = vec![self.primary()?];
        while self.is_word("AND") {
            self.pos += 1;
            items.push(self.primary()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::And(Vec::new()))
        } else {
            Expr::And(items)
        })
    }

    fn primary(&mut self) -> Result<Expr, PatternError> {
        if matches!(
            self.peek(),
            Some(Token {
                tok: Tok::LParen,
                ..
            })
        ) {
            self.pos += 1;
            self.enter()?;
            let e = self.or_expr()?;
            self.expect(Tok::RParen, "')'")?;
            self.depth -= 1;
            return Ok(e);
        }
        self.comparison().map(Expr::Cmp)
    }

    fn comparison(&mut self) -> Result<Comparison, PatternError> {
        let off = self.offset();
        let object = match self.next() {
            Some(Tok::Word(w)) if w == "NOT" => return Err(unsupported_keyword("NOT", off)),
            Some(Tok::Word(w)) if w == "EXISTS" => return Err(unsupported_keyword("EXISTS", off)),
            Some(Tok::Word(w)) if !is_keyword(&w) => w,
            Some(Tok::RBracket | Tok::RParen) => {
                return Err(syntax(
                    off,
                    "empty expression or unbalanced brackets".into(),
                ))
            }
            Some(t) => {
                return Err(syntax(
                    off,
                    format!("expected an object path, found {}", t.describe()),
                ))
            }
            None => return Err(syntax(off, "expected an object path, found end".into())),
        };
        self.expect(Tok::Colon, "':' after the object type")?;
        let mut path = String::new();
        self.path_component(&mut path)?;
        loop {
            match self.peek().map(|t| &t.tok) {
                Some(Tok::Dot) => {
                    self.pos += 1;
                    path.push('.');
                    self.path_component(&mut path)?;
                }
                Some(Tok::LBracket) => {
                    self.pos += 1;
                    let off = self.offset();
                    match self.next() {
                        Some(Tok::Star) => path.push_str("[*]"),
                        Some(Tok::Int(n)) if n >= 0 => path.push_str(&format!("[{n}]")),
                        _ => return Err(syntax(off, "expected a list index".into())),
                    }
                    self.expect(Tok::RBracket, "']'")?;
                }
                _ => break,
            }
        }
        let off = self.offset();
        let op = match self.next() {
            Some(Tok::Cmp("=")) => Op::Eq,
            Some(Tok::Cmp(c)) => return Err(PatternError::Unsupported(format!("operator {c}"))),
            Some(Tok::Word(w)) => match w.as_str() {
                "IN" => Op::In,
                "ISSUBSET" => Op::IsSubset,
                "NOT" | "LIKE" | "MATCHES" | "ISSUPERSET" => {
                    return Err(unsupported_keyword(&w, off))
                }
                _ => return Err(syntax(off, format!("expected an operator, found '{w}'"))),
            },
            Some(t) => {
                return Err(syntax(
                    off,
                    format!("expected an operator, found {}", t.describe()),
                ))
            }
            None => return Err(syntax(off, "expected an operator, found end".into())),
        };
        let values = if op == Op::In {
            self.expect(Tok::LParen, "'(' after IN")?;
            let mut v = vec![self.literal()?];
            while matches!(
                self.peek(),
                Some(Token {
                    tok: Tok::Comma,
                    ..
                })
            ) {
                self.pos += 1;
                v.push(self.literal()?);
            }
            self.expect(Tok::RParen, "')'")?;
            v
        } else {
            vec![self.literal()?]
        };
        Ok(Comparison {
            object,
            path,
            op,
            values,
        })
    }

    fn path_component(&mut self, path: &mut String) -> Result<(), PatternError> {
        let off = self.offset();
        match self.next() {
            Some(Tok::Word(w)) => path.push_str(&w),
            Some(Tok::Str(s)) => path.push_str(&s),
            _ => return Err(syntax(off, "expected a property name".into())),
        }
        Ok(())
    }

    fn literal(&mut self) -> Result<Value, PatternError> {
        let off = self.offset();
        match self.next() {
            Some(Tok::Str(s)) => Ok(Value::Str(s)),
            Some(Tok::Int(n)) => Ok(Value::Int(n)),
            Some(Tok::Word(w)) if w == "true" => Ok(Value::Bool(true)),
            Some(Tok::Word(w)) if w == "false" => Ok(Value::Bool(false)),
            Some(Tok::Typed(c, _)) => Err(PatternError::Unsupported(format!("{c}'' literal"))),
            Some(Tok::Float) => Err(PatternError::Unsupported("float literal".into())),
            Some(t) => Err(syntax(
                off,
                format!("expected a value, found {}", t.describe()),
            )),
            None => Err(syntax(off, "expected a value, found end".into())),
        }
    }
}

// ---- printing (the parser's inverse, used by tests and reports) ----

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, o) in self.observations.iter().enumerate() {
            if i > 0 {
                f.write_str(" OR ")?;
            }
            write!(f, "[{o}]")?;
        }
        Ok(())
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (items, sep) = match self {
            Expr::Cmp(c) => return write!(f, "{c}"),
            Expr::And(v) => (v, " AND "),
            Expr::Or(v) => (v, " OR "),
        };
        for (i, e) in items.iter().enumerate() {
            if i > 0 {
                f.write_str(sep)?;
            }
            match e {
                Expr::Cmp(_) => write!(f, "{e}")?,
                _ => write!(f, "({e})")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object)?;
        for (i, part) in self.path.split('.').enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            let bare = part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'[' | b']' | b'*'))
                && !part.is_empty();
            if bare {
                f.write_str(part)?;
            } else {
                write!(f, "'{}'", escape(part))?;
            }
        }
        match self.op {
            Op::Eq => write!(f, " = {}", self.values[0]),
            Op::IsSubset => write!(f, " ISSUBSET {}", self.values[0]),
            Op::In => {
                f.write_str(" IN (")?;
                for (i, v) in self.values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => write!(f, "'{}'", escape(s)),
            Value::Int(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\'")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Ok(printed form)` or `Err(error message)`.
    fn check(input: &str, want: Result<&str, &str>) {
        let got = parse(input);
        match (&got, want) {
            (Ok(p), Ok(w)) => {
                assert_eq!(p.to_string(), w, "{input}");
                // Round trip: what we print parses back to the same value.
                assert_eq!(
                    parse(&p.to_string()).as_ref(),
                    Ok(p),
                    "round trip of {input}"
                );
            }
            (Err(e), Err(w)) => assert_eq!(e.to_string(), w, "{input}"),
            _ => panic!("{input}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn table() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            // Plain comparisons, as CISA writes them.
            (
                "[ipv4-addr:value = '45.129.137.233']",
                Ok("[ipv4-addr:value = '45.129.137.233']"),
            ),
            (
                "[domain-name:value='adobe-us-updatefiles.digital']",
                Ok("[domain-name:value = 'adobe-us-updatefiles.digital']"),
            ),
            (
                "[ipv6-addr:value = '2001:db8::/32']",
                Ok("[ipv6-addr:value = '2001:db8::/32']"),
            ),
            // OR between observations and inside one.
            (
                "[ipv4-addr:value = '1.2.3.4'] OR [domain-name:value = 'x.example']",
                Ok("[ipv4-addr:value = '1.2.3.4'] OR [domain-name:value = 'x.example']"),
            ),
            (
                "[ipv4-addr:value = '1.2.3.4' OR ipv4-addr:value = '5.6.7.8']",
                Ok("[ipv4-addr:value = '1.2.3.4' OR ipv4-addr:value = '5.6.7.8']"),
            ),
            (
                "([ipv4-addr:value = '1.2.3.4'] OR ([url:value = 'http://a.example/x']))",
                Ok("[ipv4-addr:value = '1.2.3.4'] OR [url:value = 'http://a.example/x']"),
            ),
            // AND within one observation, with parentheses and a quoted path component.
            (
                "[network-traffic:dst_ref.value = '1.2.3.4' AND network-traffic:dst_port = 443]",
                Ok("[network-traffic:dst_ref.value = '1.2.3.4' AND network-traffic:dst_port = 443]"),
            ),
            (
                "[(file:name = '123.ps1') AND file:hashes.'SHA-256' = 'ED5D']",
                Ok("[file:name = '123.ps1' AND file:hashes.'SHA-256' = 'ED5D']"),
            ),
            (
                "[(a:value = '1' OR a:value = '2') AND b:port = 3]",
                Ok("[(a:value = '1' OR a:value = '2') AND b:port = 3]"),
            ),
            // IN and ISSUBSET.
            (
                "[ipv4-addr:value IN ('1.1.1.1', '2.2.2.2')]",
                Ok("[ipv4-addr:value IN ('1.1.1.1', '2.2.2.2')]"),
            ),
            (
                "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
                Ok("[ipv4-addr:value ISSUBSET '198.51.100.0/24']"),
            ),
            (
                "[domain-name:resolves_to_refs[*].value = '1.2.3.4']",
                Ok("[domain-name:resolves_to_refs[*].value = '1.2.3.4']"),
            ),
            // Escapes.
            (
                r"[domain-name:value = 'it\'s.example']",
                Ok(r"[domain-name:value = 'it\'s.example']"),
            ),
            (
                r"[url:value = 'http://a.example/\\x']",
                Ok(r"[url:value = 'http://a.example/\\x']"),
            ),
            (
                r"[url:value = 'bad\escape']",
                Err("invalid escape in string at byte 17"),
            ),
            // Unsupported constructs are named.
            (
                "[ipv4-addr:value = '1.2.3.4'] WITHIN 300 SECONDS",
                Err("unsupported: qualifier WITHIN"),
            ),
            (
                "[ipv4-addr:value = '1.2.3.4'] START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'",
                Err("unsupported: qualifier START"),
            ),
            (
                "[ipv4-addr:value = '1.2.3.4'] REPEATS 5 TIMES",
                Err("unsupported: qualifier REPEATS"),
            ),
            (
                "[ipv4-addr:value = '1.2.3.4'] AND [domain-name:value = 'a.example']",
                Err("unsupported: AND between observation expressions"),
            ),
            (
                "[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [ipv4-addr:value = '5.6.7.8']",
                Err("unsupported: FOLLOWEDBY between observation expressions"),
            ),
            (
                "[ipv4-addr:value != '1.2.3.4']",
                Err("unsupported: operator !="),
            ),
            (
                "[NOT ipv4-addr:value = '1.2.3.4']",
                Err("unsupported: operator NOT"),
            ),
            (
                "[ipv4-addr:value NOT = '1.2.3.4']",
                Err("unsupported: operator NOT"),
            ),
            (
                "[domain-name:value LIKE '%.example']",
                Err("unsupported: operator LIKE"),
            ),
            (
                "[domain-name:value MATCHES '^a']",
                Err("unsupported: operator MATCHES"),
            ),
            (
                "[file:hashes.MD5 = h'00ff']",
                Err("unsupported: h'' literal"),
            ),
            // Garbage and unbalanced brackets.
            ("", Err("expected '[', found end of pattern at byte 0")),
            (
                "ipv4-addr:value = '1.2.3.4'",
                Err("expected '[' to open an observation, found 'ipv4-addr' at byte 0"),
            ),
            (
                "[ipv4-addr:value = '1.2.3.4'",
                Err("unbalanced brackets at byte 28"),
            ),
            (
                "[ipv4-addr:value = '1.2.3.4']]",
                Err("unbalanced brackets at byte 29"),
            ),
            (
                "[(ipv4-addr:value = '1.2.3.4']",
                Err("unbalanced brackets at byte 29"),
            ),
            ("[]", Err("empty expression or unbalanced brackets at byte 1")),
            (
                "[ipv4-addr:value = '1.2.3.4]",
                Err("unterminated string at byte 19"),
            ),
            (
                "[ipv4-addr = '1.2.3.4']",
                Err("expected ':' after the object type, found '=' at byte 11"),
            ),
            (
                "[ipv4-addr:value '1.2.3.4']",
                Err("expected an operator, found string at byte 17"),
            ),
            (
                "[ipv4-addr:value = ]",
                Err("expected a value, found ']' at byte 19"),
            ),
            (
                "[ipv4-addr:value = '1'] OR",
                Err("expected '[', found end of pattern at byte 26"),
            ),
            (
                "[ipv4-addr:value = '1'] [x:y = '2']",
                Err("unexpected '[' at byte 24"),
            ),
            ("[a:b = '1'] # x", Err("unexpected character '#' at byte 12")),
            (
                "[a:b IN ()]",
                Err("expected a value, found ')' at byte 9"),
            ),
        ];
        for (input, want) in cases {
            check(input, *want);
        }
    }

    #[test]
    fn simple_form_agrees_with_the_parser() {
        let cases = [
            ("[ipv4-addr:value = '45.129.137.233']", true),
            ("  [domain-name:value='a.example']  ", true),
            ("[url:value = 'http://a.example/?q=1']", true),
            ("[ipv4-addr:value = 'a' OR ipv4-addr:value = 'b']", false),
            ("[ipv4-addr:value = 'it\\'s']", false),
            ("[ipv4-addr:value = '1'] OR [ipv4-addr:value = '2']", false),
            ("[file:hashes.'SHA-256' = 'aa']", false),
            ("[ipv4-addr:value = '1' ]", true),
            ("[NOT:value = '1']", false),
            ("[a:b = '1']]", false),
            // Found by the `indicators` fuzz target: trim() took U+000B as space, the lexer
            // did not. Both now share `is_space`.
            ("[ipvd:irv ='.1.1']\u{b}", true),
            ("\u{c}[a:b =\u{b}'1']", true),
            ("[a:b = '1']\u{a0}", false),
        ];
        for (p, simple) in cases {
            let got = parse_simple(p);
            assert_eq!(got.is_some(), simple, "{p}");
            if let Some(got) = got {
                assert_eq!(Ok(got), parse(p), "{p}");
            }
        }
    }

    #[test]
    fn hostile_inputs_are_errors_not_panics() {
        let deep = format!("{}[a:b = '1']{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(matches!(parse(&deep), Err(PatternError::Syntax { .. })));
        let deep_in = format!("[{}a:b = '1'{}]", "(".repeat(100), ")".repeat(100));
        assert_eq!(
            parse(&deep_in).unwrap_err().to_string(),
            "nesting deeper than 32 at byte 32"
        );
        let huge = format!("[a:b = '{}']", "x".repeat(MAX_LEN));
        assert_eq!(
            parse(&huge).unwrap_err().to_string(),
            "pattern longer than 65536 bytes at byte 0"
        );
        for s in [
            "[",
            "]",
            "(",
            ")",
            "[[[[",
            "]]]]",
            "'",
            "\\",
            "[a:b = '\\",
            "[a:",
            "[a:b",
            "[a:b[",
            "[a:b[*",
            "é",
            "[a:b = 99999999999999999999]",
        ] {
            assert!(parse(s).is_err(), "{s:?}");
        }
    }
}
