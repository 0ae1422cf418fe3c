//! MongoDB rollups (brief §6): the five legacy collections, the hourly
//! collection, the flush ledger and the run log. A batch is applied in one
//! transaction together with its ledger document, so it counts exactly once.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use analytics_domain::rollup::{ActionCounts, RollupDelta};
use analytics_domain::{Action, Domain, EntityType, Period};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, DateTime as BsonDateTime, Document};
use mongodb::error::{ErrorKind, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongodb::options::{ClientOptions, IndexOptions, UpdateOneModel, WriteModel};
use mongodb::{Client, ClientSession, Collection, Database, IndexModel, Namespace};

use crate::error::StoreError;

pub const TOTALS: &str = "analytics_entity_totals";
pub const HOURLY: &str = "analytics_hourly";
pub const LEDGER: &str = "analytics_flush_ledger";
pub const RUNS: &str = "analytics_flush_runs";
pub const PARITY_RUNS: &str = "analytics_parity_runs";

/// The legacy collection of each period.
pub fn period_collection(period: Period) -> &'static str {
    match period {
        Period::Day => "analytics_entity_daily",
        Period::Week => "analytics_entity_weekly",
        Period::Month => "analytics_entity_monthly",
        Period::Year => "analytics_entity_yearly",
    }
}

#[derive(Debug, Clone)]
pub struct MongoSettings {
    pub url: String,
    pub database: String,
    pub connect_timeout: Duration,
    /// How long a ledger entry is kept; a batch left open longer than this
    /// could be applied twice, so it is days, not minutes.
    pub ledger_ttl: Duration,
}

/// One claimed batch's contribution to a group apply.
#[derive(Debug, Clone, Copy)]
pub struct BatchDelta<'a> {
    pub batch_id: &'a str,
    pub keys: u64,
    pub delta: &'a RollupDelta,
}

/// What a group apply did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub applied_batches: usize,
    /// Batches the ledger already had (a resumed run): skipped.
    pub already_applied: usize,
    /// Rollup documents upserted.
    pub documents: usize,
}

/// What one flush run did, as stored in `analytics_flush_runs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlushRunRecord {
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub keys: u64,
    pub batches: u64,
    pub errors: u64,
    pub ignored_fields: u64,
}

#[derive(Clone)]
pub struct RollupStore {
    client: Client,
    pub(crate) db: Database,
    ledger_ttl: Duration,
}

const MAX_TRANSACTION_ATTEMPTS: usize = 8;

impl RollupStore {
    pub async fn connect(settings: &MongoSettings) -> Result<Self, StoreError> {
        let mut options = ClientOptions::parse(&settings.url).await?;
        options.connect_timeout = Some(settings.connect_timeout);
        options.server_selection_timeout = Some(settings.connect_timeout);
        options.app_name = Some("analytics".into());
        let client = Client::with_options(options)?;
        let db = client.database(&settings.database);
        Ok(RollupStore {
            client,
            db,
            ledger_ttl: settings.ledger_ttl,
        })
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.run_command(doc! {"ping": 1}).await?;
        Ok(())
    }

    /// Creates the unique key indexes and the indexes the read side needs.
    /// Idempotent; every service calls it at start.
    pub async fn ensure_indexes(&self) -> Result<(), StoreError> {
        let unique = || IndexOptions::builder().unique(true).build();
        let entity = doc! {"domain": 1, "entity_type": 1, "entity_id": 1};
        let mut specs: Vec<(&str, Vec<IndexModel>)> = vec![(
            TOTALS,
            vec![IndexModel::builder()
                .keys(entity.clone())
                .options(unique())
                .build()],
        )];
        for period in Period::ALL {
            let mut key = entity.clone();
            key.insert(period.field(), 1);
            specs.push((
                period_collection(period),
                vec![
                    IndexModel::builder().keys(key).options(unique()).build(),
                    bucket_index(period),
                ],
            ));
        }
        specs.push((
            HOURLY,
            vec![IndexModel::builder()
                .keys(doc! {"domain": 1, "entity_type": 1, "date": 1, "hour": 1})
                .options(unique())
                .build()],
        ));
        specs.push((
            LEDGER,
            vec![IndexModel::builder()
                .keys(doc! {"expire_at": 1})
                .options(IndexOptions::builder().expire_after(Duration::ZERO).build())
                .build()],
        ));
        specs.push((
            RUNS,
            vec![IndexModel::builder().keys(doc! {"started_at": -1}).build()],
        ));
        for (collection, indexes) in specs {
            self.db
                .collection::<Document>(collection)
                .create_indexes(indexes)
                .await?;
        }
        Ok(())
    }

