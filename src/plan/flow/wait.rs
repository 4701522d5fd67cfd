//! What a virtual user does between two iterations (closed model): think (`think: 1s`,
//! `{min, max}`), or **pace** (`think: {pacing: 5s}`: an iteration *starts* every 5 s, the
//! pause being 5 s minus the iteration's duration, never negative — Locust's
//! `constant_pacing`, k6's usual `sleep(5 - elapsed)`).
//!
//! Locust's `wait_time` spellings on a scenario map onto these: `between(1, 3)` →
//! `{min: 1s, max: 3s}`, `constant(2)` → `2s`, `constant_pacing(5)` → `{pacing: 5s}`
//! (numbers are seconds, as in Python). Parsed here at validation; the engine only calls
//! [`Wait::pause`].

use std::time::Duration;

use super::Think;
use super::functions::Rng;
use crate::plan::validate::{Checker, MAX_DURATION, join};
use crate::plan::yaml::{Node, Value};

/// The pause after an iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Pause a fixed or random time after each iteration.
    Think(Think),
    /// Start an iteration every this long: pause what is left of it after the iteration.
    Pacing(Duration),
}

impl Wait {
    /// How long to pause after an iteration that took `took`.
    pub fn pause(&self, took: Duration, rng: &mut Rng) -> Duration {
        match self {
            Wait::Think(t) => t.pick(rng),
            Wait::Pacing(every) => every.saturating_sub(took),
        }
    }
}

/// A `think` value that may also pace: a duration, `{min, max}`, or `{pacing: DURATION}`
/// (`defaults.think` and a scenario's `think`; a think *step* cannot pace).
pub(crate) fn check_think_or_pacing(c: &mut Checker, node: &Node, path: &str) -> Option<Wait> {
    let paced = match &node.value {
        Value::Map(entries) => entries.iter().any(|(k, _)| k.text == "pacing"),
        _ => false,
    };
    if !paced {
        return super::check_think(c, node, path).map(Wait::Think);
    }
    let f = c.map(node, path, &["pacing"])?;
    let n = f.get("pacing")?;
    let d = c.duration(n, &join(path, "pacing"))?;
    if d.is_zero() {
        return c.fail(n, &join(path, "pacing"), "must be longer than 0s".into());
    }
    Some(Wait::Pacing(d))
}

/// A Locust `wait_time`: `between(MIN, MAX)`, `constant(S)` or `constant_pacing(S)`, in
/// seconds (decimals allowed), or the same with units (`between(500ms, 2s)`).
pub(crate) fn check_wait_time(c: &mut Checker, node: &Node, path: &str) -> Option<Wait> {
    let text = c.text(node, path)?;
    match parse_wait_time(&text) {
        Ok(w) => Some(w),
        Err(why) => c.fail(node, path, why),
    }
}

/// [`check_wait_time`] on text.
pub fn parse_wait_time(text: &str) -> Result<Wait, String> {
    let t = text.trim();
    let expected = "expected `between(1, 3)`, `constant(2)` or `constant_pacing(5)` (seconds)";
    let Some((name, rest)) = t.split_once('(') else {
        return Err(format!("`{t}` is not a wait_time; {expected}"));
    };
    let Some(args) = rest.trim_end().strip_suffix(')') else {
        return Err(format!("`{t}` has no closing `)`; {expected}"));
    };
    let args: Vec<&str> = args.split(',').map(str::trim).collect();
    let name = name.trim();
    let want = match name {
        "between" => 2,
        "constant" | "constant_pacing" => 1,
        other => {
            let hint =
                crate::util::did_you_mean(other, &["between", "constant", "constant_pacing"])
                    .map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
            return Err(format!("unknown wait_time `{other}`{hint}; {expected}"));
        }
    };
    if args.len() != want || args.iter().any(|a| a.is_empty()) {
        return Err(format!(
            "`{t}`: `{name}` takes {want} argument{}; {expected}",
            if want == 1 { "" } else { "s" }
        ));
    }
    let mut secs = Vec::with_capacity(2);
    for a in &args {
        secs.push(seconds(a).map_err(|why| format!("`{t}`: {why}"))?);
    }
    match (name, secs.as_slice()) {
        ("between", [min, max]) if max < min => {
            Err(format!("`{t}`: the maximum is shorter than the minimum"))
        }
        ("between", [min, max]) => Ok(Wait::Think(Think {
            min: *min,
            max: *max,
        })),
        ("constant", [d]) => Ok(Wait::Think(Think { min: *d, max: *d })),
        (_, [d]) if d.is_zero() => Err(format!("`{t}`: the pacing must be longer than 0s")),
        (_, [d]) => Ok(Wait::Pacing(*d)),
        _ => Err(format!("`{t}` is not a wait_time; {expected}")),
    }
}

