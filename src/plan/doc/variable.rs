//! A `variables:` value: one scalar for every user, or a list whose elements are shared
//! out one per virtual user (Artillery's `variables: {userId: [1, 2, 3]}`, ADR-230).
//!
//! Why its own reader: a value may be a scalar or a list, so it is read with
//! `deserialize_any`, and the YAML reader then types plain scalars (`1.10` becomes the
//! float 1.1). The validator reads variables as text, so after the document is read
//! [`keep_variable_text`] puts back every scalar exactly as written, from the plan's own
//! YAML tree.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Scalar;
use crate::plan::yaml::{self, Value};

/// One value for every user, or a list: user *k* gets element *k* (wrapping).
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Variable {
    /// One element per virtual user, in order, wrapping.
    List(Vec<Scalar>),
    /// The same value for every user.
    One(Scalar),
}

impl From<Scalar> for Variable {
    fn from(s: Scalar) -> Self {
        Variable::One(s)
    }
}

impl From<&str> for Variable {
    fn from(t: &str) -> Self {
        Variable::One(Scalar::from(t))
    }
}

impl<'de> Deserialize<'de> for Variable {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(VariableVisitor)
    }
}

struct VariableVisitor;

impl<'de> serde::de::Visitor<'de> for VariableVisitor {
    type Value = Variable;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a scalar (text, number or boolean) or a list of scalars")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Variable, A::Error> {
        let mut items = Vec::new();
        while let Some(s) = seq.next_element::<Scalar>()? {
            items.push(s);
        }
        Ok(Variable::List(items))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Variable, E> {
        Ok(Variable::One(Scalar::Text(v.to_string())))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Variable, E> {
        Ok(Variable::One(Scalar::Text(v)))
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Variable, E> {
        Ok(Variable::One(Scalar::Bool(v)))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Variable, E> {
        Ok(Variable::One(Scalar::Integer(v)))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Variable, E> {
        Ok(Variable::One(
            i64::try_from(v).map_or(Scalar::Text(v.to_string()), Scalar::Integer),
        ))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Variable, E> {
        Ok(Variable::One(Scalar::Number(v)))
    }
}

/// Replace the scalars of `vars` by their text as written in `text` (`1.10` stays
/// `1.10`, `yes` stays `yes`), as every other scalar of a document read from plan text.
/// Values the tree cannot be matched to are left as read.
pub fn keep_variable_text(text: &str, vars: &mut IndexMap<String, Option<Variable>>) {
    let Ok(root) = yaml::parse(text) else {
        return;
    };
    let Value::Map(top) = &root.value else {
        return;
    };
    let Some((_, node)) = top.iter().find(|(k, _)| k.text == "variables") else {
        return;
    };
    let Value::Map(entries) = &node.value else {
        return;
    };
    let as_text = |n: &yaml::Node| n.as_str().map(|t| Scalar::Text(t.to_string()));
    for (key, value) in entries {
        let Some(slot) = vars.get_mut(&key.text) else {
            continue;
        };
        let exact = match &value.value {
            Value::Scalar { .. } => as_text(value).map(Variable::One),
            Value::Seq(items) => items
                .iter()
                .map(as_text)
                .collect::<Option<Vec<_>>>()
                .map(Variable::List),
            _ => None,
        };
        if let Some(v) = exact {
            *slot = Some(v);
        }
    }
}
