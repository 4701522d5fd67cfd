//! Plan loading: file → YAML tree (`yaml`) → checked, typed [`Plan`] (`validate`).
//!
//! First stage of the pipeline. Everything a user can get wrong is caught here, before a
//! single request is sent, and reported all at once with file, line:column and YAML path.

pub mod doc;
pub mod env;
pub mod error;
pub mod flow;
pub mod http_options;
pub mod load;
pub mod model;
pub mod pin;
pub mod remote_write;
pub mod resolve;
pub mod secrets;
pub mod segment;
pub mod threshold;
pub mod validate;
pub mod workload;
pub mod yaml;

pub use doc::{PlanDoc, from_doc};
pub use error::{PlanError, PlanErrors};
pub use http_options::{ClientAuth, ConnectTo, HttpOptions, HttpVersion, TlsOptions};
pub use load::{LoadModel, Think};
pub use model::{Load, Plan, Scenario, Scheme, Target};
pub use validate::{Overrides, parse_duration};

/// Read, parse and validate a plan file.
pub fn load(path: &std::path::Path, overrides: &Overrides) -> Result<Plan, PlanErrors> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        PlanErrors(vec![PlanError {
            file: name.clone(),
            pos: None,
            path: "(file)".into(),
            message: format!("cannot read the plan: {e}"),
        }])
    })?;
    load_str(&name, &text, overrides)
}

/// Parse and validate plan text; `name` is used in messages and its folder is where
/// relative file names start. Variables come from `overrides.env`, then the process
/// environment ([`resolve::Local`]).
pub fn load_str(name: &str, text: &str, overrides: &Overrides) -> Result<Plan, PlanErrors> {
    load_with(
        name,
        text,
        overrides,
        &resolve::Local::for_plan(name, &overrides.env),
    )
}

/// Parse and validate plan text with the caller's [`resolve::Resolver`] for `${VAR}`
/// values and data files (a server passes one that reads nothing of the host).
/// `${VAR}` references are resolved first (`env`), and every error message is redacted
/// (`crate::redact`).
pub fn load_with(
    name: &str,
    text: &str,
    overrides: &Overrides,
    resolver: &dyn resolve::Resolver,
) -> Result<Plan, PlanErrors> {
    let mut root = yaml::parse(text).map_err(|e| {
        PlanErrors(vec![PlanError {
            file: name.to_string(),
            pos: Some(e.pos),
            path: "(syntax)".into(),
            message: format!("invalid YAML: {}", e.message),
        }])
    })?;
    let env = env::interpolate(name, &mut root, &|n: &str| resolver.var(n));
    let (headers, header_errors) = secrets::plan_secrets(name, &root);
    let mut secrets = env.secrets;
    secrets.extend(headers);
    let redactor = crate::redact::Redactor::new(&secrets);
    let mut errors = env.errors;
    errors.extend(header_errors);
    let result = validate::validate(name, &root, overrides, resolver).map_err(|e| {
        // A value with an unresolved `${…}` is reported once, by `env`.
        e.0.into_iter()
            .filter(|x| !env.failed_paths.contains(&x.path))
            .collect::<Vec<_>>()
    });
    match result {
        Ok(mut plan) if errors.is_empty() => {
            plan.secrets = secrets;
            if let Some(rw) = &plan.remote_write {
                plan.secrets.extend(rw.secret_values());
            }
            plan.hash = hash(text);
            Ok(plan)
        }
        Ok(_) => Err(secrets::redact_errors(&redactor, PlanErrors(errors))),
        Err(more) => {
            errors.extend(more);
            Err(secrets::redact_errors(&redactor, PlanErrors(errors)))
        }
    }
}

