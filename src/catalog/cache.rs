//! Re-syncing a catalog without re-parsing unchanged files: results are kept per file, keyed by
//! the SHA-256 of the file's bytes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::confine;
use super::load::{self, FileJob, FileResult};
use super::sources::{CatalogSources, FilesRead, gather};
use super::{Catalog, MapEntity};
use crate::config::CodecovAccount;

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

/// What a load through the cache keeps for the next one.
type Kept = (HashMap<PathBuf, Entry>, ReloadStats);

/// Keeps each file's result (its entities, mapped when loaded through the mapping stage's
/// [`CatalogCache::load`]), so that loading the same folder again parses and maps only the
/// files whose content changed (and forgets files that were deleted). An unchanged file costs
/// reading and hashing it: its entities are handed out again, shared, not copied.
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
    /// Whether the kept results are mapped (by [`CatalogCache::load`]) or only read
    /// (by [`CatalogCache::read`]); switching between the two starts afresh.
    mapped: bool,
    stats: ReloadStats,
}

impl CatalogCache {
    /// An empty cache whose loads map with these `[[codecov.accounts]]`.
    pub fn new(accounts: Vec<CodecovAccount>) -> Self {
        CatalogCache {
            accounts,
            ..CatalogCache::default()
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
        self.read_with(dir, None)
    }

    /// Reads `dir` as [`Catalog::read_dir_mapped`] does, re-parsing and re-mapping only changed
    /// files. `map` must map the same way on every call: unchanged files keep its last results.
    pub fn read_mapped(&mut self, dir: &Path, map: &MapEntity<'_>) -> Catalog {
        self.read_with(dir, Some(map))
    }

    fn read_with(&mut self, dir: &Path, map: Option<&MapEntity<'_>>) -> Catalog {
        let old = self.take_files(map.is_some());
        let (results, diagnostics, (files, stats)) = load_cached(old, dir, &[], map);
        self.files = files;
        self.stats = stats;
        load::assemble(results, diagnostics)
    }

    /// Reads every source as [`Catalog::read_sources`] does (the Backstage catalog is fetched
    /// again; files are re-parsed only when changed).
    pub async fn read_sources(&mut self, sources: &CatalogSources) -> Catalog {
        self.read_sources_with(sources, None).await
    }

    /// Reads every source as [`Catalog::read_sources_mapped`] does (the Backstage catalog is
    /// fetched and mapped again; files are re-parsed and re-mapped only when changed). `map`
    /// must map the same way on every call.
    pub async fn read_sources_mapped(
        &mut self,
        sources: &CatalogSources,
        map: Arc<MapEntity<'static>>,
    ) -> Catalog {
        self.read_sources_with(sources, Some(map)).await
    }

    async fn read_sources_with(
        &mut self,
        sources: &CatalogSources,
        map: Option<Arc<MapEntity<'static>>>,
    ) -> Catalog {
        let old = self.take_files(map.is_some());
        let for_files = map.clone();
        let files = move |dir: &Path, allowed: &[PathBuf]| {
            load_cached(old, dir, allowed, for_files.as_deref())
        };
        let (catalog, (files, stats)) = gather(sources, map.as_deref(), files).await;
        self.files = files;
        self.stats = stats;
        catalog
    }

    /// The kept results for a load that maps (or not): none when the last load did the other.
    fn take_files(&mut self, mapped: bool) -> HashMap<PathBuf, Entry> {
        if self.mapped != mapped {
            self.files.clear();
            self.mapped = mapped;
        }
        std::mem::take(&mut self.files)
    }
}

/// Reads the files of `dir`, reusing the result in `old` of each file whose bytes hash the
/// same, and parsing (and mapping, with `map`) the others.
fn load_cached(
    old: HashMap<PathBuf, Entry>,
    dir: &Path,
    allowed: &[PathBuf],
    map: Option<&MapEntity<'_>>,
) -> FilesRead<Kept> {
    let fresh: Mutex<Vec<(PathBuf, Entry)>> = Mutex::new(Vec::with_capacity(old.len()));
    let parsed = AtomicUsize::new(0);
    let reused = AtomicUsize::new(0);
    let read = |job: &FileJob| -> Arc<FileResult> {
        let bytes = match confine::read_capped(&job.real) {
            Ok(b) => b,
            Err(e) => return Arc::new(load::unreadable(job, &e)),
        };
        let hash: [u8; 32] = Sha256::digest(&bytes).into();
        let result = match old.get(&job.path) {
            Some((h, result)) if *h == hash => {
                reused.fetch_add(1, Ordering::Relaxed);
                Arc::clone(result)
            }
            _ => {
                parsed.fetch_add(1, Ordering::Relaxed);
                Arc::new(load::read_bytes(&bytes, job, map))
            }
        };
        if let Ok(mut f) = fresh.lock() {
            f.push((job.path.clone(), (hash, Arc::clone(&result))));
        }
        result
    };
    let (results, diagnostics) = load::load_files_with(dir, allowed, read);
    // A path is read once per load (Location targets already read are skipped).
    let files: HashMap<PathBuf, Entry> =
        fresh.into_inner().unwrap_or_default().into_iter().collect();
    let stats = ReloadStats {
        files: files.len(),
        parsed: parsed.into_inner(),
        reused: reused.into_inner(),
    };
    (results, diagnostics, (files, stats))
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

    /// Whether the two catalogs hold the very same (not equal copies of) entities.
    fn same_entities(a: &Catalog, b: &Catalog) -> bool {
        let (a, b) = (a.entities.shared(), b.entities.shared());
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| Arc::ptr_eq(x, y))
    }

