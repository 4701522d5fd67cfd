//! A bounded fuzz of plan loading (a proptest over mutated plans; no nightly for
//! cargo-fuzz here): the shipped plans with random edits — characters inserted, deleted
//! or replaced from a YAML-heavy alphabet, lines duplicated, huge numbers and durations
//! spliced in — must load to a plan or to errors, never panic, and quickly. Bounded: a
//! fixed number of cases, each timed.

use std::time::{Duration, Instant};

use loadtester::plan::{Overrides, load_str};
use proptest::prelude::*;

const SEEDS: &[&str] = &[
    include_str!("../../plans/loadplan.yaml"),
    include_str!("../../plans/flow.yaml"),
    include_str!("../../plans/ramping-rate.yaml"),
    include_str!("../../plans/ramping-users.yaml"),
    include_str!("../../plans/constant-rate.yaml"),
    include_str!("../../plans/ci-gate.yaml"),
    include_str!("../../plans/demo.yaml"),
];

/// Pieces a mutation splices in: YAML syntax, anchors and aliases, and the numbers that
/// broke arithmetic before.
const PIECES: &[&str] = &[
    ":",
    "-",
    " ",
    "\n",
    "\n  ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\"",
    "'",
    "&a",
    "*a",
    "&b [*a, *a]",
    "|",
    ">",
    "#",
    "${X}",
    "{{ x }}",
    "0",
    "-1",
    "1e400",
    "18446744073709551615",
    "9223372036854775807",
    "18446744073709551615s",
    "99999999h",
    "0s",
    "1ms",
    "NaN",
    "inf",
    "~",
    "null",
    "\u{feff}",
    "\t",
    "\\",
    "%",
    "?",
    "!!str ",
    "<<: *a",
    "..",
];

#[derive(Clone, Debug)]
enum Edit {
    Insert(usize, usize),
    Delete(usize, usize),
    Replace(usize, usize),
    DuplicateLine(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0..PIECES.len()).prop_map(|(a, p)| Edit::Insert(a, p)),
        (any::<usize>(), 1usize..8).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), 0..PIECES.len()).prop_map(|(a, p)| Edit::Replace(a, p)),
        any::<usize>().prop_map(Edit::DuplicateLine),
    ]
}

fn boundary(text: &str, at: usize) -> usize {
    let mut i = at % (text.len() + 1);
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(seed: &str, edits: &[Edit]) -> String {
    let mut t = seed.to_string();
    for e in edits {
        match *e {
            Edit::Insert(at, p) => {
                let i = boundary(&t, at);
                t.insert_str(i, PIECES[p]);
            }
            Edit::Delete(at, n) => {
                let i = boundary(&t, at);
                let j = boundary(&t, i + n);
                t.replace_range(i..j.max(i), "");
            }
            Edit::Replace(at, p) => {
                let i = boundary(&t, at);
                let j = boundary(&t, i + PIECES[p].len());
                t.replace_range(i..j.max(i), PIECES[p]);
            }
            Edit::DuplicateLine(at) => {
                let lines: Vec<&str> = t.lines().collect();
                if !lines.is_empty() {
                    let k = at % lines.len();
                    let mut v: Vec<&str> = lines.clone();
                    v.insert(k, lines[k]);
                    t = v.join("\n");
                }
            }
        }
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn mutated_plans_load_or_fail_cleanly(
        seed in 0..SEEDS.len(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let text = apply(SEEDS[seed], &edits);
        let started = Instant::now();
        let ov = Overrides {
            env: vec![("X".into(), "1".into())],
            ..Overrides::default()
        };
        // Errors are fine; a panic fails the test (proptest catches it and shrinks).
        if let Err(e) = load_str("fuzz.yaml", &text, &ov) {
            let msg = e.to_string();
            prop_assert!(!msg.is_empty());
        }
        prop_assert!(started.elapsed() < Duration::from_secs(2), "slow: {:?}", started.elapsed());
    }
}
