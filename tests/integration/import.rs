//! Importers end to end: every operation of every document in `tests/data/openapi`
//! gets a body that validates against its schema (jsonschema, formats checked), the
//! written plans pass `validate`, and a run against a local server that checks each request
//! against the document (method, path template, body) has zero mismatches.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use loadtester::import::openapi::{self, Options, Spec, generate};
use loadtester::plan::doc::{OneOrMany, Whole};
use loadtester::plan::{Overrides, load_str};
use serde_json::Value;

const CORPUS: &[&str] = &["petstore.yaml", "deep.yaml", "v31.yaml", "forms.json"];

fn spec(name: &str) -> Spec {
    Spec::from_file(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/openapi")
            .join(name),
    )
    .unwrap()
}

fn env() -> Vec<(String, String)> {
    ["API_KEY", "TOKEN", "BASIC_AUTH", "API_KEY_QUERY"]
        .iter()
        .map(|k| (k.to_string(), "secret-value".to_string()))
        .collect()
}

/// Render the template calls the generator writes, as a run would.
fn render(text: &str, n: &mut u64) -> String {
    let re = regex::Regex::new(
        r"\{\{ (randomString\((\d+)\)|uuid\(\)|randomInt\((-?\d+), (-?\d+)\)) \}\}",
    )
    .unwrap();
    re.replace_all(text, |c: &regex::Captures| {
        *n += 1;
        if let Some(len) = c.get(2) {
            let len: usize = len.as_str().parse().unwrap();
            format!("{:a<len$}", format!("x{n}"))[..len].to_string()
        } else if c.get(3).is_some() {
            c[3].to_string()
        } else {
            format!("3fa85f64-5717-4562-b3fc-{:012x}", *n)
        }
    })
    .into_owned()
}

fn render_value(v: Value, n: &mut u64) -> Value {
    match v {
        Value::String(s) => Value::String(render(&s, n)),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| render_value(x, n)).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, x)| (k, render_value(x, n)))
                .collect(),
        ),
        other => other,
    }
}

/// Form fields typed by the schema (a form sends text).
fn typed_form(fields: Vec<(String, String)>, schema: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for (k, v) in fields {
        let ty = schema
            .pointer(&format!("/properties/{k}/type"))
            .and_then(Value::as_str);
        let typed = match ty {
            Some("integer") | Some("number") => {
                serde_json::from_str(&v).unwrap_or(Value::String(v))
            }
            Some("boolean") => serde_json::from_str(&v).unwrap_or(Value::String(v)),
            _ => Value::String(v),
        };
        out.insert(k, typed);
    }
    Value::Object(out)
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(schema)
        .unwrap()
}

#[test]
fn generated_bodies_validate_against_every_operation_schema() {
    let mut checked = 0;
    for name in CORPUS {
        let spec = spec(name);
        for seed in [1, 2, 3] {
            let mut gn = generate::Gen {
                spec: &spec,
                rng: generate::Rng::new(seed),
                vary: true,
            };
            for op in openapi::operations(&spec).unwrap() {
                let built = openapi::request(&spec, &op, &mut gn).unwrap();
                let Some(schema) = &built.body_schema else {
                    continue;
                };
                let mut n = 0;
                let body = if let Some(j) = &built.request.json {
                    render_value(serde_json::to_value(j).unwrap(), &mut n)
                } else if let Some(f) = &built.request.form {
                    let fields = f
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                render(
                                    serde_json::to_value(v).unwrap().as_str().unwrap_or(""),
                                    &mut n,
                                ),
                            )
                        })
                        .collect();
                    typed_form(fields, schema)
                } else {
                    continue;
                };
                let v = validator(schema);
                let errors: Vec<String> = v
                    .iter_errors(&body)
                    .map(|e| format!("{} at {}", e, e.instance_path))
                    .collect();
                assert!(
                    errors.is_empty(),
                    "{name} {} (seed {seed}): {errors:?}\nbody {body}\nschema {schema}",
                    op.label()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 27, "only {checked} bodies checked");
}

