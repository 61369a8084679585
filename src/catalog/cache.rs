//! Re-syncing a catalog without re-parsing unchanged files: results are kept per file, keyed by
//! the SHA-256 of the file's bytes.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::Catalog;
use super::confine;
use super::load::{self, FileJob, FileResult};
use super::sources::{CatalogSources, fetch_backstage};
use crate::config::CodecovAccount;
use crate::diag::Diagnostic;

/// What the last load through a [`CatalogCache`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReloadStats {
    /// Descriptor files seen.
    pub files: usize,
    /// Files parsed (new or changed).
    pub parsed: usize,
    /// Files whose bytes were unchanged, so their previous result was reused.
    pub reused: usize,
}

/// A file's content hash and its result (shared, so keeping it costs no copy).
type Entry = ([u8; 32], Arc<FileResult>);

/// Keeps each file's parsed result, so that loading the same folder again parses
/// only the files whose content changed (and forgets files that were deleted).
///
/// ```no_run
/// # use rubric::catalog::CatalogCache;
/// let mut cache = CatalogCache::new(Vec::new());
/// let first = cache.load(std::path::Path::new("entities"));
/// let again = cache.load(std::path::Path::new("entities")); // nothing re-parsed
/// assert_eq!(cache.stats().parsed, 0);
/// ```
#[derive(Debug, Default)]
pub struct CatalogCache {
    accounts: Vec<CodecovAccount>,
    files: HashMap<PathBuf, Entry>,
    stats: ReloadStats,
}

impl CatalogCache {
    /// An empty cache whose loads map with these `[[codecov.accounts]]`.
    pub fn new(accounts: Vec<CodecovAccount>) -> Self {
        CatalogCache {
            accounts,
            files: HashMap::new(),
            stats: ReloadStats::default(),
        }
    }

    /// What the last load did.
    pub fn stats(&self) -> ReloadStats {
        self.stats
    }

    /// The `[[codecov.accounts]]` the mapping of its loads records.
    pub fn accounts(&self) -> &[CodecovAccount] {
        &self.accounts
    }

    /// Reads `dir` as [`Catalog::read_dir`] does, re-parsing only changed files (the mapping
    /// stage's [`CatalogCache::load`] maps the result).
    pub fn read(&mut self, dir: &Path) -> Catalog {
        let files = std::mem::take(&mut self.files);
        let (files, results, diagnostics, stats) = load_cached(files, dir, &[]);
        self.files = files;
        self.stats = stats;
        load::assemble(results, diagnostics)
    }

    /// Reads every source as [`Catalog::read_sources`] does (the Backstage catalog is fetched
    /// again; files are re-parsed only when changed).
    pub async fn read_sources(&mut self, sources: &CatalogSources) -> Catalog {
        let files = std::mem::take(&mut self.files);
        let dir = sources.dir.clone();
        let allowed = sources.allowed_roots.clone();
        let task = tokio::task::spawn_blocking(move || match dir {
            Some(dir) => load_cached(files, &dir, &allowed),
            None => (
                HashMap::new(),
                Vec::new(),
                Vec::new(),
                ReloadStats::default(),
            ),
        });
        let http = async {
            match &sources.backstage {
                Some(b) => fetch_backstage(b).await,
                None => Vec::new(),
            }
        };
        let (task, http) = tokio::join!(task, http);
        let (files, mut results, diagnostics, stats) = task.unwrap_or_else(|e| {
            let d = Diagnostic::error(format!("loading the catalog files failed: {e}"));
            (HashMap::new(), Vec::new(), vec![d], ReloadStats::default())
        });
        self.files = files;
        self.stats = stats;
        results.extend(http);
        load::assemble(results, diagnostics)
    }
}

type Loaded = (
    HashMap<PathBuf, Entry>,
    Vec<FileResult>,
    Vec<Diagnostic>,
    ReloadStats,
);

