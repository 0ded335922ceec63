//! STIX 2.1 bundles: `indicator` objects with `pattern_type: stix`.
//!
//! The bundle is read in one streaming pass: each element of `objects` is deserialised into
//! a small borrowed view and loaded before the next is read, so a bundle of a million
//! indicators never exists as a tree in memory. **Fields are read leniently**: a field of
//! the wrong JSON type makes that one object malformed (reported with its id or index), not
//! the bundle. A JSON syntax error stops the file where it is; what came before it stays
//! loaded and the error is reported with line and column.

use super::pattern::{self, PatternError};
use super::report::{FileReport, Reason};
use super::set::{Builder, IdRef};
use super::values::{compile, parse_time, Compiled};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Loads a STIX bundle (or a single STIX object) from `bytes`.
pub(crate) fn load(bytes: &[u8], source: u32, b: &mut Builder, r: &mut FileReport) {
    let mut ctx = Ctx {
        b,
        r,
        source,
        index: 0,
        full: false,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let res = TopSeed(&mut ctx)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    if let Err(e) = res {
        ctx.r.error = Some(format!("bundle is not valid json: {e}"));
    }
    if ctx.full {
        ctx.r.error = Some("indicator index is full (2^31 keys or 4 GiB of text)".into());
    }
}

struct Ctx<'a> {
    b: &'a mut Builder,
    r: &'a mut FileReport,
    source: u32,
    /// Index in `objects` of the next object.
    index: usize,
    full: bool,
}

/// A JSON value read without failing: a string, a boolean, or anything else (skipped).
enum Field<'de> {
    Str(Cow<'de, str>),
    Bool(bool),
    Other,
}

impl<'de> de::Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldVisitor)
    }
}

struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any json value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Field<'de>, E> {
        Ok(Field::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Field<'de>, E> {
        Ok(Field::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Field<'de>, E> {
        Ok(Field::Str(Cow::Owned(v)))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Field<'de>, E> {
        Ok(Field::Bool(v))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Field<'de>, E> {
        Ok(Field::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Field<'de>, E> {
        Ok(Field::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Field<'de>, E> {
        Ok(Field::Other)
    }
    fn visit_unit<E>(self) -> Result<Field<'de>, E> {
        Ok(Field::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Field<'de>, A::Error> {
        while a.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Field::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Field<'de>, A::Error> {
        while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Field::Other)
    }
}

/// The fields of a STIX object cordon reads.
#[derive(Default)]
struct Obj<'de> {
    is_object: bool,
    ty: Option<Field<'de>>,
    id: Option<Field<'de>>,
    name: Option<Field<'de>>,
    pattern: Option<Field<'de>>,
    pattern_type: Option<Field<'de>>,
    valid_from: Option<Field<'de>>,
    valid_until: Option<Field<'de>>,
    revoked: Option<Field<'de>>,
}

impl<'de> Obj<'de> {
    /// Reads one key of an object; `true` if it was one of ours.
    fn field<A: MapAccess<'de>>(&mut self, key: &str, a: &mut A) -> Result<bool, A::Error> {
        let slot = match key {
            "type" => &mut self.ty,
            "id" => &mut self.id,
            "name" => &mut self.name,
            "pattern" => &mut self.pattern,
            "pattern_type" => &mut self.pattern_type,
            "valid_from" => &mut self.valid_from,
            "valid_until" => &mut self.valid_until,
            "revoked" => &mut self.revoked,
            _ => return Ok(false),
        };
        *slot = Some(a.next_value::<Field<'de>>()?);
        Ok(true)
    }
}

struct ObjVisitor;

impl<'de> Visitor<'de> for ObjVisitor {
    type Value = Obj<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a stix object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Obj<'de>, A::Error> {
        let mut o = Obj {
            is_object: true,
            ..Obj::default()
        };
        while let Some(k) = a.next_key::<Cow<'de, str>>()? {
            if !o.field(&k, &mut a)? {
                a.next_value::<IgnoredAny>()?;
            }
        }
        Ok(o)
    }
    // Anything that is not an object is skipped and reported as malformed.
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Obj<'de>, A::Error> {
        while a.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Obj::default())
    }
    fn visit_str<E>(self, _: &str) -> Result<Obj<'de>, E> {
        Ok(Obj::default())
    }
    fn visit_bool<E>(self, _: bool) -> Result<Obj<'de>, E> {
        Ok(Obj::default())
    }
    fn visit_i64<E>(self, _: i64) -> Result<Obj<'de>, E> {
        Ok(Obj::default())
    }
    fn visit_u64<E>(self, _: u64) -> Result<Obj<'de>, E> {
        Ok(Obj::default())
    }
    fn visit_f64<E>(self, _: f64) -> Result<Obj<'de>, E> {
        Ok(Obj::default())
    }
    fn visit_unit<E>(self) -> Result<Obj<'de>, E> {
        Ok(Obj::default())
    }
}

struct ObjSeed<'c, 'a>(&'c mut Ctx<'a>);

impl<'de> DeserializeSeed<'de> for ObjSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let o = d.deserialize_any(ObjVisitor)?;
        let i = self.0.index;
        self.0.index += 1;
        self.0.object(&o, i);
        Ok(())
    }
}

struct ObjectsSeed<'c, 'a>(&'c mut Ctx<'a>);

