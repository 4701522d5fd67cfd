//! Where a plan's outside inputs come from: `${VAR}` values and the files it names (`data`
//! sets, `tls.ca`, client certificates). The caller of `plan::load_with` supplies a
//! [`Resolver`], so plan loading itself never reads the process environment or picks a
//! folder: the command line passes [`Local`] (its `--env` pairs, then the process
//! environment; paths relative to the plan's folder), a server passes [`Sandbox`] (only
//! the variables a request gave; only files inside its data folder).

use std::path::{Component, Path, PathBuf};

/// Supplies variable values and file locations to plan loading.
pub trait Resolver: Sync {
    /// The value of `${name}`, if it is set.
    fn var(&self, name: &str) -> Option<String>;
    /// Where the file written as `written` in the plan is, or why it may not be read.
    fn path(&self, written: &str) -> Result<PathBuf, String>;
}

/// The command line's resolver: `--env` pairs (the last one wins), then the process
/// environment; relative paths from the plan file's folder.
#[derive(Clone, Debug, Default)]
pub struct Local {
    /// The folder relative paths start from.
    pub dir: PathBuf,
    /// `--env KEY=VALUE` pairs, in order.
    pub env: Vec<(String, String)>,
}

impl Local {
    /// For a plan file at `plan` (its folder) with these `--env` pairs.
    pub fn for_plan(plan: &str, env: &[(String, String)]) -> Local {
        Local {
            dir: Path::new(plan)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            env: env.to_vec(),
        }
    }
}

impl Resolver for Local {
    fn var(&self, name: &str) -> Option<String> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
    }

    fn path(&self, written: &str) -> Result<PathBuf, String> {
        let p = Path::new(written.trim());
        Ok(if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        })
    }
}

/// A resolver that reads nothing of the host: only the given variables, and only files
/// inside `root` named by a relative path without `..` (a server's `--data-dir/data/`).
#[derive(Clone, Debug, Default)]
pub struct Sandbox {
    /// The only folder files may come from.
    pub root: PathBuf,
    /// The variables, in order (the last one wins).
    pub env: Vec<(String, String)>,
}

impl Resolver for Sandbox {
    fn var(&self, name: &str) -> Option<String> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    fn path(&self, written: &str) -> Result<PathBuf, String> {
        let p = Path::new(written.trim());
        let plain = p
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if p.as_os_str().is_empty() || !plain {
            return Err(format!(
                "`{written}` is outside the data folder: give a file name relative to it, without `..` or a leading `/`"
            ));
        }
        Ok(self.root.join(p))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn local_resolves_from_the_plan_folder_and_env_pairs_win() {
        let r = Local::for_plan(
            "plans/p.yaml",
            &[("A".into(), "1".into()), ("A".into(), "2".into())],
        );
        assert_eq!(
            r.path("users.csv").unwrap(),
            PathBuf::from("plans/users.csv")
        );
        assert_eq!(r.path("/etc/x").unwrap(), PathBuf::from("/etc/x"));
        assert_eq!(r.var("A").as_deref(), Some("2"));
    }

    #[test]
    fn sandbox_reads_nothing_outside() {
        let r = Sandbox {
            root: PathBuf::from("/srv/data"),
            env: vec![("T".into(), "x".into())],
        };
        assert_eq!(
            r.path("a/b.csv").unwrap(),
            PathBuf::from("/srv/data/a/b.csv")
        );
        for bad in ["../x", "/etc/passwd", "a/../../x", ""] {
            assert!(
                r.path(bad).unwrap_err().contains("outside the data folder"),
                "{bad}"
            );
        }
        assert_eq!(r.var("T").as_deref(), Some("x"));
        assert_eq!(r.var("HOME"), None, "the process environment is not read");
    }
}
