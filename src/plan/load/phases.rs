//! Artillery-style named phases: `load.phases: [{name, duration, arrival_rate, ramp_to}]`
//! (also `arrivalRate`, `rampTo`, and `{pause: 10s}`) — another spelling of an open-model
//! stage list, whose names the progress bar, the series (`phase`), the reports and the
//! JSON result show.
//!
//! A phase starts at its own `arrival_rate` (Artillery's rule: phases do not blend), so a
//! rate that differs from the previous phase's end becomes a zero-length stage of the
//! [`Profile`] (a step, see `schedule::stages`), followed by the phase's stage: flat at
//! `arrival_rate`, or linear to `ramp_to`. A `pause` is a stage at rate 0. The pacer, the
//! dispatcher and `missed` are the open model's, unchanged; [`Phase`] only remembers each
//! phase's name and time span.

use std::time::Duration;

use super::super::validate::{Checker, Fields, join};
use super::super::yaml::{Node, Value};
use crate::schedule::{Profile, Stage};

/// Keys of one phase.
const PHASE_KEYS: &[&str] = &[
    "name",
    "duration",
    "arrival_rate",
    "arrivalRate",
    "ramp_to",
    "rampTo",
    "pause",
];
/// Highest arrival rate a phase may ask for (as `load.rate`).
const MAX_RATE: f64 = 10_000_000.0;

/// One named phase of an open-model run.
#[derive(Clone, Debug, PartialEq)]
pub struct Phase {
    /// Its name (given, or `phase N` from 1).
    pub name: String,
    /// When it starts, since the run's start.
    pub start: Duration,
    /// How long it lasts.
    pub duration: Duration,
    /// Iterations per second at its start (0 for a pause).
    pub arrival_rate: f64,
    /// Iterations per second at its end, when it ramps.
    pub ramp_to: Option<f64>,
}

/// One phase in the JSON result (`plan.load.phases[]`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhaseInfo {
    /// Its name.
    pub name: String,
    /// When it starts, seconds since the run's start.
    pub start_s: f64,
    /// How long it lasts, seconds.
    pub duration_s: f64,
    /// Iterations per second at its start (0 for a pause).
    pub arrival_rate: f64,
    /// Iterations per second at its end, when it ramps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_to: Option<f64>,
}

impl PhaseInfo {
    /// The JSON form of a phase.
    pub fn of(p: &Phase) -> PhaseInfo {
        PhaseInfo {
            name: p.name.clone(),
            start_s: p.start.as_secs_f64(),
            duration_s: p.duration.as_secs_f64(),
            arrival_rate: p.arrival_rate,
            ramp_to: p.ramp_to,
        }
    }

    /// `warm up 5→50/s`, `sustain 50/s`, `phase 3 pause` — for reports and `validate`.
    pub fn rates(&self) -> String {
        match self.ramp_to {
            Some(to) => format!("{} {}→{to}/s", self.name, self.arrival_rate),
            None if self.arrival_rate == 0.0 => format!("{} pause", self.name),
            None => format!("{} {}/s", self.name, self.arrival_rate),
        }
    }
}

/// The phase running at `t` since the start (the last one after the end); `None` without
/// phases.
pub fn phase_at(phases: &[Phase], t: Duration) -> Option<&Phase> {
    phases
        .iter()
        .find(|p| t < p.start + p.duration)
        .or(phases.last())
}

/// Check `load.phases` and build the rate profile and the phases.
pub(crate) fn check(c: &mut Checker, node: &Node) -> Option<(Profile, Vec<Phase>)> {
    let Value::Seq(items) = &node.value else {
        return c.fail(
            node,
            "load.phases",
            format!(
                "expected a list of `{{name, duration, arrival_rate, ramp_to}}`, found {}",
                node.kind()
            ),
        );
    };
    if items.is_empty() {
        return c.fail(
            node,
            "load.phases",
            "is empty; give at least one `{duration, arrival_rate}`".into(),
        );
    }
    let mut phases: Vec<Phase> = Vec::with_capacity(items.len());
    let mut ok = true;
    let mut start = Duration::ZERO;
    for (i, item) in items.iter().enumerate() {
        let path = format!("load.phases[{i}]");
        match phase(c, item, &path, i, start) {
            Some(p) => {
                if let Some(first) = phases.iter().find(|q| q.name == p.name) {
                    c.fail::<()>(
                        item,
                        &join(&path, "name"),
                        format!(
                            "phase name `{}` is already used by the phase starting at {}; names are unique (the series and reports are keyed by them)",
                            p.name,
                            humantime::format_duration(first.start)
                        ),
                    );
                    ok = false;
                }
                start += p.duration;
                phases.push(p);
            }
            None => ok = false,
        }
    }
    if !ok {
        return None;
    }
    if phases
        .iter()
        .all(|p| p.arrival_rate == 0.0 && p.ramp_to.unwrap_or(0.0) == 0.0)
    {
        return c.fail(
            node,
            "load.phases",
            "every phase has an arrival rate of 0; nothing would be sent".into(),
        );
    }
    Some((profile(&phases), phases))
}

