//! Computed reports kept in memory, one computation per key at a time: a
//! dashboard refresh storm (or a thousand live clients) costs one read of
//! the stores per report and period, not one per request.
//!
//! Two rules bound what an answer may be:
//! - **Never older than the TTL.** A kept body is refreshed in the
//!   background once three quarters of its TTL have passed, so a busy report
//!   is answered at once; a body past its TTL (an idle spell) is never
//!   answered: the request waits for the recomputation.
//! - **Never from before the last flush.** Each flush that changes the
//!   stores raises the rollup generation in Redis, which every request
//!   reads (one `GET`). A body computed at an older generation is
//!   recomputed, and the request waits for it for up to [`REFRESH_WAIT`];
//!   past that it gets the previous body marked as updating (the
//!   `X-Report-Updating` header), which the pages show.
//!
//! Every answer says how old it is (`Age`, from when its computation began).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::http::header::{HeaderName, HeaderValue, AGE};
use actix_web::HttpResponse;
use analytics_store::hot_counters::HotCounters;
use futures_util::future::{BoxFuture, FutureExt, Shared};
use serde_json::Value;

use crate::error::ReadApiError;

/// How long a request waits for the recomputation a flush made necessary
/// before it is answered with the previous body, marked as updating. Long
/// enough for every report measured (well under a second on the bench
/// catalogue), short enough that a slow store does not hold the page.
pub const REFRESH_WAIT: Duration = Duration::from_secs(2);
/// How long a request waits for Redis to tell the rollup generation; past
/// it the last one read holds (no flush changes the stores without Redis).
const GENERATION_WAIT: Duration = Duration::from_millis(250);
/// The header that marks a body kept from before the last flush.
pub const UPDATING: HeaderName = HeaderName::from_static("x-report-updating");

type Outcome = Result<Value, Arc<ReadApiError>>;
type Computation = Shared<BoxFuture<'static, Outcome>>;

/// A report as the cache answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cached {
    pub body: Value,
    /// Since its computation began.
    pub age: Duration,
    /// Computed before the stores last changed; its recomputation runs.
    pub updating: bool,
}

impl Cached {
    /// `Age` (whole seconds) and, on a body kept from before the last
    /// flush, `X-Report-Updating: true`.
    pub fn stamp(&self, response: &mut HttpResponse) {
        let headers = response.headers_mut();
        headers.insert(AGE, HeaderValue::from(self.age.as_secs()));
        if self.updating {
            headers.insert(UPDATING, HeaderValue::from_static("true"));
        }
    }
}

/// A body a newer computation replaces, answered meanwhile where the rules
/// allow.
#[derive(Clone)]
struct Previous {
    body: Value,
    started: Instant,
    generation: u64,
}

struct Slot {
    started: Instant,
    /// The rollup generation read before the computation began.
    generation: u64,
    computation: Computation,
    previous: Option<Previous>,
}

impl Slot {
    fn finished(&self) -> Option<&Outcome> {
        self.computation.peek()
    }
}

/// What a request does with what it found.
enum Plan {
    Answer(Cached),
    /// Wait for the computation; past `patience` answer `fallback`.
    Await {
        computation: Computation,
        started: Instant,
        fallback: Option<Previous>,
        patience: Option<Duration>,
    },
}

/// Cheap to clone: clones share the kept reports.
#[derive(Clone)]
pub struct ReportCache {
    ttl: Duration,
    max_entries: usize,
    slots: Arc<Mutex<HashMap<String, Slot>>>,
    /// Where the rollup generation is read (`None`: only the TTL applies).
    counters: Option<HotCounters>,
    refresh_wait: Duration,
    /// The last generation read.
    generation: Arc<AtomicU64>,
}