#[test]
fn imported_plans_validate_and_seed_is_reproducible() {
    for name in CORPUS {
        let s = spec(name);
        let opts = Options {
            flows: true,
            ..Options::default()
        };
        let a = openapi::import(&s, &opts).unwrap().to_yaml().unwrap();
        let b = openapi::import(&spec(name), &opts)
            .unwrap()
            .to_yaml()
            .unwrap();
        assert_eq!(a, b, "{name}: the same seed wrote different files");
        let overrides = Overrides {
            env: env(),
            ..Overrides::default()
        };
        load_str(name, &a, &overrides).unwrap_or_else(|e| panic!("{e}\n{a}"));
        assert!(a.starts_with("# Imported by loadtester"));
    }
}

#[test]
fn include_exclude_and_list() {
    let s = spec("petstore.yaml");
    let only = openapi::import(
        &s,
        &Options {
            include: vec!["store".into(), "showPetById".into()],
            ..Options::default()
        },
    )
    .unwrap();
    let names: Vec<_> = only
        .doc
        .scenarios
        .iter()
        .filter_map(|s| s.name.clone())
        .collect();
    assert_eq!(names, vec!["showPetById", "placeOrder"]);
    let ex = openapi::import(
        &s,
        &Options {
            exclude: vec!["/pets/*".into()],
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(ex.doc.scenarios.len(), 3);
    assert!(
        ex.skipped
            .iter()
            .any(|k| k.contains("excluded by --exclude /pets/*"))
    );
    let list = openapi::list(&s).unwrap();
    assert!(list.contains("listPets") && list.contains("List all pets"));
}

#[test]
fn bad_documents_name_the_place() {
    let e = Spec::from_text("x.yaml", "title: no\n", None).unwrap_err();
    assert!(e.0.contains("not an OpenAPI document"), "{e}");
    let e =
        Spec::from_text("x.json", "{\"openapi\": \"3.0.0\",\n \"paths\": {,}}", None).unwrap_err();
    assert!(e.0.contains("x.json:2:"), "{e}");
    let doc = "openapi: 3.0.0\npaths:\n  /a:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {$ref: '#/components/schemas/Missing'}\n      responses: {'200': {description: ok}}\n";
    let s = Spec::from_text("x.yaml", doc, None).unwrap();
    let e = openapi::import(&s, &Options::default()).unwrap_err();
    assert!(e.0.contains("no operation"), "{e}");
    let mut gn = generate::Gen {
        spec: &s,
        rng: generate::Rng::new(1),
        vary: true,
    };
    let op = &openapi::operations(&s).unwrap()[0];
    let e = openapi::request(&s, op, &mut gn).unwrap_err();
    assert!(
        e.0.contains("/paths/~1a/post/requestBody/schema/$ref") && e.0.contains("Missing"),
        "{e}"
    );
}

struct Route {
    method: String,
    path: regex::Regex,
    schema: Option<Value>,
    form: bool,
    status: u64,
}

/// A server that checks every request against the routes; returns (url, mismatches, hits).
/// Messages of requests that did not match the document.
type Mismatches = Arc<Mutex<Vec<String>>>;
/// Requests per route.
type Hits = Arc<Mutex<Vec<u64>>>;

fn checking_server(routes: Vec<Route>) -> (String, Mismatches, Hits) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mismatches = Arc::new(Mutex::new(Vec::new()));
    let hits = Arc::new(Mutex::new(vec![0u64; routes.len()]));
    let routes = Arc::new(routes);
    let (m2, h2) = (mismatches.clone(), hits.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let (routes, m, h) = (routes.clone(), m2.clone(), h2.clone());
            std::thread::spawn(move || {
                let mut w = conn.try_clone().unwrap();
                let mut r = BufReader::new(conn);
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let (method, target) = (
                        parts.next().unwrap_or("").to_string(),
                        parts.next().unwrap_or("").to_string(),
                    );
                    let mut len = 0usize;
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        if h == "\r\n" {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                len = v.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).unwrap();
                    let path = target.split('?').next().unwrap_or("");
                    let found = routes
                        .iter()
                        .position(|rt| rt.method == method && rt.path.is_match(path));
                    let status = match found {
                        None => {
                            m.lock()
                                .unwrap()
                                .push(format!("no route for {method} {target}"));
                            404
                        }
                        Some(i) => {
                            h.lock().unwrap()[i] += 1;
                            let rt = &routes[i];
                            if let Some(schema) = &rt.schema {
                                let value: Value = if rt.form {
                                    let f = url::form_urlencoded::parse(&body)
                                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                                        .collect();
                                    typed_form(f, schema)
                                } else {
                                    serde_json::from_slice(&body).unwrap_or(Value::Null)
                                };
                                let errs: Vec<String> = validator(schema)
                                    .iter_errors(&value)
                                    .map(|e| e.to_string())
                                    .collect();
                                if !errs.is_empty() {
                                    m.lock()
                                        .unwrap()
                                        .push(format!("{method} {target}: {errs:?} in {value}"));
                                }
                            }
                            rt.status
                        }
                    };
                    let payload = if status == 204 {
                        String::new()
                    } else {
                        "{\"id\": 42}".to_string()
                    };
                    let _ = write!(
                        w,
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{payload}",
                        payload.len()
                    );
                }
            });
        }
    });
    (url, mismatches, hits)
}

