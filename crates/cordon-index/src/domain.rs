//! Domain suffix match on label boundaries.
//!
//! A rule for `alicdn.com` matches `alicdn.com` and `img.alicdn.com`, never `notalicdn.com`
//! nor `alicdn.com.example`; a rule may be a bare label (a brand TLD such as `alibaba`).
//! **The longest matching suffix wins.** Names are compared in lowercase without a trailing
//! dot: [`normalize`] makes that form.

use foldhash::HashMap;

#[derive(Default)]
pub struct DomainTable {
    rules: HashMap<Box<str>, u32>,
}

/// Lowercases `name` and strips one trailing dot; `None` for names that cannot be host names
/// (empty labels, characters outside letters, digits, `-`, `_` and `.`, over 253 bytes).
pub fn normalize(name: &str) -> Option<String> {
    let n = name.strip_suffix('.').unwrap_or(name);
    if n.is_empty() || n.len() > 253 {
        return None;
    }
    if n.split('.').any(|l| l.is_empty() || l.len() > 63) {
        return None;
    }
    if !n
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return None;
    }
    Some(n.to_ascii_lowercase())
}

impl DomainTable {
    /// Adds a suffix rule (already normalised). A later insert of the same suffix replaces
    /// the earlier one.
    pub fn insert(&mut self, suffix: &str, value: u32) {
        self.rules.insert(suffix.into(), value);
    }

    /// The longest rule matching `name` (normalised): `(matched suffix, value)`.
    pub fn lookup<'n>(&self, name: &'n str) -> Option<(&'n str, u32)> {
        let mut rest = name;
        loop {
            if let Some(&v) = self.rules.get(rest) {
                return Some((rest, v));
            }
            let dot = rest.find('.')?;
            rest = &rest[dot + 1..];
        }
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_match_on_label_boundaries_only() {
        let mut t = DomainTable::default();
        t.insert("alibaba.com", 1);
        t.insert("alicdn.com", 2);
        t.insert("dashscope.aliyuncs.com", 3);
        t.insert("aliyuncs.com", 4);
        t.insert("alibaba", 5);
        let cases = [
            ("alibaba.com", Some(("alibaba.com", 1))),
            ("www.alibaba.com", Some(("alibaba.com", 1))),
            ("notalibaba.com", None),
            ("alicdn.com.example", None),
            ("g.alicdn.com", Some(("alicdn.com", 2))),
            (
                "dashscope.aliyuncs.com",
                Some(("dashscope.aliyuncs.com", 3)),
            ),
            (
                "x.dashscope.aliyuncs.com",
                Some(("dashscope.aliyuncs.com", 3)),
            ),
            (
                "bucket.oss-cn-hangzhou.aliyuncs.com",
                Some(("aliyuncs.com", 4)),
            ),
            ("www.brand.alibaba", Some(("alibaba", 5))),
            ("alibaba.co", None),
            ("com", None),
        ];
        for (name, want) in cases {
            assert_eq!(t.lookup(name), want, "{name}");
        }
    }

    #[test]
    fn normalization() {
        assert_eq!(
            normalize("WWW.Alibaba.COM.").as_deref(),
            Some("www.alibaba.com")
        );
        for bad in ["", ".", "a..b", "a b.com", "x.com..", "ü.com"] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }
}
