//! Applying claimed batches: one transaction per round writes the merged
//! increments and the batches' ledger entries together, so a batch counts
//! once however often a crashed flush applies it again (or, without
//! transactions, each document's marks do: [`super::markers`]).

use std::collections::{BTreeMap, HashSet};

use analytics_domain::rollup::{BucketKey, Counts, HourlyKey, RollupDelta};
use analytics_domain::unique::Sketch;
use analytics_domain::{Action, EntityKey, Period};
use chrono::Utc;
use mongodb::bson::{doc, Bson, Document};
use mongodb::error::UNKNOWN_TRANSACTION_COMMIT_RESULT;
use mongodb::options::{UpdateOneModel, WriteModel};
use mongodb::{ClientSession, Namespace};

use super::markers::MarkedBatch;
use super::ExactlyOnce;
use super::{
    bson_time, entity_filter, period_counts_field, RollupStore, DAILY, HOURLY, LEDGER, LIKES_NET,
    TOTALS, USER_REGISTERS, VIEWER_REGISTERS,
};
use crate::error::{is_duplicate_key, StoreError};

/// One claimed batch's contribution to a round.
#[derive(Debug, Clone, Copy)]
pub struct BatchDelta<'a> {
    pub batch_id: &'a str,
    /// The sequence the batch belongs to (its partition, or a rebuild's
    /// run): batches of one sequence are applied one after another.
    pub sequence: &'a str,
    pub keys: u64,
    pub delta: &'a RollupDelta,
}

/// One document's upsert: its collection, key and update.
#[derive(Debug, Clone)]
pub(crate) struct DocumentUpdate {
    pub collection: &'static str,
    pub filter: Document,
    pub update: Document,
}

/// A round's batches the ledger does not have yet, what they add up to,
/// and their ledger entries.
struct Plan<'a> {
    report: ApplyReport,
    fresh: Vec<&'a BatchDelta<'a>>,
    merged: RollupDelta,
    ledger_entries: Vec<Document>,
}

/// What applying a round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub applied_batches: usize,
    /// Batches the ledger already had (a resumed run): skipped.
    pub already_applied: usize,
    /// Their ids: what they hold was added to the rollups by an earlier run.
    pub already_applied_ids: Vec<String>,
    /// Rollup documents upserted.
    pub documents: usize,
}

/// How often an unknown commit result is retried on the same session.
const COMMIT_ATTEMPTS: usize = 4;

/// A round with its writes done, waiting for the commit: of its
/// transaction, or (with document marks) of its ledger entries.
pub struct OpenApply {
    session: Option<ClientSession>,
    records: Option<Records>,
    report: ApplyReport,
}

/// What records a round applied with document marks, written once all its
/// documents are: the boards' change records, then the ledger entries.
struct Records {
    store: RollupStore,
    ledger: Vec<Document>,
    merged: RollupDelta,
}

