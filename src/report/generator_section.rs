//! The text report's "generator" block: the generator's own CPU, memory and open-files
//! limit, the open model's schedule lag, and — when the generator limited the test — one
//! plain sentence per limit saying so and what to do. Kept apart from `text.rs` so the
//! latency and count tables stay about the service.

use std::fmt::Write as _;

use crate::summary::Summary;
use crate::summary::lag::LagMs;

/// Append the block (nothing for a result without a `generator` section).
pub fn render(o: &mut String, s: &Summary) {
    let Some(g) = &s.generator else {
        return;
    };
    let cpu = g.cpu_user_s + g.cpu_sys_s;
    let _ = writeln!(
        o,
        "\ngenerator  CPU {cpu:.2}s (user {:.2}s + sys {:.2}s) = {:.2} cores over the run; peak RSS {:.1} MB",
        g.cpu_user_s,
        g.cpu_sys_s,
        g.utilisation,
        g.peak_rss_bytes as f64 / 1e6
    );
    let threads: Vec<String> = g
        .threads
        .iter()
        .map(|t| format!("#{} {:.1}%", t.thread, t.utilisation * 100.0))
        .collect();
    if !threads.is_empty() {
        let _ = writeln!(o, "  engine threads (CPU / wall)  {}", threads.join("  "));
    }
    let n = &g.nofile;
    if n.limit > 0 {
        let raised = if n.limit > n.before {
            format!(" (raised from {})", n.before)
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "  open files limit  {}{raised}; plan needs up to {}",
            n.limit, n.needed
        );
    }
    if let Some(lag) = &s.summary.schedule_lag_ms {
        let _ = writeln!(
            o,
            "  schedule lag ms   {:>8} {:>8} {:>8} {:>8} {:>8}   [actual start − due time]",
            "count", "p50", "p99", "p99.9", "max"
        );
        for (name, l) in [
            ("user free", &lag.user_free),
            ("waiting for a user", &lag.waiting_for_user),
        ] {
            let _ = writeln!(o, "{}", lag_row(name, l));
        }
        if g.precise_pacer == Some(false) {
            let _ = writeln!(
                o,
                "  (no timerfd on this system: pacing used tokio's timer and a short spin)"
            );
        }
    }
    if g.limited.is_empty() {
        let _ = writeln!(o, "  the generator did not limit this test");
    }
    for l in &g.limited {
        let _ = writeln!(o, "  GENERATOR LIMIT ({}): {}", l.reason, l.message);
    }
}

fn lag_row(name: &str, l: &LagMs) -> String {
    format!(
        "    {name:<18} {:>5} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
        l.count, l.ms.p50, l.ms.p99, l.ms.p999, l.ms.max
    )
}
