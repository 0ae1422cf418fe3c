//! Leaderboards: the top [`LEADERBOARD_SIZE`] entities of each (domain,
//! type, measure, period bucket), kept in one small document so a top-N read
//! never depends on how a server plans a sort over a whole bucket.
//!
//! Counts only grow, so an entity outside a board can only enter it when its
//! own count changes: the new board is the top of (old board ∪ entities just
//! changed). The flush transaction records which entities changed in
//! `analytics_leaderboard_pending` (new documents only, so concurrent flushes
//! never conflict there); at the end of the run, after its leases are
//! released, the pending records are merged into their boards with a
//! compare-and-set on each board's version and then deleted. A run that
//! stops first leaves its records for the next run, and a merge is
//! idempotent (absolute counts, the higher of two readings wins).

use std::collections::{BTreeSet, HashMap};

use analytics_domain::ranking::{DayBoard, Measure};
use analytics_domain::rollup::{Counts, RollupDelta};
use analytics_domain::{Domain, EntityType, Period};
use chrono::Utc;
use futures_util::{StreamExt, TryStreamExt};
use mongodb::bson::{doc, Bson, Document};
use mongodb::{ClientSession, Database};

use crate::error::{is_duplicate_key, StoreError};
use crate::rollups::{
    bson_time, collect_counts_with, counts_of, embedded_counts, period_counts_field, DAILY, TOTALS,
};

pub const LEADERBOARDS: &str = "analytics_leaderboards";
pub const LEADERBOARD_PENDING: &str = "analytics_leaderboard_pending";
/// Entries per board: the largest `limit` the read API serves.
pub const LEADERBOARD_SIZE: usize = 100;
/// Entity ids per pending record (keeps each far below 16 MB).
const PENDING_CHUNK: usize = 10_000;
const MAX_MERGE_ATTEMPTS: usize = 16;
/// Changed entities merged into a bucket's boards at a time.
const MERGE_PAGE: usize = 50_000;
/// Buckets merged at the same time.
const MERGE_CONCURRENCY: usize = 4;

/// One ranking's bucket: all-time totals (`period` none) or one period label.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BoardScope {
    pub domain: Domain,
    pub entity_type: EntityType,
    pub period: Option<Period>,
    pub bucket: Option<String>,
}

impl BoardScope {
    pub fn new(domain: &Domain, entity_type: EntityType, bucket: Option<(Period, &str)>) -> Self {
        BoardScope {
            domain: domain.clone(),
            entity_type,
            period: bucket.map(|(p, _)| p),
            bucket: bucket.map(|(_, b)| b.to_string()),
        }
    }

    fn board_id(&self, measure: Measure) -> String {
        let bucket = match (self.period, &self.bucket) {
            (Some(p), Some(b)) => format!("{}={b}", p.field()),
            _ => "all".to_string(),
        };
        format!(
            "{}|{}|{}|{bucket}",
            self.domain.as_str(),
            self.entity_type.as_str(),
            measure.as_str()
        )
    }

    /// Where the bucket's counts are: a day's documents, or the totals
    /// (all time, and the weeks, months and years inside them).
    fn collection(&self) -> &'static str {
        match self.period {
            Some(Period::Day) => DAILY,
            _ => TOTALS,
        }
    }

    /// The documents holding this bucket (for an embedded period: every
    /// totals document of the type; [`BoardScope::measure_path`] tells
    /// which have it).
    fn filter(&self) -> Document {
        let mut filter =
            doc! {"domain": self.domain.as_str(), "entity_type": self.entity_type.as_str()};
        if let (Some(Period::Day), Some(b)) = (self.period, &self.bucket) {
            filter.insert(Period::Day.field(), b);
        }
        filter
    }

    /// The embedded bucket's field (`weeks.2026-W49`), for weeks, months
    /// and years.
    fn embedded(&self) -> Option<String> {
        let field = period_counts_field(self.period?)?;
        Some(format!("{field}.{}", self.bucket.as_deref()?))
    }

    /// The field a measure of this bucket is read and sorted by.
    fn measure_path(&self, measure: Measure) -> String {
        match self.embedded() {
            Some(prefix) => format!("{prefix}.{}", measure.as_str()),
            None => measure.as_str().to_string(),
        }
    }

    /// The bucket's counts in one of its documents.
    fn counts_in(&self, doc: &Document) -> Counts {
        match (self.period, &self.bucket) {
            (Some(period), Some(label)) if period_counts_field(period).is_some() => {
                embedded_counts(doc, period, label)
            }
            _ => counts_of(doc),
        }
    }

    /// `(entity_id, counts)` of every document a cursor yields, in order.
    async fn collect(&self, cursor: mongodb::Cursor<Document>) -> Result<Entries, StoreError> {
        collect_counts_with(cursor, |doc| self.counts_in(doc)).await
    }

    fn to_doc(&self) -> Document {
        doc! {
            "domain": self.domain.as_str(),
            "entity_type": self.entity_type.as_str(),
            "period": self.period.map(Period::field),
            "bucket": self.bucket.as_deref(),
        }
    }

    fn from_doc(doc: &Document) -> Option<Self> {
        let period = match doc.get_str("period") {
            Ok(field) => Some(Period::ALL.into_iter().find(|p| p.field() == field)?),
            Err(_) => None,
        };
        Some(BoardScope {
            domain: Domain::new(doc.get_str("domain").ok()?).ok()?,
            entity_type: EntityType::ALL
                .into_iter()
                .find(|t| Some(t.as_str()) == doc.get_str("entity_type").ok())?,
            period,
            bucket: doc.get_str("bucket").ok().map(str::to_string),
        })
    }
}

