//! Precise waits for the open-model dispatcher: start an iteration tens of microseconds
//! after its due time (at the median, on an unloaded core) for one timer syscall and one
//! wake-up per iteration.
//!
//! Why: tokio's timer wheel has millisecond resolution and rounds up, so a dispatcher that
//! sleeps with `tokio::time::sleep_until` wakes 0.5–1.5 ms late. Latency counted from the
//! due time would charge that lateness to the server (ADR-009, update for issue 19).
//!
//! How: each engine thread owns one `timerfd` (CLOCK_MONOTONIC, the clock `Instant` reads
//! on Linux) registered with its tokio reactor. Waiting for `at` arms it with an absolute
//! expiry (`TFD_TIMER_ABSTIME`, a kernel hrtimer with no slack) and awaits readability, so
//! the reactor's `epoll_wait` returns when the hrtimer fires; the users of the thread keep
//! running meanwhile. Waits shorter than [`SPIN`] are not worth two syscalls: they yield
//! to the runtime until the time has come (`yield_now` lets users run). Where no timerfd
//! can be had, the pacer sleeps on tokio's timer until [`COARSE_MARGIN`] before `at` and
//! yields for the rest — precise as well, at a CPU cost.
//!
//! `LOADTESTER_PACER=coarse` (read when a run starts) turns precision off: tokio's timer
//! alone, as before issue 19. It exists to measure what precision costs
//! (`bench/precision.sh`) and as an escape hatch; `spin` forces the fallback.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Duration, Instant};

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::unix::AsyncFd;

/// Waits shorter than this yield to the runtime instead of arming the timer.
pub const SPIN: Duration = Duration::from_micros(50);
/// Without a timerfd: wake on tokio's (millisecond) timer this long before the due time.
pub const COARSE_MARGIN: Duration = Duration::from_micros(2_000);

/// A timerfd that tokio's reactor can watch.
struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// How a [`Pacer`] waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A timerfd (the default).
    Precise,
    /// tokio's timer until [`COARSE_MARGIN`] before, then yield (no timerfd).
    Spin,
    /// tokio's timer only: about a millisecond late (`LOADTESTER_PACER=coarse`).
    Coarse,
}

impl Mode {
    /// The mode `LOADTESTER_PACER` asks for (`precise` when unset or unknown).
    pub fn from_env() -> Mode {
        match std::env::var("LOADTESTER_PACER").as_deref() {
            Ok("coarse") => Mode::Coarse,
            Ok("spin") => Mode::Spin,
            _ => Mode::Precise,
        }
    }
}

/// One thread's precise timer.
pub struct Pacer {
    coarse: bool,
    timer: Option<AsyncFd<Fd>>,
    /// `Instant` and CLOCK_MONOTONIC read together, to turn instants into absolute expiries.
    base: (Instant, Duration),
}

impl Pacer {
    /// A pacer for the current runtime (falls back to the coarse timer if the kernel
    /// refuses a timerfd).
    pub fn new() -> Pacer {
        Pacer::with_mode(Mode::from_env())
    }

    /// A pacer that waits the way `mode` says.
    pub fn with_mode(mode: Mode) -> Pacer {
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .ok()
        .filter(|_| mode == Mode::Precise)
        .and_then(register);
        let mono = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map(Duration::from)
            .unwrap_or_default();
        Pacer {
            coarse: mode == Mode::Coarse,
            timer,
            base: (Instant::now(), mono),
        }
    }

    /// Whether the precise kernel timer is in use.
    pub fn precise(&self) -> bool {
        self.timer.is_some()
    }

    /// Return at `at` or just after it (never before).
    pub async fn wait_until(&mut self, at: Instant) {
        if self.coarse {
            tokio::time::sleep_until(at.into()).await;
            return;
        }
        let left = at.saturating_duration_since(Instant::now());
        if left > SPIN {
            if self.timer.is_some() {
                if self.kernel_wait(at).await.is_err() {
                    self.timer = None; // a broken timerfd: coarse timer from now on
                }
            } else if left > COARSE_MARGIN {
                tokio::time::sleep_until((at - COARSE_MARGIN).into()).await;
            }
        }
        while Instant::now() < at {
            tokio::task::yield_now().await;
        }
    }

