//! Lenient one-pass readers of JSON: typed slots for the members a decoder uses, everything
//! else skipped without building anything. Request decoders (Messages, Responses, their
//! tools) and the chat stream-chunk view read through these, so both see a body the same way:
//! a repeated key overwrites (the last one wins, as in a map), and a value of the wrong
//! *type* is recorded ([`Obj::Other`], [`List::Other`], [`Json::Other`]) rather than failing
//! the parse. Only JSON syntax errors come out of it. Each decoder still checks the types
//! itself, so its 400s name the parameter it wants.
//!
//! Why not a `serde_json::Value` tree: a tree allocates per node and copies every string; in
//! wasm that was most of a translated request's CPU, and of every translated stream chunk's.
//! Why not `#[derive(Deserialize)]`: a derived struct fails on a repeated key.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// The members of a JSON object a decoder reads. `member` deserializes the value of each key
/// it wants into its slot (a repeated key overwrites, as in a map) and skips the rest with
/// [`skip`].
pub trait Members<'de>: Default {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

/// Skips the value of a member nobody reads (nothing is built or copied).
pub fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}

/// A value that should be an object with members `T`.
#[derive(Debug)]
pub enum Obj<T> {
    Object(T),
    Null,
    /// Any other type.
    Other,
}

/// A value that should be an array of `T`.
#[derive(Debug)]
pub enum List<T> {
    Items(Vec<T>),
    Null,
    /// Any other type.
    Other,
}

/// An object key, borrowed from the body unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Visits any JSON value; `T` says what to make of arrays and objects, everything else is
/// `other` (`null` is `null`).
macro_rules! scalar_visits {
    ($out:ty, $null:expr, $other:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<$out, E> {
            Ok($other)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<$out, E> {
            Ok($other)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<$out, E> {
            Ok($other)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<$out, E> {
            Ok($other)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<$out, E> {
            Ok($other)
        }
        fn visit_unit<E: de::Error>(self) -> Result<$out, E> {
            Ok($null)
        }
        fn visit_none<E: de::Error>(self) -> Result<$out, E> {
            Ok($null)
        }
    };
}

impl<'de, T: Members<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Members<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            scalar_visits!(Obj<T>, Obj::Null, Obj::Other);
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Obj<T>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Obj::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Obj<T>, A::Error> {
                let mut out = T::default();
                while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                    out.member(&k, &mut map)?;
                }
                Ok(Obj::Object(out))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            scalar_visits!(List<T>, List::Null, List::Other);
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element::<T>()? {
                    out.push(item);
                }
                Ok(List::Items(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<List<T>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(List::Other)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Reads a whole body as `T` in one pass. `Ok(None)`: valid JSON but not an object. The
/// error is serde_json's, as a parse into a `Value` would give it (syntax, trailing
/// characters).
pub fn body<'de, T: Members<'de>>(body: &'de [u8]) -> Result<Option<T>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let obj = Obj::<T>::deserialize(&mut de)?;
    de.end()?;
    Ok(match obj {
        Obj::Object(t) => Some(t),
        Obj::Null | Obj::Other => None,
    })
}

/// A member's value, reduced to what the decoder asks of it.
#[derive(Debug, Default)]
pub enum Json<'a> {
    #[default]
    Absent,
    Null,
    Str(Cow<'a, str>),
    /// An integer that fits `u64` (what `Value::as_u64` gives).
    U64(u64),
    /// Anything else: negative or fractional numbers, booleans, arrays, objects.
    Other,
}

impl<'a> Json<'a> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn into_str(self) -> Option<Cow<'a, str>> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::U64(n) => Some(*n),
            _ => None,
        }
    }

    /// Present and not `null`.
    pub fn is_given_non_null(&self) -> bool {
        !matches!(self, Json::Absent | Json::Null)
    }
}

struct JsonVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for JsonVisitor<'a> {
    type Value = Json<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Json::Other)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Json::Other)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Json::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Json::U64(n))
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Owned(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| Json::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        IgnoredAny.visit_map(map).map(|_| Json::Other)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Json<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor(PhantomData))
    }
}

impl<T> Obj<T> {
    /// The members, when the value was an object.
    pub fn into_object(self) -> Option<T> {
        match self {
            Obj::Object(t) => Some(t),
            Obj::Null | Obj::Other => None,
        }
    }
}

impl<T> List<T> {
    /// The elements, when the value was an array (else none).
    pub fn into_items(self) -> Vec<T> {
        match self {
            List::Items(items) => items,
            List::Null | List::Other => Vec::new(),
        }
    }
}

/// The first element of an array, the rest skipped; `None` for an empty array or any other
/// value.
#[derive(Debug)]
pub struct First<T>(pub Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for First<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = First<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            scalar_visits!(First<T>, First(None), First(None));
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<First<T>, A::Error> {
                let first = seq.next_element::<T>()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(First(first))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<First<T>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(First(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::wire::canonical::raw::RawJson;
    use serde_json::Value;

    #[derive(Default, Debug)]
    struct Two {
        a: Option<Value>,
        b: Option<RawJson>,
    }

    impl<'de> Members<'de> for Two {
        fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
            match key {
                "a" => self.a = Some(map.next_value()?),
                "b" => self.b = Some(map.next_value()?),
                _ => skip(map)?,
            }
            Ok(())
        }
    }

    #[test]
    fn reads_wanted_members_last_one_wins() {
        let t: Two = body(br#"{"a":1,"x":{"deep":[1,2]},"b": {"k" : [true]},"\u0061":2}"#)
            .unwrap()
            .unwrap();
        assert_eq!(t.a, Some(serde_json::json!(2)));
        assert_eq!(t.b.unwrap().get(), r#"{"k" : [true]}"#);
        assert!(body::<Two>(b"[1]").unwrap().is_none());
        assert!(body::<Two>(b"\"s\"").unwrap().is_none());
        assert!(body::<Two>(br#"{"a":}"#).is_err());
        assert!(body::<Two>(br#"{"a":1} x"#).is_err());
    }

    #[test]
    fn scalars_and_first_are_lenient() {
        let j: Vec<Json<'_>> =
            serde_json::from_str(r#"["a\"b", 3, -1, 1.5, null, [1], {"k":1}]"#).unwrap();
        assert_eq!(j[0].as_str(), Some("a\"b"));
        assert_eq!(j[1].as_u64(), Some(3));
        assert!(matches!(j[2], Json::Other) && matches!(j[3], Json::Other));
        assert!(matches!(j[4], Json::Null) && !j[4].is_given_non_null());
        assert!(matches!(j[5], Json::Other) && matches!(j[6], Json::Other));
        let f: First<u64> = serde_json::from_str("[7, 8, {}]").unwrap();
        assert_eq!(f.0, Some(7));
        let f: First<u64> = serde_json::from_str(r#"{"a":1}"#).unwrap();
        assert_eq!(f.0, None);
    }
}
