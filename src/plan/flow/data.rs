//! CSV data sets (`data:` in a plan): read whole into memory at plan load.
//!
//! Part of the flow compiler. A data set is loaded before any traffic (a missing file or a
//! ragged row is a plan error), kept behind an `Arc`, and never copied: a running
//! iteration only remembers the *index* of its bound row, and rendering copies the cell's
//! bytes straight into the request buffer.

use std::path::Path;

/// How rows are bound to iterations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Rows in file order, shared by all users, wrapping around at the end.
    Sequential,
    /// A random row for each iteration (the user's own generator).
    Random,
    /// User k always gets row k, wrapping (k6's `SharedArray` + `__VU` idiom).
    PerVu,
    /// Each row once across the run; when every row is used, no iteration starts any more
    /// and the run stops with `stopped_by: data` (ADR-137).
    Unique,
}

/// Largest data file accepted, in bytes.
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// One loaded CSV file.
#[derive(Clone, Debug)]
pub struct DataSet {
    /// The name used in templates (`{{ users.name }}` → `users`).
    pub name: String,
    /// The file as resolved (relative to the plan file).
    pub file: String,
    /// How rows are bound.
    pub order: Order,
    /// Column names from the header row.
    pub columns: Vec<String>,
    /// The data rows; every row has one cell per column.
    pub rows: Vec<Vec<Box<[u8]>>>,
}

impl DataSet {
    /// A `variables` entry that is a list (Artillery's `variables: {userId: [1, 2, 3]}`):
    /// a one-column set, user k gets element k (wrapping), `{{ userId }}` reads it.
    pub fn from_list(name: &str, values: Vec<String>) -> DataSet {
        DataSet {
            name: name.to_string(),
            file: format!("variables.{name}"),
            order: Order::PerVu,
            columns: vec!["value".into()],
            rows: values
                .into_iter()
                .map(|v| vec![Box::from(v.into_bytes())])
                .collect(),
        }
    }

    /// Whether this set is a `variables` list (read by its bare name).
    pub fn is_list(&self) -> bool {
        self.file
            .strip_prefix("variables.")
            .is_some_and(|n| n == self.name)
    }

    /// Read `path` (CSV with a header row). Errors name the file and the line.
    pub fn load(name: &str, path: &Path, order: Order) -> Result<DataSet, String> {
        let shown = path.display().to_string();
        let meta =
            std::fs::metadata(path).map_err(|e| format!("cannot read data file `{shown}`: {e}"))?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(format!(
                "data file `{shown}` is {} bytes; the limit is {MAX_FILE_BYTES}",
                meta.len()
            ));
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(path)
            .map_err(|e| format!("cannot read data file `{shown}`: {e}"))?;
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| format!("data file `{shown}`: {e}"))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        if columns.iter().all(String::is_empty) {
            return Err(format!(
                "data file `{shown}` has no header row; the first line must name the columns, e.g. `name,password`"
            ));
        }
        for (i, c) in columns.iter().enumerate() {
            if columns[..i].contains(c) {
                return Err(format!(
                    "data file `{shown}` names column `{c}` twice in its header row"
                ));
            }
        }
        let mut rows = Vec::new();
        for record in reader.byte_records() {
            let record = record.map_err(|e| format!("data file `{shown}`: {e}"))?;
            rows.push(record.iter().map(Box::<[u8]>::from).collect());
        }
        if rows.is_empty() {
            return Err(format!(
                "data file `{shown}` has a header row but no data rows"
            ));
        }
        Ok(DataSet {
            name: name.to_string(),
            file: shown,
            order,
            columns,
            rows,
        })
    }

    /// Index of column `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn loads_rows_and_reports_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("u.csv");
        std::fs::write(&p, "name, password\nann,\"p,1\"\nbob,p2\n").unwrap();
        let d = DataSet::load("users", &p, Order::Sequential).unwrap();
        assert_eq!(d.columns, vec!["name", "password"]);
        assert_eq!(d.rows.len(), 2);
        assert_eq!(&*d.rows[0][1], b"p,1");
        assert_eq!(d.column("password"), Some(1));

        std::fs::write(&p, "a,b\n1,2\n3\n").unwrap();
        let e = DataSet::load("users", &p, Order::Sequential).unwrap_err();
        assert!(e.contains("line: 3"), "{e}");
        std::fs::write(&p, "a,b\n").unwrap();
        let e = DataSet::load("users", &p, Order::Random).unwrap_err();
        assert!(e.contains("no data rows"), "{e}");
        let e = DataSet::load("users", &dir.path().join("none.csv"), Order::Random).unwrap_err();
        assert!(e.starts_with("cannot read data file"), "{e}");
    }
}
