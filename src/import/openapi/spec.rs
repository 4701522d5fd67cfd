//! An OpenAPI document as `serde_json::Value`s with `$ref` resolution: within the
//! document (`#/components/schemas/Pet`), to relative files (`common.yaml#/Error`) and
//! chains of references; cycles are the caller's to stop (it keeps the stack of refs).
//!
//! Why our own model instead of `openapiv3`/`oas3`: one model covers Swagger 2.0, OpenAPI
//! 3.0 and 3.1 (the typed crates each cover one), relative-file references need our own
//! loader anyway, and generation only reads a handful of keywords (ADR-110).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::import::ImportError;

/// Which dialect the document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// Swagger 2.0.
    Swagger2,
    /// OpenAPI 3.0.x (`nullable`, boolean `exclusiveMinimum`).
    V30,
    /// OpenAPI 3.1.x (JSON Schema 2020-12: type arrays, numeric `exclusiveMinimum`).
    V31,
}

/// A loaded document and the files its references reach.
#[derive(Debug)]
pub struct Spec {
    /// The dialect.
    pub version: Version,
    /// Where it came from (file path or URL), for messages and the header.
    pub source: String,
    /// The root document (file key `""`).
    pub root: Value,
    /// Folder relative references are read from (None for a URL or text).
    dir: Option<PathBuf>,
    /// For a document fetched from a URL: fetches a relative reference's file.
    loader: Option<Loader>,
    /// Other files, by path relative to `dir`, loaded on demand.
    files: std::cell::RefCell<HashMap<String, std::rc::Rc<Value>>>,
}

/// Fetches the file a relative `$ref` names (its path relative to the root document, e.g.
/// `common.yaml`) for a document that came from a URL: `Ok((name for messages, text))`,
/// or an error naming the URL. The importer layer sits below `http`, so the caller (the
/// CLI) supplies the fetch.
pub struct Loader(pub Box<LoadFn>);

/// What a [`Loader`] calls: relative path → (name for messages, text) or the error.
pub type LoadFn = dyn Fn(&str) -> Result<(String, String), String>;

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Loader")
    }
}

/// A place in the documents: the file (`""` for the root) and a JSON pointer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Loc {
    /// File key (relative path), `""` for the root document.
    pub file: String,
    /// JSON pointer inside it.
    pub pointer: String,
}

/// Parse YAML or JSON text into a value; errors carry line:column.
pub fn parse_text(name: &str, text: &str) -> Result<Value, ImportError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return serde_json::from_str(text).map_err(|e| {
            ImportError(format!(
                "{name}:{}:{}: not valid JSON: {e}",
                e.line(),
                e.column()
            ))
        });
    }
    serde_saphyr::from_str::<Value>(text)
        .map_err(|e| ImportError(format!("{name}: not valid YAML: {e}")))
}

impl Spec {
    /// Read a document from text. `dir` is where relative `$ref` files are looked up.
    pub fn from_text(source: &str, text: &str, dir: Option<PathBuf>) -> Result<Spec, ImportError> {
        let root = parse_text(source, text)?;
        let version = match (root.get("openapi"), root.get("swagger")) {
            (Some(Value::String(v)), _) if v.starts_with("3.0") => Version::V30,
            (Some(Value::String(v)), _) if v.starts_with("3.1") => Version::V31,
            (_, Some(Value::String(v))) if v == "2.0" => Version::Swagger2,
            (Some(v), _) | (_, Some(v)) => {
                return Err(ImportError(format!(
                    "{source}: /openapi: unsupported version {v}; expected 3.0.x, 3.1.x or swagger 2.0"
                )));
            }
            (None, None) => {
                return Err(ImportError(format!(
                    "{source}: not an OpenAPI document: no `openapi` or `swagger` key at the top (JSON pointer \"\")"
                )));
            }
        };
        if !root.get("paths").is_some_and(Value::is_object) {
            return Err(ImportError(format!(
                "{source}: /paths: missing or not a mapping of paths to operations"
            )));
        }
        Ok(Spec {
            version,
            source: source.to_string(),
            root,
            dir,
            loader: None,
            files: Default::default(),
        })
    }

    /// Read a document fetched from a URL; `loader` fetches the files its relative `$ref`s
    /// name (resolved against the document's URL by the loader).
    pub fn from_text_with_loader(
        source: &str,
        text: &str,
        loader: Loader,
    ) -> Result<Spec, ImportError> {
        let mut spec = Spec::from_text(source, text, None)?;
        spec.loader = Some(loader);
        Ok(spec)
    }