/// The entities whose counts a delta changes, per board scope.
fn changed(delta: &RollupDelta) -> HashMap<BoardScope, BTreeSet<String>> {
    let mut out: HashMap<BoardScope, BTreeSet<String>> = HashMap::new();
    let ranked = |t: EntityType| !Measure::ranked(t).is_empty();
    for entity in delta.totals.keys().filter(|e| ranked(e.entity_type)) {
        out.entry(BoardScope::new(&entity.domain, entity.entity_type, None))
            .or_default()
            .insert(entity.entity_id.clone());
    }
    for key in delta
        .buckets
        .keys()
        .filter(|k| ranked(k.entity.entity_type))
    {
        let scope = BoardScope::new(
            &key.entity.domain,
            key.entity.entity_type,
            Some((key.period.period(), &key.label)),
        );
        out.entry(scope)
            .or_default()
            .insert(key.entity.entity_id.clone());
    }
    out
}

/// A board's entries: entity ids with every ranked measure of their type.
type Entries = Vec<(String, Counts)>;

/// Ranking order by `measure`: value descending, then entity id (stable
/// ties); entities without any of it are not ranked.
fn rank(entries: &mut Entries, measure: Measure) {
    entries.retain(|(_, c)| measure.of(c) > 0);
    entries.sort_by(|a, b| {
        measure
            .of(&b.1)
            .cmp(&measure.of(&a.1))
            .then_with(|| a.0.cmp(&b.0))
    });
    entries.truncate(LEADERBOARD_SIZE);
}

fn entries_of(board: &Document) -> Entries {
    board
        .get_array("entries")
        .map(|a| {
            a.iter()
                .filter_map(Bson::as_document)
                .filter_map(|e| Some((e.get_str("entity_id").ok()?.to_string(), counts_of(e))))
                .collect()
        })
        .unwrap_or_default()
}

/// The boards and their pending change records, in the rollups' database.
#[derive(Clone)]
pub struct Leaderboards {
    db: Database,
}

impl Leaderboards {
    pub(crate) fn new(db: &Database) -> Self {
        Leaderboards { db: db.clone() }
    }

    /// Records which entities this delta changes, for
    /// [`Leaderboards::merge_pending`]: inside the flush transaction, or
    /// (without one) after the round's documents are written.
    pub(crate) async fn record_changes(
        &self,
        session: Option<&mut ClientSession>,
        delta: &RollupDelta,
    ) -> Result<(), StoreError> {
        let now = bson_time(Utc::now());
        let mut records = Vec::new();
        for (scope, ids) in changed(delta) {
            let ids: Vec<&String> = ids.iter().collect();
            for chunk in ids.chunks(PENDING_CHUNK) {
                let mut record = scope.to_doc();
                record.insert("created_at", now);
                record.insert("entity_ids", chunk.to_vec());
                records.push(record);
            }
        }
        if records.is_empty() {
            return Ok(());
        }
        let pending = self.db.collection::<Document>(LEADERBOARD_PENDING);
        match session {
            Some(session) => pending.insert_many(records).session(session).await?,
            None => pending.insert_many(records).await?,
        };
        Ok(())
    }