#[test]
fn imported_plans_run_against_a_server_checking_the_document_with_zero_mismatches() {
    let re = regex::Regex::new(r"\\\{[^}]+\\\}").unwrap();
    for name in CORPUS {
        let s = spec(name);
        let mut gn = generate::Gen {
            spec: &s,
            rng: generate::Rng::new(9),
            vary: true,
        };
        let mut routes = Vec::new();
        for op in openapi::operations(&s).unwrap() {
            let b = openapi::request(&s, &op, &mut gn).unwrap();
            let pattern = re
                .replace_all(&regex::escape(&op.path), "[^/]+")
                .into_owned();
            let status = match b.request.check.as_ref().and_then(|c| c.status.clone()) {
                Some(OneOrMany::One(Whole::Number(n))) => n,
                Some(OneOrMany::Many(v)) => match v.first() {
                    Some(Whole::Number(n)) => *n,
                    _ => 200,
                },
                _ => 200,
            };
            routes.push(Route {
                method: op.method.clone(),
                path: regex::Regex::new(&format!(
                    "^{}{pattern}$",
                    url::Url::parse(&openapi_server(&s))
                        .unwrap()
                        .path()
                        .trim_end_matches('/')
                ))
                .unwrap(),
                form: b.request.form.is_some(),
                schema: b.body_schema.clone(),
                status,
            });
        }
        let n_routes = routes.len();
        let (url, mismatches, hits) = checking_server(routes);
        let imported = openapi::import(
            &s,
            &Options {
                flows: true,
                seed: 5,
                ..Options::default()
            },
        )
        .unwrap();
        let yaml = imported.to_yaml().unwrap();
        let base = format!(
            "{url}{}",
            url::Url::parse(&openapi_server(&s))
                .unwrap()
                .path()
                .trim_end_matches('/')
        );
        let overrides = Overrides {
            env: env(),
            base_url: Some(base),
            requests: Some(300),
            concurrency: Some(2),
            ..Overrides::default()
        };
        let plan = load_str(name, &yaml, &overrides).unwrap();
        let (summary, _) = loadtester::run_plan(
            &plan,
            &loadtester::RunOptions::default(),
            &Default::default(),
            &mut [],
        )
        .unwrap();
        let m = mismatches.lock().unwrap();
        assert!(
            m.is_empty(),
            "{name}: {} mismatches: {:?}",
            m.len(),
            &m[..m.len().min(5)]
        );
        let h = hits.lock().unwrap();
        assert_eq!(
            h.iter().filter(|n| **n > 0).count(),
            n_routes,
            "{name}: not every operation was sent: {h:?}"
        );
        assert!(summary.summary.requests >= 300, "{name}");
        eprintln!(
            "{name}: {} requests, {n_routes} operations, 0 mismatches",
            summary.summary.requests
        );
    }
}

