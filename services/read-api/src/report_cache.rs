//! Computed reports kept in memory, one computation per key at a time: a
//! dashboard refresh storm (or a thousand live clients) costs one read of
//! the stores per report and period, not one per request.
//!
//! Reports are computed from what the flush writes, so a kept report stays
//! exact until a flush changes the stores: each flush that does raises the
//! rollup generation in Redis, which a task here reads twice a second. A
//! report is recomputed when the generation moved or it is older than the
//! TTL (the bound for what no flush announces: catalogue titles, a flush
//! stopped before it could raise the generation). An outdated report is
//! recomputed in the background, once, while every request (the one that
//! found it outdated too) is answered with the previous body: only a
//! report's very first computation is waited for.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use analytics_store::hot_counters::HotCounters;
use serde_json::Value;
use tokio::sync::OnceCell;

/// How often the rollup generation is read.
const GENERATION_POLL: Duration = Duration::from_millis(500);

struct Slot {
    created: Instant,
    /// The rollup generation the body was computed at (read before).
    generation: u64,
    body: OnceCell<Value>,
    /// A request is recomputing this outdated body.
    refreshing: AtomicBool,
}

impl Slot {
    fn new(created: Instant, generation: u64, body: Option<Value>) -> Arc<Self> {
        Arc::new(Slot {
            created,
            generation,
            body: OnceCell::new_with(body),
            refreshing: AtomicBool::new(false),
        })
    }
}

/// What a lookup found for a key.
enum Found {
    /// Current, or being computed for the first time: wait on it.
    Current(Arc<Slot>),
    /// Outdated while another request recomputes it: the previous body.
    Stale(Value),
    /// Outdated: this request starts its recomputation.
    Refresh(Arc<Slot>),
}

/// Cheap to clone: clones share the kept reports.
#[derive(Clone)]
pub struct ReportCache {
    ttl: Duration,
    max_entries: usize,
    slots: Arc<Mutex<HashMap<String, Arc<Slot>>>>,
    generation: Arc<AtomicU64>,
}