impl ReportCache {
    /// `ttl` zero: every request computes. With `counters`, a flush's new
    /// rollup generation outdates every kept body.
    pub fn new(ttl: Duration, max_entries: usize, counters: Option<HotCounters>) -> Self {
        ReportCache {
            ttl,
            max_entries,
            slots: Arc::new(Mutex::new(HashMap::new())),
            counters,
            refresh_wait: REFRESH_WAIT,
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Another cache of `max_entries` with the same TTL and generation (so a
    /// burst of one kind of key cannot push out the others).
    pub fn sibling(&self, max_entries: usize) -> Self {
        ReportCache {
            max_entries,
            slots: Arc::new(Mutex::new(HashMap::new())),
            ..self.clone()
        }
    }

    /// The report under `key` by the rules above, computed at most once at
    /// a time for every request waiting on it. A failed computation is
    /// answered to the requests that waited on it and not kept.
    pub async fn get_or_compute<F, Fut>(
        &self,
        key: String,
        compute: F,
    ) -> Result<Cached, ReadApiError>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Value, ReadApiError>> + Send + 'static,
    {
        if self.ttl.is_zero() {
            let body = compute().await?;
            return Ok(Cached {
                body,
                age: Duration::ZERO,
                updating: false,
            });
        }
        let generation = self.current_generation().await;
        self.answer(key, Instant::now(), generation, compute).await
    }

    async fn current_generation(&self) -> u64 {
        if let Some(counters) = &self.counters {
            match tokio::time::timeout(GENERATION_WAIT, counters.rollup_generation()).await {
                Ok(Ok(g)) => self.generation.store(g, Ordering::SeqCst),
                Ok(Err(e)) => tracing::debug!(error = %e, "rollup generation not read"),
                Err(_) => tracing::debug!("rollup generation not read in time"),
            }
        }
        self.generation.load(Ordering::SeqCst)
    }

    /// [`ReportCache::get_or_compute`] at `now` and `generation` (told, so
    /// tests need not wait for time to pass).
    async fn answer<F, Fut>(
        &self,
        key: String,
        now: Instant,
        generation: u64,
        compute: F,
    ) -> Result<Cached, ReadApiError>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Value, ReadApiError>> + Send + 'static,
    {
        let (computation, started, fallback, patience) =
            match self.plan(key, now, generation, compute) {
                Plan::Answer(cached) => return Ok(cached),
                Plan::Await {
                    computation,
                    started,
                    fallback,
                    patience,
                } => (computation, started, fallback, patience),
            };
        let outcome = match patience {
            Some(wait) => tokio::time::timeout(wait, computation).await.ok(),
            None => Some(computation.await),
        };
        let kept = |p: Previous| Cached {
            body: p.body,
            age: p.started.elapsed(),
            updating: true,
        };
        match (outcome, fallback) {
            (Some(Ok(body)), _) => Ok(Cached {
                body,
                age: started.elapsed(),
                updating: false,
            }),
            // The stores failed the recomputation: a body still within its
            // TTL is worth more to the page than an error.
            (Some(Err(_)), Some(previous)) if previous.started.elapsed() < self.ttl => {
                Ok(kept(previous))
            }
            (Some(Err(e)), _) => Err(ReadApiError::Shared(e)),
            (None, Some(previous)) => Ok(kept(previous)),
            (None, None) => Err(ReadApiError::ComputationLost),
        }
    }

    fn plan<F, Fut>(&self, key: String, now: Instant, generation: u64, compute: F) -> Plan
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Value, ReadApiError>> + Send + 'static,
    {
        let mut slots = self.lock();
        let previous = match slots.get(&key) {
            Some(slot) => match slot.finished() {
                Some(Ok(body)) => {
                    let age = now.saturating_duration_since(slot.started);
                    let previous = Previous {
                        body: body.clone(),
                        started: slot.started,
                        generation: slot.generation,
                    };
                    if slot.generation == generation && age < self.ttl {
                        if age < self.ttl / 4 * 3 {
                            return Plan::Answer(Cached {
                                body: previous.body,
                                age,
                                updating: false,
                            });
                        }
                        // Refreshed ahead of its TTL, answered meanwhile.
                        let cached = Cached {
                            body: previous.body.clone(),
                            age,
                            updating: false,
                        };
                        self.start(&mut slots, key, now, generation, Some(previous), compute);
                        return Plan::Answer(cached);
                    }
                    Some(previous)
                }
                // Failed: the next request tries again.
                Some(Err(_)) => slot.previous.clone(),
                // Computing at this generation: wait on it.
                None if slot.generation == generation => {
                    return self.await_plan(slot, now, generation);
                }
                // Computing from before a flush: its figures may be too.
                None => slot.previous.clone(),
            },
            None => None,
        };
        let slot = self.start(&mut slots, key, now, generation, previous, compute);
        self.await_plan(slot, now, generation)
    }

    /// How a request waits on `slot`'s computation: not at all while the
    /// body it replaces is still current (a refresh ahead of the TTL), up
    /// to [`REFRESH_WAIT`] when that body is from before the last flush,
    /// and until it ends when there is none within its TTL.
    fn await_plan(&self, slot: &Slot, now: Instant, generation: u64) -> Plan {
        let previous = slot
            .previous
            .clone()
            .filter(|p| now.saturating_duration_since(p.started) < self.ttl);
        match previous {
            Some(p) if p.generation == generation => Plan::Answer(Cached {
                age: now.saturating_duration_since(p.started),
                body: p.body,
                updating: false,
            }),
            fallback => Plan::Await {
                computation: slot.computation.clone(),
                started: slot.started,
                patience: fallback.as_ref().map(|_| self.refresh_wait),
                fallback,
            },
        }
    }

    /// Starts `compute` in a task of its own (it runs to its end whoever
    /// waits for it, and a panic in it is an error, not a lost request)
    /// and keeps it under `key`.
    fn start<'a, F, Fut>(
        &self,
        slots: &'a mut HashMap<String, Slot>,
        key: String,
        now: Instant,
        generation: u64,
        previous: Option<Previous>,
        compute: F,
    ) -> &'a Slot
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Value, ReadApiError>> + Send + 'static,
    {
        let task = tokio::spawn(compute());
        let computation = async move {
            match task.await {
                Ok(outcome) => outcome.map_err(Arc::new),
                Err(_) => Err(Arc::new(ReadApiError::ComputationLost)),
            }
        }
        .boxed()
        .shared();
        let report = key.clone();
        let driven = computation.clone();
        tokio::spawn(async move {
            if let Err(e) = driven.await {
                tracing::warn!(error = %e, report = %report, "report not computed");
            }
        });
        self.make_room(slots, &key, now, generation);
        let slot = Slot {
            started: now,
            generation,
            computation,
            previous,
        };
        slots.insert(key.clone(), slot);
        &slots[&key]
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        // A poisoned lock only means another request panicked while holding
        // it; the map itself is always whole.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps the map within its bound before `key` goes in: outdated and
    /// failed entries go first, then, if every entry is current, the oldest
    /// one (a burst of new keys must not leave a new report uncached until
    /// the burst's reports go out of date).
    fn make_room(
        &self,
        slots: &mut HashMap<String, Slot>,
        key: &str,
        now: Instant,
        generation: u64,
    ) {
        if slots.len() < self.max_entries || slots.contains_key(key) {
            return;
        }
        slots.retain(|_, s| {
            let current =
                s.generation == generation && now.saturating_duration_since(s.started) < self.ttl;
            current && !matches!(s.finished(), Some(Err(_)))
        });
        if slots.len() >= self.max_entries {
            let oldest = slots
                .iter()
                .min_by_key(|(_, s)| s.started)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                slots.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    const MINUTE: Duration = Duration::from_secs(60);

    fn cache(max_entries: usize) -> ReportCache {
        ReportCache::new(MINUTE, max_entries, None)
    }

    async fn body(cache: &ReportCache, key: &str, at: Instant, generation: u64, n: i64) -> Cached {
        let answer = cache
            .answer(key.into(), at, generation, move || async move {
                Ok(Value::from(n))
            })
            .await;
        answer.unwrap_or_else(|e| panic!("{key}: {e}"))
    }

    /// Answers until one is `want` (a background computation has to run).
    async fn until(cache: &ReportCache, at: Instant, generation: u64, want: i64) -> Cached {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let got = body(cache, "k", at, generation, -1).await;
            if got.body == want {
                return got;
            }
            assert!(Instant::now() < deadline, "never answered {want}: {got:?}");
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn concurrent_requests_share_one_computation() {
        let cache = cache(10);
        let runs = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (cache, runs) = (cache.clone(), runs.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_compute("k".into(), move || async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        Ok(Value::from(7))
                    })
                    .await
                    .ok()
                    .map(|c| c.body)
            }));
        }
        for t in tasks {
            assert_eq!(t.await.ok().flatten(), Some(Value::from(7)));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn failures_are_not_kept_and_a_zero_ttl_always_computes() {
        let cache = cache(10);
        let failed = cache
            .get_or_compute("k".into(), || async { Err(ReadApiError::NotFound("down")) })
            .await;
        assert_eq!(
            failed.err().map(|e| e.to_string()),
            Some("down".to_string())
        );
        let ok = cache
            .get_or_compute("k".into(), || async { Ok(Value::from(1)) })
            .await;
        assert_eq!(ok.ok().map(|c| c.body), Some(Value::from(1)));

        let uncached = ReportCache::new(Duration::ZERO, 10, None);
        for n in 0..3 {
            let got = uncached
                .get_or_compute("k".into(), move || async move { Ok(Value::from(n)) })
                .await;
            assert_eq!(got.ok().map(|c| c.body), Some(Value::from(n)));
        }
    }

    #[tokio::test]
    async fn a_body_past_its_ttl_is_never_answered_the_request_waits_for_a_new_one() {
        let cache = cache(10);
        let t0 = Instant::now();
        assert_eq!(body(&cache, "k", t0, 0, 1).await.body, Value::from(1));
        let kept = body(&cache, "k", t0 + Duration::from_secs(30), 0, 2).await;
        assert_eq!((kept.body, kept.updating), (Value::from(1), false));
        // After an idle spell longer than the TTL: the new body, not the old.
        let later = body(&cache, "k", t0 + Duration::from_secs(61), 0, 2).await;
        assert_eq!((later.body, later.updating), (Value::from(2), false));
    }

    #[tokio::test]
    async fn a_busy_report_is_refreshed_ahead_of_its_ttl_and_answered_meanwhile() {
        let cache = cache(10);
        let t0 = Instant::now();
        assert_eq!(body(&cache, "k", t0, 0, 1).await.body, Value::from(1));
        // Three quarters into the TTL: answered at once, refreshed behind.
        let late = t0 + Duration::from_secs(50);
        let answered = body(&cache, "k", late, 0, 2).await;
        assert_eq!(answered.body, Value::from(1));
        assert!(answered.age >= Duration::from_secs(50), "{answered:?}");
        let fresh = until(&cache, late, 0, 2).await;
        assert!(!fresh.updating);
    }

    #[tokio::test]
    async fn after_a_flush_a_request_waits_for_the_recomputation() {
        let cache = cache(10);
        let t0 = Instant::now();
        assert_eq!(body(&cache, "k", t0, 0, 1).await.body, Value::from(1));
        // The flush raised the generation: the body from before is not
        // answered, although within its TTL.
        let after = body(&cache, "k", t0, 1, 2).await;
        assert_eq!((after.body, after.updating), (Value::from(2), false));
        assert_eq!(body(&cache, "k", t0, 1, 3).await.body, Value::from(2));
    }

    #[tokio::test]
    async fn past_the_wait_the_previous_body_is_answered_marked_updating() {
        let mut cache = cache(10);
        cache.refresh_wait = Duration::from_millis(20);
        let t0 = Instant::now();
        assert_eq!(body(&cache, "k", t0, 0, 1).await.body, Value::from(1));
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let slow = cache
            .answer("k".into(), t0, 1, move || async move {
                let _ = released.await;
                Ok(Value::from(2))
            })
            .await;
        let slow = slow.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((slow.body, slow.updating), (Value::from(1), true));
        let _ = release.send(());
        let done = until(&cache, t0, 1, 2).await;
        assert!(!done.updating);
    }

    #[tokio::test]
    async fn a_computation_begun_before_a_flush_is_not_waited_for_after_it() {
        let cache = cache(10);
        let t0 = Instant::now();
        let stuck = cache.clone();
        let before = tokio::spawn(async move {
            stuck
                .answer("k".into(), t0, 0, std::future::pending)
                .await
                .ok()
        });
        // Let the first computation start, then flush: the next request
        // computes anew and does not wait on the old one.
        while cache.lock().is_empty() {
            tokio::task::yield_now().await;
        }
        assert_eq!(body(&cache, "k", t0, 1, 5).await.body, Value::from(5));
        before.abort();
    }

    #[tokio::test]
    async fn a_failed_recomputation_answers_the_previous_body_and_is_tried_again() {
        let cache = cache(10);
        let t0 = Instant::now();
        assert_eq!(body(&cache, "k", t0, 0, 1).await.body, Value::from(1));
        let failed = cache
            .answer("k".into(), t0, 1, || async {
                Err(ReadApiError::NotFound("MongoDB did not answer"))
            })
            .await;
        let failed = failed.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((failed.body, failed.updating), (Value::from(1), true));
        assert_eq!(body(&cache, "k", t0, 1, 2).await.body, Value::from(2));
        // Past its TTL a failure is the answer.
        let late = t0 + Duration::from_secs(120);
        let gone = cache
            .answer("k".into(), late, 2, || async {
                Err(ReadApiError::NotFound("down"))
            })
            .await;
        assert_eq!(gone.err().map(|e| e.to_string()), Some("down".to_string()));
    }

    #[tokio::test]
    async fn a_full_cache_makes_room_for_a_new_report_by_dropping_the_oldest() {
        let cache = cache(2);
        let t0 = Instant::now();
        for (key, n) in [("a", 1), ("b", 2), ("c", 3)] {
            let at = t0 + Duration::from_millis(n as u64);
            assert_eq!(body(&cache, key, at, 0, n).await.body, Value::from(n));
        }
        let keys: Vec<String> = {
            let mut k: Vec<String> = cache.lock().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys, ["b", "c"], "a was the oldest");
        // A sibling has its own room.
        let films = cache.sibling(1);
        assert_eq!(body(&films, "film", t0, 0, 9).await.body, Value::from(9));
        assert_eq!(cache.lock().len(), 2);
    }
}
