//! Generator self-diagnosis: what the load generator itself used (CPU per engine thread,
//! peak memory, file descriptors) and, when it — not the service — limited the test, a
//! plain sentence saying so and what to do.
//!
//! Why: a load test whose generator is saturated measures the generator. k6 and Locust
//! warn about high CPU; we go further and judge from the symptoms that matter to the
//! numbers: schedule lag with free users (CPU), `max_vus` reached (users), EMFILE and
//! EADDRNOTAVAIL (file descriptors, ephemeral ports), slow connects (a backlog).
//! [`diagnose`] is pure, so the rules are table-tested; the OS facts come from
//! `getrusage(2)` and `setrlimit(2)` through `nix` (the crate forbids `unsafe`).

use std::time::Duration;

use nix::sys::resource::{Resource, UsageWho, getrlimit, getrusage, setrlimit};
use serde::{Deserialize, Serialize};

use crate::stats::lag::ThreadCpu;

/// Schedule lag p99 (ms) with free users above which the generator is CPU-saturated.
pub const LAG_LIMIT_MS: f64 = 1.0;
/// Connect p95 (ms) above which connections wait in a backlog.
pub const CONNECT_LIMIT_MS: f64 = 1000.0;
/// File descriptors the process needs besides one per user (stdio, epoll, timers, logs).
pub const SPARE_FDS: u64 = 64;

/// Every `Limit::reason`, in the order [`diagnose`] reports them.
pub const REASONS: &[&str] = &[
    "cpu_saturated",
    "out_of_users",
    "fd_exhausted",
    "ports_exhausted",
    "connect_backlog",
    "nofile_limit",
];

/// Process CPU time and peak memory so far.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    /// User-mode CPU time.
    pub user: Duration,
    /// Kernel-mode CPU time.
    pub sys: Duration,
    /// Peak resident set size, bytes.
    pub peak_rss_bytes: u64,
}

fn duration(t: nix::sys::time::TimeVal) -> Duration {
    let secs = u64::try_from(t.tv_sec()).unwrap_or(0);
    let us = u32::try_from(t.tv_usec()).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(u64::from(us))
}

/// The whole process's usage (`RUSAGE_SELF`); zero if the call fails.
pub fn process_usage() -> Usage {
    getrusage(UsageWho::RUSAGE_SELF).map_or(Usage::default(), |u| Usage {
        user: duration(u.user_time()),
        sys: duration(u.system_time()),
        // Linux reports kilobytes.
        peak_rss_bytes: u64::try_from(u.max_rss()).unwrap_or(0).saturating_mul(1024),
    })
}

/// The calling thread's CPU time (`RUSAGE_THREAD`), for engine thread `thread` that ran
/// for `wall`.
pub fn thread_cpu(thread: usize, wall: Duration) -> ThreadCpu {
    let (user, sys) = getrusage(UsageWho::RUSAGE_THREAD)
        .map_or((Duration::ZERO, Duration::ZERO), |u| {
            (duration(u.user_time()), duration(u.system_time()))
        });
    ThreadCpu {
        thread,
        user,
        sys,
        wall,
    }
}

/// The open-files limit, as raised at the start of a run (`generator.nofile`).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Nofile {
    /// Soft limit before the run.
    pub before: u64,
    /// Soft limit during the run (raised to the hard limit).
    pub limit: u64,
    /// What the plan may need: one per user plus spares.
    pub needed: u64,
}

/// Raise `RLIMIT_NOFILE`'s soft limit to the hard limit (10,000 users need 10,000
/// sockets; the usual soft default is 1024). `needed` is recorded for the diagnosis.
pub fn raise_nofile(needed: u64) -> Nofile {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return Nofile {
            before: 0,
            limit: 0,
            needed,
        };
    };
    let limit = if hard > soft && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    };
    Nofile {
        before: soft,
        limit,
        needed,
    }
}

/// The open-files soft limit now, and `needed` (for live diagnosis; `before` is unknown
/// there and reported equal to `limit`).
pub fn current_nofile(needed: u64) -> Nofile {
    let limit = getrlimit(Resource::RLIMIT_NOFILE).map_or(0, |(soft, _)| soft);
    Nofile {
        before: limit,
        limit,
        needed,
    }
}

