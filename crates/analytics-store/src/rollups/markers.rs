//! Exactly once without a multi-document transaction
//! (`mongo.exactly_once = "markers"`), for a sharded MongoDB: there, a round
//! touching films on several shards in one transaction is a distributed
//! transaction, which costs more and which MongoDB advises keeping under a
//! thousand documents.
//!
//! Each rollup document carries, per sequence of batches (a partition, or a
//! rebuild), the last batch applied to it: `applied.<sequence>: batch id`.
//! A document's update matches only where none of its batches is marked
//! yet, and sets their marks in the same single-document write, which
//! MongoDB makes atomic on any topology. The ledger entries are written
//! after every document: a run stopped in between resumes its batches, and
//! each document takes only the batches not marked on it yet.
//!
//! One mark per sequence is enough: a partition's batches are applied one
//! after another under its lease, and a batch is claimed only after the one
//! before it finished (was applied to every document and recorded). So a
//! document whose mark for a sequence is not batch `b` has not taken `b`.

use std::collections::BTreeMap;

use futures_util::{StreamExt, TryStreamExt};
use mongodb::bson::{doc, Bson, Document};
use mongodb::error::ErrorKind;
use mongodb::options::{UpdateOneModel, WriteModel};

use super::duplicates::number;
use super::updates::DocumentUpdate;
use super::RollupStore;
use crate::error::{is_duplicate_key, StoreError, DUPLICATE_KEY};

/// The field holding a document's marks.
pub const APPLIED: &str = "applied";

/// How often one document's missing batches are written again after a
/// concurrent writer created or marked it first.
const MAX_ATTEMPTS: usize = 8;
/// Unmatched documents completed at the same time.
const MISSING_CONCURRENCY: usize = 8;

/// One batch's update of a document.
struct Part<'a> {
    sequence: &'a str,
    batch_id: &'a str,
    update: Document,
}

/// One document's writes in a round: its key and each fresh batch's update.
struct DocumentWrites<'a> {
    collection: &'static str,
    filter: Document,
    parts: Vec<Part<'a>>,
}

impl DocumentWrites<'_> {
    /// The upsert of `parts`: matches only where none of them is marked,
    /// adds them up, and marks them.
    fn model(&self, store: &RollupStore, parts: &[&Part<'_>]) -> WriteModel {
        let mut filter = self.filter.clone();
        let mut update = Document::new();
        let mut marks = Document::new();
        for part in parts {
            let mark = format!("{APPLIED}.{}", part.sequence);
            filter.insert(&mark, doc! {"$ne": part.batch_id});
            merge_update(&mut update, &part.update);
            marks.insert(mark, part.batch_id);
        }
        update.insert("$set", marks);
        WriteModel::UpdateOne(
            UpdateOneModel::builder()
                .namespace(store.namespace(self.collection))
                .filter(filter)
                .update(update)
                .upsert(true)
                .build(),
        )
    }
}

/// A batch of a round, as the marks name it.
pub(crate) struct MarkedBatch<'a> {
    pub sequence: &'a str,
    pub batch_id: &'a str,
    pub updates: Vec<DocumentUpdate>,
}