    #[test]
    fn a_resync_of_an_unchanged_catalog_shares_its_mapped_entities() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), A).unwrap();
        std::fs::write(dir.path().join("b.yaml"), B).unwrap();
        let mut cache = CatalogCache::new(Vec::new());
        let first = cache.load(dir.path());
        assert!(first.get("a").unwrap().codecov.is_some(), "mapped");

        let again = cache.load(dir.path());
        assert_eq!(cache.stats().parsed, 0);
        assert!(same_entities(&first, &again));
        assert_eq!(
            again.mapping_sources("a"),
            first.mapping_sources("a"),
            "the mapping's sources come along"
        );

        // One file changes: only it is read again; the other's entity is still shared.
        std::fs::write(dir.path().join("a.yaml"), A.replace("acme/a", "acme/z")).unwrap();
        let changed = cache.load(dir.path());
        assert_eq!(
            cache.stats(),
            ReloadStats {
                files: 2,
                parsed: 1,
                reused: 1
            }
        );
        let shared = |c: &Catalog, tag: &str| {
            let i = c.entities.iter().position(|e| e.tag == tag).unwrap();
            Arc::clone(&c.entities.shared()[i])
        };
        assert!(Arc::ptr_eq(&shared(&again, "b"), &shared(&changed, "b")));
        assert!(!Arc::ptr_eq(&shared(&again, "a"), &shared(&changed, "a")));
        assert_eq!(
            changed.get("a").unwrap().codecov.as_ref().unwrap().repo,
            "z"
        );
    }

    #[test]
    fn mapping_errors_of_unchanged_files_are_reported_again_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let flagged = format!("{A}  x-cortex-static-analysis:\n    codecov:\n      flag: api\n");
        std::fs::write(dir.path().join("a.yaml"), flagged).unwrap();
        std::fs::write(dir.path().join("b.yaml"), B).unwrap();
        let cold = Catalog::load(dir.path());
        assert!(cold.get("a").unwrap().mapping_failed);
        let flag = cold.diagnostics.iter().find(|d| d.is_error()).unwrap();
        assert_eq!(
            (flag.line, flag.source_line.as_deref()),
            (9, Some("      flag: api"))
        );
        let mut cache = CatalogCache::new(Vec::new());
        for _ in 0..2 {
            let c = cache.load(dir.path());
            assert_eq!(c.diagnostics, cold.diagnostics);
            assert_eq!(c.entities, cold.entities);
        }
        assert_eq!(cache.stats().reused, 2);
    }

    #[test]
    fn reading_and_loading_through_one_cache_keep_apart() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), A).unwrap();
        let mut cache = CatalogCache::new(Vec::new());
        assert!(cache.read(dir.path()).get("a").unwrap().codecov.is_none());
        assert!(cache.load(dir.path()).get("a").unwrap().codecov.is_some());
        assert_eq!(cache.stats().parsed, 1, "the read results were not mapped");
        assert!(cache.read(dir.path()).get("a").unwrap().codecov.is_none());
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