impl Records {
    async fn write(self) -> Result<(), StoreError> {
        self.store
            .leaderboards
            .record_changes(None, &self.merged)
            .await?;
        let ledger = self.store.db.collection::<Document>(LEDGER);
        for entry in self.ledger {
            match ledger.insert_one(entry).await {
                // Recorded by a run that applied the same batch meanwhile.
                Err(e) if is_duplicate_key(&e) => {}
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }
}

impl OpenApply {
    /// Commits (an unknown commit result is retried on the same session, as
    /// the driver's guidance says) and reports what was applied.
    pub async fn commit(self) -> Result<ApplyReport, StoreError> {
        if let Some(records) = self.records {
            records.write().await?;
            return Ok(self.report);
        }
        let Some(mut session) = self.session else {
            return Ok(self.report);
        };
        let mut commit = session.commit_transaction().await;
        for _ in 1..COMMIT_ATTEMPTS {
            match &commit {
                Err(e) if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) => {
                    commit = session.commit_transaction().await;
                }
                _ => break,
            }
        }
        commit?;
        Ok(self.report)
    }
}

impl RollupStore {
    /// Applies batches (one per partition, claimed in the same entity
    /// order) in one transaction: the batches the ledger does not know yet
    /// are merged, so an entity spread over partitions costs one upsert per
    /// document, and their ledger entries are written with them. One
    /// attempt: a conflict with a concurrent (or abandoned) transaction is
    /// [`StoreError::is_transient`], and the caller, which holds the leases,
    /// decides how long to retry.
    pub async fn apply_batches(
        &self,
        batches: &[BatchDelta<'_>],
    ) -> Result<ApplyReport, StoreError> {
        self.begin_apply(batches).await?.commit().await
    }

    /// The first half of [`RollupStore::apply_batches`]: the transaction is
    /// open with every write done, not yet committed (the flush's
    /// `in-transaction` fault point stops here).
    pub async fn begin_apply(&self, batches: &[BatchDelta<'_>]) -> Result<OpenApply, StoreError> {
        if self.exactly_once == ExactlyOnce::Markers {
            return self.begin_marked(batches).await;
        }
        let mut session = self.client.start_session().await?;
        session.start_transaction().await?;
        match self.apply_in(&mut session, batches).await {
            Ok(report) if report.applied_batches > 0 => Ok(OpenApply {
                session: Some(session),
                records: None,
                report,
            }),
            Ok(report) => {
                // Nothing new to write: no transaction to keep.
                let _ = session.abort_transaction().await;
                Ok(OpenApply {
                    session: None,
                    records: None,
                    report,
                })
            }
            Err(e) => {
                let _ = session.abort_transaction().await;
                Err(e)
            }
        }
    }

    async fn apply_in(
        &self,
        session: &mut ClientSession,
        batches: &[BatchDelta<'_>],
    ) -> Result<ApplyReport, StoreError> {
        let ledger = self.db.collection::<Document>(LEDGER);
        let ids: Vec<&str> = batches.iter().map(|b| b.batch_id).collect();
        let mut cursor = ledger
            .find(doc! {"_id": {"$in": &ids}})
            .projection(doc! {"_id": 1})
            .session(&mut *session)
            .await?;
        let mut known = HashSet::new();
        while let Some(doc) = cursor.next(&mut *session).await.transpose()? {
            if let Ok(id) = doc.get_str("_id") {
                known.insert(id.to_string());
            }
        }
        let plan = match self.plan(batches, known) {
            Ok(plan) => plan,
            Err(skipped) => return Ok(skipped),
        };
        let Plan {
            mut report,
            merged,
            ledger_entries,
            ..
        } = plan;
        ledger
            .insert_many(ledger_entries)
            .session(&mut *session)
            .await?;
        self.leaderboards
            .record_changes(Some(&mut *session), &merged)
            .await?;
        let models = self.write_models(&merged);
        report.documents = models.len();
        self.bulk_write_in(session, models).await?;
        Ok(report)
    }

    /// Runs `models` unordered inside `session` (nothing when empty).
    pub(crate) async fn bulk_write_in(
        &self,
        session: &mut ClientSession,
        models: Vec<WriteModel>,
    ) -> Result<(), StoreError> {
        if !models.is_empty() {
            self.client
                .bulk_write(models)
                .ordered(false)
                .session(session)
                .await?;
        }
        Ok(())
    }

    /// What a round of `batches` applies, given the ids the ledger
    /// already has; `Err` is the report of a round with nothing new.
    fn plan<'a>(
        &self,
        batches: &'a [BatchDelta<'a>],
        known: HashSet<String>,
    ) -> Result<Plan<'a>, ApplyReport> {
        let fresh: Vec<&BatchDelta> = batches
            .iter()
            .filter(|b| !known.contains(b.batch_id))
            .collect();
        if fresh.is_empty() {
            return Err(ApplyReport {
                already_applied: batches.len(),
                already_applied_ids: known.into_iter().collect(),
                ..ApplyReport::default()
            });
        }
        let mut merged = RollupDelta::default();
        for b in &fresh {
            merged.merge(b.delta);
        }
        let now = Utc::now();
        let expire = now + chrono::Duration::from_std(self.ledger_ttl).unwrap_or_default();
        let ledger_entries = fresh
            .iter()
            .map(|b| {
                doc! {
                    "_id": b.batch_id,
                    "applied_at": bson_time(now),
                    "expire_at": bson_time(expire),
                    "keys": b.keys as i64,
                }
            })
            .collect();
        Ok(Plan {
            report: ApplyReport {
                applied_batches: fresh.len(),
                already_applied: batches.len() - fresh.len(),
                already_applied_ids: known.into_iter().collect(),
                documents: 0,
            },
            fresh,
            merged,
            ledger_entries,
        })
    }

