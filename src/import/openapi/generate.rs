//! Values from schemas: what an importer sends for a parameter or a body nobody gave an
//! example for. The rules (ADR-111): `const`, else `enum[0]`, else `default`, else
//! `example`, else generated from `type`/`format` within every listed bound; `allOf` is
//! merged, `oneOf`/`anyOf` take the first branch, `readOnly` properties are left out of
//! requests, optional properties are included unless that would recurse.
//!
//! With `vary`, free-form strings become template calls (`{{ randomString(8) }}`,
//! `{{ uuid() }}`, `user-{{ randomString(6) }}@example.com`) so every iteration sends a
//! new value and created resources do not collide; numbers are drawn once from the seeded
//! generator, so `--seed` makes the file reproducible.

use serde_json::{Map, Value, json};

use super::spec::Spec;
use crate::import::ImportError;

/// How deep references may nest before optional parts are left out (cycles end here).
const MAX_DEPTH: usize = 12;

/// A small seeded generator (splitmix64): the same seed gives the same plan.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number from `lo` to `hi`, both included (`lo` when `hi < lo`).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi as i128 - lo as i128 + 1) as u128;
        (lo as i128 + (self.next() as u128 % span) as i128) as i64
    }
}

/// What the generator needs: the document, the seeded generator, and whether strings may
/// be templates.
pub struct Gen<'a> {
    /// The document (for `$ref`).
    pub spec: &'a Spec,
    /// Seeded randomness.
    pub rng: Rng,
    /// Free-form strings as template calls (request bodies, paths, queries).
    pub vary: bool,
}