/// One engine thread's CPU use (`generator.threads[]`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ThreadInfo {
    /// Engine thread index.
    pub thread: usize,
    /// User-mode CPU seconds.
    pub cpu_user_s: f64,
    /// Kernel-mode CPU seconds.
    pub cpu_sys_s: f64,
    /// CPU seconds over the thread's wall seconds (1 = one core busy all the time).
    pub utilisation: f64,
}

/// A way the generator limited the test (`generator.limited[]`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Limit {
    /// `cpu_saturated`, `out_of_users`, `fd_exhausted`, `ports_exhausted`,
    /// `connect_backlog` or `nofile_limit`.
    pub reason: String,
    /// What happened and what to do, in one or two sentences.
    pub message: String,
}

/// The `generator` section of the JSON result.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Generator {
    /// User-mode CPU seconds of the whole process.
    pub cpu_user_s: f64,
    /// Kernel-mode CPU seconds of the whole process.
    pub cpu_sys_s: f64,
    /// `(cpu_user_s + cpu_sys_s) / duration_s`: cores kept busy on average.
    pub utilisation: f64,
    /// Per engine thread.
    pub threads: Vec<ThreadInfo>,
    /// Peak resident set size, bytes.
    pub peak_rss_bytes: u64,
    /// The open-files limit.
    pub nofile: Nofile,
    /// Open model: schedule lag p99 of iterations whose user was free, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_lag_p99_ms: Option<f64>,
    /// Whether the precise pacer (timerfd) was used (open model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precise_pacer: Option<bool>,
    /// How the generator limited the test (empty: it did not).
    pub limited: Vec<Limit>,
}

/// The symptoms [`diagnose`] judges.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Symptoms {
    /// Iterations started with a free user, and their lag p99 in ms.
    pub free_started: u64,
    /// Lag p99 (ms) of those.
    pub free_lag_p99_ms: f64,
    /// Iterations that waited for a user.
    pub waited: u64,
    /// Iterations missed.
    pub missed: u64,
    /// Open model's `max_vus` (None in the closed model).
    pub max_vus: Option<u32>,
    /// Connections that failed with EMFILE/ENFILE.
    pub fd_errors: u64,
    /// Connections that failed with EADDRNOTAVAIL.
    pub port_errors: u64,
    /// New connections and their connect p95, ms.
    pub connects: u64,
    /// Connect p95, ms.
    pub connect_p95_ms: f64,
    /// The open-files limit.
    pub nofile: Nofile,
    /// CPU / wall of the busiest engine thread, once the threads have ended (None live).
    pub busiest_thread: Option<f64>,
}

impl Symptoms {
    /// The symptoms in a (live or final, merged) shard of `plan`'s run.
    pub fn of(plan: &crate::plan::Plan, shard: &crate::stats::Shard, nofile: Nofile) -> Symptoms {
        let lag = shard.schedule_lag.as_deref();
        let p99_ms = |h: &hdrhistogram::Histogram<u64>| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(0.99) as f64 / 1000.0
            }
        };
        let errors = |k: crate::outcome::ErrorKind| -> u64 {
            shard.scenarios.iter().map(|st| st.errors[k.index()]).sum()
        };
        let connect = &shard.http.connect;
        Symptoms {
            free_started: lag.map_or(0, |l| l.user_free.len()),
            free_lag_p99_ms: lag.map_or(0.0, |l| p99_ms(&l.user_free)),
            waited: lag.map_or(0, |l| l.waiting_for_user.len()),
            missed: shard.missed.iter().sum(),
            max_vus: match plan.load.model {
                crate::plan::LoadModel::ArrivalRate { max_vus, .. } => Some(max_vus),
                _ => None,
            },
            fd_errors: errors(crate::outcome::ErrorKind::FdExhausted),
            port_errors: errors(crate::outcome::ErrorKind::PortsExhausted),
            connects: connect.len(),
            connect_p95_ms: if connect.is_empty() {
                0.0
            } else {
                connect.value_at_quantile(0.95) as f64 / 1000.0
            },
            nofile,
            busiest_thread: shard
                .thread_cpu
                .iter()
                .filter(|t| !t.wall.is_zero())
                .map(|t| (t.user + t.sys).as_secs_f64() / t.wall.as_secs_f64())
                .reduce(f64::max),
        }
    }
}