/// The open-model profile the phases spell: a step to each phase's own start rate where
/// it differs from where the previous phase ended, then the phase's stage.
pub fn profile(phases: &[Phase]) -> Profile {
    let start = phases.first().map_or(0.0, |p| p.arrival_rate);
    let mut stages = Vec::with_capacity(phases.len() * 2);
    let mut at = start;
    for p in phases {
        if p.arrival_rate != at {
            stages.push(Stage {
                duration: Duration::ZERO,
                target: p.arrival_rate,
            });
        }
        let end = p.ramp_to.unwrap_or(p.arrival_rate);
        stages.push(Stage {
            duration: p.duration,
            target: end,
        });
        at = end;
    }
    Profile { start, stages }
}

fn phase(c: &mut Checker, item: &Node, path: &str, i: usize, start: Duration) -> Option<Phase> {
    let f = c.map(item, path, PHASE_KEYS)?;
    let name = match f.get("name") {
        Some(n) => c.text(n, &join(path, "name")),
        None => Some(format!("phase {}", i + 1)),
    };
    if let Some(p) = f.get("pause") {
        for (key, given) in [
            ("duration", f.get("duration").is_some()),
            ("arrival_rate", given(&f, "arrival_rate", "arrivalRate")),
            ("ramp_to", given(&f, "ramp_to", "rampTo")),
        ] {
            if given {
                c.fail::<()>(
                    p,
                    &join(path, key),
                    "a `pause` phase sends nothing for its length; remove `{key}` or the `pause`"
                        .replace("{key}", key),
                );
            }
        }
        let d = seconds(c, p, &join(path, "pause"))?;
        return Some(Phase {
            name: name?,
            start,
            duration: d,
            arrival_rate: 0.0,
            ramp_to: None,
        });
    }
    let duration = match f.get("duration") {
        Some(n) => seconds(c, n, &join(path, "duration")),
        None => c.fail(
            item,
            &join(path, "duration"),
            "missing; expected e.g. `60s` (or `60`, seconds, as Artillery writes it)".into(),
        ),
    };
    let arrival_rate = match rate(c, &f, item, path, "arrival_rate", "arrivalRate")? {
        Some(r) => r,
        None => {
            return c.fail(
                item,
                &join(path, "arrival_rate"),
                "missing; expected iterations per second, e.g. `arrival_rate: 10` (or a `pause`)"
                    .into(),
            );
        }
    };
    let ramp_to = rate(c, &f, item, path, "ramp_to", "rampTo")?;
    Some(Phase {
        name: name?,
        start,
        duration: duration?,
        arrival_rate,
        ramp_to,
    })
}

fn given(f: &Fields, a: &str, b: &str) -> bool {
    f.get(a).or(f.get(b)).is_some()
}

/// A rate given as `a` or (Artillery's spelling) `b`: `Some(None)` when neither is given,
/// `None` after an error.
fn rate(
    c: &mut Checker,
    f: &Fields,
    item: &Node,
    path: &str,
    a: &str,
    b: &str,
) -> Option<Option<f64>> {
    match (f.get(a), f.get(b)) {
        (Some(_), Some(_)) => c.fail(item, path, format!("give `{a}` or `{b}`, not both")),
        (Some(n), None) => rate_value(c, n, &join(path, a)).map(Some),
        (None, Some(n)) => rate_value(c, n, &join(path, b)).map(Some),
        (None, None) => Some(None),
    }
}

/// A phase length: a duration (`30s`) or, as Artillery writes it, a number of seconds.
fn seconds(c: &mut Checker, n: &Node, path: &str) -> Option<Duration> {
    let text = c.text(n, path)?;
    let d = match text.trim().parse::<f64>() {
        Ok(s)
            if s.is_finite()
                && s > 0.0
                && s <= super::super::validate::MAX_DURATION.as_secs_f64() =>
        {
            Duration::from_secs_f64(s)
        }
        Ok(_) => {
            return c.fail(
                n,
                path,
                format!("`{text}` is out of range; expected more than 0 seconds, at most 365d"),
            );
        }
        Err(_) => c.duration(n, path)?,
    };
    if d.is_zero() {
        return c.fail(n, path, "must be longer than 0s".into());
    }
    Some(d)
}

