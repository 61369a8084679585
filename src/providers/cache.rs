//! The response cache of one provider: moka with a TTL, one fetch per key however many ask at
//! once, 404s kept briefly, and the last good answer served (marked stale) when a refresh fails.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;

use super::http::{FaultKind, FetchError, Stats};

/// A cached answer: the JSON, and its age when it is a stale stand-in for a failed refresh.
#[derive(Clone, Debug)]
pub struct Cached {
    /// The JSON body.
    pub value: Arc<serde_json::Value>,
    /// Set when a refresh failed and this is the last good value: its age in seconds.
    pub stale_secs: Option<u64>,
    /// The error the stale value stands in for.
    pub stale_because: Option<Arc<FetchError>>,
}

#[derive(Clone, Debug)]
enum Entry {
    Ok(Arc<serde_json::Value>),
    NotFound(Arc<FetchError>),
}

struct EntryExpiry {
    ok: Duration,
    not_found: Duration,
}

impl Expiry<String, Entry> for EntryExpiry {
    fn expire_after_create(&self, _key: &String, value: &Entry, _at: Instant) -> Option<Duration> {
        Some(match value {
            Entry::Ok(_) => self.ok,
            Entry::NotFound(_) => self.not_found,
        })
    }
}

/// The longest TTL honoured (a year), so no configuration overflows the cache's clock.
const MAX_TTL: Duration = Duration::from_secs(365 * 86_400);

/// One provider's cache. Keys are whole requests (account, URL, body).
pub struct ResponseCache {
    fresh: Cache<String, Entry>,
    last_good: Cache<String, (Arc<serde_json::Value>, Instant)>,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("entries", &self.fresh.entry_count())
            .finish()
    }
}

impl ResponseCache {
    /// A cache keeping answers for `ttl` and 404s for `not_found_ttl`.
    pub fn new(ttl: Duration, not_found_ttl: Duration) -> Self {
        ResponseCache {
            fresh: Cache::builder()
                .max_capacity(200_000)
                .expire_after(EntryExpiry {
                    ok: ttl.min(MAX_TTL),
                    not_found: not_found_ttl.min(MAX_TTL),
                })
                .build(),
            last_good: Cache::builder().max_capacity(200_000).build(),
        }
    }

    /// The cached answer for `key`, or the answer of `fetch` (run once however many callers ask
    /// for the same key at once). On a failed fetch the last good value is served, stale.
    pub async fn get_or_fetch<F>(
        &self,
        key: &str,
        stats: &Stats,
        fetch: F,
    ) -> Result<Cached, Arc<FetchError>>
    where
        F: Future<Output = Result<serde_json::Value, FetchError>>,
    {
        stats.count_lookup();
        let last_good = &self.last_good;
        let result = self
            .fresh
            .try_get_with(key.to_string(), async {
                stats.count_fetch();
                match fetch.await {
                    Ok(v) => {
                        let v = Arc::new(v);
                        last_good
                            .insert(key.to_string(), (v.clone(), Instant::now()))
                            .await;
                        Ok(Entry::Ok(v))
                    }
                    Err(e) if e.kind == FaultKind::NotFound => Ok(Entry::NotFound(Arc::new(e))),
                    Err(e) => Err(e),
                }
            })
            .await;
        match result {
            Ok(Entry::Ok(value)) => Ok(Cached {
                value,
                stale_secs: None,
                stale_because: None,
            }),
            Ok(Entry::NotFound(e)) => Err(e),
            Err(e) => match self.last_good.get(key).await {
                Some((value, at)) => {
                    stats.count_stale();
                    Ok(Cached {
                        value,
                        stale_secs: Some(at.elapsed().as_secs()),
                        stale_because: Some(e),
                    })
                }
                None => Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn fault(kind: FaultKind) -> FetchError {
        FetchError {
            kind,
            status: None,
            message: format!("{kind:?}"),
            host: None,
        }
    }

    #[tokio::test]
    async fn concurrent_lookups_share_one_fetch() {
        let cache = ResponseCache::new(Duration::from_secs(60), Duration::from_secs(1));
        let stats = Stats::default();
        let calls = AtomicUsize::new(0);
        let (tx, rx) = tokio::sync::watch::channel(false);
        let calls = &calls;
        let lookups = (0..10).map(|_| {
            let mut rx = rx.clone();
            cache.get_or_fetch("k", &stats, async move {
                calls.fetch_add(1, Ordering::SeqCst);
                let _ = rx.wait_for(|go| *go).await;
                Ok(serde_json::json!(1))
            })
        });
        let all = futures::future::join_all(lookups);
        let release = async {
            tokio::task::yield_now().await;
            let _ = tx.send(true);
        };
        let (results, ()) = tokio::join!(all, release);
        assert!(
            results
                .iter()
                .all(|r| r.as_ref().is_ok_and(|c| *c.value == serde_json::json!(1)))
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(stats.snapshot().cache_hits, 9);
    }

    #[tokio::test]
    async fn a_failed_refresh_serves_the_last_good_value_as_stale() {
        let cache = ResponseCache::new(Duration::from_millis(50), Duration::from_secs(1));
        let stats = Stats::default();
        let first = cache
            .get_or_fetch("k", &stats, async { Ok(serde_json::json!(7)) })
            .await
            .unwrap();
        assert_eq!(first.stale_secs, None);
        // Errors are not cached: while fresh, the value stays; after the TTL the refresh fails.
        let mut served = None;
        for _ in 0..100 {
            let c = cache
                .get_or_fetch("k", &stats, async { Err(fault(FaultKind::Status)) })
                .await
                .unwrap();
            if c.stale_secs.is_some() {
                served = Some(c);
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let served = served.expect("the TTL expires within a second");
        assert_eq!(*served.value, serde_json::json!(7));
        assert_eq!(served.stale_because.unwrap().kind, FaultKind::Status);
        assert_eq!(stats.snapshot().stale_served, 1);
    }

    #[tokio::test]
    async fn not_found_is_cached_other_errors_are_not() {
        let cache = ResponseCache::new(Duration::from_secs(60), Duration::from_secs(60));
        let stats = Stats::default();
        let calls = AtomicUsize::new(0);
        for _ in 0..3 {
            let e = cache
                .get_or_fetch("404", &stats, async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(fault(FaultKind::NotFound))
                })
                .await
                .unwrap_err();
            assert_eq!(e.kind, FaultKind::NotFound);
        }
        assert_eq!(calls.swap(0, Ordering::SeqCst), 1);
        for _ in 0..3 {
            let _ = cache
                .get_or_fetch("500", &stats, async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(fault(FaultKind::Status))
                })
                .await;
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