fn openapi_server(s: &Spec) -> String {
    openapi::server_url(s).0
}

#[test]
fn har_becomes_a_correlated_flow_without_assets_or_third_parties() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/har/shop.har");
    let text = std::fs::read_to_string(&path).unwrap();
    let opts = loadtester::import::har::Options {
        keep_static: false,
        origins: Vec::new(),
        max_think: std::time::Duration::from_secs(1),
    };
    let imp = loadtester::import::har::import("shop.har", &text, &opts).unwrap();
    let yaml = imp.to_yaml().unwrap();
    load_str("shop.yaml", &yaml, &Overrides::default()).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(imp.imported.len(), 4, "{yaml}");
    assert_eq!(imp.skipped.len(), 3, "{yaml}");
    for want in [
        "csrf_token: \"{{ csrf_token_0 }}\"",
        "Authorization: Bearer {{ token_1 }}",
        "path: /api/cart/items/{{ location_id_2 }}?view=full",
        "json: $.token",
        "think: 1000ms",
        "think: 980ms",
        "form:",
    ] {
        assert!(yaml.contains(want), "missing {want}:\n{yaml}");
    }
    for gone in [
        "Accept-Encoding",
        "Cookie",
        "sec-ch-ua",
        "Content-Length",
        ":authority",
        "app.css",
        "fonts.example.net/roboto\n",
    ] {
        let body = yaml.split("\nbase_url").nth(1).unwrap();
        assert!(!body.contains(gone), "{gone} kept:\n{yaml}");
    }
    let kept = loadtester::import::har::import(
        "shop.har",
        &text,
        &loadtester::import::har::Options {
            keep_static: true,
            ..opts
        },
    )
    .unwrap();
    assert_eq!(kept.imported.len(), 6);
    let e = loadtester::import::har::import("x.har", "{\"log\": {}}", &opts_default()).unwrap_err();
    assert!(e.0.contains("/log/entries"), "{e}");
    let e = loadtester::import::har::import(
        "x.har",
        "{\"log\":\n {\"entries\": [{}]}}",
        &opts_default(),
    )
    .unwrap_err();
    assert!(e.0.contains("/log/entries/0/request"), "{e}");
}

fn opts_default() -> loadtester::import::har::Options {
    loadtester::import::har::Options {
        keep_static: false,
        origins: Vec::new(),
        max_think: std::time::Duration::from_secs(5),
    }
}

#[test]
fn cli_imports_curl_from_stdin_and_bad_input_exits_2() {
    let bin = env!("CARGO_BIN_EXE_loadtester");
    let mut child = std::process::Command::new(bin)
        .args(["import", "curl", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            b"curl 'http://127.0.0.1:1/a' \\\n  -H 'X-A: 1'\ncurl http://127.0.0.1:1/b -d x=1\n",
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).unwrap();
    load_str("c.yaml", &yaml, &Overrides::default()).unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("imported 2"));
    let bad = std::process::Command::new(bin)
        .args(["import", "openapi", "Cargo.toml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let list = std::process::Command::new(bin)
        .args([
            "import",
            "openapi",
            "tests/data/openapi/petstore.yaml",
            "--list",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("showPetById"));
}

#[test]
fn a_document_is_fetched_over_http_from_loopback() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let doc = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/openapi/petstore.yaml"),
    )
    .unwrap();
    std::thread::spawn(move || {
        if let Ok((mut c, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\ncontent-type: application/yaml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                doc.len()
            );
            let _ = c.write_all(&doc);
        }
    });
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_loadtester"))
        .args([
            "import",
            "openapi",
            &format!("http://{addr}/petstore.yaml"),
            "--list",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("createPet"));
}
