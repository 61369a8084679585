//! The response cache of `GET /api/v1/entities/{tag}/scorecards`.
//!
//! Stored results change only when a run is written, so a rendered answer stays valid until
//! then, not for a fixed time: entries carry the [`Validity`] they were rendered at, the
//! runner's generation (this process's runs) and the store's newest run id (other replicas'
//! runs, read at most every [`MARK_REFRESH`] and trusted for at most [`MARK_TRUSTED`]). The only
//! time-dependent field, `stale_secs`, is written into the cached bytes when they are served.
//! Bounded by bytes ([`BUDGET_BYTES`]), in shards so that the two worker threads do not contend
//! on one lock.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use chrono::{DateTime, Utc};

use crate::jobs::Runner;

/// The store's newest run id is read again when older than this.
pub(super) const MARK_REFRESH: Duration = Duration::from_secs(1);

/// A newest run id older than this is not trusted (README: a run written by another replica
/// shows within 10 s): the cache is bypassed until it is read again.
pub(super) const MARK_TRUSTED: Duration = Duration::from_secs(10);

/// Bytes of rendered answers kept, over all shards.
const BUDGET_BYTES: usize = 64 * 1024 * 1024;

const SHARDS: usize = 16;

/// Counted per entry besides its bytes (key, map slot, `Arc`).
const ENTRY_OVERHEAD: usize = 128;

/// What a cached answer was rendered at; it is served only while both still hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Validity {
    /// [`Runner::generation`]: runs this process wrote.
    pub generation: u64,
    /// The store's newest run id, `None` when not known recently enough (nothing is cached).
    pub mark: Option<i64>,
}

/// One entity's rendered answer, split where `stale_secs` goes.
#[derive(Debug, Default)]
pub(super) struct Rendered {
    /// Bytes before each `stale_secs` value, with the time the value is counted from.
    chunks: Vec<(Vec<u8>, DateTime<Utc>)>,
    /// Bytes after the last value.
    end: Vec<u8>,
    /// The last body served and its `stale_secs` values: served again while they still hold
    /// (the values change once a second), instead of copying the answer for every request.
    served: Mutex<Option<(Vec<i64>, Bytes)>>,
}

impl Rendered {
    /// Appends bytes of the answer.
    pub fn push(&mut self, bytes: &[u8]) {
        self.end.extend_from_slice(bytes);
    }

    /// Ends the bytes so far where the seconds since `as_of` are written when served.
    pub fn stale_secs_since(&mut self, as_of: DateTime<Utc>) {
        self.chunks.push((std::mem::take(&mut self.end), as_of));
    }

    /// The answer as of `now`.
    pub fn body(&self, now: DateTime<Utc>) -> Bytes {
        let stale = |as_of: &DateTime<Utc>| (now - *as_of).num_seconds().max(0);
        // Another request writing it: build this one alone rather than wait.
        let mut served = self.served.try_lock().ok();
        if let Some(Some((secs, body))) = served.as_deref()
            && secs
                .iter()
                .zip(&self.chunks)
                .all(|(s, (_, at))| *s == stale(at))
        {
            return body.clone();
        }
        let mut out = Vec::with_capacity(self.len() + 12 * self.chunks.len());
        let mut secs = Vec::with_capacity(self.chunks.len());
        for (bytes, as_of) in &self.chunks {
            out.extend_from_slice(bytes);
            secs.push(stale(as_of));
            // Writing to a Vec does not fail.
            let _ = write!(out, "{}", secs[secs.len() - 1]);
        }
        out.extend_from_slice(&self.end);
        let body = Bytes::from(out);
        if let Some(served) = served.as_deref_mut() {
            *served = Some((secs, body.clone()));
        }
        body
    }

    fn len(&self) -> usize {
        self.chunks.iter().map(|(b, _)| b.len()).sum::<usize>() + self.end.len()
    }
}

struct Entry {
    valid: Validity,
    rendered: Arc<Rendered>,
    weight: usize,
}

#[derive(Default)]
struct Shard {
    entries: HashMap<String, Entry>,
    bytes: usize,
}

/// Rendered entity answers by the tag they were asked for.
pub(super) struct EntityCache {
    shards: Box<[RwLock<Shard>]>,
    hasher: std::collections::hash_map::RandomState,
    mark: StoreMark,
}

impl Default for EntityCache {
    fn default() -> EntityCache {
        EntityCache {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            hasher: Default::default(),
            mark: StoreMark::new(),
        }
    }
}