impl RollupStore {
    /// Writes every document of `batches` (those the ledger does not know),
    /// each taking the batches not marked on it yet; returns the documents
    /// written. The caller records the batches in the ledger afterwards.
    pub(crate) async fn write_marked(
        &self,
        batches: Vec<MarkedBatch<'_>>,
    ) -> Result<usize, StoreError> {
        let mut by_key: BTreeMap<String, DocumentWrites> = BTreeMap::new();
        for batch in batches {
            for u in batch.updates {
                let key = format!("{}|{}", u.collection, u.filter);
                by_key
                    .entry(key)
                    .or_insert_with(|| DocumentWrites {
                        collection: u.collection,
                        filter: u.filter,
                        parts: Vec::new(),
                    })
                    .parts
                    .push(Part {
                        sequence: batch.sequence,
                        batch_id: batch.batch_id,
                        update: u.update,
                    });
            }
        }
        let docs: Vec<DocumentWrites> = by_key.into_values().collect();
        if docs.is_empty() {
            return Ok(0);
        }
        let models: Vec<WriteModel> = docs
            .iter()
            .map(|d| d.model(self, &d.parts.iter().collect::<Vec<_>>()))
            .collect();
        let unmatched = match self.client.bulk_write(models).ordered(false).await {
            Ok(_) => Vec::new(),
            Err(e) => match duplicate_writes(&e) {
                Some(indexes) => indexes,
                None => return Err(e.into()),
            },
        };
        // A document some of whose batches are marked already (a resumed
        // round: most of its documents), or that a concurrent round created
        // first. A few at a time: each is a read and a write.
        futures_util::stream::iter(unmatched.iter().filter_map(|i| docs.get(*i)))
            .map(|d| self.write_missing(d))
            .buffer_unordered(MISSING_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(docs.len())
    }

    /// Reads a document's marks and writes the batches it lacks, until it
    /// has them all.
    async fn write_missing(&self, doc: &DocumentWrites<'_>) -> Result<(), StoreError> {
        let coll = self.db.collection::<Document>(doc.collection);
        for _ in 0..MAX_ATTEMPTS {
            let marks = coll
                .find_one(doc.filter.clone())
                .projection(doc! {APPLIED: 1})
                .await?;
            let marks = marks.as_ref().and_then(|m| m.get_document(APPLIED).ok());
            let missing: Vec<&Part> = doc
                .parts
                .iter()
                .filter(|p| marks.and_then(|m| m.get_str(p.sequence).ok()) != Some(p.batch_id))
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            let WriteModel::UpdateOne(model) = doc.model(self, &missing) else {
                continue;
            };
            match coll
                .update_one(model.filter, model.update)
                .upsert(true)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if is_duplicate_key(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Protocol {
            store: "mongodb",
            detail: format!(
                "{} {} kept changing under {MAX_ATTEMPTS} marked writes",
                doc.collection, doc.filter
            ),
        })
    }
}

/// The indexes of a bulk write's models that failed on a duplicate key (an
/// upsert whose filter did not match an existing document), when that is
/// every error it had.
fn duplicate_writes(e: &mongodb::error::Error) -> Option<Vec<usize>> {
    let ErrorKind::BulkWrite(failure) = e.kind.as_ref() else {
        return None;
    };
    if !failure.write_concern_errors.is_empty()
        || failure
            .write_errors
            .values()
            .any(|w| w.code != DUPLICATE_KEY)
    {
        return None;
    }
    let mut indexes: Vec<usize> = failure.write_errors.keys().copied().collect();
    indexes.sort_unstable();
    Some(indexes)
}

/// Adds one update's operators into another: `$inc` summed, `$max` by the
/// higher value, anything else replaced.
fn merge_update(into: &mut Document, from: &Document) {
    for (op, fields) in from {
        let Some(fields) = fields.as_document() else {
            continue;
        };
        if !into.contains_key(op) {
            into.insert(op.clone(), Document::new());
        }
        let Ok(target) = into.get_document_mut(op) else {
            continue;
        };
        for (field, value) in fields {
            let merged = match (op.as_str(), target.get(field), value) {
                ("$inc", Some(a), b) => add(a, b),
                ("$max", Some(a), b) => Some(if number(b) > number(a) {
                    b.clone()
                } else {
                    a.clone()
                }),
                _ => None,
            };
            target.insert(field.clone(), merged.unwrap_or_else(|| value.clone()));
        }
    }
}

fn add(a: &Bson, b: &Bson) -> Option<Bson> {
    Some(Bson::Int64(number(a)? + number(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_merge_increments_summed_and_registers_by_maximum() {
        let mut into = doc! {"$inc": {"view": 2_i64}, "$max": {"viewers.7": 3_i32}};
        merge_update(
            &mut into,
            &doc! {"$inc": {"view": 3_i64, "download": 1_i64},
            "$max": {"viewers.7": 2_i32, "viewers.9": 4_i32}},
        );
        assert_eq!(
            into,
            doc! {"$inc": {"view": 5_i64, "download": 1_i64},
            "$max": {"viewers.7": 3_i32, "viewers.9": 4_i32}}
        );
    }
}