/// The limits these symptoms show, most fundamental first.
pub fn diagnose(s: &Symptoms) -> Vec<Limit> {
    let mut out = Vec::new();
    let mut say = |reason: &str, message: String| {
        out.push(Limit {
            reason: reason.into(),
            message,
        })
    };
    if s.free_started > 0
        && s.free_lag_p99_ms > LAG_LIMIT_MS
        && let Some(busy) = s.busiest_thread.filter(|u| *u < 0.5)
    {
        say(
            "cpu_saturated",
            format!(
                "The load generator did not keep time: iterations whose user was free started {:.2} ms late at p99 (limit {LAG_LIMIT_MS} ms), yet its busiest engine thread used only {:.0} % of a core, so other processes on this machine (or CPU throttling) took the CPU when it was needed. Run it on a quieter machine or give it dedicated cores (taskset, cgroup cpusets).",
                s.free_lag_p99_ms,
                busy * 100.0
            ),
        );
    } else if s.free_started > 0 && s.free_lag_p99_ms > LAG_LIMIT_MS {
        say(
            "cpu_saturated",
            format!(
                "The load generator was CPU-saturated: iterations whose user was free started {:.2} ms late at p99 (limit {LAG_LIMIT_MS} ms), so the rate and latency reflect the generator, not the service. Give it more CPU (fewer other processes, more cores), lower the rate, or split the load over several generators.",
                s.free_lag_p99_ms
            ),
        );
    }
    if let Some(vus) = s.max_vus
        && (s.waited > 0 || s.missed > 0)
    {
        say(
            "out_of_users",
            format!(
                "All {vus} users (max_vus) were busy: {} iterations waited for a user and {} were missed. The service was slower than rate × max_vus allows; raise load.max_vus (rate × expected latency in seconds, with headroom) if it is expected to be this slow.",
                s.waited, s.missed
            ),
        );
    }
    if s.fd_errors > 0 {
        say(
            "fd_exhausted",
            format!(
                "{} connections failed with EMFILE (too many open files): the generator ran out of file descriptors (limit {}). Raise the hard limit (ulimit -Hn, LimitNOFILE=) or use fewer users.",
                s.fd_errors, s.nofile.limit
            ),
        );
    }
    if s.port_errors > 0 {
        say(
            "ports_exhausted",
            format!(
                "{} connections failed with EADDRNOTAVAIL: the generator ran out of ephemeral ports. Keep connections alive (http.keep_alive), widen net.ipv4.ip_local_port_range, or lower the rate of new connections.",
                s.port_errors
            ),
        );
    }
    if s.connects > 0 && s.connect_p95_ms > CONNECT_LIMIT_MS {
        say(
            "connect_backlog",
            format!(
                "TCP connect took {:.0} ms at p95 (above {CONNECT_LIMIT_MS:.0} ms): connections waited in a backlog (a full listen queue, SYN retries). Check the server's listen backlog (net.core.somaxconn), or open fewer new connections (keep-alive, fewer users).",
                s.connect_p95_ms
            ),
        );
    }
    if s.nofile.limit > 0 && s.nofile.needed > s.nofile.limit {
        say(
            "nofile_limit",
            format!(
                "The plan may need {} file descriptors (one per user plus {SPARE_FDS}) but the limit is {} (the hard limit): raise it (ulimit -Hn, LimitNOFILE=) or use fewer users.",
                s.nofile.needed, s.nofile.limit
            ),
        );
    }
    out
}