fn rate_value(c: &mut Checker, n: &Node, path: &str) -> Option<f64> {
    let text = c.text(n, path)?;
    match text.trim().replace('_', "").parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=MAX_RATE).contains(&v) => Some(v),
        Ok(_) => c.fail(
            n,
            path,
            format!("`{text}` is out of range; expected 0 to {MAX_RATE} iterations per second"),
        ),
        Err(_) => c.fail(
            n,
            path,
            format!("`{text}` is not a number of iterations per second"),
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::plan::{Overrides, load_str};
    use crate::schedule::Pace;

    fn load(yaml: &str) -> Result<crate::plan::Load, String> {
        let text =
            format!("base_url: http://127.0.0.1:1\nload:\n{yaml}\nscenarios: [{{path: /}}]\n");
        load_str("p.yaml", &text, &Overrides::default())
            .map(|p| p.load)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn phases_spell_an_open_profile_with_steps() {
        let l = load(
            "  phases:\n    - {name: warm up, duration: 10, arrivalRate: 5, rampTo: 50}\n    - {name: sustain, duration: 1m, arrival_rate: 50}\n    - {pause: 5s}\n    - {name: spike, duration: 2s, arrival_rate: 200}",
        )
        .unwrap();
        let rate = l.model.rate().unwrap();
        assert_eq!(rate.start, 5.0);
        let targets: Vec<(u64, f64)> = rate
            .stages
            .iter()
            .map(|s| (s.duration.as_secs(), s.target))
            .collect();
        // warm-up ramp, sustain (no step: it starts where the ramp ended), a step down to
        // the pause, the pause, a step up to the spike, the spike.
        assert_eq!(
            targets,
            vec![
                (10, 50.0),
                (60, 50.0),
                (0, 0.0),
                (5, 0.0),
                (0, 200.0),
                (2, 200.0)
            ]
        );
        assert_eq!(l.duration, Some(Duration::from_secs(77)));
        let names: Vec<&str> = l.phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["warm up", "sustain", "phase 3", "spike"]);
        assert_eq!(l.phases[3].start, Duration::from_secs(75));
        let at = |s: u64| phase_at(&l.phases, Duration::from_secs(s)).map(|p| p.name.clone());
        assert_eq!(at(0).as_deref(), Some("warm up"));
        assert_eq!(at(10).as_deref(), Some("sustain"));
        assert_eq!(at(72).as_deref(), Some("phase 3"));
        assert_eq!(at(99).as_deref(), Some("spike"));
    }

    #[test]
    fn the_pacer_follows_steps_and_pauses() {
        let p = profile(&[
            Phase {
                name: "a".into(),
                start: Duration::ZERO,
                duration: Duration::from_secs(1),
                arrival_rate: 10.0,
                ramp_to: None,
            },
            Phase {
                name: "b".into(),
                start: Duration::from_secs(1),
                duration: Duration::from_secs(1),
                arrival_rate: 0.0,
                ramp_to: None,
            },
            Phase {
                name: "c".into(),
                start: Duration::from_secs(2),
                duration: Duration::from_secs(1),
                arrival_rate: 100.0,
                ramp_to: None,
            },
        ]);
        let due = |n| match p.due(n) {
            Pace::Due(d) => Some(d.as_secs_f64()),
            Pace::Stop => None,
        };
        assert_eq!(due(0), Some(0.0));
        assert!((due(9).unwrap() - 0.9).abs() < 1e-9);
        // Iteration 10 is the first of phase c: nothing is due during the pause.
        assert!((due(10).unwrap() - 2.0).abs() < 1e-9, "{:?}", due(10));
        assert!((due(60).unwrap() - 2.5).abs() < 1e-9);
        assert_eq!(due(110), None);
        assert_eq!(p.at(Duration::from_millis(1500)).1, 0.0);
        assert_eq!(p.at(Duration::from_millis(2500)).1, 100.0);
    }

    #[test]
    fn mistakes_name_the_phase() {
        let cases = [
            (
                "  phases: [{duration: 10}]",
                "load.phases[0].arrival_rate: missing",
            ),
            (
                "  phases: [{arrival_rate: 1}]",
                "load.phases[0].duration: missing",
            ),
            (
                "  phases: [{duration: 1s, arrival_rate: 1, arrivalRate: 2}]",
                "give `arrival_rate` or `arrivalRate`, not both",
            ),
            (
                "  phases: [{duration: 1s, arrival_rate: x}]",
                "load.phases[0].arrival_rate: `x` is not a number",
            ),
            (
                "  phases: [{duration: 1s, arrival_rate: 1, ramp: 2}]",
                "unknown key `ramp`",
            ),
            (
                "  phases: [{name: a, duration: 1s, arrival_rate: 1}, {name: a, duration: 1s, arrival_rate: 1}]",
                "phase name `a` is already used",
            ),
            (
                "  phases: [{pause: 2s, duration: 1s}]",
                "a `pause` phase sends nothing",
            ),
            (
                "  phases: [{pause: 2s}]",
                "every phase has an arrival rate of 0",
            ),
            (
                "  phases: [{duration: 1s, arrival_rate: 1}]\n  rate: 5",
                "load.rate: `phases` set the rate",
            ),
            (
                "  phases: [{duration: 1s, arrival_rate: 1}]\n  duration: 5s",
                "load.duration: `phases` set the run length",
            ),
            ("  phases: []", "load.phases: is empty"),
        ];
        for (yaml, want) in cases {
            let err = load(yaml).unwrap_err();
            assert!(err.contains(want), "{yaml}: {want:?} in {err}");
        }
    }
}