    async fn kernel_wait(&self, at: Instant) -> std::io::Result<()> {
        let Some(fd) = &self.timer else {
            return Ok(());
        };
        let abs = self.base.1 + at.saturating_duration_since(self.base.0);
        fd.get_ref()
            .0
            .set(
                Expiration::OneShot(TimeSpec::from_duration(abs)),
                TimerSetTimeFlags::TFD_TIMER_ABSTIME,
            )
            .map_err(std::io::Error::from)?;
        loop {
            let mut ready = fd.readable().await?;
            // The expiry reads 8 bytes and drains the timer; a stale readiness (from an
            // earlier, cancelled wait) reads EAGAIN. Either way the fd is not readable now,
            // so readiness is cleared by hand: `try_io` keeps it after a successful read,
            // which would cost every later wait an extra EAGAIN read.
            let read = ready.get_inner().0.wait();
            ready.clear_ready();
            match read {
                Ok(()) => return Ok(()),
                Err(nix::errno::Errno::EAGAIN) => {
                    if Instant::now() >= at {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Whether runs pace with the precise timer: a timerfd can be created and
/// `LOADTESTER_PACER` does not say otherwise.
pub fn available() -> bool {
    Mode::from_env() == Mode::Precise
        && TimerFd::new(ClockId::CLOCK_MONOTONIC, TimerFlags::TFD_CLOEXEC).is_ok()
}

/// Register the timer with the reactor. `AsyncFd::new` is deprecated in favour of the
/// `unsafe` `register` (this crate forbids `unsafe`); its soundness condition holds here:
/// the `AsyncFd` owns the `TimerFd`, whose `OwnedFd` is closed only after deregistration.
#[allow(deprecated)]
fn register(t: TimerFd) -> Option<AsyncFd<Fd>> {
    AsyncFd::new(Fd(t)).ok()
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lateness of 100 waits 2 ms apart, on a current-thread runtime like the engine's
    /// (negative lateness would be a wait that ended early).
    fn lateness(mut pacer: Pacer, rt: &tokio::runtime::Runtime) -> Vec<Duration> {
        rt.block_on(async move {
            let start = Instant::now();
            let mut late = Vec::new();
            for i in 1..=100u32 {
                let at = start + Duration::from_millis(2) * i;
                pacer.wait_until(at).await;
                let now = Instant::now();
                assert!(now >= at, "wait {i} ended early");
                late.push(now - at);
            }
            late.sort();
            late
        })
    }

    #[test]
    fn waits_end_on_time_never_early() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let pacer = rt.block_on(async { Pacer::with_mode(Mode::Precise) });
        assert!(pacer.precise(), "timerfd is available on Linux");
        // Unit tests run in parallel on a shared machine (a load of 17 on 2 cores gave a 5 ms
        // median here): the bound only catches a timer that does not fire; precision itself
        // is checked by the serialized integration test and bench/precision.sh.
        let late = lateness(pacer, &rt);
        assert!(
            late[50] < Duration::from_millis(25),
            "median {:?}",
            late[50]
        );
        let spin = rt.block_on(async { Pacer::with_mode(Mode::Spin) });
        assert!(!spin.precise());
        let late = lateness(spin, &rt);
        assert!(
            late[50] < Duration::from_millis(25),
            "median {:?}",
            late[50]
        );
        // A wait in the past returns at once.
        rt.block_on(async {
            let mut p = Pacer::with_mode(Mode::Precise);
            let t = Instant::now();
            p.wait_until(t - Duration::from_millis(5)).await;
            assert!(t.elapsed() < Duration::from_millis(5));
        });
    }
}
