//! `--out prometheus-rw=URL` on the coordinator: push the aggregate series and every
//! worker's series (label `instance="worker-I"`, as its `/metrics` shows them) to
//! Prometheus remote write every few seconds, and once more with the merged result.
//!
//! The push itself is the single run's (`live::remote_write::Pusher` over its `Client`:
//! wire format, interval `LOADTESTER_RW_PUSH_INTERVAL`, warnings, the final push with one
//! retry); only what is pushed differs. The coordinator's series are the families of
//! [`server::families`], cut from all workers, and the `plan` label is known only once the
//! run has a plan (it may come from the first worker), so it goes with every push.

use super::server::{self, Shared, lock};

use crate::live::remote_write::{Client, Push, Pusher, Source, interval};
use crate::plan::remote_write::RemoteWrite;

/// The coordinator's state as a remote-write source: nothing before the start.
struct Aggregate(Shared);

impl Source for Aggregate {
    fn read(&self, _last: bool) -> Option<Push> {
        let s = lock(&self.0);
        let families = server::families(&s)?;
        let plan = s.live.as_ref().map(|l| l.plan.source.clone())?;
        Some((families, vec![("plan".to_string(), plan)]))
    }

    fn notice(&self, text: String) {
        lock(&self.0).notices.push(text);
    }
}

/// Start pushing the coordinator's `state` to `url`.
pub fn start(url: &str, state: Shared) -> Result<Pusher, String> {
    let client = Client::new(url, &RemoteWrite::default(), "")?;
    Pusher::spawn(
        client,
        interval()?,
        Aggregate(state),
        "loadtester-coordinator-rw",
    )
}
