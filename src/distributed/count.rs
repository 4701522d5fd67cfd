//! How many workers a run has when the coordinator is started without `--workers N`
//! (the seed command `loadtester --role coordinator`): the first worker to register tells.
//!
//! Why learn it rather than require it: a worker already knows the count whenever it was
//! given a segment (`--segment I/N`, `--segments N` with `JOB_COMPLETION_INDEX`,
//! `LOADTESTER_SEGMENT=I/N`), so the coordinator takes N from the first one; every later
//! worker must name the same N (or none). A first worker that names no segment at all makes
//! a run of one worker, as Locust's master expects one worker unless told otherwise; a first
//! worker that names only an index (a bare `JOB_COMPLETION_INDEX`) is refused, because only
//! `parallelism` knows the count and guessing 1 would refuse every other pod. ADR-240.

use super::protocol::Register;
use super::server::State;

/// The count a coordinator without `--workers` uses when the first worker names none.
pub const DEFAULT_WORKERS: u64 = 1;

/// The worker count this registration runs under, and — when it is the one that sets the
/// count — where the count came from (for messages). Refused when a first worker names an
/// index without a count.
pub fn of(s: &State, r: &Register) -> Result<(u64, Option<String>), String> {
    if let Some(n) = s.workers {
        return Ok((n, None));
    }
    match (r.segment, r.segments) {
        (_, Some(0)) => Err(format!(
            "worker `{}` names a segment count of 0; a run has at least one worker",
            r.name
        )),
        (Some(i), Some(m)) => Ok((m, Some(format!("worker `{}`'s segment {i}/{m}", r.name)))),
        (None, Some(m)) => Ok((m, Some(format!("worker `{}`'s segment count {m}", r.name)))),
        (Some(i), None) => Err(format!(
            "worker `{}` asks for segment {i} (JOB_COMPLETION_INDEX) without a segment count, \
             and this coordinator was started without --workers: give the workers --segments N \
             (or --segment I/N), or the coordinator --workers N",
            r.name
        )),
        (None, None) => Ok((
            DEFAULT_WORKERS,
            Some(format!(
                "the default of {DEFAULT_WORKERS}: the first worker, `{}`, named no segment \
                 count (--segment I/N, --segments N)",
                r.name
            )),
        )),
    }
}

/// Where the run's count came from, for refusals: `--workers N` or what [`of`] learnt.
pub fn source(s: &State) -> String {
    match (&s.workers, &s.workers_from) {
        (Some(n), None) => format!("--workers {n}"),
        (_, Some(from)) => {
            format!("learnt from {from}; start the coordinator with --workers N to set it")
        }
        (None, None) => "not known yet".into(),
    }
}

/// Fix the count on the first registration that passed every check (call just before
/// `rejoin::place`); says so on the coordinator's stderr.
pub fn learn(s: &mut State, r: &Register) -> Result<(), String> {
    if s.workers.is_some() {
        return Ok(());
    }
    let (n, from) = of(s, r)?;
    s.workers = Some(n);
    if let Some(from) = &from {
        s.notices.push(format!(
            "coordinator: this run has {n} worker{} ({from})",
            if n == 1 { "" } else { "s" }
        ));
    }
    s.workers_from = from;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributed::rejoin::tests::{reg, state_with};
    use crate::distributed::rejoin::{check, place};

    fn state(workers: Option<u64>) -> State {
        state_with(workers, None)
    }

    fn join(s: &mut State, r: &Register) -> Result<u64, String> {
        check(s, r)?;
        learn(s, r)?;
        Ok(place(s, r).segment)
    }

    #[test]
    fn the_first_worker_with_a_count_sets_it_and_a_different_count_is_refused_naming_both() {
        let mut s = state(None);
        assert_eq!(join(&mut s, &reg("a", Some(2), Some(3))), Ok(2));
        assert_eq!(s.workers, Some(3));
        assert!(
            s.notices
                .iter()
                .any(|n| n.contains("3 workers (worker `a`'s segment 2/3)")),
            "{:?}",
            s.notices
        );
        let e = join(&mut s, &reg("b", Some(1), Some(4))).unwrap_err();
        assert!(
            e.contains("1/4") && e.contains("3 workers") && e.contains("2/3"),
            "{e}"
        );
        // Without a count, a later worker takes a free segment of the learnt count.
        assert_eq!(join(&mut s, &reg("c", None, None)), Ok(1));
        assert_eq!(join(&mut s, &reg("d", Some(3), None)), Ok(3));
        let e = join(&mut s, &reg("e", None, None)).unwrap_err();
        assert!(
            e.contains("all 3 workers") && e.contains("learnt from"),
            "{e}"
        );
    }

    #[test]
    fn a_first_worker_without_a_count_makes_a_run_of_one_unless_it_names_an_index() {
        let mut s = state(None);
        let e = join(&mut s, &reg("pod-2", Some(2), None)).unwrap_err();
        assert!(e.contains("segment 2") && e.contains("--segments N"), "{e}");
        assert_eq!(s.workers, None, "a refused worker sets nothing");
        assert!(s.slots.is_empty());
        let e = join(&mut s, &reg("z", None, Some(0))).unwrap_err();
        assert!(e.contains("0"), "{e}");
        assert_eq!(join(&mut s, &reg("solo", None, None)), Ok(1));
        assert_eq!(s.workers, Some(DEFAULT_WORKERS));
        let e = join(&mut s, &reg("late", Some(2), Some(3))).unwrap_err();
        assert!(
            e.contains("2/3") && e.contains("1 workers") && e.contains("default"),
            "{e}"
        );
    }

    #[test]
    fn a_given_count_is_named_as_the_flag() {
        let s = state(Some(3));
        assert_eq!(source(&s), "--workers 3");
        assert_eq!(of(&s, &reg("a", Some(2), None)), Ok((3, None)));
    }
}
