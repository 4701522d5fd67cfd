//! Sinks: outputs that push the live numbers to a time-series store during the run —
//! `--out influxdb=URL`, `influxdb2=URL` ([`influx`]) and `otlp=URL` ([`otlp`]).
//!
//! Where they sit: beside `crate::live::remote_write`, fed from the same shared live state
//! (`crate::live`), never from the engine. Each sink is a thread that once a second
//! turns that state into one batch — already aggregated: cumulative counters and
//! histograms per scenario plus one row per finished second, never a point per request
//! (k6 sends every sample and overloads InfluxDB at 10k users) — and posts it. A failed
//! post keeps its batch and is retried with exponential backoff (1 s, 2 s, 4 s … 30 s),
//! oldest first, at most [`MAX_PENDING`] batches (older ones are dropped, with a warning);
//! after the report the final batch and anything pending are sent with three tries, and a
//! sink that still fails makes the run's exit code 1, like any output that was not written.
//!
//! Credentials never go on the command line in clear: `${NAME}` anywhere in a sink URL is
//! replaced by the environment variable NAME when the sink starts, and the expanded URL
//! is never printed (errors name the URL as written).

pub mod influx;
pub mod otlp;
pub mod post;

use std::collections::VecDeque;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::engine::series::SecondRow;
use crate::live::{LiveState, RunState, Shared, lock};

/// Time between batches.
pub const EVERY: Duration = Duration::from_secs(1);

/// Batches kept for retry while the receiver is down (five minutes at one a second).
pub const MAX_PENDING: usize = 300;

/// Longest wait between retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub use crate::output::SinkKind as Kind;

/// Turns the live state into request bodies.
pub trait Encoder: Send {
    /// The batch for the state now (`wall` is the wall-clock time of the push); `None`
    /// when there is nothing new.
    fn batch(&mut self, s: &LiveState, wall: SystemTime) -> Option<Vec<u8>>;
    /// The last batches, after the report: the final state and every per-second row
    /// (`series`, the run's whole series) not sent yet.
    fn last(&mut self, s: &LiveState, series: &[SecondRow], wall: SystemTime) -> Vec<Vec<u8>>;
}

