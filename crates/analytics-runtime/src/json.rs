//! Request bodies parsed as JSON that refuse a repeated key. serde_json
//! keeps the last of two equal keys; a proxy, a WAF or a log pipeline in
//! front of us may keep the first, and would then read a different event
//! than the one counted. Refusing the body leaves no room for that.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses `body` as JSON; an object holding a key twice is an error that
/// names the key (with serde_json's line and column).
pub fn parse(body: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = UniqueKeys.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// A `Value` whose objects have unique keys.
struct UniqueKeys;

impl<'de> DeserializeSeed<'de> for UniqueKeys {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON has no NaN or infinity, so every parsed float is a Number.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        UniqueKeys.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(UniqueKeys)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "the key {} appears twice in one object",
                    Value::String(key)
                )));
            }
            let value = map.next_value_seed(UniqueKeys)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_is_refused_by_name_at_any_depth() {
        let e = parse(br#"{"event_id":"a","event_id":"b"}"#).expect_err("duplicate");
        assert_eq!(
            e.to_string(),
            "the key \"event_id\" appears twice in one object at line 1 column 26"
        );
        let e = parse(br#"[{"a":1},{"p":{"x":1,"x":2}}]"#).expect_err("nested");
        assert!(
            e.to_string().starts_with("the key \"x\" appears twice"),
            "{e}"
        );
    }

    #[test]
    fn everything_else_parses_as_serde_json_does() {
        for body in [
            r#"{"a":1,"b":[1,-2,3.5,"x",null,true],"c":{"a":{}},"d":"\u00e9"}"#,
            r#"[]"#,
            r#"  "text"  "#,
            r#"18446744073709551615"#,
        ] {
            let expected: Value = serde_json::from_str(body).expect("valid");
            assert_eq!(parse(body.as_bytes()).expect("valid"), expected, "{body}");
        }
        assert!(parse(b"{} x").is_err(), "trailing characters");
        assert!(parse(b"{\"a\":").is_err(), "truncated");
    }
}