impl Gen<'_> {
    /// A value for `schema` (found in file `file`), `at` naming its place for errors.
    pub fn value(&mut self, file: &str, schema: &Value, at: &str) -> Result<Value, ImportError> {
        let mut stack = Vec::new();
        Ok(self
            .generate(file, schema, at, &mut stack)?
            .unwrap_or(Value::Null))
    }

    fn generate(
        &mut self,
        file: &str,
        schema: &Value,
        at: &str,
        stack: &mut Vec<String>,
    ) -> Result<Option<Value>, ImportError> {
        let mut pushed = false;
        let (schema, file) = if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let key = format!("{file}#{r}");
            if stack.contains(&key) || stack.len() >= MAX_DEPTH {
                return Ok(None);
            }
            stack.push(key);
            pushed = true;
            let (s, f, _) = self.spec.deref(file, schema, at)?;
            (s, f)
        } else {
            (schema.clone(), file.to_string())
        };
        let schema = merge_all_of(self.spec, &file, &schema, at, 0)?;
        let out = self.gen_resolved(&file, &schema, at, stack);
        if pushed {
            stack.pop();
        }
        out
    }

    fn gen_resolved(
        &mut self,
        file: &str,
        s: &Value,
        at: &str,
        stack: &mut Vec<String>,
    ) -> Result<Option<Value>, ImportError> {
        if let Some(c) = s.get("const") {
            return Ok(Some(c.clone()));
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array) {
            if let Some(v) = e.iter().find(|v| !v.is_null()).or(e.first()) {
                return Ok(Some(v.clone()));
            }
        }
        for key in ["default", "example"] {
            if let Some(v) = s.get(key) {
                return Ok(Some(v.clone()));
            }
        }
        if let Some(ex) = s
            .get("examples")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        {
            return Ok(Some(ex.clone()));
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(branches) = s.get(key).and_then(Value::as_array) {
                let mut base = s.clone();
                if let Some(m) = base.as_object_mut() {
                    m.remove("oneOf");
                    m.remove("anyOf");
                    m.remove("discriminator");
                }
                for (i, b) in branches.iter().enumerate() {
                    let here = format!("{at}/{key}/{i}");
                    let merged = json!({"allOf": [base.clone(), b.clone()]});
                    if let Some(v) = self.generate(file, &merged, &here, stack)? {
                        return Ok(Some(v));
                    }
                }
                return Ok(None);
            }
        }
        let ty = type_of(s);
        Ok(match ty.as_str() {
            "null" => Some(Value::Null),
            "boolean" => Some(Value::Bool(true)),
            "integer" => Some(self.integer(s)),
            "number" => Some(self.number(s)),
            "string" => Some(Value::String(self.string(s))),
            "array" => {
                let min = s.get("minItems").and_then(Value::as_u64).unwrap_or(0);
                let max = s
                    .get("maxItems")
                    .and_then(Value::as_u64)
                    .unwrap_or(u64::MAX);
                let n = min.max(1).min(max).min(8);
                let items = s.get("items").cloned().unwrap_or(json!({}));
                let unique = s
                    .get("uniqueItems")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let mut out = Vec::new();
                let mut tries = 0;
                while (out.len() as u64) < n && tries < 32 {
                    tries += 1;
                    match self.generate(file, &items, &format!("{at}/items"), stack)? {
                        Some(v) if unique && out.contains(&v) => {
                            if let Some(alt) = self.variant(&v, out.len()) {
                                out.push(alt);
                            }
                        }
                        Some(v) => out.push(v),
                        None => break,
                    }
                }
                if (out.len() as u64) < min {
                    return Ok(None);
                }
                Some(Value::Array(out))
            }
            _ => self.object(file, s, at, stack)?,
        })
    }

    /// Another value like `v` for a unique list (numbers and strings get a suffix).
    fn variant(&mut self, v: &Value, i: usize) -> Option<Value> {
        match v {
            Value::String(t) => Some(Value::String(format!("{t}{i}"))),
            Value::Number(n) => n.as_i64().map(|x| json!(x.saturating_add(i as i64))),
            _ => None,
        }
    }

    fn object(
        &mut self,
        file: &str,
        s: &Value,
        at: &str,
        stack: &mut Vec<String>,
    ) -> Result<Option<Value>, ImportError> {
        let required: Vec<&str> = s
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let max = s
            .get("maxProperties")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        let mut out = Map::new();
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            // Required first, then optional ones while maxProperties allows.
            let mut order: Vec<(&String, &Value)> = props.iter().collect();
            order.sort_by_key(|(k, _)| !required.contains(&k.as_str()));
            for (name, p) in order {
                let is_required = required.contains(&name.as_str());
                if read_only(self.spec, file, p, at)? {
                    continue;
                }
                if !is_required && out.len() as u64 >= max {
                    continue;
                }
                let here = format!("{at}/properties/{}", super::spec::escape(name));
                match self.generate(file, p, &here, stack)? {
                    Some(v) => {
                        out.insert(name.clone(), v);
                    }
                    None if is_required => return Ok(None),
                    None => {}
                }
            }
        }
        let min = s.get("minProperties").and_then(Value::as_u64).unwrap_or(0);
        if let Some(extra) = s.get("additionalProperties").filter(|a| a.is_object()) {
            let want = min.max(if out.is_empty() { 1 } else { 0 });
            let mut i = 1;
            while (out.len() as u64) < want && i < 16 {
                let here = format!("{at}/additionalProperties");
                if let Some(v) = self.generate(file, extra, &here, stack)? {
                    out.insert(format!("key{i}"), v);
                }
                i += 1;
            }
        }
        Ok(Some(Value::Object(out)))
    }

    fn integer(&mut self, s: &Value) -> Value {
        let (lo, hi) = bounds(s);
        let fmt_lo = if s.get("format").and_then(Value::as_str) == Some("int32") {
            i32::MIN as f64
        } else {
            -9.0e15
        };
        let lo = lo.map_or(1.0, |(v, ex)| if ex { v.floor() + 1.0 } else { v.ceil() });
        let hi = hi.map_or(lo.max(1.0) + 999.0, |(v, ex)| {
            if ex { v.ceil() - 1.0 } else { v.floor() }
        });
        let lo = lo.max(fmt_lo) as i64;
        let hi = (hi.min(9.0e15) as i64).max(lo);
        let m = s
            .get("multipleOf")
            .and_then(Value::as_f64)
            .filter(|m| *m >= 1.0 && m.fract() == 0.0);
        let v = self.rng.range(lo, hi);
        match m {
            Some(m) => {
                let m = m as i64;
                let k = v.div_euclid(m);
                let mut x = k.saturating_mul(m);
                if x < lo {
                    x = x.saturating_add(m);
                }
                json!(x)
            }
            None => json!(v),
        }
    }

    fn number(&mut self, s: &Value) -> Value {
        let (lo, hi) = bounds(s);
        let l = lo.map_or(0.0, |(v, _)| v);
        let h = hi.map_or(l + 1000.0, |(v, _)| v);
        if let Some(m) = s
            .get("multipleOf")
            .and_then(Value::as_f64)
            .filter(|m| *m > 0.0)
        {
            let first = (l / m).floor() as i64 + 1;
            let last = (h / m).ceil() as i64 - 1;
            let k = self.rng.range(first, last.max(first));
            return json!((k as f64) * m);
        }
        // Strictly inside the bounds: exclusive ones are met too.
        let frac = (self.rng.range(10, 90) as f64) / 100.0;
        let v = l + (h - l) * frac;
        let rounded = (v * 100.0).round() / 100.0;
        let v = if rounded > l && rounded < h {
            rounded
        } else {
            v
        };
        json!(v)
    }

    fn string(&mut self, s: &Value) -> String {
        let min = s.get("minLength").and_then(Value::as_u64).unwrap_or(0);
        let max = s
            .get("maxLength")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        let format = s.get("format").and_then(Value::as_str).unwrap_or("");
        if let Some(p) = s.get("pattern").and_then(Value::as_str) {
            for _ in 0..16 {
                if let Some(v) = super::pattern::generate(p, &mut self.rng) {
                    let len = v.chars().count() as u64;
                    if len >= min && len <= max {
                        return v;
                    }
                }
            }
        }
        let fixed = match format {
            "email" if !self.vary => Some("user@example.com".to_string()),
            "email" => Some("user-{{ randomString(8) }}@example.com".to_string()),
            "uuid" if self.vary => Some("{{ uuid() }}".to_string()),
            "uuid" => Some("3fa85f64-5717-4562-b3fc-2c963f66afa6".to_string()),
            "date" => Some("2026-01-15".to_string()),
            "date-time" => Some("2026-01-15T10:30:00Z".to_string()),
            "time" => Some("10:30:00Z".to_string()),
            "uri" | "url" => Some("https://example.com/item".to_string()),
            "ipv4" => Some("192.0.2.10".to_string()),
            "ipv6" => Some("2001:db8::10".to_string()),
            "hostname" => Some("api.example.com".to_string()),
            "byte" => Some("aGVsbG8gd29ybGQ=".to_string()),
            _ => None,
        };
        if let Some(f) = fixed {
            return f;
        }
        let n = 8u64.max(min).min(max).min(64);
        if n == 0 {
            return String::new();
        }
        if self.vary {
            return format!("{{{{ randomString({n}) }}}}");
        }
        const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| ALNUM[self.rng.range(0, ALNUM.len() as i64 - 1) as usize] as char)
            .collect()
    }
}