    /// Merges every pending change record into its boards and deletes it,
    /// those a stopped run left included (merging a record twice is
    /// harmless). Records of one bucket are merged together, up to
    /// [`MERGE_PAGE`] entities at a time: one read of their counts and one
    /// update per board, however many flush rounds wrote them, in bounded
    /// memory. Returns how many records were merged.
    pub async fn merge_pending(&self) -> Result<usize, StoreError> {
        let pending = self.db.collection::<Document>(LEADERBOARD_PENDING);
        let scope_of = doc! {"_id": {
            "domain": "$domain", "entity_type": "$entity_type",
            "period": "$period", "bucket": "$bucket",
        }};
        let scopes: Vec<Document> = pending
            .aggregate(vec![doc! {"$group": scope_of}])
            .await?
            .try_collect()
            .await?;
        // Buckets are independent (their own boards and records): a few at a
        // time keep both this worker and the server busy.
        futures_util::stream::iter(scopes.iter().map(|group| self.merge_scope(group)))
            .buffer_unordered(MERGE_CONCURRENCY)
            .try_fold(0, |merged, n| async move { Ok(merged + n) })
            .await
    }

    /// Merges one bucket's pending records (`group` is their `$group`
    /// result); returns the records merged.
    async fn merge_scope(&self, group: &Document) -> Result<usize, StoreError> {
        let pending = self.db.collection::<Document>(LEADERBOARD_PENDING);
        let Ok(key) = group.get_document("_id") else {
            return Ok(0);
        };
        let Some(scope) = BoardScope::from_doc(key) else {
            tracing::warn!(?key, "malformed leaderboard records dropped");
            pending.delete_many(key.clone()).await?;
            return Ok(0);
        };
        let mut records = pending
            .find(key.clone())
            .projection(doc! {"entity_ids": 1})
            .await?;
        let mut merged = 0;
        let mut entities = BTreeSet::new();
        let mut record_ids = Vec::new();
        while let Some(record) = records.try_next().await? {
            record_ids.push(record.get("_id").cloned().unwrap_or(Bson::Null));
            if let Ok(list) = record.get_array("entity_ids") {
                entities.extend(list.iter().filter_map(Bson::as_str).map(str::to_string));
            }
            if entities.len() >= MERGE_PAGE {
                merged += self.merge_page(&scope, &entities, &record_ids).await?;
                entities.clear();
                record_ids.clear();
            }
        }
        if !record_ids.is_empty() {
            merged += self.merge_page(&scope, &entities, &record_ids).await?;
        }
        Ok(merged)
    }

    /// Merges one page of a bucket's changed entities into both boards,
    /// then deletes the records that named them.
    async fn merge_page(
        &self,
        scope: &BoardScope,
        entities: &BTreeSet<String>,
        record_ids: &[Bson],
    ) -> Result<usize, StoreError> {
        let entities: Vec<&str> = entities.iter().map(String::as_str).collect();
        let mut current = Entries::new();
        for chunk in entities.chunks(PENDING_CHUNK) {
            current.extend(self.current_counts(scope, chunk).await?);
        }
        // Every measure's board: its entries carry all measures, so a change
        // in downloads refreshes the views board's entry too.
        for measure in Measure::ranked(scope.entity_type) {
            self.update_board(scope, *measure, Some(&current)).await?;
        }
        self.db
            .collection::<Document>(LEADERBOARD_PENDING)
            .delete_many(doc! {"_id": {"$in": record_ids}})
            .await?;
        Ok(record_ids.len())
    }

    /// Current counts of `ids` in `scope` (the bucket and the ids are the
    /// equality prefix of an index: `entity_id` last, so `$in` stays exact).
    async fn current_counts(
        &self,
        scope: &BoardScope,
        ids: &[&str],
    ) -> Result<Entries, StoreError> {
        let mut filter = scope.filter();
        filter.insert("entity_id", doc! {"$in": ids});
        let mut projection = doc! {"_id": 0, "entity_id": 1};
        for measure in Measure::ranked(scope.entity_type) {
            projection.insert(scope.measure_path(*measure), 1);
        }
        let cursor = self
            .db
            .collection::<Document>(scope.collection())
            .find(filter)
            .projection(projection)
            .await?;
        scope.collect(cursor).await
    }

