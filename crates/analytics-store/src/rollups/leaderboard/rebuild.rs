//! Every board rebuilt from the rollups by full sorts.

use analytics_domain::ranking::Measure;
use analytics_domain::Period;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};

use crate::error::StoreError;
use crate::rollups::{period_counts_field, DAILY, TOTALS};

use super::{BoardScope, Leaderboards};

impl Leaderboards {
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
}
