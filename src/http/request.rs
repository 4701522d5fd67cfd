//! Requests rendered once, at plan load, into the exact bytes sent on the wire.
//!
//! A single-request scenario never changes between sends, so the engine's hot path is one
//! `write_all` of a shared buffer: no formatting, no header map, no allocation.

use crate::plan::{Scenario, Target};

/// The `User-Agent` sent unless the plan sets its own.
pub const USER_AGENT: &str = concat!("loadtester/", env!("CARGO_PKG_VERSION"));

/// One scenario's request, ready to write.
#[derive(Clone, Debug)]
pub struct RequestTemplate {
    /// Full HTTP/1.1 request: request line, headers, blank line, body.
    pub wire: Vec<u8>,
    /// True for `HEAD`, whose response has no body whatever its headers say.
    pub head: bool,
}

/// Render a scenario for a target. `Host`, `User-Agent` and `Content-Length` are added
/// unless the plan sets them (a plan's `Content-Length` is replaced by the true length).
pub fn render(target: &Target, scenario: &Scenario) -> RequestTemplate {
    let mut w = Vec::with_capacity(256 + scenario.body.as_ref().map_or(0, Vec::len));
    let has = |name: &str| {
        scenario
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(name))
    };
    w.extend_from_slice(scenario.method.as_bytes());
    w.push(b' ');
    w.extend_from_slice(scenario.path.as_bytes());
    w.extend_from_slice(b" HTTP/1.1\r\n");
    if !has("host") {
        header(&mut w, "Host", &target.authority);
    }
    if !has("user-agent") {
        header(&mut w, "User-Agent", USER_AGENT);
    }
    for (k, v) in &scenario.headers {
        if !k.eq_ignore_ascii_case("content-length") {
            header(&mut w, k, v);
        }
    }
    let body = scenario.body.as_deref().unwrap_or_default();
    let needs_length =
        !body.is_empty() || matches!(scenario.method.as_str(), "POST" | "PUT" | "PATCH");
    if needs_length {
        header(&mut w, "Content-Length", &body.len().to_string());
    }
    w.extend_from_slice(b"\r\n");
    w.extend_from_slice(body);
    RequestTemplate {
        wire: w,
        head: scenario.method == "HEAD",
    }
}

fn header(w: &mut Vec<u8>, name: &str, value: &str) {
    w.extend_from_slice(name.as_bytes());
    w.extend_from_slice(b": ");
    w.extend_from_slice(value.as_bytes());
    w.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Overrides, load_str};

    #[test]
    fn renders_exact_bytes() {
        let plan = load_str(
            "p",
            "base_url: http://h:81/api\nscenarios:\n  - path: /u?x=1\n    method: POST\n    headers: {X-A: b, content-length: '99'}\n    body: hi\n",
            &Overrides::default(),
        )
        .unwrap();
        let r = render(&plan.target, &plan.scenarios[0]);
        let text = String::from_utf8(r.wire).unwrap();
        assert_eq!(
            text,
            format!(
                "POST /api/u?x=1 HTTP/1.1\r\nHost: h:81\r\nUser-Agent: {USER_AGENT}\r\nX-A: b\r\nContent-Length: 2\r\n\r\nhi"
            )
        );
        assert!(!r.head);
    }
}
