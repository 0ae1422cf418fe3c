//! The documents a flush round (or a rebuild's correction) writes, each with
//! its update: an entity's totals with its week, month and year buckets in
//! one document, one document per day, one per site hour and slot.

use std::collections::BTreeMap;

use analytics_domain::rollup::{BucketKey, Counts, HourlyKey, RollupDelta};
use analytics_domain::unique::Sketch;
use analytics_domain::{Action, EntityKey, Period};
use mongodb::bson::{doc, Bson, Document};

use super::{
    entity_filter, period_counts_field, DAILY, HOURLY, LIKES_NET, TOTALS, USER_REGISTERS,
    VIEWER_REGISTERS,
};

/// One document's upsert: its collection, key and update.
#[derive(Debug, Clone)]
pub(crate) struct DocumentUpdate {
    pub collection: &'static str,
    pub filter: Document,
    pub update: Document,
}

impl DocumentUpdate {
    /// `$inc` of counts and sums, `$max` of unique-viewer registers (both
    /// idempotent under the ledger; the register maximum even without it).
    fn new(
        collection: &'static str,
        filter: Document,
        inc: Option<Document>,
        registers: Option<(&str, &Sketch)>,
    ) -> Self {
        let mut update = Document::new();
        if let Some(inc) = inc {
            update.insert("$inc", inc);
        }
        if let Some((field, sketch)) = registers {
            let raise: Document = sketch
                .registers()
                .map(|r| {
                    (
                        format!("{field}.{}", r.index),
                        Bson::Int32(i32::from(r.rank)),
                    )
                })
                .collect();
            update.insert("$max", raise);
        }
        DocumentUpdate {
            collection,
            filter,
            update,
        }
    }
}

/// The documents a delta writes, each with its update.
pub(crate) fn document_updates(delta: &RollupDelta) -> Vec<DocumentUpdate> {
    let mut updates = Vec::with_capacity(delta.document_count());
    entity_updates(delta, &mut updates);
    hour_updates(delta, &mut updates);
    updates
}

/// An entity's days, and its totals with the week, month and year buckets
/// inside them (one `$inc` of all of them).
fn entity_updates(delta: &RollupDelta, updates: &mut Vec<DocumentUpdate>) {
    let mut totals: BTreeMap<&EntityKey, Document> = delta
        .totals
        .iter()
        .map(|(entity, counts)| (entity, increments(counts)))
        .collect();
    let day_viewers: BTreeMap<BucketKey, &Sketch> = delta
        .day_viewers
        .iter()
        .map(|(k, s)| (k.day_bucket(), s))
        .collect();
    for (key, counts) in &delta.buckets {
        if let Some(field) = period_counts_field(key.period.period()) {
            let prefix = format!("{field}.{}", key.label);
            totals
                .entry(&key.entity)
                .or_default()
                .extend(period_increments(&prefix, counts));
            continue;
        }
        let viewers = day_viewers.get(key).map(|s| (VIEWER_REGISTERS, *s));
        updates.push(DocumentUpdate::new(
            DAILY,
            day_filter(key),
            Some(increments(counts)),
            viewers,
        ));
    }
    for (entity, inc) in totals {
        updates.push(DocumentUpdate::new(
            TOTALS,
            entity_filter(&entity.domain, entity.entity_type, &entity.entity_id),
            Some(inc),
            None,
        ));
    }
    // Days whose viewers changed and nothing else.
    for (key, sketch) in day_viewers
        .iter()
        .filter(|(key, _)| !delta.buckets.contains_key(*key))
    {
        updates.push(DocumentUpdate::new(
            DAILY,
            day_filter(key),
            None,
            Some((VIEWER_REGISTERS, *sketch)),
        ));
    }
}

/// The site's hour documents (per slot), with their unique users.
fn hour_updates(delta: &RollupDelta, updates: &mut Vec<DocumentUpdate>) {
    for (key, counts) in &delta.hourly {
        let users = delta.hour_users.get(key).map(|s| (USER_REGISTERS, s));
        updates.push(DocumentUpdate::new(
            HOURLY,
            hourly_filter(key),
            Some(increments(counts)),
            users,
        ));
    }
    for (key, sketch) in delta
        .hour_users
        .iter()
        .filter(|(key, _)| !delta.hourly.contains_key(*key))
    {
        updates.push(DocumentUpdate::new(
            HOURLY,
            hourly_filter(key),
            None,
            Some((USER_REGISTERS, sketch)),
        ));
    }
}

fn day_filter(key: &BucketKey) -> Document {
    let mut filter = entity_filter(
        &key.entity.domain,
        key.entity.entity_type,
        &key.entity.entity_id,
    );
    filter.insert(Period::Day.field(), &key.label);
    filter
}

fn hourly_filter(key: &HourlyKey) -> Document {
    doc! {
        "domain": key.domain.as_str(),
        "entity_type": key.entity_type.as_str(),
        "date": &key.date,
        "hour": i32::from(key.hour),
        "slot": i32::from(key.slot),
    }
}

/// A document's `$inc`: the v1 actions always (zeros included, so every
/// document has the fields v1 readers expect), any other action and sum
/// that changed, and the net likes derived from likes and unlikes.
fn increments(c: &Counts) -> Document {
    let mut inc = Document::new();
    for action in Action::ALL {
        let n = c.get(action);
        if n != 0 || Action::V1.contains(&action) {
            inc.insert(action.as_str(), Bson::Int64(n));
        }
    }
    for (sum, n) in c.nonzero_sums() {
        inc.insert(sum.as_str(), Bson::Int64(n));
    }
    if c.get(Action::Like) != 0 || c.get(Action::Unlike) != 0 {
        inc.insert(LIKES_NET, Bson::Int64(c.likes_net()));
    }
    inc
}

/// The `$inc` of one embedded bucket (`prefix` = `weeks.2026-W49`): every
/// non-zero count and sum, negative ones included (a rebuild's correction).
pub(crate) fn period_increments(prefix: &str, counts: &Counts) -> Document {
    let mut inc = Document::new();
    for (action, n) in counts.nonzero() {
        inc.insert(format!("{prefix}.{}", action.as_str()), Bson::Int64(n));
    }
    for (sum, n) in counts.nonzero_sums() {
        inc.insert(format!("{prefix}.{}", sum.as_str()), Bson::Int64(n));
    }
    inc
}