/// `1.5` (seconds, Locust's unit) or a duration with a unit (`500ms`).
fn seconds(a: &str) -> Result<Duration, String> {
    match a.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 && s <= MAX_DURATION.as_secs_f64() => {
            Ok(Duration::from_secs_f64(s))
        }
        Ok(_) => Err(format!(
            "`{a}` is out of range; expected 0 to 365 days in seconds"
        )),
        Err(_) => crate::plan::parse_duration(a),
    }
}

/// A scenario's own pause between iterations: `think` (a duration, `{min, max}` or
/// `{pacing}`) or Locust's `wait_time`, not both. `None` when it gives neither.
pub(crate) fn check_scenario_wait(
    c: &mut Checker,
    think: Option<&Node>,
    wait_time: Option<&Node>,
    path: &str,
) -> Option<Wait> {
    match (think, wait_time) {
        (Some(_), Some(w)) => c.fail(
            w,
            &join(path, "wait_time"),
            "give `think` or `wait_time`, not both (they are two spellings of one pause)".into(),
        ),
        (Some(t), None) => check_think_or_pacing(c, t, &join(path, "think")),
        (None, Some(w)) => check_wait_time(c, w, &join(path, "wait_time")),
        (None, None) => None,
    }
}

/// In the open model the rate paces iterations: a scenario's `think` or `wait_time` would
/// do nothing, so it is an error (as `defaults.think` is).
pub(crate) fn reject_in_open_model(c: &mut Checker, scenarios: Option<&Node>) {
    let Some(Value::Seq(items)) = scenarios.map(|n| &n.value) else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let Value::Map(entries) = &item.value else {
            continue;
        };
        for (k, v) in entries {
            if k.text == "think" || k.text == "wait_time" {
                c.fail::<()>(
                    v,
                    &format!("scenarios[{i}].{}", k.text),
                    "has no effect in the open model (`load.rate`, `load.phases`): the rate paces iterations (use a `think` step inside a flow)".into(),
                );
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn s(x: f64) -> Duration {
        Duration::from_secs_f64(x)
    }

    #[test]
    fn locust_spellings_map_onto_think_and_pacing() {
        let think = |a, b| {
            Wait::Think(Think {
                min: s(a),
                max: s(b),
            })
        };
        let cases = [
            ("between(1, 3)", think(1.0, 3.0)),
            (" between( 0.5 ,2 ) ", think(0.5, 2.0)),
            ("between(500ms, 2s)", think(0.5, 2.0)),
            ("constant(2)", think(2.0, 2.0)),
            ("constant(0)", think(0.0, 0.0)),
            ("constant_pacing(5)", Wait::Pacing(s(5.0))),
            ("constant_pacing(0.25)", Wait::Pacing(s(0.25))),
        ];
        for (text, want) in cases {
            assert_eq!(parse_wait_time(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn bad_wait_times_say_what_is_expected() {
        let cases = [
            (
                "betwen(1, 3)",
                "unknown wait_time `betwen` (did you mean `between`?)",
            ),
            ("between(1)", "`between` takes 2 arguments"),
            ("constant(1, 2)", "`constant` takes 1 argument;"),
            ("between(3, 1)", "the maximum is shorter than the minimum"),
            ("constant(x)", "`x` is not a duration"),
            ("constant_pacing(0)", "the pacing must be longer than 0s"),
            ("constant(-1)", "`-1` is out of range"),
            ("5s", "is not a wait_time"),
            ("between(1, 3", "has no closing `)`"),
        ];
        for (text, want) in cases {
            let err = parse_wait_time(text).unwrap_err();
            assert!(err.contains(want), "{text}: {want:?} in {err}");
        }
    }

    #[test]
    fn pacing_pauses_what_is_left_never_negative() {
        let mut rng = Rng::new(1);
        let p = Wait::Pacing(s(5.0));
        assert_eq!(p.pause(s(1.5), &mut rng), s(3.5));
        assert_eq!(p.pause(s(7.0), &mut rng), Duration::ZERO);
        let t = Wait::Think(Think {
            min: s(2.0),
            max: s(2.0),
        });
        assert_eq!(t.pause(s(9.0), &mut rng), s(2.0));
    }
}