/// Freeze the generator facts of a finished run.
pub fn build(
    usage: Usage,
    threads: &[ThreadCpu],
    duration_s: f64,
    nofile: Nofile,
    symptoms: &Symptoms,
    open: Option<bool>,
) -> Generator {
    let secs = |d: Duration| d.as_secs_f64();
    let mut threads: Vec<ThreadInfo> = threads
        .iter()
        .map(|t| ThreadInfo {
            thread: t.thread,
            cpu_user_s: secs(t.user),
            cpu_sys_s: secs(t.sys),
            utilisation: if t.wall.is_zero() {
                0.0
            } else {
                secs(t.user + t.sys) / secs(t.wall)
            },
        })
        .collect();
    threads.sort_by_key(|t| t.thread);
    let cpu = secs(usage.user + usage.sys);
    Generator {
        cpu_user_s: secs(usage.user),
        cpu_sys_s: secs(usage.sys),
        utilisation: if duration_s > 0.0 {
            cpu / duration_s
        } else {
            0.0
        },
        threads,
        peak_rss_bytes: usage.peak_rss_bytes,
        nofile,
        schedule_lag_p99_ms: open.map(|_| symptoms.free_lag_p99_ms),
        precise_pacer: open,
        limited: diagnose(symptoms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(s: &Symptoms) -> Vec<String> {
        diagnose(s).into_iter().map(|l| l.reason).collect()
    }

    #[test]
    fn rules() {
        let ok = Symptoms {
            free_started: 1000,
            free_lag_p99_ms: 0.05,
            max_vus: Some(100),
            connects: 10,
            connect_p95_ms: 0.2,
            nofile: Nofile {
                before: 1024,
                limit: 524_288,
                needed: 164,
            },
            ..Symptoms::default()
        };
        assert!(reasons(&ok).is_empty());
        let cases: Vec<(Symptoms, &[&str])> = vec![
            (
                Symptoms {
                    free_lag_p99_ms: 3.0,
                    ..ok
                },
                &["cpu_saturated"],
            ),
            // A starved (not busy) generator is told apart in the sentence, same reason.
            (
                Symptoms {
                    free_lag_p99_ms: 3.0,
                    busiest_thread: Some(0.05),
                    ..ok
                },
                &["cpu_saturated"],
            ),
            // No iteration with a free user: the lag is the service's, not ours.
            (
                Symptoms {
                    free_started: 0,
                    free_lag_p99_ms: 3.0,
                    ..ok
                },
                &[],
            ),
            (Symptoms { waited: 5, ..ok }, &["out_of_users"]),
            (Symptoms { missed: 1, ..ok }, &["out_of_users"]),
            // The closed model has no max_vus to run out of.
            (
                Symptoms {
                    missed: 1,
                    max_vus: None,
                    ..ok
                },
                &[],
            ),
            (Symptoms { fd_errors: 2, ..ok }, &["fd_exhausted"]),
            (
                Symptoms {
                    port_errors: 2,
                    ..ok
                },
                &["ports_exhausted"],
            ),
            (
                Symptoms {
                    connect_p95_ms: 1500.0,
                    ..ok
                },
                &["connect_backlog"],
            ),
            (
                Symptoms {
                    nofile: Nofile {
                        before: 1024,
                        limit: 1024,
                        needed: 10_064,
                    },
                    ..ok
                },
                &["nofile_limit"],
            ),
        ];
        for (s, want) in cases {
            assert_eq!(reasons(&s), *want, "{s:?}");
        }
    }

    #[test]
    fn starved_or_busy() {
        let lagging = Symptoms {
            free_started: 10,
            free_lag_p99_ms: 4.0,
            ..Symptoms::default()
        };
        let busy = diagnose(&Symptoms {
            busiest_thread: Some(0.98),
            ..lagging
        });
        assert!(busy[0].message.contains("was CPU-saturated"), "{busy:?}");
        let starved = diagnose(&Symptoms {
            busiest_thread: Some(0.04),
            ..lagging
        });
        assert!(
            starved[0].message.contains("other processes"),
            "{starved:?}"
        );
    }

    #[test]
    fn os_facts() {
        let u = process_usage();
        assert!(u.peak_rss_bytes > 0);
        let n = raise_nofile(10);
        assert!(n.limit >= n.before, "{n:?}");
        let t = thread_cpu(0, Duration::from_secs(1));
        assert_eq!(t.thread, 0);
        let g = build(u, &[t], 1.0, n, &Symptoms::default(), Some(true));
        assert_eq!(g.threads.len(), 1);
        assert_eq!(g.schedule_lag_p99_ms, Some(0.0));
    }
}
