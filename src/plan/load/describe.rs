//! The load in words, for the three places that show it: the text report, the HTML report
//! header and `validate`.
//!
//! Each place keeps its own wording (a terminal line, a compact header, a one-line check),
//! but the numbers — model, start, peak, stages, users, think — are read from one
//! [`LoadInfo`] here, so a new model or a changed number shows up everywhere at once.

use super::LoadInfo;

/// Which place the description is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wording {
    /// The text report: "20 virtual users, think 1s", "ramping users 0→100→0 (2 stages)",
    /// "open model: 500 iterations/s (max 100 users)".
    Text,
    /// The HTML report header: "20 users", "ramping users, peak 100, 2 stages",
    /// "open model at 500/s (max 100 users)".
    Html,
    /// `validate`: "20 virtual users", "ramping users (peak 100)",
    /// "open model from 10/s (peak 500/s, max 100 users)".
    Validate,
}

impl LoadInfo {
    /// A constant number of users and nothing else: what a result without `plan.load`
    /// (written before load models existed) ran.
    pub fn users(users: u32) -> LoadInfo {
        LoadInfo {
            model: "closed".into(),
            vus: Some(f64::from(users)),
            rate: None,
            max_vus: None,
            stages: Vec::new(),
            graceful_stop_s: 0.0,
            think_s: None,
            pacing_s: None,
            phases: Vec::new(),
        }
    }

    /// A plan with `workloads:` (`plan::workload::aggregate`): the users of them all.
    pub fn workloads(load: &crate::plan::Load) -> LoadInfo {
        LoadInfo {
            model: "workloads".into(),
            vus: Some(f64::from(load.model.max_users())),
            rate: None,
            max_vus: None,
            stages: Vec::new(),
            graceful_stop_s: load.graceful_stop.map_or(0.0, |d| d.as_secs_f64()),
            think_s: None,
            pacing_s: None,
            phases: Vec::new(),
        }
    }

