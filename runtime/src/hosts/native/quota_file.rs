//! `apexc serve`'s quota counts: one set for every thread of the process (so a limit is the
//! process's, not a thread's), kept in a file so a restart keeps the day's counts.
//!
//! The file is JSON (scope name → counts, see `quota::counts`), rewritten whole through a
//! temporary file and a rename, so a crash leaves the old or the new version, never half of
//! one. It is written at most once a [`SAVE_EVERY`] when something changed, and once more when
//! the server stops: saving on every request cost more than the request (22k → 4k chat
//! req/s), and a crash loses at most that last second. A file that cannot be read or parsed
//! is reported and replaced: losing counts must not stop the gateway.

use crate::quota::{Ledger, Local};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often changed counts are written.
pub const SAVE_EVERY: Duration = Duration::from_secs(1);

/// The process's counts, and what keeps their file up to date. Dropping the last clone of the
/// [`Saver`] writes the file a last time.
pub struct Opened {
    pub local: Arc<Local>,
    pub saver: Option<Arc<Saver>>,
}

/// The process's counts, loaded from `path` when it exists and saved there while they change
/// (in memory only without a path).
pub fn open(path: Option<&Path>) -> io::Result<Opened> {
    let Some(path) = path else {
        return Ok(Opened {
            local: Arc::new(Local::default()),
            saver: None,
        });
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
    let dirty = Arc::new(AtomicBool::new(false));
    let mark = Arc::clone(&dirty);
    let on_change = Box::new(move |_: &Ledger| mark.store(true, Ordering::Relaxed));
    let local = Arc::new(Local::new(ledger, Some(on_change)));
    let saver = Saver::start(Arc::clone(&local), path.to_path_buf(), dirty)?;
    Ok(Opened {
        local,
        saver: Some(Arc::new(saver)),
    })
}

/// A thread that writes the counts when they changed, every [`SAVE_EVERY`].
pub struct Saver {
    job: Arc<Job>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Job {
    local: Arc<Local>,
    path: PathBuf,
    dirty: Arc<AtomicBool>,
    stop: AtomicBool,
}

impl Job {
    fn save_if_changed(&self) {
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return;
        }
        if let Err(e) = save(&self.path, &self.local.snapshot()) {
            eprintln!(
                "apexc serve: warning: cannot save quota counts to {}: {e}",
                self.path.display()
            );
        }
    }
}

impl Saver {
    fn start(local: Arc<Local>, path: PathBuf, dirty: Arc<AtomicBool>) -> io::Result<Saver> {
        let job = Arc::new(Job {
            local,
            path,
            dirty,
            stop: AtomicBool::new(false),
        });
        let worker = Arc::clone(&job);
        let thread = std::thread::Builder::new()
            .name("apex-quota-save".into())
            .spawn(move || {
                while !worker.stop.load(Ordering::Relaxed) {
                    std::thread::park_timeout(SAVE_EVERY);
                    worker.save_if_changed();
                }
            })?;
        Ok(Saver {
            job,
            thread: Mutex::new(Some(thread)),
        })
    }
}

impl Drop for Saver {
    /// Stops the thread and writes what changed since its last save.
    fn drop(&mut self) {
        self.job.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.lock().map(|mut t| t.take()).unwrap_or(None);
        if let Some(t) = thread {
            t.thread().unpark();
            let _ = t.join();
        }
        self.job.save_if_changed();
    }
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
        let grant = first.as_ref().map(|o| o.local.reserve_now(&ask(), &[]));
        assert_eq!(grant, Some(Grant::Go { candidate: 0 }));
        drop(first);
        let again = open(Some(&path)).ok();
        let grant = again.as_ref().map(|o| o.local.reserve_now(&ask(), &[]));
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