    /// Applies batches (one per partition, claimed in the same entity
    /// order) in one transaction: the batches the ledger does not know yet
    /// are merged, so an entity spread over partitions costs one upsert per
    /// document, and their ledger entries are written with them. Conflicts
    /// with a concurrent transaction are retried from the start; the ledger
    /// read inside the transaction keeps a retry from counting twice.
    pub async fn apply_batches(
        &self,
        batches: &[BatchDelta<'_>],
    ) -> Result<ApplyReport, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_apply(batches).await {
                Err(StoreError::Mongo(e))
                    if attempt < MAX_TRANSACTION_ATTEMPTS && is_retryable(&e) =>
                {
                    tracing::debug!(attempt, error = %e, "retrying rollup transaction");
                    tokio::time::sleep(Duration::from_millis(5 << attempt.min(6))).await;
                }
                other => return other,
            }
        }
    }

    async fn try_apply(&self, batches: &[BatchDelta<'_>]) -> Result<ApplyReport, StoreError> {
        let mut session = self.client.start_session().await?;
        session.start_transaction().await?;
        let result = self.apply_in(&mut session, batches).await;
        let report = match result {
            Ok(report) if report.applied_batches > 0 => report,
            other => {
                let _ = session.abort_transaction().await;
                return other;
            }
        };
        let mut commit = session.commit_transaction().await;
        // An unknown commit result may be retried on the same session.
        for _ in 0..3 {
            match &commit {
                Err(e) if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) => {
                    commit = session.commit_transaction().await;
                }
                _ => break,
            }
        }
        commit?;
        Ok(report)
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
        let fresh: Vec<&BatchDelta> = batches
            .iter()
            .filter(|b| !known.contains(b.batch_id))
            .collect();
        let mut report = ApplyReport {
            applied_batches: fresh.len(),
            already_applied: batches.len() - fresh.len(),
            documents: 0,
        };
        if fresh.is_empty() {
            return Ok(report);
        }
        let mut merged = RollupDelta::default();
        for b in &fresh {
            merged.merge(b.delta);
        }
        let now = Utc::now();
        let expire = now + chrono::Duration::from_std(self.ledger_ttl).unwrap_or_default();
        let entries = fresh.iter().map(|b| {
            doc! {
                "_id": b.batch_id,
                "applied_at": bson_time(now),
                "expire_at": bson_time(expire),
                "keys": b.keys as i64,
            }
        });
        ledger.insert_many(entries).session(&mut *session).await?;
        self.record_leaderboard_changes(&mut *session, &merged)
            .await?;
        let models = self.write_models(&merged);
        report.documents = models.len();
        if !models.is_empty() {
            self.client
                .bulk_write(models)
                .ordered(false)
                .session(&mut *session)
                .await?;
        }
        Ok(report)
    }

    fn namespace(&self, collection: &str) -> Namespace {
        Namespace::new(self.db.name(), collection)
    }

    /// One upsert per document: `$inc` of every action (zeros included, so a
    /// new document always has every action field).
    fn write_models(&self, delta: &RollupDelta) -> Vec<WriteModel> {
        let mut models = Vec::with_capacity(delta.document_count());
        let mut upsert = |collection: &str, filter: Document, counts: &ActionCounts| {
            let inc: Document = Action::ALL
                .iter()
                .map(|a| (a.as_str().to_string(), Bson::Int64(counts.get(*a))))
                .collect();
            models.push(WriteModel::UpdateOne(
                UpdateOneModel::builder()
                    .namespace(self.namespace(collection))
                    .filter(filter)
                    .update(doc! {"$inc": inc})
                    .upsert(true)
                    .build(),
            ));
        };
        for (entity, counts) in &delta.totals {
            upsert(
                TOTALS,
                entity_filter(&entity.domain, entity.entity_type, &entity.entity_id),
                counts,
            );
        }
        for (key, counts) in &delta.buckets {
            let period = key.period.period();
            let mut filter = entity_filter(
                &key.entity.domain,
                key.entity.entity_type,
                &key.entity.entity_id,
            );
            filter.insert(period.field(), &key.label);
            upsert(period_collection(period), filter, counts);
        }
        for (key, counts) in &delta.hourly {
            let filter = doc! {
                "domain": key.domain.as_str(),
                "entity_type": key.entity_type.as_str(),
                "date": &key.date,
                "hour": i32::from(key.hour),
            };
            upsert(HOURLY, filter, counts);
        }
        models
    }

    /// Totals of some entities of one type, by entity id (absent = none).
    pub async fn totals_for(
        &self,
        domain: &Domain,
        entity_type: EntityType,
        ids: &[String],
    ) -> Result<HashMap<String, ActionCounts>, StoreError> {
        let filter = doc! {
            "domain": domain.as_str(),
            "entity_type": entity_type.as_str(),
            "entity_id": {"$in": ids},
        };
        let mut cursor = self.db.collection::<Document>(TOTALS).find(filter).await?;
        let mut out = HashMap::with_capacity(ids.len());
        while let Some(doc) = cursor.try_next().await? {
            if let Ok(id) = doc.get_str("entity_id") {
                out.insert(id.to_string(), counts_of(&doc));
            }
        }
        Ok(out)
    }

    /// Pages through the totals of one entity type in entity id order.
    pub async fn totals_page(
        &self,
        domain: &Domain,
        entity_type: EntityType,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<(String, ActionCounts)>, StoreError> {
        let mut filter = doc! {"domain": domain.as_str(), "entity_type": entity_type.as_str()};
        if let Some(after) = after {
            filter.insert("entity_id", doc! {"$gt": after});
        }
        let cursor = self
            .db
            .collection::<Document>(TOTALS)
            .find(filter)
            .sort(doc! {"entity_id": 1})
            .limit(limit)
            .await?;
        collect_counts(cursor).await
    }

    /// One entity's buckets of a period between two labels (inclusive).
    pub async fn entity_series(
        &self,
        entity: &analytics_domain::EntityKey,
        period: Period,
        from: &str,
        to: &str,
    ) -> Result<HashMap<String, ActionCounts>, StoreError> {
        let mut filter = entity_filter(&entity.domain, entity.entity_type, &entity.entity_id);
        filter.insert(period.field(), doc! {"$gte": from, "$lte": to});
        let mut cursor = self
            .db
            .collection::<Document>(period_collection(period))
            .find(filter)
            .await?;
        let mut out = HashMap::new();
        while let Some(doc) = cursor.try_next().await? {
            if let Ok(label) = doc.get_str(period.field()) {
                out.insert(label.to_string(), counts_of(&doc));
            }
        }
        Ok(out)
    }

    /// Site-wide counts per local date (from the hourly collection: at most
    /// 24 documents per day and type, however many entities there are).
    pub async fn site_daily(
        &self,
        domain: &Domain,
        entity_type: Option<EntityType>,
        from: &str,
        to: &str,
    ) -> Result<HashMap<String, ActionCounts>, StoreError> {
        let mut filter = doc! {"domain": domain.as_str(), "date": {"$gte": from, "$lte": to}};
        if let Some(t) = entity_type {
            filter.insert("entity_type", t.as_str());
        }
        let mut group = doc! {"_id": "$date"};
        for a in Action::ALL {
            group.insert(a.as_str(), doc! {"$sum": format!("${}", a.as_str())});
        }
        let mut cursor = self
            .db
            .collection::<Document>(HOURLY)
            .aggregate(vec![doc! {"$match": filter}, doc! {"$group": group}])
            .await?;
        let mut out = HashMap::new();
        while let Some(doc) = cursor.try_next().await? {
            if let Ok(date) = doc.get_str("_id") {
                out.insert(date.to_string(), counts_of(&doc));
            }
        }
        Ok(out)
    }

    /// Which of these batch ids the ledger has (applied to the rollups).
    pub async fn applied_batches(&self, ids: &[String]) -> Result<HashSet<String>, StoreError> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let mut cursor = self
            .db
            .collection::<Document>(LEDGER)
            .find(doc! {"_id": {"$in": ids}})
            .projection(doc! {"_id": 1})
            .await?;
        let mut out = HashSet::new();
        while let Some(doc) = cursor.try_next().await? {
            if let Ok(id) = doc.get_str("_id") {
                out.insert(id.to_string());
            }
        }
        Ok(out)
    }

    pub async fn record_run(&self, run: &FlushRunRecord) -> Result<(), StoreError> {
        let doc = doc! {
            "_id": &run.run_id,
            "started_at": bson_time(run.started_at),
            "finished_at": bson_time(run.finished_at),
            "duration_ms": (run.finished_at - run.started_at).num_milliseconds(),
            "keys": run.keys as i64,
            "batches": run.batches as i64,
            "errors": run.errors as i64,
            "ignored_fields": run.ignored_fields as i64,
            "status": if run.errors == 0 { "success" } else { "failed" },
        };
        self.db.collection::<Document>(RUNS).insert_one(doc).await?;
        Ok(())
    }

    /// The most recent flush run, without `_id` renamed: `run_id` is the id.
    pub async fn last_run(&self, collection: &str) -> Result<Option<Document>, StoreError> {
        Ok(self
            .db
            .collection::<Document>(collection)
            .find_one(doc! {})
            .sort(doc! {"started_at": -1})
            .await?)
    }

    /// Records a parity check's outcome for the pipeline view.
    pub async fn record_parity(
        &self,
        checked: i64,
        mismatches: i64,
        orphans: Option<i64>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let mut doc = doc! {
            "started_at": bson_time(now),
            "checked": checked,
            "mismatches": mismatches,
        };
        if let Some(o) = orphans {
            doc.insert("orphans", o);
        }
        self.db
            .collection::<Document>(PARITY_RUNS)
            .insert_one(doc)
            .await?;
        Ok(())
    }

    /// A collection handle for callers that read documents directly (tests, reports).
    pub fn collection(&self, name: &str) -> Collection<Document> {
        self.db.collection(name)
    }
}

