//! The binary opts out of transparent huge pages (ADR-270): with them, every 2 MB of the
//! allocator's arena that a few bytes touch is resident: at 10,000 users about 16 MB
//! of a 59 MB peak RSS. Checked on the running process, where the kernel reports it.

use std::time::{Duration, Instant};

use crate::common::bin;

/// `THP_enabled` in `/proc/PID/status` (Linux 6.x); `None` where the kernel does not say.
fn thp_enabled(pid: u32) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("THP_enabled:"))
        .map(|v| v.trim().to_string())
}

#[test]
fn the_process_runs_without_transparent_huge_pages() {
    if thp_enabled(std::process::id()).is_none() {
        eprintln!("skipped: this kernel does not report THP_enabled");
        return;
    }
    let mut child = bin()
        .args(["target", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("binary starts");
    let pid = child.id();
    // The flag is set first thing in `main`; give the process a moment to get there.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = thp_enabled(pid);
    while seen.as_deref() != Some("0") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        seen = thp_enabled(pid);
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        seen.as_deref(),
        Some("0"),
        "THP_enabled of the loadtester process"
    );
}
