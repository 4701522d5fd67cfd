//! The load model as one type: each variant carries its own numbers.
//!
//! Before, `Load.concurrency` meant the users, the peak of a ramp or `max_vus` depending on
//! the model, and every reader had to know which. Now the variant says what it is, and the
//! few numbers derived from it — users to start, whether iterations are paced, the target
//! at a moment — are computed here, once (ADR-054).

use std::time::Duration;

use crate::schedule::Profile;

/// How load is generated (k6's executor names in brackets).
#[derive(Clone, Debug, PartialEq)]
pub enum LoadModel {
    /// Closed model, constant (constant-vus): `users` virtual users loop — iteration,
    /// think, repeat — until `requests` or `duration`.
    ConstantUsers {
        /// Virtual users, each with its own connection (≥ 1).
        users: u32,
    },
    /// Closed model, ramped (ramping-vus): the number of active users follows `profile`.
    RampingUsers {
        /// Users over time; the run lasts its stages.
        profile: Profile,
    },
    /// Open model (constant/ramping-arrival-rate): iterations start on a schedule,
    /// independent of how fast the server answers.
    ArrivalRate {
        /// Iterations per second over time.
        rate: Profile,
        /// Upper bound of concurrent iterations (the users started).
        max_vus: u32,
    },
}

impl LoadModel {
    /// Virtual users the engine starts: the constant number, the peak of the ramp (rounded
    /// up, at least 1), or `max_vus`. What the JSON result calls `plan.concurrency`.
    pub fn max_users(&self) -> u32 {
        match self {
            LoadModel::ConstantUsers { users } => *users,
            LoadModel::RampingUsers { profile } => {
                // `as` saturates; targets are bounded by validation anyway.
                (profile.peak().ceil() as u32).max(1)
            }
            LoadModel::ArrivalRate { max_vus, .. } => *max_vus,
        }
    }

    /// Open model: iterations are paced by a rate (service time is tracked, `missed` counts).
    pub fn is_open(&self) -> bool {
        matches!(self, LoadModel::ArrivalRate { .. })
    }

    /// The users' ramp (closed model with stages).
    pub fn user_ramp(&self) -> Option<&Profile> {
        match self {
            LoadModel::RampingUsers { profile } => Some(profile),
            _ => None,
        }
    }

    /// The arrival rate (open model).
    pub fn rate(&self) -> Option<&Profile> {
        match self {
            LoadModel::ArrivalRate { rate, .. } => Some(rate),
            _ => None,
        }
    }

    /// What the model asks for at `t`: users (closed) or iterations per second (open), with
    /// the stage index when the profile has stages to tell apart.
    pub fn target_at(&self, t: Duration) -> (Option<usize>, f64) {
        match self {
            LoadModel::ConstantUsers { users } => (None, f64::from(*users)),
            LoadModel::RampingUsers { profile } => {
                let (stage, v) = profile.at(t);
                (Some(stage), v.floor())
            }
            LoadModel::ArrivalRate { rate, .. } => {
                let (stage, v) = rate.at(t);
                ((rate.stages.len() > 1).then_some(stage), v)
            }
        }
    }
}

/// Where a load value came from, for error messages: a plan key or a command-line flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A key of the plan file, at its position.
    Plan {
        /// The YAML path, e.g. `defaults.concurrency`.
        key: &'static str,
        /// Where its value is.
        pos: crate::plan::yaml::Pos,
    },
    /// A command-line flag, e.g. `--concurrency`.
    Flag(&'static str),
}

impl Origin {
    /// The plan key `key`, whose value is `node`.
    pub(crate) fn plan(key: &'static str, node: &crate::plan::yaml::Node) -> Origin {
        Origin::Plan { key, pos: node.pos }
    }

    /// Whether the value was given on the command line (it then replaces the plan's).
    pub fn is_flag(self) -> bool {
        matches!(self, Origin::Flag(_))
    }

    /// Position and path to report an error about the value at (`Checker::report`).
    pub fn at(self) -> (Option<crate::plan::yaml::Pos>, &'static str) {
        match self {
            Origin::Plan { key, pos } => (Some(pos), key),
            Origin::Flag(flag) => (None, flag),
        }
    }
}

