//! The ingest hot path: the events of a request, grouped by partition, one
//! script call per partition, all calls in one pipelined round trip.

use std::collections::BTreeMap;

use analytics_domain::keys::seen_entry;
use analytics_domain::measures::Increments;
use analytics_domain::{BucketMode, Domain, Event, KeySpace};
use deadpool_redis::redis::{self, RedisError};

use super::scripts::IngestOutcome;
use super::{HotCounters, DEDUPE_TTL_SECS};
use crate::error::{bounded, StoreError};

/// One validated event, ready for the ingest script.
#[derive(Debug, Clone, Copy)]
pub struct IngestItem<'a> {
    pub event: &'a Event,
    pub increments: &'a Increments,
    /// The normalised event as JSON, for the raw event log.
    pub log_entry: &'a str,
}

/// What became of a request's events: each one's outcome in order, `None`
/// where Redis refused its partition's call (full, read-only, a cluster
/// moving slots: nothing of that call was written), and the refusal.
#[derive(Debug)]
pub struct IngestReply {
    pub outcomes: Vec<Option<IngestOutcome>>,
    pub refused: Option<StoreError>,
}

impl HotCounters {
    /// Counts each event exactly once. Each partition's call is atomic, but
    /// the calls of one request are not atomic together: when Redis refuses
    /// some and not others, the reply says which events were stored, so the
    /// caller answers per event and a client resends only the others. When
    /// it refuses all (or cannot be reached) it is an error. `log` appends
    /// the accepted events to the raw event log.
    pub async fn ingest(
        &self,
        items: &[IngestItem<'_>],
        log: bool,
    ) -> Result<IngestReply, StoreError> {
        let mut by_partition: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            by_partition
                .entry(self.keys.partition_of(&item.event.event_id))
                .or_default()
                .push(i);
        }
        let invocations: Vec<_> = by_partition
            .iter()
            .map(|(&p, indices)| self.invocation(p, indices.iter().map(|&i| items[i]), log))
            .collect();
        let mut replies = self.query_ingest(invocations.iter()).await?;
        // Redis lost its script cache (a restart): those calls did not
        // run. Load the script and send them again.
        let lost: Vec<usize> = (0..replies.len())
            .filter(|&i| matches!(&replies[i], Err(e) if is_no_script(e)))
            .collect();
        if !lost.is_empty() {
            let mut load = redis::pipe();
            load.load_script(&self.scripts.ingest);
            self.query_values(&load).await?;
            let again = self
                .query_ingest(lost.iter().map(|&i| &invocations[i]))
                .await?;
            for (&i, reply) in lost.iter().zip(again) {
                replies[i] = reply;
            }
        }
        let mut reply = IngestReply {
            outcomes: vec![None; items.len()],
            refused: None,
        };
        for ((_, indices), codes) in by_partition.iter().zip(replies) {
            let codes = match codes {
                Ok(codes) => codes,
                Err(e) => {
                    reply.refused.get_or_insert(StoreError::Redis(e));
                    continue;
                }
            };
            if codes.len() != indices.len() {
                return Err(super::scripts::unexpected("ingest", codes));
            }
            for (&i, code) in indices.iter().zip(codes) {
                reply.outcomes[i] = Some(IngestOutcome::try_from(code)?);
            }
        }
        match reply.refused {
            Some(refused) if reply.outcomes.iter().all(Option::is_none) => Err(refused),
            _ => Ok(reply),
        }
    }

    /// Counts one event (tools and tests that write events directly, in
    /// the same way ingest-svc does).
    pub async fn ingest_event(
        &self,
        event: &Event,
        mode: &BucketMode,
        log: bool,
    ) -> Result<IngestOutcome, StoreError> {
        let increments = event.increments(mode);
        let entry = event.log_entry(mode, chrono::Utc::now(), &Default::default());
        let item = IngestItem {
            event,
            increments: &increments,
            log_entry: &entry,
        };
        let reply = self.ingest(&[item], log).await?;
        reply
            .outcomes
            .first()
            .copied()
            .flatten()
            .ok_or_else(|| super::scripts::unexpected("ingest", "no reply"))
    }

    fn invocation<'a>(
        &self,
        p: u16,
        items: impl Iterator<Item = IngestItem<'a>>,
        log: bool,
    ) -> redis::ScriptInvocation<'_> {
        let mut invocation = self.scripts.ingest.prepare_invoke();
        invocation
            .key(self.keys.dirty(p))
            .key(self.keys.waiting(p))
            .key(self.keys.log(p))
            .arg(self.keys.seen_base(p))
            .arg(if log { "1" } else { "0" })
            .arg(DEDUPE_TTL_SECS);
        // Each domain's site hash on this partition, named and ordered once
        // per call (a call's events almost always share one domain).
        let mut sites: BTreeMap<&Domain, (String, u32)> = BTreeMap::new();
        for item in items {
            let entity = &item.event.entity;
            let (site_key, site_order) = sites.entry(&entity.domain).or_insert_with(|| {
                let site = KeySpace::site_entity(&entity.domain, p);
                (self.keys.counter(p, &site), KeySpace::entity_order(&site))
            });
            let inc = item.increments;
            let (shard, id) = seen_entry(&item.event.event_id);
            invocation
                .key(self.keys.counter(p, entity))
                .key(site_key.as_str())
                .arg(shard)
                .arg(&id[..])
                .arg(&item.event.fingerprint_bytes()[..])
                .arg(KeySpace::entity_order(entity))
                .arg(*site_order)
                .arg(inc.units)
                .arg(item.log_entry)
                .arg(inc.counter.len());
            for (field, n) in &inc.counter {
                invocation.arg(field.encode()).arg(*n);
            }
            for register in [inc.day_register, inc.hour_register] {
                match register {
                    Some((field, rank)) => {
                        invocation.arg(1).arg(field.encode()).arg(rank);
                    }
                    None => {
                        invocation.arg(0);
                    }
                }
            }
        }
        invocation
    }

    async fn query_values(&self, pipe: &redis::Pipeline) -> Result<Vec<redis::Value>, StoreError> {
        let (slot, mut conn) = bounded("redis", self.command_timeout, self.links.shared()).await?;
        bounded("redis", self.command_timeout, pipe.query_async(&mut conn))
            .await
            .inspect_err(|_| self.links.discard(slot))
    }

    /// The calls in one pipelined round trip, each answered on its own: a
    /// refused call is its own error, the others' replies stand.
    async fn query_ingest<'a>(
        &self,
        invocations: impl Iterator<Item = &'a redis::ScriptInvocation<'a>>,
    ) -> Result<Vec<redis::RedisResult<Vec<i64>>>, StoreError> {
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for invocation in invocations {
            pipe.invoke_script(invocation);
        }
        self.query_values(&pipe)
            .await?
            .into_iter()
            .map(|v| {
                redis::from_redis_value::<redis::RedisResult<Vec<i64>>>(v)
                    .map_err(|e| StoreError::Redis(e.into()))
            })
            .collect()
    }
}

fn is_no_script(e: &RedisError) -> bool {
    e.code() == Some("NOSCRIPT")
}