impl EntityCache {
    /// What an answer rendered now is valid at. Reads the store's newest run id when it is older
    /// than [`MARK_REFRESH`] (one request at a time; the others go on with the one they have).
    pub async fn validity(&self, runner: &Runner) -> Validity {
        // The generation before the store is read: a run written meanwhile makes the answer stale.
        let generation = runner.generation();
        let now = Instant::now();
        if let Some(claim) = self.mark.claim_refresh(now) {
            let newest = runner.store().runs(None, 1).await;
            let newest = newest.map(|runs| runs.first().map_or(0, |r| r.id));
            if let Err(e) = &newest {
                tracing::debug!(error = %e, "could not read the newest run id");
            }
            claim.set(newest.ok(), now);
        }
        Validity {
            generation,
            mark: self.mark.get(Instant::now()),
        }
    }

    /// The answer cached for `tag`, if it was rendered at `valid`.
    pub fn get(&self, tag: &str, valid: Validity) -> Option<Arc<Rendered>> {
        valid.mark?;
        let shard = self.shard(tag).read().unwrap_or_else(|p| p.into_inner());
        let entry = shard.entries.get(tag)?;
        (entry.valid == valid).then(|| entry.rendered.clone())
    }

    /// Caches `rendered` for `tag`, rendered at `valid` (nothing when the mark is unknown).
    pub fn insert(&self, tag: String, valid: Validity, rendered: Arc<Rendered>) {
        if valid.mark.is_none() {
            return;
        }
        let weight = rendered.len() + tag.len() + ENTRY_OVERHEAD;
        let budget = BUDGET_BYTES / SHARDS;
        if weight > budget {
            return;
        }
        let mut shard = self.shard(&tag).write().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = shard.entries.remove(&tag) {
            shard.bytes -= old.weight;
        }
        // Over budget: drop entries, stale ones first (any, then: the map has no order).
        if shard.bytes + weight > budget {
            shard.entries.retain(|_, e| e.valid == valid);
            shard.bytes = shard.entries.values().map(|e| e.weight).sum();
        }
        while shard.bytes + weight > budget {
            let Some(key) = shard.entries.keys().next().cloned() else {
                break;
            };
            if let Some(old) = shard.entries.remove(&key) {
                shard.bytes -= old.weight;
            }
        }
        shard.bytes += weight;
        shard.entries.insert(
            tag,
            Entry {
                valid,
                rendered,
                weight,
            },
        );
    }

    fn shard(&self, tag: &str) -> &RwLock<Shard> {
        &self.shards[self.hasher.hash_one(tag) as usize % SHARDS]
    }
}

/// The store's newest run id and when it was read.
struct StoreMark {
    /// The id; `NONE` when unknown.
    id: AtomicI64,
    /// When it was read, in milliseconds after `base` plus one (0: never).
    read_at_ms: AtomicU64,
    refreshing: AtomicBool,
    base: Instant,
}

const NONE: i64 = i64::MIN;

impl StoreMark {
    fn new() -> StoreMark {
        StoreMark {
            id: AtomicI64::new(NONE),
            read_at_ms: AtomicU64::new(0),
            refreshing: AtomicBool::new(false),
            base: Instant::now(),
        }
    }

    /// Milliseconds after `base`, plus one (0 means never).
    fn ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.base).as_millis() as u64 + 1
    }

    fn age(&self, now: Instant) -> Option<Duration> {
        let read = self.read_at_ms.load(Ordering::Acquire);
        (read != 0).then(|| Duration::from_millis(self.ms(now).saturating_sub(read)))
    }

    /// The claim to read the id now, when it is old and no one else is reading it.
    fn claim_refresh(&self, now: Instant) -> Option<Claim<'_>> {
        let old = self.age(now).is_none_or(|age| age >= MARK_REFRESH);
        let claimed = old
            && self
                .refreshing
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok();
        claimed.then_some(Claim(self))
    }

    /// The id, if it was read within [`MARK_TRUSTED`] of `now`.
    fn get(&self, now: Instant) -> Option<i64> {
        let id = self.id.load(Ordering::Acquire);
        let fresh = self.age(now).is_some_and(|age| age < MARK_TRUSTED);
        (fresh && id != NONE).then_some(id)
    }
}

/// The right to read the store's newest run id; given up when dropped (also when the request
/// reading it is dropped midway).
struct Claim<'a>(&'a StoreMark);