    /// The load described for `wording`.
    pub fn describe(&self, wording: Wording) -> String {
        if self.model == "workloads" {
            return format!(
                "workloads with {} virtual users in all",
                self.vus.unwrap_or(0.0)
            );
        }
        let open = self.model == "open";
        let start = if open { self.rate } else { self.vus }.unwrap_or(0.0);
        let peak = self.stages.iter().map(|s| s.target).fold(start, f64::max);
        let max = self.max_vus.unwrap_or(0);
        let ramped = !self.stages.is_empty();
        if !self.phases.is_empty() {
            let n = self.phases.len();
            let peak = self
                .phases
                .iter()
                .map(|p| p.ramp_to.unwrap_or(0.0).max(p.arrival_rate))
                .fold(0.0, f64::max);
            let named: Vec<String> = self.phases.iter().map(|p| p.rates()).collect();
            let n = format!("{n} phase{}", if n == 1 { "" } else { "s" });
            return match wording {
                Wording::Text => {
                    format!("open model in {n}: {} (max {max} users)", named.join(", "))
                }
                Wording::Html => {
                    format!("open model in {n}, peak {peak}/s (max {max} users)")
                }
                Wording::Validate => format!(
                    "open model in {n} ({}; peak {peak}/s, max {max} users)",
                    named.join(", ")
                ),
            };
        }
        match wording {
            Wording::Text => {
                let think = self.think_s.map_or(String::new(), |[a, b]| {
                    if a == b {
                        format!(", think {a}s")
                    } else {
                        format!(", think {a}–{b}s")
                    }
                }) + &self
                    .pacing_s
                    .map_or(String::new(), |p| format!(", an iteration every {p}s"));
                let ramp = || {
                    let mut v = vec![format!("{start}")];
                    v.extend(self.stages.iter().map(|st| format!("{}", st.target)));
                    format!("{} ({} stages)", v.join("→"), self.stages.len())
                };
                match (open, ramped) {
                    (true, false) => {
                        format!("open model: {start} iterations/s (max {max} users){think}")
                    }
                    (true, true) => {
                        format!(
                            "open model: {} iterations/s (max {max} users){think}",
                            ramp()
                        )
                    }
                    (false, true) => format!("ramping users {}{think}", ramp()),
                    (false, false) => format!("{start} virtual users{think}"),
                }
            }
            Wording::Html => {
                let stages = match self.stages.len() {
                    0 => String::new(),
                    1 => ", 1 stage".into(),
                    n => format!(", {n} stages"),
                };
                match (open, ramped) {
                    (true, false) => format!("open model at {start}/s (max {max} users)"),
                    (true, true) => {
                        format!("open model {start}/s to peak {peak}/s (max {max} users){stages}")
                    }
                    (false, false) => format!("{start} users"),
                    (false, true) => format!("ramping users, peak {peak}{stages}"),
                }
            }
            Wording::Validate => match (open, ramped) {
                (true, _) => format!("open model from {start}/s (peak {peak}/s, max {max} users)"),
                (false, true) => format!("ramping users (peak {peak})"),
                (false, false) => format!("{start} virtual users"),
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::plan::{Overrides, load_str};

    fn info(load: &str, cli: &Overrides) -> LoadInfo {
        let yaml = format!("base_url: http://127.0.0.1:1\n{load}\nscenarios: [{{path: /}}]\n");
        let plan = load_str("p.yaml", &yaml, cli).unwrap();
        LoadInfo::of(&plan.load, std::time::Duration::ZERO)
    }

    fn all(l: &LoadInfo) -> [String; 3] {
        [Wording::Text, Wording::Html, Wording::Validate].map(|w| l.describe(w))
    }

    #[test]
    fn every_model_in_every_wording() {
        let none = Overrides::default();
        let cases = [
            (
                "defaults: {concurrency: 3, duration: 1s, think: {min: 10ms, max: 20ms}}",
                [
                    "3 virtual users, think 0.01–0.02s",
                    "3 users",
                    "3 virtual users",
                ],
            ),
            (
                "load: {vus: 2, duration: 1s}\ndefaults: {think: 5ms}",
                [
                    "2 virtual users, think 0.005s",
                    "2 users",
                    "2 virtual users",
                ],
            ),
            (
                "load:\n  stages: [{duration: 1s, target: 2.5}, {duration: 1s, target: 0}]",
                [
                    "ramping users 0→2.5→0 (2 stages)",
                    "ramping users, peak 2.5, 2 stages",
                    "ramping users (peak 2.5)",
                ],
            ),
            (
                "load:\n  vus: 1\n  stages: [{duration: 1s, target: 4}]",
                [
                    "ramping users 1→4 (1 stages)",
                    "ramping users, peak 4, 1 stage",
                    "ramping users (peak 4)",
                ],
            ),
            (
                "load: {rate: 20, duration: 1s, max_vus: 5}",
                [
                    "open model: 20 iterations/s (max 5 users)",
                    "open model at 20/s (max 5 users)",
                    "open model from 20/s (peak 20/s, max 5 users)",
                ],
            ),
            (
                "load:\n  rate: 5.5\n  stages: [{duration: 1s, target: 30}, {duration: 1s, target: 0}]",
                [
                    "open model: 5.5→30→0 (2 stages) iterations/s (max 1000 users)",
                    "open model 5.5/s to peak 30/s (max 1000 users), 2 stages",
                    "open model from 5.5/s (peak 30/s, max 1000 users)",
                ],
            ),
            (
                // One stage holding the start rate is a constant rate.
                "load: {rate: 10, stages: [{duration: 1s, target: 10}]}",
                [
                    "open model: 10 iterations/s (max 1000 users)",
                    "open model at 10/s (max 1000 users)",
                    "open model from 10/s (peak 10/s, max 1000 users)",
                ],
            ),
        ];
        for (load, want) in cases {
            assert_eq!(all(&info(load, &none)), want.map(String::from), "{load}");
        }
        let phased = info(
            "load:\n  max_vus: 9\n  phases:\n    - {name: warm, duration: 2s, arrival_rate: 1, ramp_to: 5}\n    - {pause: 1s}",
            &none,
        );
        assert_eq!(
            all(&phased),
            [
                "open model in 2 phases: warm 1→5/s, phase 2 pause (max 9 users)",
                "open model in 2 phases, peak 5/s (max 9 users)",
                "open model in 2 phases (warm 1→5/s, phase 2 pause; peak 5/s, max 9 users)",
            ]
            .map(String::from)
        );
        let c7 = Overrides {
            concurrency: Some(7),
            ..Overrides::default()
        };
        assert_eq!(
            info("load: {rate: 20, duration: 1s, max_vus: 5}", &c7).describe(Wording::Html),
            "open model at 20/s (max 7 users)"
        );
        assert_eq!(
            info("defaults: {requests: 5}", &c7).describe(Wording::Text),
            "7 virtual users"
        );
    }

    #[test]
    fn a_result_without_load_reads_as_constant_users() {
        assert_eq!(
            all(&LoadInfo::users(20)),
            ["20 virtual users", "20 users", "20 virtual users"].map(String::from)
        );
    }
}