    /// [`RollupStore::begin_apply`] with document marks: every document
    /// written (each taking the batches not marked on it yet), the ledger
    /// entries left for the commit.
    async fn begin_marked(&self, batches: &[BatchDelta<'_>]) -> Result<OpenApply, StoreError> {
        let ids: Vec<String> = batches.iter().map(|b| b.batch_id.to_string()).collect();
        let known = self.applied_batches(&ids).await?;
        let plan = match self.plan(batches, known) {
            Ok(plan) => plan,
            Err(skipped) => {
                return Ok(OpenApply {
                    session: None,
                    records: None,
                    report: skipped,
                })
            }
        };
        let marked = plan
            .fresh
            .iter()
            .map(|b| MarkedBatch {
                sequence: b.sequence,
                batch_id: b.batch_id,
                updates: self.document_updates(b.delta),
            })
            .collect();
        let mut report = plan.report;
        report.documents = self.write_marked(marked).await?;
        Ok(OpenApply {
            session: None,
            records: Some(Records {
                store: self.clone(),
                ledger: plan.ledger_entries,
                merged: plan.merged,
            }),
            report,
        })
    }

    pub(crate) fn namespace(&self, collection: &str) -> Namespace {
        Namespace::new(self.db.name(), collection)
    }

    /// One upsert per document: `$inc` of its counts and sums, `$max` of
    /// its unique-viewer registers (both idempotent under the ledger; the
    /// register maximum even without it).
    fn write_models(&self, delta: &RollupDelta) -> Vec<WriteModel> {
        self.document_updates(delta)
            .into_iter()
            .map(|u| {
                WriteModel::UpdateOne(
                    UpdateOneModel::builder()
                        .namespace(self.namespace(u.collection))
                        .filter(u.filter)
                        .update(u.update)
                        .upsert(true)
                        .build(),
                )
            })
            .collect()
    }

    /// The documents a delta writes, each with its update.
    pub(crate) fn document_updates(&self, delta: &RollupDelta) -> Vec<DocumentUpdate> {
        let mut models = Vec::with_capacity(delta.document_count());
        let mut upsert = |collection: &'static str,
                          filter: Document,
                          inc: Option<Document>,
                          registers: Option<(&str, &Sketch)>| {
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
            models.push(DocumentUpdate {
                collection,
                filter,
                update,
            });
        };
        // An entity's totals and its week, month and year buckets are one
        // document: one `$inc` of all of them.
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
        let day_filter = |key: &BucketKey| {
            let mut filter = entity_filter(
                &key.entity.domain,
                key.entity.entity_type,
                &key.entity.entity_id,
            );
            filter.insert(Period::Day.field(), &key.label);
            filter
        };
        for (key, counts) in &delta.buckets {
            let period = key.period.period();
            if let Some(field) = period_counts_field(period) {
                let prefix = format!("{field}.{}", key.label);
                totals
                    .entry(&key.entity)
                    .or_default()
                    .extend(period_increments(&prefix, counts));
                continue;
            }
            let viewers = day_viewers.get(key).map(|s| (VIEWER_REGISTERS, *s));
            upsert(DAILY, day_filter(key), Some(increments(counts)), viewers);
        }
        for (entity, inc) in totals {
            upsert(
                TOTALS,
                entity_filter(&entity.domain, entity.entity_type, &entity.entity_id),
                Some(inc),
                None,
            );
        }
        for (key, sketch) in &day_viewers {
            if !delta.buckets.contains_key(key) {
                upsert(
                    DAILY,
                    day_filter(key),
                    None,
                    Some((VIEWER_REGISTERS, *sketch)),
                );
            }
        }
        let hourly_filter = |key: &HourlyKey| {
            doc! {
                "domain": key.domain.as_str(),
                "entity_type": key.entity_type.as_str(),
                "date": &key.date,
                "hour": i32::from(key.hour),
                "slot": i32::from(key.slot),
            }
        };
        for (key, counts) in &delta.hourly {
            let users = delta.hour_users.get(key).map(|s| (USER_REGISTERS, s));
            upsert(HOURLY, hourly_filter(key), Some(increments(counts)), users);
        }
        for (key, sketch) in &delta.hour_users {
            if !delta.hourly.contains_key(key) {
                upsert(
                    HOURLY,
                    hourly_filter(key),
                    None,
                    Some((USER_REGISTERS, sketch)),
                );
            }
        }
        models
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
