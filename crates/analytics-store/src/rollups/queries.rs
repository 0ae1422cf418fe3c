//! Reads of the rollups: totals, one entity's series, site-wide days, and
//! which batches the ledger holds.

use std::collections::{HashMap, HashSet};

use analytics_domain::rollup::Counts;
use analytics_domain::{Action, Domain, EntityType, Period, Sum};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};

use super::{
    collect_counts, counts_of, entity_filter, period_counts_field, RollupStore, DAILY, HOURLY,
    LEDGER, TOTALS,
};
use crate::error::StoreError;

impl RollupStore {
    /// Totals of some entities of one type, by entity id (absent = none).
    pub async fn totals_for(
        &self,
        domain: &Domain,
        entity_type: EntityType,
        ids: &[String],
    ) -> Result<HashMap<String, Counts>, StoreError> {
        let filter = doc! {
            "domain": domain.as_str(),
            "entity_type": entity_type.as_str(),
            "entity_id": {"$in": ids},
        };
        let mut cursor = self
            .db
            .collection::<Document>(TOTALS)
            .find(filter)
            .projection(super::counts_projection())
            .await?;
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
    ) -> Result<Vec<(String, Counts)>, StoreError> {
        let mut filter = doc! {"domain": domain.as_str(), "entity_type": entity_type.as_str()};
        if let Some(after) = after {
            filter.insert("entity_id", doc! {"$gt": after});
        }
        let cursor = self
            .db
            .collection::<Document>(TOTALS)
            .find(filter)
            .projection(super::counts_projection())
            .sort(doc! {"entity_id": 1})
            .limit(limit)
            .await?;
        collect_counts(cursor).await
    }

    /// One entity's buckets of a period between two labels (inclusive):
    /// its day documents, or the weeks, months or years of its totals.
    pub async fn entity_series(
        &self,
        entity: &analytics_domain::EntityKey,
        period: Period,
        from: &str,
        to: &str,
    ) -> Result<HashMap<String, Counts>, StoreError> {
        let mut filter = entity_filter(&entity.domain, entity.entity_type, &entity.entity_id);
        let mut out = HashMap::new();
        if let Some(field) = period_counts_field(period) {
            let totals = self
                .db
                .collection::<Document>(TOTALS)
                .find_one(filter)
                .projection(doc! {field: 1})
                .await?;
            let buckets = totals.as_ref().and_then(|t| t.get_document(field).ok());
            let in_range = |label: &str| from <= label && label <= to;
            for (label, counts) in buckets.into_iter().flatten() {
                if let Some(counts) = counts.as_document().filter(|_| in_range(label)) {
                    out.insert(label.clone(), counts_of(counts));
                }
            }
            return Ok(out);
        }
        filter.insert(period.field(), doc! {"$gte": from, "$lte": to});
        let mut cursor = self
            .db
            .collection::<Document>(DAILY)
            .find(filter)
            .projection(super::counts_projection())
            .await?;
        while let Some(doc) = cursor.try_next().await? {
            if let Ok(label) = doc.get_str(period.field()) {
                out.insert(label.to_string(), counts_of(&doc));
            }
        }
        Ok(out)
    }

    /// Site-wide counts and sums per local date (from the hourly collection: at most
    /// 24 documents per day and type, however many entities there are).
    pub async fn site_daily(
        &self,
        domain: &Domain,
        entity_type: Option<EntityType>,
        from: &str,
        to: &str,
    ) -> Result<HashMap<String, Counts>, StoreError> {
        let mut filter = doc! {"domain": domain.as_str(), "date": {"$gte": from, "$lte": to}};
        if let Some(t) = entity_type {
            filter.insert("entity_type", t.as_str());
        }
        let mut group = doc! {"_id": "$date"};
        let fields = Action::ALL
            .iter()
            .map(|a| a.as_str())
            .chain(Sum::ALL.iter().map(|s| s.as_str()));
        for field in fields {
            group.insert(field, doc! {"$sum": format!("${field}")});
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
}