/// The schema's type: the first non-null entry of a type list, else inferred from the
/// keywords (`properties` → object, `items` → array, bounds → number; `string` otherwise).
pub fn type_of(s: &Value) -> String {
    match s.get("type") {
        Some(Value::String(t)) => return t.clone(),
        Some(Value::Array(a)) => {
            if let Some(t) = a.iter().filter_map(Value::as_str).find(|t| *t != "null") {
                return t.to_string();
            }
            return "null".into();
        }
        _ => {}
    }
    if s.get("properties").is_some() || s.get("additionalProperties").is_some() {
        "object".into()
    } else if s.get("items").is_some() {
        "array".into()
    } else if s.get("minimum").is_some() || s.get("maximum").is_some() {
        "number".into()
    } else {
        "string".into()
    }
}

/// A bound and whether it is exclusive.
type Bound = Option<(f64, bool)>;

/// `(minimum, exclusive)` and `(maximum, exclusive)` in either dialect: 3.1's numeric
/// `exclusiveMinimum` or 3.0/2.0's boolean flag on `minimum`.
fn bounds(s: &Value) -> (Bound, Bound) {
    let one = |plain: &str, ex: &str| -> Bound {
        let n = s.get(plain).and_then(Value::as_f64);
        match s.get(ex) {
            Some(Value::Number(e)) => e.as_f64().map(|e| (e, true)),
            Some(Value::Bool(true)) => n.map(|n| (n, true)),
            _ => n.map(|n| (n, false)),
        }
    };
    (
        one("minimum", "exclusiveMinimum"),
        one("maximum", "exclusiveMaximum"),
    )
}

/// Whether a property schema is `readOnly` (through its reference too).
fn read_only(spec: &Spec, file: &str, p: &Value, at: &str) -> Result<bool, ImportError> {
    if p.get("readOnly").and_then(Value::as_bool) == Some(true) {
        return Ok(true);
    }
    if p.get("$ref").is_some() {
        let (t, _, _) = spec.deref(file, p, at)?;
        return Ok(t.get("readOnly").and_then(Value::as_bool) == Some(true));
    }
    Ok(false)
}

/// `allOf` folded into one schema: properties and `required` united, other keywords taken
/// from the first part that has them; references inside are followed.
pub fn merge_all_of(
    spec: &Spec,
    file: &str,
    s: &Value,
    at: &str,
    depth: usize,
) -> Result<Value, ImportError> {
    let Some(parts) = s.get("allOf").and_then(Value::as_array) else {
        return Ok(s.clone());
    };
    if depth > MAX_DEPTH {
        return Ok(json!({}));
    }
    let mut out = s.as_object().cloned().unwrap_or_default();
    out.remove("allOf");
    for (i, part) in parts.iter().enumerate() {
        let here = format!("{at}/allOf/{i}");
        let (p, pf, _) = spec.deref(file, part, &here)?;
        let p = merge_all_of(spec, &pf, &p, &here, depth + 1)?;
        let Some(p) = p.as_object() else { continue };
        for (k, v) in p {
            match (k.as_str(), out.get_mut(k)) {
                ("properties", Some(Value::Object(mine))) => {
                    if let Some(theirs) = v.as_object() {
                        for (pk, pv) in theirs {
                            // Both parts constrain it: the value must meet both.
                            let both = match mine.get(pk) {
                                Some(first) => json!({"allOf": [first.clone(), pv.clone()]}),
                                None => pv.clone(),
                            };
                            mine.insert(pk.clone(), both);
                        }
                    }
                }
                ("required", Some(Value::Array(mine))) => {
                    for r in v.as_array().into_iter().flatten() {
                        if !mine.contains(r) {
                            mine.push(r.clone());
                        }
                    }
                }
                (_, Some(_)) => {}
                (_, None) => {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
    }
    Ok(Value::Object(out))
}