/// `${NAME}` → the environment variable NAME (an unset one is an error naming it).
pub fn expand_env(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            return Err("`${` without a closing `}`".into());
        };
        let name = &after[..end];
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(format!("`${{{name}}}` is not an environment variable name"));
        }
        let value =
            std::env::var(name).map_err(|_| format!("environment variable `{name}` is not set"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Check a sink URL when the command line is parsed (`${NAME}` is not expanded yet:
/// the variable only has to be set when the run starts).
pub fn check(kind: Kind, url: &str) -> Result<(), String> {
    let probe = url.replace("${", "x{");
    let probe = probe.replace(['{', '}'], "");
    match kind {
        Kind::InfluxV1 | Kind::InfluxV2 => influx::endpoint(kind, &probe).map(|_| ()),
        Kind::Otlp => otlp::endpoint(&probe).map(|_| ()),
    }
    .map_err(|e| e.replace(&probe, &hide_secrets(url)))
}

/// A running sink.
pub struct Sink {
    name: String,
    done: Option<mpsc::Sender<Vec<SecondRow>>>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Sink {
    /// Check `url` for `kind` and start pushing `state`; errors name the URL as written.
    pub fn start(kind: Kind, url: &str, state: Shared) -> Result<Sink, String> {
        let name = format!("{}={}", kind.format_name(), hide_secrets(url));
        let masked = |e: String| e.replace(url, &hide_secrets(url));
        let (target, encoder): (post::Target, Box<dyn Encoder>) = match kind {
            Kind::InfluxV1 | Kind::InfluxV2 => {
                let ep = influx::endpoint(kind, url).map_err(masked)?;
                (ep.target, Box::new(influx::LineEncoder::new()))
            }
            Kind::Otlp => (
                otlp::endpoint(url).map_err(masked)?,
                Box::new(otlp::JsonEncoder::new()),
            ),
        };
        let poster = post::Poster::new(&target).map_err(|e| format!("{name}: {e}"))?;
        let (tx, rx) = mpsc::channel();
        let thread_name = name.clone();
        let thread = std::thread::Builder::new()
            .name("loadtester-sink".into())
            .spawn(move || run(&thread_name, &poster, &target, encoder, &state, &rx))
            .map_err(|e| format!("cannot start the {name} thread: {e}"))?;
        Ok(Sink {
            name,
            done: Some(tx),
            thread: Some(thread),
        })
    }

    /// Send the final numbers (already in the shared state) and every row of `series`
    /// not sent yet, then stop.
    pub fn finish(mut self, series: &[SecondRow]) -> Result<(), String> {
        if let Some(tx) = self.done.take() {
            let _ = tx.send(series.to_vec());
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(format!("{}: the sink thread panicked", self.name)),
            None => Ok(()),
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        // Dropping the sender ends the thread at its next wake-up without a final batch.
        self.done.take();
    }
}

fn run(
    name: &str,
    poster: &post::Poster,
    target: &post::Target,
    mut encoder: Box<dyn Encoder>,
    state: &Shared,
    done: &mpsc::Receiver<Vec<SecondRow>>,
) -> Result<(), String> {
    let mut pending: VecDeque<Vec<u8>> = VecDeque::new();
    let mut backoff = Duration::ZERO;
    let mut retry_at = Instant::now();
    let mut warned = false;
    let mut dropped = 0usize;
    loop {
        match done.recv_timeout(EVERY) {
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let batch = {
                    let s = lock(state);
                    if s.state == RunState::Starting {
                        continue;
                    }
                    encoder.batch(&s, SystemTime::now())
                };
                pending.extend(batch);
                while pending.len() > MAX_PENDING {
                    pending.pop_front();
                    dropped += 1;
                }
                if Instant::now() < retry_at {
                    continue;
                }
                match flush(poster, target, &mut pending) {
                    Ok(()) => {
                        backoff = Duration::ZERO;
                        warned = false;
                    }
                    Err(e) => {
                        backoff = (backoff * 2).clamp(EVERY, MAX_BACKOFF);
                        retry_at = Instant::now() + backoff;
                        if !warned {
                            eprintln!(
                                "warning: {name}: {e} (keeping the data, retrying with backoff)"
                            );
                            warned = true;
                        }
                    }
                }
            }
            Ok(series) => {
                let last = {
                    let s = lock(state);
                    encoder.last(&s, &series, SystemTime::now())
                };
                pending.extend(last);
                let mut tries = 0;
                let result = loop {
                    tries += 1;
                    match flush(poster, target, &mut pending) {
                        Ok(()) => break Ok(()),
                        Err(e) if tries >= 3 => break Err(e),
                        Err(_) => std::thread::sleep(EVERY * tries),
                    }
                };
                if dropped > 0 {
                    eprintln!(
                        "warning: {name}: {dropped} batches were dropped while the receiver was unreachable"
                    );
                }
                return result.map_err(|e| format!("{name}: final write failed: {e}"));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}

/// Post pending batches oldest first; stop at the first failure (it stays pending).
fn flush(
    poster: &post::Poster,
    target: &post::Target,
    pending: &mut VecDeque<Vec<u8>>,
) -> Result<(), String> {
    while let Some(batch) = pending.front() {
        poster.post(target, batch.clone())?;
        pending.pop_front();
    }
    Ok(())
}

/// `url` for messages: the password of its user info and a `token=` value become `***`
/// (a `${NAME}` reference is shown as written: it is no secret).
pub fn hide_secrets(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest = &out[scheme_end + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@')
            && let Some(colon) = rest[..at].find(':')
            && !rest[colon + 1..at].starts_with("${")
        {
            let (a, b) = (scheme_end + 3 + colon + 1, scheme_end + 3 + at);
            out.replace_range(a..b, "***");
        }
    }
    if let Some(i) = out.find("token=") {
        let start = i + "token=".len();
        let end = out[start..].find('&').map_or(out.len(), |e| start + e);
        if !out[start..end].starts_with("${") {
            out.replace_range(start..end, "***");
        }
    }
    out
}

/// Seconds since the Unix epoch of `t` (0 before it).
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn env_references_are_expanded_and_missing_ones_named() {
        // PATH is set wherever the tests run.
        let path = std::env::var("PATH").unwrap();
        assert_eq!(expand_env("a${PATH}b").unwrap(), format!("a{path}b"));
        assert_eq!(expand_env("plain").unwrap(), "plain");
        let e = expand_env("x${LOADTESTER_SURELY_UNSET_VAR}").unwrap_err();
        assert!(e.contains("LOADTESTER_SURELY_UNSET_VAR"), "{e}");
        assert!(expand_env("${1X}").is_err());
        assert!(expand_env("${OPEN").is_err());
    }

    #[test]
    fn passwords_and_tokens_are_hidden_in_messages() {
        assert_eq!(hide_secrets("http://u:pw@h:1/db"), "http://u:***@h:1/db");
        assert_eq!(hide_secrets("http://u:${P}@h/db"), "http://u:${P}@h/db");
        assert_eq!(
            hide_secrets("http://h?org=o&token=abc&bucket=b"),
            "http://h?org=o&token=***&bucket=b"
        );
        assert_eq!(hide_secrets("http://h?token=${T}"), "http://h?token=${T}");
        assert_eq!(hide_secrets("http://h:8086/db"), "http://h:8086/db");
    }
}