impl std::fmt::Display for Origin {
    /// "`defaults.duration` (line 3)" or "`--duration`".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Plan { key, pos } => write!(f, "`{key}` (line {})", pos.line),
            Origin::Flag(flag) => write!(f, "`{flag}`"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::plan::{Overrides, load_str};
    use crate::schedule::Stage;

    fn ramp(start: f64, targets: &[f64]) -> Profile {
        Profile {
            start,
            stages: targets
                .iter()
                .map(|&target| Stage {
                    duration: Duration::from_secs(1),
                    target,
                })
                .collect(),
        }
    }

    #[test]
    fn max_users_per_model() {
        assert_eq!(LoadModel::ConstantUsers { users: 7 }.max_users(), 7);
        let profile = ramp(0.0, &[2.5, 0.0]);
        assert_eq!(LoadModel::RampingUsers { profile }.max_users(), 3);
        let profile = ramp(0.0, &[0.2]);
        assert_eq!(LoadModel::RampingUsers { profile }.max_users(), 1);
        let m = LoadModel::ArrivalRate {
            rate: ramp(10.0, &[500.0]),
            max_vus: 40,
        };
        assert_eq!(m.max_users(), 40);
        assert!(m.is_open());
        assert!(m.user_ramp().is_none());
        assert_eq!(m.rate().map(Profile::peak), Some(500.0));
    }

    #[test]
    fn target_at_follows_the_profile() {
        let c = LoadModel::ConstantUsers { users: 4 };
        assert_eq!(c.target_at(Duration::from_secs(9)), (None, 4.0));
        let r = LoadModel::RampingUsers {
            profile: ramp(0.0, &[10.0, 0.0]),
        };
        assert_eq!(r.target_at(Duration::from_millis(550)), (Some(0), 5.0));
        assert_eq!(r.target_at(Duration::from_millis(1500)), (Some(1), 5.0));
        let one = LoadModel::ArrivalRate {
            rate: Profile::constant(50.0, Duration::from_secs(2)),
            max_vus: 5,
        };
        assert_eq!(one.target_at(Duration::from_secs(1)), (None, 50.0));
    }

    #[test]
    fn origin_names_key_or_flag() {
        let pos = crate::plan::yaml::Pos { line: 3, col: 16 };
        let p = Origin::Plan {
            key: "defaults.concurrency",
            pos,
        };
        assert_eq!(p.to_string(), "`defaults.concurrency` (line 3)");
        assert_eq!(p.at(), (Some(pos), "defaults.concurrency"));
        assert!(!p.is_flag());
        let f = Origin::Flag("--duration");
        assert_eq!(f.to_string(), "`--duration`");
        assert_eq!(f.at(), (None, "--duration"));
        assert!(f.is_flag());
    }

    fn check(yaml: &str, cli: &Overrides) -> Result<crate::plan::Load, String> {
        let text = format!("base_url: http://127.0.0.1:1\n{yaml}\nscenarios: [{{path: /}}]\n");
        load_str("p.yaml", &text, cli)
            .map(|p| p.load)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_origin_of_a_value_reaches_the_message() {
        let none = Overrides::default();
        let err = check("defaults:\n  concurrency: 2\nload: {vus: 3}", &none).unwrap_err();
        assert!(
            err.contains(
                "p.yaml:4:13: load.vus: `defaults.concurrency` (line 3) is set too; give the number of users once"
            ),
            "{err}"
        );
        let err = check(
            "defaults: {duration: 2s}\nload: {vus: 3, duration: 1s}",
            &none,
        )
        .unwrap_err();
        assert!(
            err.contains("load.duration: `defaults.duration` (line 2) is set too"),
            "{err}"
        );
        let ramp = "load:\n  stages: [{duration: 1s, target: 4}]";
        let flags = Overrides {
            concurrency: Some(5),
            duration: Some(Duration::from_secs(9)),
            ..Overrides::default()
        };
        let err = check(ramp, &flags).unwrap_err();
        for want in [
            "p.yaml: --concurrency: the plan ramps users with `load.stages`",
            "p.yaml: --duration: the plan ramps with `load.stages`",
        ] {
            assert!(err.contains(want), "{want:?} in {err}");
        }
    }

    #[test]
    fn flags_replace_plan_values_and_plan_values_keep_their_meaning() {
        let c4 = Overrides {
            concurrency: Some(4),
            duration: Some(Duration::from_secs(2)),
            ..Overrides::default()
        };
        // `-c` sets the open model's max_vus; `-d` replaces `load.duration`.
        let l = check("load: {rate: 10, duration: 5s, max_vus: 9}", &c4).unwrap();
        assert_eq!(l.model.max_users(), 4);
        assert_eq!(l.duration, Some(Duration::from_secs(2)));
        // `defaults.concurrency` is the closed model's shorthand: no effect on max_vus.
        let l = check(
            "defaults: {concurrency: 3}\nload: {rate: 10, duration: 1s}",
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(l.model.max_users(), 1000);
        let l = check("defaults: {concurrency: 3, requests: 5}", &c4).unwrap();
        assert_eq!(l.model, LoadModel::ConstantUsers { users: 4 });
        let l = check(
            "load:\n  stages: [{duration: 1s, target: 2.5}]",
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(l.model.max_users(), 3);
        assert_eq!(l.model.user_ramp().map(|p| p.start), Some(0.0));
    }
}
