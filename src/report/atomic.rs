//! Writing result files so that a failure never leaves a broken one behind.
//!
//! A result file is what CI reads after a run, so it is either the new document or the
//! old one, never half of either: the bytes go to a temporary file in the same folder,
//! are synced to disk, and replace the destination by `rename` (atomic on POSIX). On any
//! failure — a full disk, a missing folder, no permission — the temporary file is removed,
//! the old file stays, and the message says why. [`check_writable`] tries the same steps
//! (without touching the destination) before any load is sent, so a bad `--out` path is
//! found in a second rather than after a one-hour run.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh temporary name beside `path`: `.NAME.PID.N.tmp` in the same folder (so the
/// rename stays on one file system).
fn temp_path(path: &Path) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tmp = format!(".{name}.{}.{n}.tmp", std::process::id());
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(tmp),
        _ => PathBuf::from(tmp),
    }
}

fn create_temp(path: &Path) -> io::Result<(PathBuf, File)> {
    let tmp = temp_path(path);
    let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    Ok((tmp, file))
}

/// Replace `path` by `bytes` atomically: temporary file, fsync, rename. On failure the
/// old file (if any) is unchanged and no temporary file is left.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if path.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a directory",
        ));
    }
    let (tmp, mut file) = create_temp(path)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&tmp, path));
    drop(file);
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Check that `path` can be written the way [`write`] will, without changing it: a
/// temporary file can be created in its folder, and `path` is not a directory.
pub fn check_writable(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a directory",
        ));
    }
    let (tmp, file) = create_temp(path)?;
    drop(file);
    fs::remove_file(&tmp)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_or_not_at_all() {
        let dir = std::env::temp_dir().join(format!("lt-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("r.json");
        write(&p, b"old").unwrap();
        write(&p, b"new").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert!(check_writable(&p).is_ok());
        assert!(check_writable(&dir).is_err());
        assert!(check_writable(&dir.join("missing/r.json")).is_err());
        assert!(write(&dir.join("missing/r.json"), b"x").is_err());
        // Nothing but the result is left in the folder.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