    /// The bucket's top entries by a full sort: builds a missing board
    /// (a new bucket, or rollups older than the boards).
    async fn ranked_by_sort(
        &self,
        scope: &BoardScope,
        measure: Measure,
    ) -> Result<Entries, StoreError> {
        let mut filter = scope.filter();
        let path = scope.measure_path(measure);
        filter.insert(&path, doc! {"$gt": 0});
        let projection = match scope.embedded() {
            Some(prefix) => doc! {"entity_id": 1, prefix: 1},
            None => crate::rollups::counts_projection(),
        };
        let cursor = self
            .db
            .collection::<Document>(scope.collection())
            .find(filter)
            .projection(projection)
            .sort(doc! {path: -1, "entity_id": 1})
            .limit(LEADERBOARD_SIZE as i64)
            .await?;
        scope.collect(cursor).await
    }

    /// Updates one board with a compare-and-set on its version, so
    /// concurrent updates all land. With `changed` entities' current counts,
    /// merges them into the board; without, or when the board does not
    /// exist yet (a new bucket, or rollups older than the boards), ranks the
    /// whole bucket by a sort and replaces it.
    async fn update_board(
        &self,
        scope: &BoardScope,
        measure: Measure,
        changed: Option<&Entries>,
    ) -> Result<(), StoreError> {
        let boards = self.db.collection::<Document>(LEADERBOARDS);
        let id = scope.board_id(measure);
        for _ in 0..MAX_MERGE_ATTEMPTS {
            let board = boards.find_one(doc! {"_id": &id}).await?;
            let entries = match (&board, changed) {
                (Some(board), Some(changed)) => {
                    let mut best: HashMap<String, Counts> = entries_of(board).into_iter().collect();
                    for (entity, counts) in changed {
                        // Counts only grow: the higher of two readings is the newer.
                        let slot = best.entry(entity.clone()).or_default();
                        for m in Measure::ranked(scope.entity_type) {
                            let newer = m.of(slot).max(m.of(counts));
                            m.add_to(slot, newer - m.of(slot));
                        }
                    }
                    // An entity outside a full board whose count stays
                    // below the last entry's is cut again by the ranking.
                    let mut entries: Entries = best.into_iter().collect();
                    rank(&mut entries, measure);
                    entries
                }
                _ => self.ranked_by_sort(scope, measure).await?,
            };
            let stored = match board {
                None => {
                    let mut new = board_doc(scope, measure, &entries, 1);
                    new.insert("_id", &id);
                    match boards.insert_one(new).await {
                        Ok(_) => true,
                        // Another update created it first: go again on theirs.
                        Err(e) if is_duplicate_key(&e) => false,
                        Err(e) => return Err(e.into()),
                    }
                }
                Some(board) => {
                    let version = board.get_i64("version").unwrap_or(0);
                    boards
                        .replace_one(
                            doc! {"_id": &id, "version": version},
                            board_doc(scope, measure, &entries, version + 1),
                        )
                        .await?
                        .matched_count
                        == 1
                }
            };
            if stored {
                return Ok(());
            }
        }
        Err(StoreError::Protocol {
            store: "mongodb",
            detail: format!("leaderboard {id} kept changing under {MAX_MERGE_ATTEMPTS} updates"),
        })
    }

    /// Rebuilds every board from the rollups by full sorts (after a restore
    /// or a manual fix of the rollups; safe while flushes run). Returns how
    /// many boards were rebuilt.
    pub async fn rebuild(&self) -> Result<usize, StoreError> {
        let mut scopes = Vec::new();
        for period in [None, Some(Period::Day)] {
            let mut key = doc! {"domain": "$domain", "entity_type": "$entity_type"};
            if let Some(p) = period {
                key.insert("bucket", format!("${}", p.field()));
            }
            let groups: Vec<Document> = self
                .db
                .collection::<Document>(if period.is_some() { DAILY } else { TOTALS })
                .aggregate(vec![doc! {"$group": {"_id": key}}])
                .await?
                .try_collect()
                .await?;
            for group in &groups {
                let Ok(id) = group.get_document("_id") else {
                    continue;
                };
                let mut scope = id.clone();
                if let Some(p) = period {
                    scope.insert("period", p.field());
                }
                scopes.extend(BoardScope::from_doc(&scope));
            }
        }
        scopes.extend(self.embedded_scopes().await?);
        let mut rebuilt = 0;
        for scope in &scopes {
            for measure in Measure::ranked(scope.entity_type) {
                self.update_board(scope, *measure, None).await?;
                rebuilt += 1;
            }
        }
        Ok(rebuilt)
    }

