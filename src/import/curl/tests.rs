use super::*;
use crate::plan::{Overrides, load_str};

fn plan_of(cmds: &[&str]) -> (Imported, String) {
    let imp = import(&cmds.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    let yaml = imp.to_yaml().unwrap();
    load_str("curl.yaml", &yaml, &Overrides::default()).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    (imp, yaml)
}

#[test]
fn devtools_command_with_json_body() {
    let (imp, yaml) = plan_of(&[
        "curl 'http://127.0.0.1:8080/api/items?x=1' \\\n  -H 'accept: */*' \\\n  -H 'content-type: application/json' \\\n  -H 'Content-Length: 11' \\\n  --data-raw $'{\"name\":\"a\\'b\",\"n\":2}' \\\n  --compressed -k",
    ]);
    let sc = &imp.doc.scenarios[0];
    assert_eq!(imp.doc.base_url.as_deref(), Some("http://127.0.0.1:8080"));
    assert_eq!(sc.method.as_deref(), Some("POST"));
    assert_eq!(sc.path.as_deref(), Some("/api/items?x=1"));
    assert!(sc.json.is_some(), "{yaml}");
    let h = sc.headers.as_ref().unwrap();
    assert!(!h.keys().any(|k| k.eq_ignore_ascii_case("content-length")));
    assert!(
        yaml.contains("decompress: true") && yaml.contains("insecure: true"),
        "{yaml}"
    );
    assert!(yaml.starts_with("# Imported by loadtester"));
}

#[test]
fn forms_user_cookie_get_and_other_origins() {
    let (imp, yaml) = plan_of(&[
        "curl -u alice:s3cret -b 'sid=1; theme=dark' http://127.0.0.1:1/login -d user=alice -d 'pw=a b'",
        "curl -G http://127.0.0.1:1/search --data-urlencode 'q=x y&z' -XGET",
        "curl --json '{\"a\":1}' http://127.0.0.2:9/other",
        "curl -X DELETE http://127.0.0.1:1/items/7 --frobnicate",
    ]);
    let s = &imp.doc.scenarios;
    assert_eq!(s.len(), 4);
    let form = s[0].form.as_ref().unwrap();
    assert_eq!(form.get("pw"), Some(&Some(Scalar::Text("a b".into()))));
    let h = s[0].headers.as_ref().unwrap();
    assert_eq!(
        h.get("Authorization"),
        Some(&Scalar::Text("Basic YWxpY2U6czNjcmV0".into()))
    );
    assert_eq!(
        h.get("Cookie"),
        Some(&Scalar::Text("sid=1; theme=dark".into()))
    );
    assert_eq!(s[1].path.as_deref(), Some("/search?q=x+y%26z"));
    assert_eq!(s[1].method.as_deref(), Some("GET"));
    assert_eq!(s[2].url.as_deref(), Some("http://127.0.0.2:9/other"));
    assert_eq!(s[2].method.as_deref(), Some("POST"));
    assert_eq!(s[3].method.as_deref(), Some("DELETE"));
    assert!(
        imp.skipped.iter().any(|d| d.contains("--frobnicate")),
        "{yaml}"
    );
    assert!(yaml.contains("--frobnicate"));
}

#[test]
fn several_commands_in_one_text_and_env_syntax_kept_literal() {
    let (imp, _) = plan_of(&["curl http://127.0.0.1:1/a\ncurl 'http://127.0.0.1:1/a?v=${HOME}'\n"]);
    assert_eq!(imp.doc.scenarios.len(), 2);
    assert_eq!(imp.doc.scenarios[1].name.as_deref(), Some("GET /a #2"));
    assert_eq!(imp.doc.scenarios[1].path.as_deref(), Some("/a?v=$${HOME}"));
}

#[test]
fn bad_input_is_a_clear_error() {
    let e = import(&["wget http://x".into()]).unwrap_err();
    assert!(e.0.contains("`curl`"), "{e}");
    let e = import(&["curl -d 'x http://a".into()]).unwrap_err();
    assert!(e.0.contains("1:9: unclosed"), "{e}");
    let e = import(&["curl -H".into()]).unwrap_err();
    assert!(e.0.contains("`-H` needs a value"), "{e}");
}