/// `(entity_id, counts)` of every document a cursor yields, in order.
pub(crate) async fn collect_counts(
    mut cursor: mongodb::Cursor<Document>,
) -> Result<Vec<(String, ActionCounts)>, StoreError> {
    let mut out = Vec::new();
    while let Some(doc) = cursor.try_next().await? {
        if let Ok(id) = doc.get_str("entity_id") {
            out.push((id.to_string(), counts_of(&doc)));
        }
    }
    Ok(out)
}

/// A bucket's documents by entity: the leaderboard merges look up the
/// entities a flush changed in one bucket, `entity_id` last so an `$in`
/// stays a set of exact index points (the unique index puts the bucket last,
/// for one entity's series).
fn bucket_index(period: Period) -> IndexModel {
    let mut keys = doc! {"domain": 1, "entity_type": 1};
    keys.insert(period.field(), 1);
    keys.insert("entity_id", 1);
    IndexModel::builder().keys(keys).build()
}

fn entity_filter(domain: &Domain, entity_type: EntityType, id: &str) -> Document {
    doc! {"domain": domain.as_str(), "entity_type": entity_type.as_str(), "entity_id": id}
}

/// Reads the per-action counts of a rollup document; a missing field is 0.
pub fn counts_of(doc: &Document) -> ActionCounts {
    let mut counts = ActionCounts::default();
    for action in Action::ALL {
        let n = match doc.get(action.as_str()) {
            Some(Bson::Int64(n)) => *n,
            Some(Bson::Int32(n)) => i64::from(*n),
            Some(Bson::Double(n)) => *n as i64,
            _ => 0,
        };
        counts.add(action, n);
    }
    counts
}

