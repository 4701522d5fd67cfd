//! Unit tests of flow validation: what compiles, and every mistake with its position.

use crate::plan::flow::Op;
use crate::plan::flow::template::Piece;
use crate::plan::{Overrides, Plan, load_str};

fn plan(text: &str) -> Plan {
    match load_str("p.yaml", text, &Overrides::default()) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    match load_str("p.yaml", text, &Overrides::default()) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

fn has(errs: &[String], needle: &str) {
    assert!(
        errs.iter().any(|e| e.contains(needle)),
        "no error contains {needle:?}:\n{}",
        errs.join("\n")
    );
}

const BASE: &str = "base_url: http://h:8080/api\n";

#[test]
fn single_request_form_is_a_one_step_flow() {
    let p = plan(&format!(
        "{BASE}scenarios:\n  - path: /x\n    method: post\n    body: hi\n"
    ));
    let s = &p.scenarios[0];
    assert_eq!(s.name, "POST /x");
    assert_eq!(s.path, "/api/x");
    assert_eq!(s.body.as_deref(), Some(&b"hi"[..]));
    let f = &s.flow;
    assert_eq!(f.ops, vec![Op::Request(0)]);
    assert!(!f.cookies && !f.multi_step && !f.detailed());
    assert_eq!(f.steps[0].written, "/x");
}

#[test]
fn steps_loops_and_think_compile_to_ops() {
    let p = plan(&format!(
        "{BASE}variables: {{tenant: acme}}\nscenarios:\n  - name: flow\n    headers: {{Accept: text/plain}}\n    steps:\n      - name: login\n        method: POST\n        path: /login\n        json: {{u: 'x', n: 2}}\n        capture:\n          token: {{json: $.token}}\n      - think: {{min: 1s, max: 2s}}\n      - loop: 3\n        steps:\n          - path: /items/{{{{ randomInt(1, 9) }}}}?t={{{{ tenant }}}}\n            headers: {{Authorization: 'Bearer {{{{ token }}}}'}}\n      - url: http://other:81/x\n"
    ));
    let s = &p.scenarios[0];
    assert_eq!(s.name, "flow");
    let f = &s.flow;
    assert!(f.cookies && f.multi_step && f.detailed());
    assert_eq!(f.steps.len(), 3);
    assert_eq!(f.slots, vec!["token".to_string()]);
    assert_eq!(f.loops, 1);
    assert!(matches!(f.ops[0], Op::Request(0)));
    assert!(matches!(f.ops[1], Op::Think(t) if t.min.as_secs() == 1 && t.max.as_secs() == 2));
    assert_eq!(
        f.ops[2],
        Op::LoopHead {
            counter: 0,
            times: 3,
            exit: 5
        }
    );
    assert_eq!(
        f.ops[4],
        Op::LoopTail {
            counter: 0,
            head: 2,
            times: 3
        }
    );
    assert_eq!(f.ops[5], Op::Request(2));
    let login = &f.steps[0];
    assert_eq!(
        login.body.as_ref().and_then(|b| b.static_bytes()),
        Some(br#"{"u":"x","n":2}"#.to_vec())
    );
    let ct: Vec<&str> = login.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(ct, ["Accept", "Content-Type"]);
    let item = &f.steps[1];
    assert_eq!(item.name, "GET /items/{{ randomInt(1, 9) }}?t={{ tenant }}");
    // The variable is inlined; the function stays a piece.
    assert!(
        item.path
            .pieces()
            .iter()
            .any(|p| matches!(p, Piece::Func(_)))
    );
    assert!(
        item.path
            .pieces()
            .iter()
            .any(|p| matches!(p, Piece::Lit(b) if b.ends_with(b"?t=acme")))
    );
    assert!(
        item.headers[1]
            .1
            .pieces()
            .iter()
            .any(|p| matches!(p, Piece::Slot { slot: 0, .. }))
    );
    let other = f.steps[2].origin.as_ref().map(|t| t.authority.clone());
    assert_eq!(other.as_deref(), Some("other:81"));
}

#[test]
fn names_must_be_known_where_they_are_used() {
    let e = errors(&format!(
        "{BASE}scenarios:\n  - steps:\n      - path: /a/{{{{ token }}}}\n      - path: /b\n        capture:\n          token: {{json: $.t}}\n      - loop: 2\n        steps:\n          - path: /c/{{{{ late }}}}\n          - path: /d\n            capture: {{late: {{header: x-late}}}}\n"
    ));
    has(
        &e,
        "p.yaml:4:15: scenarios[0].steps[0].path: undefined variable `token`",
    );
    has(
        &e,
        "scenarios[0].steps[2].steps[0].path: undefined variable `late`",
    );
    assert_eq!(e.len(), 2, "{e:?}");
}

#[test]
fn step_and_scenario_key_mistakes() {
    let e = errors(&format!(
        "{BASE}scenarios:\n  - path: /x\n    steps:\n      - path: /a\n        chek: {{status: 200}}\n      - name: a\n        path: /b\n        body: x\n        json: {{a: 1}}\n      - name: a\n        url: ftp://x/y\n      - think: 5\n      - loop: -1\n        steps: []\n      - path: /p\n        url: http://x/\n      - path: /q\n        check: {{status: [200, abc], json: {{'$..[': exists}}, max_duration: 5}}\n        capture: {{'1x': {{json: $.a}}, y: {{json: $.a, regex: a}}, z: {{}}}}\n        optional: maybe\n    cookies: yes\n"
    ));
    has(
        &e,
        "scenarios[0].path: `path` belongs inside a step when the scenario has `steps`",
    );
    has(
        &e,
        "scenarios[0].steps[0].chek: unknown key `chek` (did you mean `check`?)",
    );
    has(
        &e,
        "scenarios[0].steps[1].json: give only one of `body`, `json`, `form`",
    );
    has(
        &e,
        "scenarios[0].steps[2].name: step name `a` is already used at",
    );
    has(&e, "scenarios[0].steps[2].url: `ftp://x` has scheme `ftp`");
    has(&e, "scenarios[0].steps[3].think: `5` has no unit");
    has(&e, "scenarios[0].steps[4].loop: `-1` is not a whole number");
    has(
        &e,
        "scenarios[0].steps[4].steps: empty; expected at least one step",
    );
    has(
        &e,
        "scenarios[0].steps[5].url: give either `path` or `url`, not both",
    );
    has(
        &e,
        "scenarios[0].steps[6].check.status: `abc` is not a status",
    );
    has(
        &e,
        "scenarios[0].steps[6].check.json.$..[: `$..[` is not a valid JSONPath",
    );
    has(
        &e,
        "scenarios[0].steps[6].check.max_duration: `5` has no unit",
    );
    has(
        &e,
        "scenarios[0].steps[6].capture.1x: `1x` is not a valid variable name",
    );
    has(
        &e,
        "scenarios[0].steps[6].capture.y: `json` cannot be combined",
    );
    has(
        &e,
        "scenarios[0].steps[6].capture.z: expected one of `json`, `header` or `regex`",
    );
    has(
        &e,
        "scenarios[0].steps[6].optional: expected `true` or `false`, found `maybe`",
    );
    has(
        &e,
        "scenarios[0].cookies: expected `true` or `false`, found `yes`",
    );
}

#[test]
fn variables_and_data_mistakes() {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let csv = dir.path().join("u.csv");
    if let Err(e) = std::fs::write(&csv, "name,pass\nann,1\n") {
        panic!("{e}");
    }
    let file = dir.path().join("p.yaml");
    let text = "base_url: http://h\nvariables: {users: x, ok: '{{ a }}', 'bad name': 1}\ndata:\n  users: {file: u.csv, order: shuffled}\n  more: {file: u.csv}\nscenarios:\n  - path: /{{ more.nme }}/{{ more }}\n";
    if let Err(e) = std::fs::write(&file, text) {
        panic!("{e}");
    }
    let e = match crate::plan::load(&file, &Overrides::default()) {
        Ok(_) => panic!("should fail"),
        Err(e) => e.0.iter().map(ToString::to_string).collect::<Vec<_>>(),
    };
    has(
        &e,
        "data.users.order: `shuffled` is not an order; expected `sequential`, `random`, `per_vu` or `unique`",
    );
    has(&e, "variables.ok: `{{ a }}`: variables are constants");
    has(&e, "variables.bad name: `bad name` is not a valid name");
    has(&e, "data set `more` (");
    has(&e, "has no column `nme` (did you mean `more.name`?)");
    assert!(!e.iter().any(|m| m.contains("variables.users")), "{e:?}");
    let ok = "base_url: http://h\nvariables: {users: x}\ndata:\n  users: {file: u.csv}\nscenarios:\n  - path: /{{ users.pass }}\n";
    if let Err(e) = std::fs::write(&file, ok) {
        panic!("{e}");
    }
    let e = match crate::plan::load(&file, &Overrides::default()) {
        Ok(_) => panic!("should fail"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("variables.users: `users` is also a data set name"),
        "{e}"
    );
}

#[test]
fn example_flow_plan_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/flow.yaml");
    let p = match crate::plan::load(&path, &Overrides::default()) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(p.flow.data[0].rows.len(), 4);
    assert_eq!(&*p.flow.data[0].rows[3][1], b"pa,ss");
    let f = &p.scenarios[0].flow;
    assert_eq!(f.steps.len(), 5);
    assert_eq!(f.check_count(), 7);
    assert_eq!(f.data_used, vec![0]);
    assert!(!p.scenarios[1].flow.detailed());
}
