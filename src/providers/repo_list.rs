//! Codecov owners' repository lists (`GET /api/v2/{service}/{owner}/repos/`): one paged read
//! that carries every repository's `totals` and default `branch`, in place of one repository
//! request per entity when a fetch needs many repositories of one owner.
//!
//! The list serves the same serializer as the repository detail (`RepoSerializer`, totals of
//! the newest complete default-branch commit at least an hour old, `null` without one), so an
//! item of the list is the detail's answer. What the list lacks (a repository not in it, a list
//! that failed or was cut short by the page bound) is asked for alone, as before.
//!
//! Which owners are read this way is decided per fetch ([`RepoLists::plan`]): an owner of whose
//! repositories a fetch needs at least `repository_list_min` is read from its list for the
//! cache TTL that follows. Concurrent lookups of one owner share one read (moka coalesces them),
//! and the read list is kept for the same TTL as any answer (a failed one, briefly).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use serde_json::Value as Json;

use super::http::FetchError;

/// Pages of one owner's list read at most: 100 pages of 500 (the default page size) are
/// 50,000 repositories, more than the largest organisations have; a server that pages forever
/// is cut there, and the repositories past the bound are asked for alone.
pub const MAX_LIST_PAGES: u32 = 100;

/// One owner's repositories as its list gave them.
#[derive(Debug, Default)]
pub struct OwnerList {
    /// Each repository's `{name, branch, totals}`, by lower-case name (Codecov's names are
    /// case-insensitive).
    repos: HashMap<String, Arc<Json>>,
    /// Why the list could not be read whole, if it could not.
    pub failure: Option<String>,
}

impl OwnerList {
    /// Reads the list page by page (`page(n)` fetches page `n`, from 1) until a page says there
    /// is no `next`, a page is empty, a page fails or [`MAX_LIST_PAGES`] were read. A failed or
    /// malformed page keeps what the earlier pages gave and records why.
    pub async fn read<F, Fut>(page: F) -> OwnerList
    where
        F: Fn(u32) -> Fut,
        Fut: Future<Output = Result<Json, FetchError>>,
    {
        let mut list = OwnerList::default();
        for n in 1..=MAX_LIST_PAGES {
            let mut body = match page(n).await {
                Ok(body) => body,
                Err(e) => {
                    list.failure = Some(e.to_string());
                    return list;
                }
            };
            let Some(Json::Array(results)) = body.get_mut("results").map(Json::take) else {
                list.failure = Some(format!("page {n} of the list has no `results` list"));
                return list;
            };
            if results.is_empty() {
                return list;
            }
            list.add(results);
            if body.get("next").is_none_or(Json::is_null) {
                return list;
            }
        }
        list.failure = Some(format!(
            "the list has more than {MAX_LIST_PAGES} pages; the rest was not read"
        ));
        list
    }

    /// Indexes the items that are repositories with a `totals` field (even `null`: "no
    /// coverage", as the detail would say); anything else is left to the per-repository read.
    fn add(&mut self, results: Vec<Json>) {
        for item in results {
            let Json::Object(mut item) = item else {
                continue;
            };
            let (Some(Json::String(name)), Some(totals)) =
                (item.remove("name"), item.remove("totals"))
            else {
                continue;
            };
            let mut kept = serde_json::Map::new();
            if let Some(branch) = item.remove("branch") {
                kept.insert("branch".into(), branch);
            }
            kept.insert("totals".into(), totals);
            kept.insert("name".into(), Json::String(name.clone()));
            self.repos
                .entry(name.to_lowercase())
                .or_insert_with(|| Arc::new(Json::Object(kept)));
        }
    }

    /// The repository named `name` (any case), if the list has it.
    pub fn get(&self, name: &str) -> Option<Arc<Json>> {
        self.repos.get(&name.to_lowercase()).cloned()
    }

    /// Repositories listed.
    pub fn len(&self) -> usize {
        self.repos.len()
    }

    /// Whether nothing was listed.
    pub fn is_empty(&self) -> bool {
        self.repos.is_empty()
    }
}

struct ListExpiry {
    ok: Duration,
    failed: Duration,
}

impl Expiry<String, Arc<OwnerList>> for ListExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        list: &Arc<OwnerList>,
        _at: Instant,
    ) -> Option<Duration> {
        // A list that gave nothing is retried soon; a partial one is kept (what it lacks is
        // asked for alone anyway).
        Some(if list.is_empty() && list.failure.is_some() {
            self.failed
        } else {
            self.ok
        })
    }
}

/// The owners read from their lists, and the lists read.
pub struct RepoLists {
    min: usize,
    ttl: Duration,
    /// Owner key → until when its repositories are read from its list.
    listed: Mutex<HashMap<String, Instant>>,
    lists: Cache<String, Arc<OwnerList>>,
}

impl std::fmt::Debug for RepoLists {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoLists")
            .field("min", &self.min)
            .field("lists", &self.lists.entry_count())
            .finish()
    }
}

/// Owners remembered at most (each catalog has far fewer; bounds a hostile one).
const MAX_OWNERS: usize = 100_000;