impl Claim<'_> {
    /// Records the id read at `read_at` (`None`: it could not be read).
    fn set(self, id: Option<i64>, read_at: Instant) {
        let mark = self.0;
        mark.id.store(id.unwrap_or(NONE), Ordering::Release);
        mark.read_at_ms.store(mark.ms(read_at), Ordering::Release);
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.0.refreshing.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(text: &str) -> Arc<Rendered> {
        let mut r = Rendered::default();
        r.push(text.as_bytes());
        Arc::new(r)
    }

    fn body(r: &Rendered) -> String {
        String::from_utf8(r.body(Utc::now()).to_vec()).unwrap()
    }

    #[test]
    fn stale_secs_are_counted_when_served() {
        let as_of = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut r = Rendered::default();
        r.push(b"[{\"stale_secs\":");
        r.stale_secs_since(as_of);
        r.push(b"},{\"stale_secs\":");
        r.stale_secs_since(as_of + chrono::Duration::seconds(100));
        r.push(b"}]");
        let now = as_of + chrono::Duration::seconds(90);
        assert_eq!(
            r.body(now),
            Bytes::from_static(b"[{\"stale_secs\":90},{\"stale_secs\":0}]")
        );
        let later = now + chrono::Duration::milliseconds(500);
        assert_eq!(r.body(later), r.body(now), "the same second: the same body");
        let later = now + chrono::Duration::seconds(11);
        assert_eq!(
            r.body(later),
            Bytes::from_static(b"[{\"stale_secs\":101},{\"stale_secs\":1}]")
        );
    }

    #[test]
    fn answers_serve_until_a_run_is_written_here_or_in_the_store() {
        let cache = EntityCache::default();
        let at = Validity {
            generation: 3,
            mark: Some(7),
        };
        cache.insert("api".into(), at, rendered("old"));
        assert_eq!(body(&cache.get("api", at).unwrap()), "old");
        assert!(cache.get("web", at).is_none());
        let written_here = Validity {
            generation: 4,
            ..at
        };
        assert!(cache.get("api", written_here).is_none());
        let written_elsewhere = Validity {
            mark: Some(8),
            ..at
        };
        assert!(cache.get("api", written_elsewhere).is_none());
        let unknown = Validity { mark: None, ..at };
        assert!(cache.get("api", unknown).is_none());
        cache.insert("web".into(), unknown, rendered("never"));
        assert!(cache.get("web", at).is_none(), "not cached without a mark");
        cache.insert("api".into(), written_here, rendered("new"));
        assert_eq!(body(&cache.get("api", written_here).unwrap()), "new");
    }

    #[test]
    fn the_store_mark_is_read_again_after_a_second_and_distrusted_after_ten() {
        let mark = StoreMark::new();
        let t0 = Instant::now();
        assert_eq!(mark.get(t0), None);
        let claim = mark.claim_refresh(t0).unwrap();
        assert!(mark.claim_refresh(t0).is_none(), "one reader at a time");
        claim.set(Some(5), t0);
        assert_eq!(mark.get(t0), Some(5));
        assert!(
            mark.claim_refresh(t0 + Duration::from_millis(500))
                .is_none()
        );
        let abandoned = mark.claim_refresh(t0 + MARK_REFRESH).unwrap();
        drop(abandoned);
        let claim = mark.claim_refresh(t0 + MARK_REFRESH).unwrap();
        assert_eq!(
            mark.get(t0 + MARK_TRUSTED - Duration::from_millis(1)),
            Some(5)
        );
        assert_eq!(mark.get(t0 + MARK_TRUSTED), None);
        claim.set(None, t0 + MARK_TRUSTED);
        assert_eq!(mark.get(t0 + MARK_TRUSTED), None, "unreadable: unknown");
    }

    #[test]
    fn shards_stay_within_their_byte_budget() {
        let cache = EntityCache::default();
        let at = Validity {
            generation: 1,
            mark: Some(1),
        };
        let big = "x".repeat(BUDGET_BYTES / SHARDS / 3);
        for i in 0..200 {
            cache.insert(format!("svc-{i}"), at, rendered(&big));
        }
        for shard in cache.shards.iter() {
            let shard = shard.read().unwrap();
            assert!(shard.bytes <= BUDGET_BYTES / SHARDS);
            assert_eq!(
                shard.bytes,
                shard.entries.values().map(|e| e.weight).sum::<usize>()
            );
        }
        assert!(cache.get("svc-199", at).is_some(), "the newest is kept");
    }
}
