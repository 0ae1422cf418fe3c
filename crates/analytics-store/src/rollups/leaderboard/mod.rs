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
//!
//! Merging the change records into the boards, rebuilding every board and
//! what a board's bucket is have modules of their own.

use std::collections::HashMap;

use analytics_domain::ranking::{DayBoard, Measure};
use analytics_domain::rollup::Counts;
use analytics_domain::{Domain, EntityType, Period};
use chrono::Utc;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::Database;

use crate::error::{is_duplicate_key, StoreError};
use crate::rollups::{bson_time, counts_of};

mod merge;
mod rebuild;
mod scope;

pub use scope::BoardScope;

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