    /// Every week, month and year bucket some totals document holds (read
    /// by streaming the totals: a rebuild is rare, and no index lists the
    /// labels inside documents).
    async fn embedded_scopes(&self) -> Result<Vec<BoardScope>, StoreError> {
        let embedded: Vec<(Period, &str)> = Period::ALL
            .into_iter()
            .filter_map(|p| Some((p, period_counts_field(p)?)))
            .collect();
        let mut projection = doc! {"_id": 0, "domain": 1, "entity_type": 1};
        for (_, field) in &embedded {
            projection.insert(*field, 1);
        }
        let mut cursor = self
            .db
            .collection::<Document>(TOTALS)
            .find(doc! {})
            .projection(projection)
            .await?;
        let mut found = std::collections::HashSet::new();
        while let Some(totals) = cursor.try_next().await? {
            let (Ok(domain), Ok(entity_type)) =
                (totals.get_str("domain"), totals.get_str("entity_type"))
            else {
                continue;
            };
            for (period, field) in &embedded {
                for label in totals
                    .get_document(field)
                    .into_iter()
                    .flat_map(Document::keys)
                {
                    let scope = doc! {"domain": domain, "entity_type": entity_type,
                    "period": period.field(), "bucket": label};
                    found.extend(BoardScope::from_doc(&scope));
                }
            }
        }
        Ok(found.into_iter().collect())
    }

    /// The top `limit` of a bucket with every ranked measure, from its
    /// board (one small document), or by a sort where no board exists yet.
    /// The board is as fresh as the last merge, right after each flush commit.
    pub async fn top(
        &self,
        scope: &BoardScope,
        measure: Measure,
        limit: usize,
    ) -> Result<Entries, StoreError> {
        let board = self
            .db
            .collection::<Document>(LEADERBOARDS)
            .find_one(doc! {"_id": scope.board_id(measure)})
            .await?;
        let mut entries = match board {
            Some(board) => entries_of(&board),
            None => self.ranked_by_sort(scope, measure).await?,
        };
        entries.truncate(limit);
        Ok(entries)
    }

    /// The daily boards of `dates` (labels) for one measure, in one read
    /// (a day without a board yet is ranked by a sort), as the range
    /// ranking takes them.
    pub async fn day_boards(
        &self,
        domain: &Domain,
        entity_type: EntityType,
        measure: Measure,
        dates: &[String],
    ) -> Result<Vec<DayBoard>, StoreError> {
        let scopes: Vec<BoardScope> = dates
            .iter()
            .map(|d| BoardScope::new(domain, entity_type, Some((Period::Day, d))))
            .collect();
        let ids: Vec<String> = scopes.iter().map(|s| s.board_id(measure)).collect();
        let mut cursor = self
            .db
            .collection::<Document>(LEADERBOARDS)
            .find(doc! {"_id": {"$in": &ids}})
            .await?;
        let mut found: HashMap<String, Entries> = HashMap::new();
        while let Some(board) = cursor.try_next().await? {
            if let Ok(id) = board.get_str("_id") {
                found.insert(id.to_string(), entries_of(&board));
            }
        }
        let mut out = Vec::with_capacity(scopes.len());
        for (scope, id) in scopes.iter().zip(&ids) {
            let entries = match found.remove(id) {
                Some(entries) => entries,
                None => self.ranked_by_sort(scope, measure).await?,
            };
            out.push(DayBoard {
                full: entries.len() >= LEADERBOARD_SIZE,
                entries: entries
                    .into_iter()
                    .map(|(id, c)| {
                        let v = measure.of(&c);
                        (id, v)
                    })
                    .collect(),
            });
        }
        Ok(out)
    }

    /// How many change records wait to be merged into the boards.
    pub async fn pending_changes(&self) -> Result<u64, StoreError> {
        Ok(self
            .db
            .collection::<Document>(LEADERBOARD_PENDING)
            .count_documents(doc! {})
            .await?)
    }
}

fn board_doc(scope: &BoardScope, measure: Measure, entries: &Entries, version: i64) -> Document {
    let mut board = scope.to_doc();
    board.insert("action", measure.as_str());
    board.insert("version", version);
    board.insert("updated_at", bson_time(Utc::now()));
    board.insert(
        "entries",
        entries
            .iter()
            .map(|(id, counts)| {
                let mut entry = doc! {"entity_id": id};
                for m in Measure::ranked(scope.entity_type) {
                    entry.insert(m.as_str(), m.of(counts));
                }
                entry
            })
            .collect::<Vec<_>>(),
    );
    board
}
