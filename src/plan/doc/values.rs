//! The scalar shapes of the plan format: values that may be written as a number, a boolean
//! or text (`${VAR}`, `1_000`, `64kB`), and the `think` pause.
//!
//! The plan text allows these alternatives because the validator (`plan::validate`) reads
//! every scalar as text; the document model keeps whichever form was written, so a plan
//! read into [`super::PlanDoc`] and written back says the same thing. Checking the value
//! (ranges, units, formats) stays in the validator.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A whole number: written as a number, or as text the validator reads as one
/// (`"1_000"`, `"${USERS:-10}"`, or for `max_body` a size such as `64kB`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Whole {
    /// A plain number, e.g. `10`.
    Number(u64),
    /// Text read as a number by the validator, e.g. `"${USERS:-10}"`.
    Text(String),
}

/// A decimal number (users or iterations per second): a number, or text such as
/// `"${RATE}"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Decimal {
    /// A whole number, e.g. `500`.
    Whole(u64),
    /// A decimal, e.g. `0.5`.
    Number(f64),
    /// Text read as a number by the validator, e.g. `"${RATE:-100}"`.
    Text(String),
}

/// A boolean: `true`/`false`, or text such as `"${INSECURE:-false}"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Flag {
    /// `true` or `false`.
    Bool(bool),
    /// Text read as a boolean by the validator.
    Text(String),
}

/// Any scalar, used where the value is taken as text (header values, variables, form
/// fields, `http_version`): `5`, `true` and `"5"` all mean the text `5` / `true`.
///
/// Read from plan text it is always [`Scalar::Text`], exactly as written (`1.10` stays
/// `1.10`, `0x1f` stays `0x1f`); the other variants are for documents built in code.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Scalar {
    /// A boolean.
    Bool(bool),
    /// A whole number.
    Integer(i64),
    /// A decimal number.
    Number(f64),
    /// Text (templates such as `{{ token }}` and `${VAR}` allowed where the key allows them).
    Text(String),
}

/// A pause: a fixed duration (`1s`), or uniformly random between `min` and `max`; between
/// iterations (`defaults.think`, a scenario's `think`) also `{pacing: 5s}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Think {
    /// A fixed pause, e.g. `2s`.
    Fixed(String),
    /// A random pause between two durations.
    Range(ThinkRange),
    /// Start an iteration every `pacing` (the pause is what is left of it, never negative;
    /// Locust's `constant_pacing`). Not for `think` steps.
    Pacing(ThinkPacing),
}

/// `{pacing}`: an iteration starts every this long.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThinkPacing {
    /// How often an iteration starts, e.g. `5s`.
    pub pacing: String,
}

/// `{min, max}` of a random pause.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThinkRange {
    /// Shortest pause, e.g. `1s`.
    pub min: String,
    /// Longest pause (at least `min`), e.g. `3s`.
    pub max: String,
}

/// One value or a list of them (`status: 200` or `status: [200, 201]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "OneOrMany_{T}")]
pub enum OneOrMany<T> {
    /// A list of values. (Tried first: serde could read a list positionally into a struct.)
    Many(Vec<T>),
    /// A single value.
    One(T),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Ask for text: the YAML reader then hands over the scalar as written.
        d.deserialize_str(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl serde::de::Visitor<'_> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a scalar (text, number or boolean)")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Text(v.to_string()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Text(v))
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Integer(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(i64::try_from(v).map_or(Scalar::Text(v.to_string()), Scalar::Integer))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Number(v))
    }
}

impl From<u64> for Whole {
    fn from(n: u64) -> Self {
        Whole::Number(n)
    }
}

impl From<&str> for Whole {
    fn from(t: &str) -> Self {
        Whole::Text(t.to_string())
    }
}

impl From<u64> for Decimal {
    fn from(n: u64) -> Self {
        Decimal::Whole(n)
    }
}

impl From<f64> for Decimal {
    fn from(n: f64) -> Self {
        Decimal::Number(n)
    }
}

impl From<bool> for Flag {
    fn from(b: bool) -> Self {
        Flag::Bool(b)
    }
}

impl From<&str> for Scalar {
    fn from(t: &str) -> Self {
        Scalar::Text(t.to_string())
    }
}

impl From<String> for Scalar {
    fn from(t: String) -> Self {
        Scalar::Text(t)
    }
}

impl From<&str> for Think {
    fn from(t: &str) -> Self {
        Think::Fixed(t.to_string())
    }
}

/// A YAML value sent as JSON (`json:` bodies, `check.json` expectations), keeping the
/// order of object keys as written. Strings may hold templates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum JsonValue {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Integer(i64),
    /// A decimal number.
    Number(f64),
    /// Text (a template).
    Text(String),
    /// A list.
    List(Vec<JsonValue>),
    /// An object, keys in order.
    Object(indexmap::IndexMap<String, JsonValue>),
}

/// Object keys keep `serde_json`'s order (sorted, unless its `preserve_order` feature is
/// on); build [`JsonValue::Object`] directly to choose the order.
impl From<serde_json::Value> for JsonValue {
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => JsonValue::Null,
            serde_json::Value::Bool(b) => JsonValue::Bool(b),
            serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => JsonValue::Integer(i),
                (None, Some(f)) => JsonValue::Number(f),
                (None, None) => JsonValue::Text(n.to_string()),
            },
            serde_json::Value::String(s) => JsonValue::Text(s),
            serde_json::Value::Array(a) => JsonValue::List(a.into_iter().map(Into::into).collect()),
            serde_json::Value::Object(o) => {
                JsonValue::Object(o.into_iter().map(|(k, v)| (k, v.into())).collect())
            }
        }
    }
}
