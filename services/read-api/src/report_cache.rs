//! Computed reports kept for a short time, one computation per key at a
//! time: a dashboard refresh storm (or a thousand live clients) costs one
//! read of the stores per report and period, not one per request.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::OnceCell;

struct Slot {
    created: Instant,
    body: OnceCell<Value>,
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
    /// else computed once for every request waiting on it. A failed
    /// computation is not kept (the next request tries again).
    pub async fn get_or_compute<E, F, Fut>(&self, key: String, compute: F) -> Result<Value, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Value, E>>,
    {
        if self.ttl.is_zero() {
            return compute().await;
        }
        let slot = self.slot(key, Instant::now());
        slot.body.get_or_try_init(compute).await.cloned()
    }

    fn slot(&self, key: String, now: Instant) -> Arc<Slot> {
        // A poisoned lock only means another request panicked while holding
        // it; the map itself is always whole.
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let fresh = |s: &Slot| now.duration_since(s.created) < self.ttl;
        if let Some(slot) = slots.get(&key).filter(|s| fresh(s)) {
            return slot.clone();
        }
        if slots.len() >= self.max_entries {
            slots.retain(|_, s| fresh(s));
        }
        let slot = Arc::new(Slot {
            created: now,
            body: OnceCell::new(),
        });
        if slots.len() < self.max_entries {
            slots.insert(key, slot.clone());
        }
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

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
}