    /// Read a document file.
    pub fn from_file(path: &Path) -> Result<Spec, ImportError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ImportError(format!("cannot read {}: {e}", path.display())))?;
        let dir = path.parent().map(Path::to_path_buf);
        Spec::from_text(&path.display().to_string(), &text, dir)
    }

    /// The document a file key names (`""` is the root).
    fn file(&self, key: &str) -> Result<std::rc::Rc<Value>, ImportError> {
        if let Some(v) = self.files.borrow().get(key) {
            return Ok(v.clone());
        }
        if let Some(loader) = &self.loader {
            let (name, text) =
                (loader.0)(key).map_err(|e| ImportError(format!("broken $ref to `{key}`: {e}")))?;
            let v = std::rc::Rc::new(parse_text(&name, &text)?);
            self.files.borrow_mut().insert(key.to_string(), v.clone());
            return Ok(v);
        }
        let Some(dir) = &self.dir else {
            return Err(ImportError(format!(
                "{}: cannot follow the reference to file `{key}`: relative files need a document read from a file",
                self.source
            )));
        };
        let path = dir.join(key);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ImportError(format!("broken $ref: cannot read {}: {e}", path.display()))
        })?;
        let v = std::rc::Rc::new(parse_text(&path.display().to_string(), &text)?);
        self.files.borrow_mut().insert(key.to_string(), v.clone());
        Ok(v)
    }

    /// The value at `loc`.
    pub fn get(&self, loc: &Loc) -> Result<Value, ImportError> {
        let doc = if loc.file.is_empty() {
            None
        } else {
            Some(self.file(&loc.file)?)
        };
        let root = doc.as_deref().unwrap_or(&self.root);
        root.pointer(&loc.pointer).cloned().ok_or_else(|| {
            ImportError(format!(
                "{}: broken $ref: nothing at {}#{}",
                self.source, loc.file, loc.pointer
            ))
        })
    }

    /// Follow `value`'s `$ref` chain (if any), found in file `from`. Returns the target
    /// and its location (`None` when `value` was not a reference). `at` names where the
    /// reference is, for messages.
    pub fn deref(
        &self,
        from: &str,
        value: &Value,
        at: &str,
    ) -> Result<(Value, String, Option<Loc>), ImportError> {
        let mut current = value.clone();
        let mut file = from.to_string();
        let mut last = None;
        for _ in 0..64 {
            let Some(r) = current.get("$ref").and_then(Value::as_str) else {
                return Ok((current, file, last));
            };
            let loc = self
                .target(&file, r)
                .map_err(|e| ImportError(format!("{}: {at}/$ref: {e}", self.source)))?;
            if !loc.file.is_empty() {
                // A file that cannot be read or fetched says why, not "nothing at".
                self.file(&loc.file)
                    .map_err(|e| ImportError(format!("{}: {at}/$ref: `{r}`: {e}", self.source)))?;
            }
            current = self.get(&loc).map_err(|_| {
                ImportError(format!(
                    "{}: {at}/$ref: broken reference `{r}` (nothing at that JSON pointer)",
                    self.source
                ))
            })?;
            file = loc.file.clone();
            last = Some(loc);
        }
        Err(ImportError(format!(
            "{}: {at}/$ref: a chain of more than 64 references (a reference to itself?)",
            self.source
        )))
    }

    /// Where reference `r`, written in file `from`, points.
    pub fn target(&self, from: &str, r: &str) -> Result<Loc, String> {
        let (file, frag) = r.split_once('#').unwrap_or((r, ""));
        if file.starts_with("http://") || file.starts_with("https://") {
            return Err(format!("remote reference `{r}` is not followed"));
        }
        let file = if file.is_empty() {
            from.to_string()
        } else {
            let base = Path::new(from).parent().unwrap_or(Path::new(""));
            normalize(&base.join(file))
        };
        let pointer = percent_decode(frag);
        if !pointer.is_empty() && !pointer.starts_with('/') {
            return Err(format!("`{r}`: the part after `#` must be a JSON pointer"));
        }
        Ok(Loc { file, pointer })
    }
}

/// `a/./b/../c` → `a/c`, as text with `/`.
fn normalize(p: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if parts.last().is_some_and(|l| l != "..") {
                    parts.pop();
                } else {
                    parts.push("..".into());
                }
            }
            other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    parts.join("/")
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Escape a key for a JSON pointer.
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
