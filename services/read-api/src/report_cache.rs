//! Computed reports kept for a short time, one computation per key at a
//! time: a dashboard refresh storm (or a thousand live clients) costs one
//! read of the stores per report and period, not one per request. Once a
//! report is older than the TTL, the first request to see that recomputes
//! it while every other request is answered with the previous body, so
//! only that one request waits (stale by at most one computation).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::OnceCell;

struct Slot {
    created: Instant,
    body: OnceCell<Value>,
    /// A request is recomputing this expired body.
    refreshing: AtomicBool,
}

impl Slot {
    fn new(created: Instant, body: Option<Value>) -> Arc<Self> {
        Arc::new(Slot {
            created,
            body: OnceCell::new_with(body),
            refreshing: AtomicBool::new(false),
        })
    }
}

/// What a lookup found for a key.
enum Found {
    /// Fresh, or being computed for the first time: wait on it.
    Current(Arc<Slot>),
    /// Expired while another request recomputes it: the previous body.
    Stale(Value),
    /// Expired: this request recomputes it.
    Refresh(Arc<Slot>),
}

pub struct ReportCache {
    ttl: Duration,
    max_entries: usize,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

impl ReportCache {
    /// `ttl` zero: every request computes.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        ReportCache {
            ttl,
            max_entries,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The report under `key`: the kept one while younger than the TTL,
    /// else computed once for every request waiting on it (or, while one
    /// request recomputes an expired one, the previous body). A failed
    /// computation is not kept (the next request tries again).
    pub async fn get_or_compute<E, F, Fut>(&self, key: String, compute: F) -> Result<Value, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Value, E>>,
    {
        if self.ttl.is_zero() {
            return compute().await;
        }
        match self.find(&key, Instant::now()) {
            Found::Current(slot) => slot.body.get_or_try_init(compute).await.cloned(),
            Found::Stale(body) => Ok(body),
            Found::Refresh(old) => match compute().await {
                Ok(body) => {
                    self.store(key, Slot::new(Instant::now(), Some(body.clone())));
                    Ok(body)
                }
                Err(e) => {
                    old.refreshing.store(false, Ordering::SeqCst);
                    Err(e)
                }
            },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Slot>>> {
        // A poisoned lock only means another request panicked while holding
        // it; the map itself is always whole.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn find(&self, key: &str, now: Instant) -> Found {
        let mut slots = self.lock();
        if let Some(slot) = slots.get(key) {
            if now.duration_since(slot.created) < self.ttl {
                return Found::Current(slot.clone());
            }
            if let Some(body) = slot.body.get() {
                if slot.refreshing.swap(true, Ordering::SeqCst) {
                    return Found::Stale(body.clone());
                }
                return Found::Refresh(slot.clone());
            }
        }
        let slot = Slot::new(now, None);
        self.insert(&mut slots, key.to_string(), slot.clone(), now);
        Found::Current(slot)
    }

    fn store(&self, key: String, slot: Arc<Slot>) {
        let now = Instant::now();
        self.insert(&mut self.lock(), key, slot, now);
    }

    /// Inserts within the bound: expired entries go first; when every
    /// entry is fresh and the map is full, the report is served uncached.
    fn insert(
        &self,
        slots: &mut HashMap<String, Arc<Slot>>,
        key: String,
        slot: Arc<Slot>,
        now: Instant,
    ) {
        if slots.len() >= self.max_entries && !slots.contains_key(&key) {
            slots.retain(|_, s| now.duration_since(s.created) < self.ttl);
        }
        if slots.len() < self.max_entries || slots.contains_key(&key) {
            slots.insert(key, slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn concurrent_requests_share_one_computation() {
        let cache = Arc::new(ReportCache::new(Duration::from_secs(60), 10));
        let runs = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (cache, runs) = (cache.clone(), runs.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_compute("k".into(), || async {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        Ok::<_, ()>(Value::from(7))
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.ok(), Some(Ok(Value::from(7))));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn failures_are_not_kept_and_a_zero_ttl_always_computes() {
        let cache = ReportCache::new(Duration::from_secs(60), 10);
        let failed: Result<Value, &str> = cache
            .get_or_compute("k".into(), || async { Err("down") })
            .await;
        assert_eq!(failed, Err("down"));
        let ok: Result<Value, &str> = cache
            .get_or_compute("k".into(), || async { Ok(Value::from(1)) })
            .await;
        assert_eq!(ok, Ok(Value::from(1)));

        let uncached = ReportCache::new(Duration::ZERO, 10);
        for n in 0..3 {
            let got: Result<Value, ()> = uncached
                .get_or_compute("k".into(), || async move { Ok(Value::from(n)) })
                .await;
            assert_eq!(got, Ok(Value::from(n)));
        }
    }

    #[tokio::test]
    async fn an_expired_report_is_served_stale_while_one_request_recomputes_it() {
        let cache = ReportCache::new(Duration::from_secs(60), 10);
        let first: Result<Value, ()> = cache
            .get_or_compute("k".into(), || async { Ok(Value::from(1)) })
            .await;
        assert_eq!(first, Ok(Value::from(1)));
        // A minute later, without sleeping: the lookups are told the time.
        let later = Instant::now() + Duration::from_secs(61);
        let Found::Refresh(slot) = cache.find("k", later) else {
            panic!("the first request after expiry refreshes");
        };
        let Found::Stale(body) = cache.find("k", later) else {
            panic!("others get the previous body meanwhile");
        };
        assert_eq!(body, Value::from(1));
        // A failed refresh lets the next request try.
        slot.refreshing.store(false, Ordering::SeqCst);
        assert!(matches!(cache.find("k", later), Found::Refresh(_)));
        // A successful one replaces the body, fresh again.
        cache.store("k".into(), Slot::new(Instant::now(), Some(Value::from(2))));
        let now: Result<Value, ()> = cache
            .get_or_compute("k".into(), || async { Ok(Value::from(3)) })
            .await;
        assert_eq!(now, Ok(Value::from(2)));
    }
}