/// Write conflict: another transaction touched the same document first.
const WRITE_CONFLICT: i32 = 112;

/// Whether the whole transaction may simply run again. Besides the labels a
/// replica set attaches, a write conflict reported per write inside a bulk
/// write (as the test stand-in does) is retryable, and so is a duplicate key
/// (a concurrent ledger insert or upsert won the race): the retry re-reads
/// the ledger and its upserts then match, so nothing counts twice.
fn is_retryable(e: &mongodb::error::Error) -> bool {
    if e.contains_label(TRANSIENT_TRANSACTION_ERROR)
        || e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT)
        || is_duplicate_key(e)
    {
        return true;
    }
    match &*e.kind {
        ErrorKind::Command(c) => c.code == WRITE_CONFLICT,
        ErrorKind::Write(mongodb::error::WriteFailure::WriteError(w)) => w.code == WRITE_CONFLICT,
        ErrorKind::InsertMany(m) => m
            .write_errors
            .as_ref()
            .is_some_and(|errs| errs.iter().any(|w| w.code == WRITE_CONFLICT)),
        ErrorKind::BulkWrite(b) => b.write_errors.values().any(|w| w.code == WRITE_CONFLICT),
        _ => false,
    }
}

const DUPLICATE_KEY: i32 = 11000;

fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    match &*e.kind {
        ErrorKind::Write(mongodb::error::WriteFailure::WriteError(w)) => w.code == DUPLICATE_KEY,
        ErrorKind::Command(c) => c.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(m) => m.write_errors.as_ref().is_some_and(|errs| {
            errs.iter()
                .any(|w| w.code == DUPLICATE_KEY || w.code == WRITE_CONFLICT)
        }),
        ErrorKind::BulkWrite(b) => b.write_errors.values().any(|w| w.code == DUPLICATE_KEY),
        _ => false,
    }
}

pub(crate) fn bson_time(t: DateTime<Utc>) -> BsonDateTime {
    BsonDateTime::from_millis(t.timestamp_millis())
}
