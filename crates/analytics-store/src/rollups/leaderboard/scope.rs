//! A board's bucket: which documents hold its counts and where in them.

use analytics_domain::ranking::Measure;
use analytics_domain::rollup::Counts;
use analytics_domain::{Domain, EntityType, Period};
use mongodb::bson::{doc, Document};

use crate::error::StoreError;
use crate::rollups::{
    collect_counts_with, counts_of, embedded_counts, period_counts_field, DAILY, TOTALS,
};

use super::Entries;

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

    pub(super) fn board_id(&self, measure: Measure) -> String {
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
    pub(super) fn collection(&self) -> &'static str {
        match self.period {
            Some(Period::Day) => DAILY,
            _ => TOTALS,
        }
    }

    /// The documents holding this bucket (for an embedded period: every
    /// totals document of the type; [`BoardScope::measure_path`] tells
    /// which have it).
    pub(super) fn filter(&self) -> Document {
        let mut filter =
            doc! {"domain": self.domain.as_str(), "entity_type": self.entity_type.as_str()};
        if let (Some(Period::Day), Some(b)) = (self.period, &self.bucket) {
            filter.insert(Period::Day.field(), b);
        }
        filter
    }

    /// The embedded bucket's field (`weeks.2026-W49`), for weeks, months
    /// and years.
    pub(super) fn embedded(&self) -> Option<String> {
        let field = period_counts_field(self.period?)?;
        Some(format!("{field}.{}", self.bucket.as_deref()?))
    }

    /// The field a measure of this bucket is read and sorted by.
    pub(super) fn measure_path(&self, measure: Measure) -> String {
        match self.embedded() {
            Some(prefix) => format!("{prefix}.{}", measure.as_str()),
            None => measure.as_str().to_string(),
        }
    }

    /// The bucket's counts in one of its documents.
    pub(super) fn counts_in(&self, doc: &Document) -> Counts {
        match (self.period, &self.bucket) {
            (Some(period), Some(label)) if period_counts_field(period).is_some() => {
                embedded_counts(doc, period, label)
            }
            _ => counts_of(doc),
        }
    }

    /// `(entity_id, counts)` of every document a cursor yields, in order.
    pub(super) async fn collect(
        &self,
        cursor: mongodb::Cursor<Document>,
    ) -> Result<Entries, StoreError> {
        collect_counts_with(cursor, |doc| self.counts_in(doc)).await
    }

    pub(super) fn to_doc(&self) -> Document {
        doc! {
            "domain": self.domain.as_str(),
            "entity_type": self.entity_type.as_str(),
            "period": self.period.map(Period::field),
            "bucket": self.bucket.as_deref(),
        }
    }

    pub(super) fn from_doc(doc: &Document) -> Option<Self> {
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
