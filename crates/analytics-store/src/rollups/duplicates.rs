//! Duplicate rollup documents in a database taken over from the replaced
//! system: it had no unique index, so two concurrent upserts of one key
//! could create two documents. Before a unique index is built on such a
//! collection, each key's documents are merged into one (counts and sums
//! added, unique-viewer registers by their maximum), so no count is lost
//! and the index can be built.

use mongodb::bson::{doc, Bson, Document};

use super::{RollupStore, DAILY, TOTALS, USER_REGISTERS, VIEWER_REGISTERS};
use crate::error::StoreError;
use analytics_domain::Period;

/// Keys whose documents are merged per transaction.
const GROUPS_PER_TRANSACTION: usize = 200;

/// What merging (or, in a dry run, counting) duplicates found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DuplicateReport {
    /// Keys that had more than one document.
    pub keys: u64,
    /// Documents removed (merged into the first of their key).
    pub removed: u64,
}

impl DuplicateReport {
    pub fn add(&mut self, other: DuplicateReport) {
        self.keys += other.keys;
        self.removed += other.removed;
    }
}

/// The rollup collections with a unique key, and that key's fields (the
/// weeks, months and years are inside the totals documents).
pub fn unique_keys() -> Vec<(&'static str, Vec<&'static str>)> {
    let entity = vec!["domain", "entity_type", "entity_id"];
    let mut day = entity.clone();
    day.push(Period::Day.field());
    vec![(TOTALS, entity), (DAILY, day)]
}

/// The name MongoDB gives an index on these fields, ascending.
pub fn index_name(fields: &[&str]) -> String {
    fields
        .iter()
        .map(|f| format!("{f}_1"))
        .collect::<Vec<_>>()
        .join("_")
}

impl RollupStore {
    /// Whether `collection` already has its unique key (then it cannot hold
    /// duplicates). A collection that does not exist has none to merge.
    async fn has_index(&self, collection: &str, name: &str) -> bool {
        match self
            .db
            .collection::<Document>(collection)
            .list_index_names()
            .await
        {
            Ok(names) => names.iter().any(|n| n == name),
            Err(_) => true,
        }
    }

    /// Merges the duplicates of every rollup collection that has no unique
    /// key yet (or only counts them, with `dry_run`).
    pub async fn merge_duplicate_rollups(
        &self,
        dry_run: bool,
    ) -> Result<DuplicateReport, StoreError> {
        let mut report = DuplicateReport::default();
        for (collection, fields) in unique_keys() {
            if self.has_index(collection, &index_name(&fields)).await {
                continue;
            }
            report.add(self.merge_duplicates(collection, &fields, dry_run).await?);
        }
        Ok(report)
    }

    // One function on purpose: find, fold and delete a duplicate group are
    // one step, and their order is what keeps the counts whole.
    async fn merge_duplicates(
        &self,
        collection: &str,
        fields: &[&str],
        dry_run: bool,
    ) -> Result<DuplicateReport, StoreError> {
        let coll = self.db.collection::<Document>(collection);
        let key: Document = fields
            .iter()
            .map(|f| (f.to_string(), Bson::String(format!("${f}"))))
            .collect();
        let mut cursor = coll
            .aggregate(vec![
                doc! {"$group": {"_id": key, "ids": {"$push": "$_id"}, "n": {"$sum": 1}}},
                doc! {"$match": {"n": {"$gt": 1}}},
            ])
            .await?;
        let mut groups: Vec<Vec<Bson>> = Vec::new();
        while cursor.advance().await? {
            let group = cursor.deserialize_current()?;
            if let Ok(ids) = group.get_array("ids") {
                groups.push(ids.clone());
            }
        }
        let mut report = DuplicateReport {
            keys: groups.len() as u64,
            removed: groups.iter().map(|g| g.len() as u64 - 1).sum(),
        };
        if dry_run {
            return Ok(report);
        }
        report.removed = 0;
        for chunk in groups.chunks(GROUPS_PER_TRANSACTION) {
            let mut session = self.client.start_session().await?;
            session.start_transaction().await?;
            let mut removed = 0;
            let result = async {
                for ids in chunk {
                    let mut docs: Vec<Document> = Vec::with_capacity(ids.len());
                    let mut found = coll
                        .find(doc! {"_id": {"$in": ids}})
                        .sort(doc! {"_id": 1})
                        .session(&mut session)
                        .await?;
                    while let Some(d) = found.next(&mut session).await.transpose()? {
                        docs.push(d);
                    }
                    let Some((first, rest)) = docs.split_first() else {
                        continue;
                    };
                    if rest.is_empty() {
                        continue;
                    }
                    let merged = merge_documents(first, rest);
                    let others: Vec<&Bson> = rest.iter().filter_map(|d| d.get("_id")).collect();
                    coll.delete_many(doc! {"_id": {"$in": others}})
                        .session(&mut session)
                        .await?;
                    if let Some(id) = first.get("_id") {
                        coll.replace_one(doc! {"_id": id}, merged)
                            .session(&mut session)
                            .await?;
                    }
                    removed += rest.len() as u64;
                }
                Ok::<_, StoreError>(())
            }
            .await;
            match result {
                Ok(()) => session.commit_transaction().await?,
                Err(e) => {
                    let _ = session.abort_transaction().await;
                    return Err(e);
                }
            }
            report.removed += removed;
        }
        tracing::info!(
            collection,
            keys = report.keys,
            removed = report.removed,
            "duplicate rollup documents merged"
        );
        Ok(report)
    }
}

