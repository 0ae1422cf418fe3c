//! The ingest hot path: the events of a request, grouped by partition, one
//! script call per partition, all calls in one pipelined round trip.

use std::collections::BTreeMap;

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

impl HotCounters {
    /// Counts each event exactly once; the outcomes are in `items` order.
    /// `log` appends the accepted ones to the raw event log.
    pub async fn ingest(
        &self,
        items: &[IngestItem<'_>],
        log: bool,
    ) -> Result<Vec<IngestOutcome>, StoreError> {
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
        let mut pipe = redis::pipe();
        for invocation in &invocations {
            pipe.invoke_script(invocation);
        }
        let replies = match self.query_ingest(&pipe).await {
            // Redis lost its script cache (a restart): no call ran. Load the
            // script and send the same calls again.
            Err(StoreError::Redis(e)) if is_no_script(&e) => {
                let mut load = redis::pipe();
                load.load_script(&self.scripts.ingest);
                self.query_values(&load).await?;
                self.query_ingest(&pipe).await?
            }
            other => other?,
        };
        let mut outcomes = vec![IngestOutcome::Counted; items.len()];
        for ((_, indices), reply) in by_partition.iter().zip(replies) {
            if reply.len() != indices.len() {
                return Err(super::scripts::unexpected("ingest", reply));
            }
            for (&i, code) in indices.iter().zip(reply) {
                outcomes[i] = IngestOutcome::try_from(code)?;
            }
        }
        Ok(outcomes)
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
        let outcomes = self.ingest(&[item], log).await?;
        outcomes
            .first()
            .copied()
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
            .arg(DEDUPE_TTL_SECS)
            .arg(if log { "1" } else { "0" });
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
            invocation
                .key(self.keys.event_marker(p, &item.event.event_id))
                .key(self.keys.counter(p, entity))
                .key(site_key.as_str())
                .arg(item.event.fingerprint())
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
        let (slot, mut conn) = bounded("redis", self.command_timeout, self.shared.get()).await?;
        bounded("redis", self.command_timeout, pipe.query_async(&mut conn))
            .await
            .inspect_err(|_| self.shared.discard(slot))
    }

    async fn query_ingest(&self, pipe: &redis::Pipeline) -> Result<Vec<Vec<i64>>, StoreError> {
        self.query_values(pipe)
            .await?
            .into_iter()
            .map(|v| {
                redis::from_redis_value::<Vec<i64>>(v).map_err(|e| StoreError::Redis(e.into()))
            })
            .collect()
    }
}

fn is_no_script(e: &RedisError) -> bool {
    e.code() == Some("NOSCRIPT")
}
