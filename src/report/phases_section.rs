//! The named phases (`load.phases`) in the text and HTML reports: one row per phase with
//! its time span, planned rate, requests, failures, missed iterations and latency. Kept
//! apart from `text.rs` and `html.rs`, which only call in; nothing is shown without phases.

use std::fmt::Write as _;

use crate::summary::Summary;

fn planned(s: &Summary, name: &str) -> String {
    s.plan
        .load
        .as_ref()
        .and_then(|l| l.phases.iter().find(|p| p.name == name))
        .map_or(String::new(), |p| match p.ramp_to {
            Some(to) => format!("{}→{to}/s", p.arrival_rate),
            None if p.arrival_rate == 0.0 => "pause".into(),
            None => format!("{}/s", p.arrival_rate),
        })
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

/// Append the text block.
pub fn text(o: &mut String, s: &Summary) {
    if s.phases.is_empty() {
        return;
    }
    let w = s
        .phases
        .iter()
        .map(|p| p.name.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(
        o,
        "\n{:w$}  {:>13}  {:>11}  requests   failed   missed     req/s   p95 ms   p99 ms",
        "phase", "time", "planned"
    );
    for p in &s.phases {
        let span = format!("{:.0}s–{:.0}s", p.start_s, p.start_s + p.duration_s);
        let _ = writeln!(
            o,
            "{:w$}  {span:>13}  {:>11}  {:>8} {:>8} {:>8} {:>9.1} {:>8} {:>8}",
            p.name,
            planned(s, &p.name),
            p.requests,
            p.failed,
            p.missed,
            p.rps,
            ms(p.p95_ms),
            ms(p.p99_ms),
        );
    }
}

/// Append the HTML section.
pub fn html(o: &mut String, s: &Summary) {
    use super::html::esc;
    if s.phases.is_empty() {
        return;
    }
    o.push_str(
        r#"<section id="phases"><h2>Phases</h2><table><thead><tr><th>phase</th><th>time</th><th>planned</th><th class="n">requests</th><th class="n">failed</th><th class="n">missed</th><th class="n">req/s</th><th class="n">p95 ms</th><th class="n">p99 ms</th></tr></thead><tbody>"#,
    );
    for p in &s.phases {
        let _ = write!(
            o,
            r#"<tr><td>{}</td><td>{:.0}s–{:.0}s</td><td>{}</td><td class="n">{}</td><td class="n{}">{}</td><td class="n">{}</td><td class="n">{:.1}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            esc(&p.name),
            p.start_s,
            p.start_s + p.duration_s,
            esc(&planned(s, &p.name)),
            p.requests,
            if p.failed > 0 { " failc" } else { "" },
            p.failed,
            p.missed,
            p.rps,
            ms(p.p95_ms),
            ms(p.p99_ms),
        );
    }
    o.push_str("</tbody></table></section>\n");
}
