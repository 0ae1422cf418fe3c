//! The ingest hot path: one script call per event on a shared connection.

use analytics_domain::{CounterField, Event, KeySpace};

use super::scripts::IngestOutcome;
use super::{HotCounters, DEDUPE_TTL_SECS};
use crate::error::{bounded, StoreError};

impl HotCounters {
    /// Counts one validated event exactly once.
    pub async fn ingest(
        &self,
        event: &Event,
        field: &CounterField,
    ) -> Result<IngestOutcome, StoreError> {
        let p = self.keys.partition_of(&event.event_id);
        let mut invocation = self.scripts.ingest.prepare_invoke();
        invocation
            .key(self.keys.event_marker(p, &event.event_id))
            .key(self.keys.counter(p, &event.entity))
            .key(self.keys.dirty(p))
            .key(self.keys.waiting(p))
            .arg(event.fingerprint())
            .arg(DEDUPE_TTL_SECS)
            .arg(field.encode())
            .arg(event.value)
            .arg(KeySpace::entity_order(&event.entity));
        let (slot, mut conn) = bounded("redis", self.command_timeout, self.shared.get()).await?;
        let reply: i64 = bounded(
            "redis",
            self.command_timeout,
            invocation.invoke_async(&mut conn),
        )
        .await
        .inspect_err(|_| self.shared.discard(slot))?;
        IngestOutcome::try_from(reply)
    }
}
