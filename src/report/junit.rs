//! JUnit XML (`--out junit=FILE`) for CI test reporters (GitLab, Jenkins, GitHub actions
//! that read JUnit), written with quick-junit so escaping is always right.
//!
//! Layout: a `thresholds` suite with one testcase per threshold (a failure carries the
//! observed value and the limit), and a `scenarios` suite with one testcase per scenario.
//! A scenario testcase fails only when a threshold scoped to it (`{scenario:NAME}`)
//! failed; a scenario no threshold names always passes, its numbers in `system-out`.
//! The thresholds are the pass/fail contract; failed requests alone fail nothing here.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::summary::Summary;
use crate::threshold::ThresholdResult;
use crate::threshold::eval::format_value;

/// Render the JUnit report.
pub fn render(s: &Summary) -> Vec<u8> {
    let mut report = Report::new("loadtester");
    let time = Duration::from_secs_f64(s.summary.duration_s.max(0.0));
    report.set_time(time);
    let props = [
        ("source", s.plan.source.clone()),
        ("base_url", s.plan.base_url.clone()),
        ("stopped_by", s.run.stopped_by.clone()),
        ("started_at", s.run.started_at.clone()),
    ];

    if !s.thresholds.is_empty() {
        let mut suite = TestSuite::new("thresholds");
        suite.set_time(time);
        suite.add_properties(props.iter().map(|(k, v)| Property::new(*k, v.as_str())));
        for t in &s.thresholds {
            let mut case = TestCase::new(format!("{}: {}", t.metric, t.expression), status(t));
            case.set_classname("loadtester.thresholds");
            case.set_system_out(verdict(t));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }

    let names = crate::plan::threshold::parse::Names {
        scenarios: s.scenarios.iter().map(|sc| sc.name.as_str()).collect(),
        steps: s
            .scenarios
            .iter()
            .flat_map(|sc| sc.flow.steps.iter().map(|st| st.name.as_str()))
            .collect(),
        has_checks: s.checks.is_some(),
        workloads: s.workloads.iter().map(|w| w.name.as_str()).collect(),
    };
    let mut suite = TestSuite::new("scenarios");
    suite.set_time(time);
    suite.add_properties(props.iter().map(|(k, v)| Property::new(*k, v.as_str())));
    for x in &s.scenarios {
        let failed: Vec<&ThresholdResult> = s
            .thresholds
            .iter()
            .filter(|t| !t.ok && scoped_to(t, &x.name, &names))
            .collect();
        let st = if failed.is_empty() {
            TestCaseStatus::success()
        } else {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let msgs: Vec<String> = failed.iter().map(|t| verdict(t)).collect();
            st.set_message(msgs.join("; "));
            st.set_type("threshold");
            st
        };
        let mut case = TestCase::new(x.name.as_str(), st);
        case.set_classname("loadtester.scenarios");
        case.set_time(time);
        case.set_system_out(format!(
            "{} {} — requests {}, failed {} ({:.2}%), {:.1}/s, latency ms p50 {:.2} p95 {:.2} p99 {:.2} max {:.2}",
            x.method,
            x.path,
            x.requests,
            x.failed,
            if x.requests > 0 {
                x.failed as f64 * 100.0 / x.requests as f64
            } else {
                0.0
            },
            x.rps,
            x.latency_ms.p50,
            x.latency_ms.p95,
            x.latency_ms.p99,
            x.latency_ms.max
        ));
        suite.add_test_case(case);
    }
    report.add_test_suite(suite);

    match report.to_string() {
        Ok(xml) => xml.into_bytes(),
        Err(e) => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"loadtester\" tests=\"1\" failures=\"0\" errors=\"1\"><testsuite name=\"loadtester\" tests=\"1\" failures=\"0\" errors=\"1\"><testcase name=\"report\"><error message=\"cannot write the JUnit report: {}\"/></testcase></testsuite></testsuites>\n",
            xml_escape(&e.to_string())
        )
        .into_bytes(),
    }
}

fn status(t: &ThresholdResult) -> TestCaseStatus {
    if t.ok {
        return TestCaseStatus::success();
    }
    let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
    st.set_message(verdict(t));
    st.set_type("threshold");
    st
}

/// `http_req_duration p(95)<0.5s: observed 612 ms, limit 500 ms` (and whether it stopped
/// the run early).
pub fn verdict(t: &ThresholdResult) -> String {
    let unit = match t.unit.as_str() {
        "ms" => " ms",
        "per_second" => "/s",
        _ => "",
    };
    let observed = match t.observed {
        Some(v) => format!("observed {}{unit}", format_value(v)),
        None => "no data".to_string(),
    };
    let mut out = format!(
        "{} {}: {observed}, limit {}{unit}",
        t.metric,
        t.expression,
        format_value(t.limit)
    );
    if t.aborted_run {
        out.push_str(" (breached during the run; stopped it early)");
    }
    out
}

fn scoped_to(
    t: &ThresholdResult,
    scenario: &str,
    names: &crate::plan::threshold::parse::Names,
) -> bool {
    crate::plan::threshold::parse::metric_key(&t.metric, names)
        .is_ok_and(|(_, f)| f.scenario.as_deref() == Some(scenario))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