/// FNV-1a 64 of the plan text, hex: cheap, stable across builds and platforms, and
/// enough to tell two plans apart (it is a consistency check, not a security measure).
pub fn hash(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOADPLAN: &str = include_str!("../../plans/loadplan.yaml");

    fn errors(text: &str) -> Vec<String> {
        match load_str("p.yaml", text, &Overrides::default()) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn loadplan_is_valid() {
        let plan = load_str("loadplan.yaml", LOADPLAN, &Overrides::default()).unwrap();
        assert_eq!(plan.scenarios.len(), 2);
        assert_eq!(plan.scenarios[0].weight, 2);
        assert_eq!(plan.scenarios[1].method, "POST");
        assert_eq!(plan.load.requests, Some(100));
        assert_eq!(plan.load.model, LoadModel::ConstantUsers { users: 10 });
        assert_eq!(plan.timeout, std::time::Duration::from_secs(5));
        let body = String::from_utf8(plan.scenarios[1].body.clone().unwrap()).unwrap();
        assert!(body.contains("\"email\": \"john@example.com\""));
        assert!(
            plan.scenarios[1]
                .headers
                .iter()
                .any(|(k, _)| k == "Authorization")
        );
    }

    #[test]
    fn all_errors_at_once_with_positions() {
        let e = errors(
            "base_url: http://127.0.0.1:1\nscenarois: []\ndefaults:\n  timeout: 5\n  concurrency: zero\n",
        );
        assert!(
            e.iter().any(|m| m.starts_with(
                "p.yaml:2:1: scenarois: unknown key `scenarois` (did you mean `scenarios`?)"
            )),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.starts_with("p.yaml:4:12: defaults.timeout: `5` has no unit")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|m| m
                .starts_with("p.yaml:5:16: defaults.concurrency: `zero` is not a whole number")),
            "{e:?}"
        );
        assert!(e.iter().any(|m| m.contains("scenarios: missing")), "{e:?}");
    }

    #[test]
    fn scenario_errors() {
        let e = errors(
            "base_url: ftp://x\nscenarios:\n  - path: users\n    wieght: 2\n  - path: /a\n    method: GTE\n    weight: 0\n",
        );
        assert!(
            e.iter()
                .any(|m| m.contains("base_url: `ftp://x` has scheme `ftp`")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|m| m
                .contains("scenarios[0].wieght: unknown key `wieght` (did you mean `weight`?)")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.contains("scenarios[0].path: `users` must start with `/`")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|m| m
                .contains("scenarios[1].method: unknown HTTP method `GTE` (did you mean `GET`?)")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.contains("scenarios[1].weight: `0` is out of range")),
            "{e:?}"
        );
    }

    #[test]
    fn headers_merge_and_base_path() {
        let plan = load_str(
            "p",
            "base_url: http://h:81/api/\ndefaults:\n  headers: {A: '1', B: '2'}\nscenarios:\n  - path: /x\n    headers: {b: '3'}\n",
            &Overrides::default(),
        )
        .unwrap();
        let s = &plan.scenarios[0];
        assert_eq!(s.path, "/api/x");
        assert_eq!(
            s.headers,
            vec![("A".into(), "1".into()), ("b".into(), "3".into())]
        );
        assert_eq!(plan.target.authority, "h:81");
        assert_eq!(plan.load.duration, Some(validate::DEFAULT_DURATION));
    }

    #[test]
    fn overrides_replace_plan_values() {
        let ov = Overrides {
            concurrency: Some(3),
            requests: Some(7),
            duration: None,
            base_url: Some("http://127.0.0.1:9".into()),
            ..Overrides::default()
        };
        let plan = load_str("loadplan.yaml", LOADPLAN, &ov).unwrap();
        assert_eq!(plan.load.model, LoadModel::ConstantUsers { users: 3 });
        assert_eq!(plan.load.requests, Some(7));
        assert_eq!(plan.target.port, 9);
        let bad = Overrides {
            base_url: Some("nope".into()),
            ..Overrides::default()
        };
        let e = load_str("loadplan.yaml", LOADPLAN, &bad).unwrap_err();
        assert!(
            e.to_string()
                .contains("--base-url: `nope` is not a valid URL"),
            "{e}"
        );
    }
}
