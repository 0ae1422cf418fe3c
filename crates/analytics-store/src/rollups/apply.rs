//! Applying claimed batches: one transaction per round writes the merged
//! increments and the batches' ledger entries together, so a batch counts
//! once however often a crashed flush applies it again (or, without
//! transactions, each document's marks do: [`super::markers`]).

use std::collections::HashSet;

use analytics_domain::rollup::RollupDelta;
use chrono::Utc;
use mongodb::bson::{doc, Document};
use mongodb::error::UNKNOWN_TRANSACTION_COMMIT_RESULT;
use mongodb::options::{UpdateOneModel, WriteModel};
use mongodb::{ClientSession, Namespace};

use super::markers::MarkedBatch;
use super::updates::document_updates;
use super::ExactlyOnce;
use super::{bson_time, RollupStore, LEDGER};
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
                updates: document_updates(b.delta),
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
        document_updates(delta)
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
}