fn load_cached(old: HashMap<PathBuf, Entry>, dir: &Path, allowed: &[PathBuf]) -> Loaded {
    let fresh: Mutex<Vec<(PathBuf, Entry)>> = Mutex::new(Vec::new());
    let parsed = AtomicUsize::new(0);
    let reused = AtomicUsize::new(0);
    let read = |job: &FileJob| -> FileResult {
        let bytes = match confine::read_capped(&job.real) {
            Ok(b) => b,
            Err(e) => return load::unreadable(job, &e),
        };
        let hash: [u8; 32] = Sha256::digest(&bytes).into();
        if let Some((h, result)) = old.get(&job.path)
            && *h == hash
        {
            reused.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut f) = fresh.lock() {
                f.push((job.path.clone(), (hash, Arc::clone(result))));
            }
            return FileResult::clone(result);
        }
        parsed.fetch_add(1, Ordering::Relaxed);
        let result = Arc::new(load::read_bytes(&bytes, job));
        if let Ok(mut f) = fresh.lock() {
            f.push((job.path.clone(), (hash, Arc::clone(&result))));
        }
        Arc::unwrap_or_clone(result)
    };
    let (results, diagnostics) = load::load_files_with(dir, allowed, read);
    let entries = fresh.into_inner().unwrap_or_default();
    let mut seen = HashSet::new();
    let files: HashMap<PathBuf, Entry> = entries
        .into_iter()
        .filter(|(p, _)| seen.insert(p.clone()))
        .collect();
    let stats = ReloadStats {
        files: files.len(),
        parsed: parsed.into_inner(),
        reused: reused.into_inner(),
    };
    (files, results, diagnostics, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "openapi: 3.0.1\ninfo:\n  x-cortex-tag: a\n  x-cortex-git:\n    github:\n      repository: acme/a\n";
    const B: &str = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: b\n";

    #[test]
    fn unchanged_files_are_not_parsed_again() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), A).unwrap();
        std::fs::write(dir.path().join("b.yaml"), B).unwrap();
        let mut cache = CatalogCache::new(Vec::new());

        let c = cache.load(dir.path());
        assert_eq!(c.entities.len(), 2);
        assert_eq!(
            cache.stats(),
            ReloadStats {
                files: 2,
                parsed: 2,
                reused: 0
            }
        );

        let again = cache.load(dir.path());
        assert_eq!(
            cache.stats(),
            ReloadStats {
                files: 2,
                parsed: 0,
                reused: 2
            }
        );
        assert_eq!(again.entities, c.entities);

        // Same length, different content: the hash notices.
        std::fs::write(dir.path().join("b.yaml"), B.replace("name: b", "name: c")).unwrap();
        let changed = cache.load(dir.path());
        assert_eq!(
            cache.stats(),
            ReloadStats {
                files: 2,
                parsed: 1,
                reused: 1
            }
        );
        assert!(changed.get("c").is_some() && changed.get("b").is_none());

        // A deleted file is forgotten; a new one is parsed.
        std::fs::remove_file(dir.path().join("a.yaml")).unwrap();
        std::fs::write(dir.path().join("d.yml"), A.replace("tag: a", "tag: d")).unwrap();
        let c = cache.load(dir.path());
        assert_eq!(
            cache.stats(),
            ReloadStats {
                files: 2,
                parsed: 1,
                reused: 1
            }
        );
        let mut tags: Vec<&str> = c.entities.iter().map(|e| e.tag.as_str()).collect();
        tags.sort_unstable();
        assert_eq!(tags, ["c", "d"]);
    }

    #[test]
    fn errors_of_unchanged_files_are_reported_again() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.yaml"), "a: [1\n").unwrap();
        let mut cache = CatalogCache::new(Vec::new());
        assert_eq!(cache.load(dir.path()).diagnostics.len(), 1);
        assert_eq!(cache.load(dir.path()).diagnostics.len(), 1);
        assert_eq!(cache.stats().reused, 1);
    }
}