/// One document from a key's documents: numbers added, register maps by
/// the highest rank, anything else as the first document has it.
pub fn merge_documents(first: &Document, rest: &[Document]) -> Document {
    let mut merged = first.clone();
    for other in rest {
        for (k, v) in other {
            if k == "_id" {
                continue;
            }
            let registers = k == VIEWER_REGISTERS || k == USER_REGISTERS;
            match (merged.get(k), v) {
                (None, _) => {
                    merged.insert(k.clone(), v.clone());
                }
                (Some(Bson::Document(mine)), Bson::Document(theirs)) if registers => {
                    let mut regs = mine.clone();
                    for (index, rank) in theirs {
                        let higher = match (regs.get(index).and_then(number), number(rank)) {
                            (Some(a), Some(b)) => b > a,
                            (None, Some(_)) => true,
                            _ => false,
                        };
                        if higher {
                            regs.insert(index.clone(), rank.clone());
                        }
                    }
                    merged.insert(k.clone(), regs);
                }
                (Some(mine), theirs) => {
                    if let (Some(a), Some(b)) = (number(mine), number(theirs)) {
                        merged.insert(k.clone(), Bson::Int64(a + b));
                    }
                }
            }
        }
    }
    merged
}

pub(crate) fn number(v: &Bson) -> Option<i64> {
    match v {
        Bson::Int64(n) => Some(*n),
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Double(n) if n.fract() == 0.0 => Some(*n as i64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_merge_counts_added_and_registers_by_maximum() {
        let first = doc! {"_id": 1, "domain": "jav", "entity_id": "m", "view": 3_i32,
        "download": 1_i64, "viewers": {"5": 2_i32, "9": 1_i32}};
        let rest = [
            doc! {"_id": 2, "domain": "jav", "entity_id": "m", "view": 4_i64,
            "viewers": {"5": 1_i32, "7": 3_i32}},
            doc! {"_id": 3, "domain": "jav", "entity_id": "m", "view": 1.0, "download": 2_i32,
            "like": 5_i64},
        ];
        let merged = merge_documents(&first, &rest);
        assert_eq!(
            merged,
            doc! {"_id": 1, "domain": "jav", "entity_id": "m", "view": 8_i64,
            "download": 3_i64, "viewers": {"5": 2_i32, "9": 1_i32, "7": 3_i32}, "like": 5_i64}
        );
    }

    #[test]
    fn the_unique_indexes_are_named_as_mongodb_names_them() {
        let keys = unique_keys();
        assert_eq!(keys.len(), 2);
        assert_eq!(index_name(&keys[0].1), "domain_1_entity_type_1_entity_id_1");
        assert_eq!(
            index_name(&keys[1].1),
            "domain_1_entity_type_1_entity_id_1_date_1"
        );
    }
}