impl ReportCache {
    /// `ttl` zero: every request computes.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        ReportCache {
            ttl,
            max_entries,
            slots: Arc::new(Mutex::new(HashMap::new())),
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Follows the rollup generation in Redis for as long as the runtime
    /// runs. While Redis does not answer the last one read holds (no flush
    /// can change the stores without Redis either).
    pub fn watch(&self, counters: HotCounters) {
        if self.ttl.is_zero() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no runtime: reports are kept for their TTL only");
            return;
        };
        let generation = self.generation.clone();
        runtime.spawn(async move {
            let mut every = tokio::time::interval(GENERATION_POLL);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                every.tick().await;
                match counters.rollup_generation().await {
                    Ok(g) => generation.store(g, Ordering::SeqCst),
                    Err(e) => tracing::debug!(error = %e, "rollup generation not read"),
                }
            }
        });
    }

    /// The report under `key`: the kept one while current, else computed
    /// once for every request waiting on it; an outdated one is answered at
    /// once and recomputed in the background (a failure there is logged and
    /// the next request tries again). A failed first computation is not
    /// kept either.
    pub async fn get_or_compute<E, F, Fut>(&self, key: String, compute: F) -> Result<Value, E>
    where
        E: std::fmt::Display + Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Value, E>> + Send + 'static,
    {
        if self.ttl.is_zero() {
            return compute().await;
        }
        let generation = self.generation.load(Ordering::SeqCst);
        match self.find(&key, Instant::now(), generation) {
            Found::Current(slot) => slot.body.get_or_try_init(compute).await.cloned(),
            Found::Stale(body) => Ok(body),
            Found::Refresh(old) => {
                let previous = old.body.get().cloned().unwrap_or(Value::Null);
                let cache = self.clone();
                tokio::spawn(async move {
                    match compute().await {
                        Ok(body) => {
                            cache.store(key, Slot::new(Instant::now(), generation, Some(body)))
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, report = %key, "report not recomputed; the previous one is served");
                            old.refreshing.store(false, Ordering::SeqCst);
                        }
                    }
                });
                Ok(previous)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Slot>>> {
        // A poisoned lock only means another request panicked while holding
        // it; the map itself is always whole.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_current(&self, slot: &Slot, now: Instant, generation: u64) -> bool {
        slot.generation == generation && now.duration_since(slot.created) < self.ttl
    }

    fn find(&self, key: &str, now: Instant, generation: u64) -> Found {
        let mut slots = self.lock();
        if let Some(slot) = slots.get(key) {
            if self.is_current(slot, now, generation) {
                return Found::Current(slot.clone());
            }
            if let Some(body) = slot.body.get() {
                if slot.refreshing.swap(true, Ordering::SeqCst) {
                    return Found::Stale(body.clone());
                }
                return Found::Refresh(slot.clone());
            }
        }
        let slot = Slot::new(now, generation, None);
        self.insert(&mut slots, key.to_string(), slot.clone(), now, generation);
        Found::Current(slot)
    }

    fn store(&self, key: String, slot: Arc<Slot>) {
        let now = Instant::now();
        let generation = self.generation.load(Ordering::SeqCst);
        self.insert(&mut self.lock(), key, slot, now, generation);
    }

    /// Inserts within the bound: outdated entries go first, then, if every
    /// entry is current, the oldest one (a burst of new keys must not leave
    /// a new report uncached until the burst's reports go out of date).
    fn insert(
        &self,
        slots: &mut HashMap<String, Arc<Slot>>,
        key: String,
        slot: Arc<Slot>,
        now: Instant,
        generation: u64,
    ) {
        if slots.len() >= self.max_entries && !slots.contains_key(&key) {
            slots.retain(|_, s| self.is_current(s, now, generation));
            if slots.len() >= self.max_entries {
                let oldest = slots
                    .iter()
                    .min_by_key(|(_, s)| s.created)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    slots.remove(&oldest);
                }
            }
        }
        slots.insert(key, slot);
    }

    /// Another cache of `max_entries` that follows the same generation and
    /// TTL (so a burst of one kind of key cannot push out the others).
    pub fn sibling(&self, max_entries: usize) -> Self {
        ReportCache {
            max_entries,
            slots: Arc::new(Mutex::new(HashMap::new())),
            ..self.clone()
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
                    .get_or_compute("k".into(), move || async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        Ok::<_, &str>(Value::from(7))
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
            let got: Result<Value, &str> = uncached
                .get_or_compute("k".into(), move || async move { Ok(Value::from(n)) })
                .await;
            assert_eq!(got, Ok(Value::from(n)));
        }
    }

    #[tokio::test]
    async fn an_expired_report_is_served_stale_while_one_recomputation_runs() {
        let cache = ReportCache::new(Duration::from_secs(60), 10);
        let first: Result<Value, &str> = cache
            .get_or_compute("k".into(), || async { Ok(Value::from(1)) })
            .await;
        assert_eq!(first, Ok(Value::from(1)));
        // A minute later, without sleeping: the lookups are told the time.
        let later = Instant::now() + Duration::from_secs(61);
        let Found::Refresh(slot) = cache.find("k", later, 0) else {
            panic!("the first request after expiry refreshes");
        };
        let Found::Stale(body) = cache.find("k", later, 0) else {
            panic!("others get the previous body meanwhile");
        };
        assert_eq!(body, Value::from(1));
        // A failed refresh lets the next request try.
        slot.refreshing.store(false, Ordering::SeqCst);
        assert!(matches!(cache.find("k", later, 0), Found::Refresh(_)));
        // A successful one replaces the body, fresh again.
        cache.store(
            "k".into(),
            Slot::new(Instant::now(), 0, Some(Value::from(2))),
        );
        let now: Result<Value, &str> = cache
            .get_or_compute("k".into(), || async { Ok(Value::from(3)) })
            .await;
        assert_eq!(now, Ok(Value::from(2)));
    }

    #[tokio::test]
    async fn a_new_generation_outdates_every_kept_report_which_is_recomputed_behind_the_answers() {
        let cache = ReportCache::new(Duration::from_secs(60), 10);
        for key in ["a", "b"] {
            let kept: Result<Value, &str> = cache
                .get_or_compute(key.into(), || async { Ok(Value::from(1)) })
                .await;
            assert_eq!(kept, Ok(Value::from(1)));
        }
        let now = Instant::now();
        assert!(matches!(cache.find("a", now, 0), Found::Current(_)));
        // A flush raised the generation: the next request is answered with
        // the kept body at once and starts the one recomputation (a task of
        // this single-threaded runtime: it runs once the test yields), and
        // the requests until it ends are answered without waiting for it.
        cache.generation.store(1, Ordering::SeqCst);
        let runs = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            let runs = runs.clone();
            let answer: Result<Value, &str> = cache
                .get_or_compute("a".into(), move || async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok(Value::from(2))
                })
                .await;
            assert_eq!(answer, Ok(Value::from(1)));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if matches!(cache.find("a", Instant::now(), 1), Found::Current(_)) {
                break;
            }
            assert!(Instant::now() < deadline, "never recomputed");
            tokio::task::yield_now().await;
        }
        let fresh: Result<Value, &str> = cache
            .get_or_compute("a".into(), || async { Ok(Value::from(3)) })
            .await;
        assert_eq!(fresh, Ok(Value::from(2)));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(matches!(
            cache.find("b", Instant::now(), 1),
            Found::Refresh(_)
        ));
    }

    #[tokio::test]
    async fn a_failed_recomputation_keeps_the_previous_body_and_is_tried_again() {
        let cache = ReportCache::new(Duration::from_secs(60), 10);
        let kept: Result<Value, &str> = cache
            .get_or_compute("k".into(), || async { Ok(Value::from(1)) })
            .await;
        assert_eq!(kept, Ok(Value::from(1)));
        cache.generation.store(1, Ordering::SeqCst);
        let answer: Result<Value, &str> = cache
            .get_or_compute("k".into(), || async { Err("MongoDB did not answer") })
            .await;
        assert_eq!(answer, Ok(Value::from(1)));
        let deadline = Instant::now() + Duration::from_secs(5);
        while !matches!(cache.find("k", Instant::now(), 1), Found::Refresh(_)) {
            assert!(
                Instant::now() < deadline,
                "the failed refresh was never released"
            );
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_full_cache_makes_room_for_a_new_report_by_dropping_the_oldest() {
        let cache = ReportCache::new(Duration::from_secs(60), 2);
        for (key, n) in [("a", 1), ("b", 2), ("c", 3)] {
            let kept: Result<Value, &str> = cache
                .get_or_compute(key.into(), move || async move { Ok(Value::from(n)) })
                .await;
            assert_eq!(kept, Ok(Value::from(n)));
        }
        let now = Instant::now();
        assert!(matches!(cache.find("c", now, 0), Found::Current(_)));
        assert!(matches!(cache.find("b", now, 0), Found::Current(_)));
        assert_eq!(cache.lock().len(), 2, "a was the oldest");
        // A sibling has its own room and the same generation.
        let films = cache.sibling(1);
        let kept: Result<Value, &str> = films
            .get_or_compute("film".into(), || async { Ok(Value::from(9)) })
            .await;
        assert_eq!(kept, Ok(Value::from(9)));
        cache.generation.store(1, Ordering::SeqCst);
        assert!(matches!(
            films.find("film", Instant::now(), 1),
            Found::Refresh(_)
        ));
    }
}
