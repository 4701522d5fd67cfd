//! Per-user lifecycle: a scenario's `setup_steps` run once by each virtual user before its
//! first iteration of the scenario (Locust's `on_start`: log in once), `teardown_steps`
//! once when the user stops (Locust's `on_stop`: log out).
//!
//! Their requests go through the flow interpreter (`iteration::exec`) like any step, so
//! they are counted under their step names, with checks and captures; but they are not
//! iterations — no iteration is started or completed by them, and the request budget
//! (`requests`) does not count them. Captures of setup steps live in the slots the
//! iteration does not reset (`Flow::kept_slots`), and the user's cookie jar keeps what the
//! login set, so every later iteration carries the token and the session.
//!
//! When the setup fails (a capture it needs found nothing, or a request got no response),
//! the iteration it came before cannot run: it counts as aborted by that capture (as a
//! failed capture of the iteration itself would) and the setup runs again before the
//! user's next iteration. Teardown runs when a user leaves: at the end of the run (within
//! `graceful_stop`), when a ramp takes it down (it sets up again if it comes back), and
//! after its last iteration in the open model. Ctrl-C and an aborting threshold cut it,
//! as they cut an iteration's remaining steps.

use std::sync::Mutex;

use super::Shared;
use super::flow::program::ScenarioProgram;
use super::iteration::{Vu, bind_rows, exec, shape};
use super::worker::lock;
use crate::stats::Shard;

/// Which scenarios a user has set up (and so must tear down), by scenario index.
#[derive(Debug, Default)]
pub struct Lifecycle {
    set_up: Vec<bool>,
}

impl Lifecycle {
    /// Whether the user ran scenario `s`'s setup (and has not torn it down since).
    pub fn is_set_up(&self, s: usize) -> bool {
        self.set_up.get(s).copied().unwrap_or(false)
    }

    fn mark(&mut self, s: usize, on: bool) {
        if self.set_up.len() <= s {
            self.set_up.resize(s + 1, false);
        }
        self.set_up[s] = on;
    }
}

/// Run scenario `s`'s setup steps for this user; true when they ran to their end (the
/// iteration may start). A failure counts the iteration as aborted.
pub async fn setup(
    shared: &Shared,
    vu: &mut Vu,
    s: usize,
    sc: &ScenarioProgram,
    shard: &Mutex<Shard>,
) -> bool {
    if !bind_rows(shared, vu, sc) {
        return false;
    }
    let shape = shape(sc);
    let end = exec(shared, vu, s, sc, &sc.setup, None, &shape, shard).await;
    if end.cut {
        return false;
    }
    if let Some(id) = end.aborted_by {
        let mut sh = lock(shard);
        sh.start_iteration(s, &shape);
        sh.record_iteration(s, &shape, std::time::Duration::ZERO, Some(id));
        return false;
    }
    vu.lifecycle.mark(s, true);
    true
}

/// Run the teardown steps of every scenario this user set up (or, for scenarios with
/// teardown but no setup, ran), then forget them: the user is leaving.
pub async fn teardown(shared: &Shared, vu: &mut Vu, shard: &Mutex<Shard>) {
    let scenarios = &shared.program.scenarios;
    for (s, sc) in scenarios.iter().enumerate() {
        if !vu.lifecycle.is_set_up(s) {
            continue;
        }
        vu.lifecycle.mark(s, false);
        if sc.teardown.is_empty() || shared.ctl.cut_token.is_cancelled() {
            continue;
        }
        let shape = shape(sc);
        let _ = Box::pin(exec(shared, vu, s, sc, &sc.teardown, None, &shape, shard)).await;
    }
}

/// Mark scenario `s` as run by this user when it has teardown steps but no setup, so that
/// its teardown runs when the user stops.
pub fn ran(vu: &mut Vu, s: usize, sc: &ScenarioProgram) {
    if sc.setup.is_empty() && !sc.teardown.is_empty() {
        vu.lifecycle.mark(s, true);
    }
}
