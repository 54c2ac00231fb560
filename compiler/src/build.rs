//! Writing a [`GeneratedCrate`] to disk without ever leaving a half-written output directory.
//!
//! * A new output directory is assembled in a staging directory beside it and renamed into
//!   place in one step.
//! * An existing one (a previous build, perhaps with the user's `node_modules/`, `target/`,
//!   `build/`, `.wrangler/`, `.dev.vars`) keeps everything apexc did not write: every changed
//!   file is first written completely into the staging directory, then renamed over its old
//!   version (a rename within one file system is atomic), files a previous build wrote that
//!   are no longer generated are removed, and `.apexc-manifest` is replaced last. Unchanged
//!   files are not touched, so their modification times (and cargo's incremental state) stay.
//!
//! Callers generate first and write only on success, so a broken config never gets this far.

use crate::codegen::{parse_manifest, slash_path, GeneratedCrate, MANIFEST_FILE};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// What a write did, for the summary `apexc build` prints.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteReport {
    /// The output directory did not exist before.
    pub created: bool,
    /// Files written (new or changed), relative to the output directory.
    pub written: Vec<PathBuf>,
    /// Files whose content was already right.
    pub unchanged: Vec<PathBuf>,
    /// Files a previous build wrote that are no longer generated, now removed.
    pub removed: Vec<PathBuf>,
}

/// Why a crate could not be written. The output directory is unchanged unless the message
/// says otherwise.
#[derive(Debug)]
pub enum WriteError {
    /// The output path exists and is not a directory.
    NotADirectory(PathBuf),
    /// The directory has files apexc did not write (no `.apexc-manifest`) that a build would
    /// overwrite.
    Foreign { dir: PathBuf, files: Vec<PathBuf> },
    /// A file system operation failed.
    Io {
        action: String,
        path: PathBuf,
        source: io::Error,
    },
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::NotADirectory(p) => {
                write!(f, "{} exists and is not a directory", p.display())
            }
            WriteError::Foreign { dir, files } => {
                let list: Vec<String> = files.iter().map(|p| slash_path(p)).collect();
                write!(
                    f,
                    "{} was not written by apexc (it has no {MANIFEST_FILE}) and a build would overwrite {}; \
                     choose another output directory, or pass --force to overwrite",
                    dir.display(),
                    list.join(", ")
                )
            }
            WriteError::Io {
                action,
                path,
                source,
            } => {
                write!(f, "cannot {action} {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for WriteError {}

fn io_err(action: &str, path: &Path) -> impl FnOnce(io::Error) -> WriteError {
    let action = action.to_string();
    let path = path.to_path_buf();
    move |source| WriteError::Io {
        action,
        path,
        source,
    }
}

/// Writes `krate` into `out`. `force` allows overwriting files in a directory that apexc did
/// not create.
pub fn write_crate(
    krate: &GeneratedCrate,
    out: &Path,
    force: bool,
) -> Result<WriteReport, WriteError> {
    match fs::symlink_metadata(out) {
        Ok(meta) if meta.is_dir() => update_existing(krate, out, force),
        // A symlink to a directory is followed like the directory it points to.
        Ok(meta) if meta.file_type().is_symlink() && out.is_dir() => {
            update_existing(krate, out, force)
        }
        Ok(_) => Err(WriteError::NotADirectory(out.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => create_new(krate, out),
        Err(e) => Err(io_err("inspect", out)(e)),
    }
}

/// Fresh output directory: stage everything beside it, then one rename.
fn create_new(krate: &GeneratedCrate, out: &Path) -> Result<WriteReport, WriteError> {
    let parent = parent_dir(out);
    fs::create_dir_all(&parent).map_err(io_err("create directory", &parent))?;
    let staging = Staging::new(out)?;
    for (rel, content) in &krate.files {
        staging.write(rel, content)?;
    }
    fs::rename(&staging.dir, out).map_err(io_err("move the new crate into", out))?;
    // The staging directory is now the output directory: nothing left to clean up.
    std::mem::forget(staging);
    Ok(WriteReport {
        created: true,
        written: krate.files.keys().cloned().collect(),
        ..Default::default()
    })
}

/// Existing output directory: replace changed files one by one, each atomically.
fn update_existing(
    krate: &GeneratedCrate,
    out: &Path,
    force: bool,
) -> Result<WriteReport, WriteError> {
    let manifest_path = out.join(MANIFEST_FILE);
    let previous = match fs::read_to_string(&manifest_path) {
        Ok(text) => Some(parse_manifest(&text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_err("read", &manifest_path)(e)),
    };

    let mut report = WriteReport::default();
    let mut changed = Vec::new();
    for (rel, content) in &krate.files {
        let path = out.join(rel);
        match fs::read(&path) {
            Ok(old) if old == content.as_bytes() => report.unchanged.push(rel.clone()),
            Ok(_) => changed.push((rel, content, true)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => changed.push((rel, content, false)),
            // A directory where a file should go, unreadable file, ...: report it.
            Err(e) => return Err(io_err("read", &path)(e)),
        }
    }

    if previous.is_none() && !force {
        let foreign: Vec<PathBuf> = changed
            .iter()
            .filter(|(_, _, exists)| *exists)
            .map(|(rel, _, _)| (*rel).clone())
            .collect();
        if !foreign.is_empty() {
            return Err(WriteError::Foreign {
                dir: out.to_path_buf(),
                files: foreign,
            });
        }
    }

    // Stage every changed file completely before replacing anything.
    let staging = Staging::new(out)?;
    for (rel, content, _) in &changed {
        staging.write(rel, content)?;
    }
    // The manifest goes last: until it is replaced, it still lists every file of the old build.
    changed.sort_by_key(|(rel, _, _)| rel.as_os_str() == MANIFEST_FILE);
    for (rel, _, _) in &changed {
        let target = out.join(rel);
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        }
        fs::rename(staging.dir.join(rel), &target).map_err(io_err("replace", &target))?;
        report.written.push((*rel).clone());
    }

    for rel in previous.unwrap_or_default() {
        if krate.files.contains_key(&rel) || !is_plain_relative(&rel) {
            continue;
        }
        let path = out.join(&rel);
        match fs::remove_file(&path) {
            Ok(()) => report.removed.push(rel),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("remove", &path)(e)),
        }
    }
    Ok(report)
}

/// Only paths inside the output directory are ever removed, whatever a manifest says.
fn is_plain_relative(p: &Path) -> bool {
    p.components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
}

fn parent_dir(out: &Path) -> PathBuf {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A scratch directory beside the output directory (same file system, so renames are atomic),
/// removed when dropped.
struct Staging {
    dir: PathBuf,
}

impl Staging {
    fn new(out: &Path) -> Result<Staging, WriteError> {
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "gateway".into());
        // Unique per process and per call, so concurrent builds never share a staging directory.
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = parent_dir(out).join(format!(".{name}.apexc-tmp-{}-{n}", std::process::id()));
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(io_err("remove stale staging directory", &dir))?;
        }
        fs::create_dir(&dir).map_err(io_err("create staging directory", &dir))?;
        Ok(Staging { dir })
    }

    fn write(&self, rel: &Path, content: &str) -> Result<(), WriteError> {
        let path = self.dir.join(rel);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        }
        fs::write(&path, content).map_err(io_err("write", &path))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `p` made absolute and, when it exists, free of `..` and symlinks.
pub fn absolute(p: &Path) -> PathBuf {
    if let Ok(canonical) = fs::canonicalize(p) {
        return canonical;
    }
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}