impl<'de> DeserializeSeed<'de> for ObjectsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ObjectsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of stix objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
        while a.next_element_seed(ObjSeed(self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
        while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Err(de::Error::custom("objects is not a list"))
    }
}

/// The top level: a bundle (its `objects` streamed), or a single object.
struct TopSeed<'c, 'a>(&'c mut Ctx<'a>);

impl<'de> DeserializeSeed<'de> for TopSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a stix bundle")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
        let mut top = Obj {
            is_object: true,
            ..Obj::default()
        };
        while let Some(k) = a.next_key::<Cow<'de, str>>()? {
            if k == "objects" {
                a.next_value_seed(ObjectsSeed(&mut *self.0))?;
            } else if !top.field(&k, &mut a)? {
                a.next_value::<IgnoredAny>()?;
            }
        }
        // A lone indicator (not wrapped in a bundle) is loaded too.
        if matches!(&top.ty, Some(Field::Str(t)) if t == "indicator") {
            self.0.object(&top, 0);
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
        // A bare list of objects.
        while a.next_element_seed(ObjSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

fn as_str<'x>(f: &'x Option<Field<'_>>) -> Option<&'x str> {
    match f {
        Some(Field::Str(s)) => Some(s),
        _ => None,
    }
}

impl Ctx<'_> {
    fn object(&mut self, o: &Obj<'_>, index: usize) {
        let r = &mut *self.r;
        let pos = || format!("objects[{index}]");
        if !o.is_object {
            r.note(Reason::Error, pos(), "object is not a json object", None);
            return;
        }
        match as_str(&o.ty) {
            Some("indicator") => {}
            Some(_) => return,
            None => {
                r.note(Reason::Error, pos(), "object without a string type", None);
                return;
            }
        }
        let Some(id) = as_str(&o.id) else {
            r.note(Reason::Error, pos(), "indicator without a string id", None);
            return;
        };
        let position = || id.to_string();
        match &o.revoked {
            Some(Field::Bool(true)) => {
                r.revoked += 1;
                return;
            }
            None | Some(Field::Bool(false)) => {}
            Some(_) => {
                r.note(Reason::Error, position(), "revoked is not a boolean", None);
                return;
            }
        }
        let Some(pattern) = as_str(&o.pattern) else {
            r.note(
                Reason::Error,
                position(),
                "indicator without a string pattern",
                None,
            );
            return;
        };
        match &o.pattern_type {
            // STIX 2.0 indicators have no pattern_type: their patterns are STIX.
            None => {}
            Some(Field::Str(t)) if t == "stix" => {}
            Some(Field::Str(t)) => {
                let d = format!("pattern_type {}", super::report::clip(t, 40));
                r.note(Reason::Unsupported, position(), &d, Some(pattern));
                return;
            }
            Some(_) => {
                r.note(
                    Reason::Error,
                    position(),
                    "pattern_type is not a string",
                    None,
                );
                return;
            }
        }
        let time = |f: &Option<Field<'_>>, default: i64, what: &str| match f {
            None => Ok(default),
            Some(Field::Str(s)) => {
                parse_time(s).ok_or(format!("bad {what} '{}'", super::report::clip(s, 40)))
            }
            Some(_) => Err(format!("{what} is not a string")),
        };
        let window = time(&o.valid_from, i64::MIN, "valid_from")
            .and_then(|f| time(&o.valid_until, i64::MAX, "valid_until").map(|u| (f, u)));
        let (from, until) = match window {
            Ok((f, u)) if u > f => (f, u),
            Ok(_) => {
                r.note(
                    Reason::Error,
                    position(),
                    "valid_until is not after valid_from",
                    None,
                );
                return;
            }
            Err(e) => {
                r.note(Reason::Error, position(), &e, None);
                return;
            }
        };
        let parsed =
            match pattern::parse_simple(pattern).map_or_else(|| pattern::parse(pattern), Ok) {
                Ok(p) => p,
                Err(PatternError::Unsupported(what)) => {
                    r.note(Reason::Unsupported, position(), &what, Some(pattern));
                    return;
                }
                Err(e) => {
                    r.note(
                        Reason::Error,
                        position(),
                        &format!("pattern: {e}"),
                        Some(pattern),
                    );
                    return;
                }
            };
        let (keys, partial) = match compile(&parsed) {
            Compiled::Keys { keys, partial } => (keys, partial),
            Compiled::Undecidable(kind) => {
                r.note(Reason::Undecidable, position(), &kind, Some(pattern));
                return;
            }
            Compiled::Unsupported(what) => {
                r.note(Reason::Unsupported, position(), &what, Some(pattern));
                return;
            }
            Compiled::Invalid(e) => {
                r.note(Reason::Error, position(), &e, Some(pattern));
                return;
            }
        };
        let added = (|| {
            let g = self.b.group(self.source, as_str(&o.name), from, until)?;
            let m = self.b.indicator(g, IdRef::Text(id), Some(pattern))?;
            for (t, port) in &keys {
                self.b.key(m, t, *port)?;
            }
            Ok::<(), super::set::Full>(())
        })();
        if added.is_err() {
            self.full = true;
            return;
        }
        r.loaded += 1;
        if let Some(p) = partial {
            r.note(Reason::Partial, position(), &p, Some(pattern));
        }
    }
}