impl RepoLists {
    /// Lists read for owners a fetch needs at least `min` repositories of (0: never), kept
    /// `ttl`, or `failed_ttl` when the read gave nothing.
    pub fn new(min: usize, ttl: Duration, failed_ttl: Duration) -> RepoLists {
        let cap = Duration::from_secs(365 * 86_400);
        RepoLists {
            min,
            ttl: ttl.min(cap),
            listed: Mutex::new(HashMap::new()),
            lists: Cache::builder()
                .max_capacity(10_000)
                .expire_after(ListExpiry {
                    ok: ttl.min(cap),
                    failed: failed_ttl.min(cap),
                })
                .build(),
        }
    }

    /// Whether lists are read at all.
    pub fn enabled(&self) -> bool {
        self.min > 0
    }

    /// Takes note of the `(owner key, repository name)` pairs a fetch needs: owners with at
    /// least `min` distinct repositories among them are read from their lists from now on,
    /// for the TTL.
    pub fn plan<'a>(&self, needed: impl Iterator<Item = (String, &'a str)>) {
        if !self.enabled() {
            return;
        }
        let mut per_owner: HashMap<String, HashSet<String>> = HashMap::new();
        for (owner, name) in needed {
            per_owner
                .entry(owner)
                .or_default()
                .insert(name.to_lowercase());
        }
        let now = Instant::now();
        let until = now + self.ttl;
        let mut listed = self.listed.lock().unwrap_or_else(|p| p.into_inner());
        listed.retain(|_, t| *t > now);
        for (owner, names) in per_owner {
            if names.len() >= self.min && listed.len() < MAX_OWNERS {
                listed.insert(owner, until);
            }
        }
    }

    /// Whether `owner`'s repositories are read from its list now.
    pub fn is_listed(&self, owner: &str) -> bool {
        let listed = self.listed.lock().unwrap_or_else(|p| p.into_inner());
        listed.get(owner).is_some_and(|t| *t > Instant::now())
    }

    /// `owner`'s list: cached, or read by `read` (once, however many ask at once).
    pub async fn list(&self, owner: &str, read: impl Future<Output = OwnerList>) -> Arc<OwnerList> {
        self.lists
            .get_with(owner.to_string(), async { Arc::new(read.await) })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn page(names: &[&str], next: bool) -> Json {
        let results: Vec<Json> = names
            .iter()
            .map(|n| json!({"name": n, "branch": "main", "private": true, "totals": {"coverage": 50.0}}))
            .collect();
        json!({"count": 99, "next": if next { json!("http://x/?page=2") } else { Json::Null },
               "previous": null, "results": results, "total_pages": 9})
    }

    #[tokio::test]
    async fn pages_are_read_until_next_is_null_and_items_are_found_in_any_case() {
        let calls = AtomicU32::new(0);
        let list = OwnerList::read(|n| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move {
                Ok(match n {
                    1 => page(&["Api", "web"], true),
                    _ => page(&["ledger"], false),
                })
            }
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(list.len(), 3);
        assert_eq!(list.failure, None);
        let api = list.get("API").unwrap();
        assert_eq!(
            *api,
            json!({"name": "Api", "branch": "main", "totals": {"coverage": 50.0}})
        );
        assert!(list.get("missing").is_none());
    }

    #[tokio::test]
    async fn a_list_that_pages_forever_is_cut_at_the_bound() {
        let calls = AtomicU32::new(0);
        let list = OwnerList::read(|n| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move { Ok(page(&[&format!("r{n}")], true)) }
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), MAX_LIST_PAGES);
        assert_eq!(list.len(), MAX_LIST_PAGES as usize);
        assert!(list.failure.unwrap().contains("more than 100 pages"));
    }

    #[tokio::test]
    async fn malformed_pages_and_items_keep_what_was_read() {
        let list = OwnerList::read(|n| async move {
            Ok(match n {
                1 => json!({"next": "more", "results": [
                    {"name": "ok", "totals": null},
                    {"name": 7, "totals": {}},
                    {"name": "no-totals"},
                    "not an object",
                ]}),
                _ => json!({"results": "nope"}),
            })
        })
        .await;
        assert_eq!(list.len(), 1);
        assert_eq!(list.get("ok").unwrap()["totals"], Json::Null);
        assert_eq!(
            list.failure.as_deref(),
            Some("page 2 of the list has no `results` list")
        );
    }

    #[test]
    fn owners_are_listed_from_the_threshold_on() {
        let lists = RepoLists::new(3, Duration::from_secs(60), Duration::from_secs(1));
        let needed = |owner: &str, names: &[&'static str]| {
            names
                .iter()
                .map(|n| (owner.to_string(), *n))
                .collect::<Vec<_>>()
        };
        // Two entities of one repository count once.
        lists.plan(needed("a", &["x", "X", "y"]).into_iter());
        assert!(!lists.is_listed("a"));
        lists.plan(needed("a", &["x", "y", "z"]).into_iter());
        assert!(lists.is_listed("a"));
        assert!(!lists.is_listed("b"));
        let off = RepoLists::new(0, Duration::from_secs(60), Duration::from_secs(1));
        off.plan(needed("a", &["x", "y", "z"]).into_iter());
        assert!(!off.is_listed("a"));
    }
}
