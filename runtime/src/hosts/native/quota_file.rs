//! `apexc serve`'s quota counts: one set for every thread of the process (so a limit is the
//! process's, not a thread's), kept in a file so a restart keeps the day's counts.
//!
//! The file is JSON (scope name → counts, see `quota::counts`), rewritten whole after each
//! change through a temporary file and a rename, so a crash leaves the old or the new
//! version, never half of one. A file that cannot be read or parsed is reported and
//! replaced: losing counts must not stop the gateway.

use crate::quota::{Ledger, Local};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The process's counts, loaded from `path` when it exists and saved there after each change
/// (in memory only without a path).
pub fn open(path: Option<&Path>) -> io::Result<Arc<Local>> {
    let Some(path) = path else {
        return Ok(Arc::new(Local::default()));
    };
    let ledger = match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice::<Ledger>(&bytes).unwrap_or_else(|e| {
            eprintln!(
                "apexc serve: warning: {}: not a quota state file ({e}); starting from zero",
                path.display()
            );
            Ledger::default()
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ledger::default(),
        Err(e) => return Err(e),
    };
    // Fail now, not on the first request, when the file cannot be written.
    save(path, &ledger)?;
    let path = path.to_path_buf();
    let on_change = Box::new(move |l: &Ledger| {
        if let Err(e) = save(&path, l) {
            eprintln!(
                "apexc serve: warning: cannot save quota counts to {}: {e}",
                path.display()
            );
        }
    });
    Ok(Arc::new(Local::new(ledger, Some(on_change))))
}

fn save(path: &Path, ledger: &Ledger) -> io::Result<()> {
    let text = serde_json::to_vec(ledger).map_err(io::Error::other)?;
    let tmp = temp_path(path);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::{Ask, Grant, Scope};
    use crate::table::Limits;

    fn ask() -> Ask {
        Ask {
            now_ms: 1_000,
            tokens: 0,
            scopes: vec![Scope {
                name: "key:K".into(),
                limits: Limits {
                    rpd: Some(1),
                    ..Limits::NONE
                },
                day: 0,
                day_ends_ms: 86_400_000,
            }],
            candidates: vec![vec![0]],
        }
    }

    #[test]
    fn a_reopened_file_keeps_the_counts() {
        let dir = std::env::temp_dir().join(format!("apex-quota-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("state.json");
        let _ = std::fs::remove_file(&path);
        let first = open(Some(&path)).ok();
        let grant = first.as_ref().map(|l| l.reserve_now(&ask(), &[]));
        assert_eq!(grant, Some(Grant::Go { candidate: 0 }));
        drop(first);
        let again = open(Some(&path)).ok();
        let grant = again.as_ref().map(|l| l.reserve_now(&ask(), &[]));
        assert_eq!(
            grant,
            Some(Grant::Exhausted {
                until_ms: 86_400_000
            })
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_corrupt_file_is_replaced() {
        let dir = std::env::temp_dir().join(format!("apex-quota-bad-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("state.json");
        let _ = std::fs::write(&path, "{not json");
        let local = open(Some(&path)).ok();
        assert!(local.is_some());
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(text, "{}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
