//! MongoDB rollups: the per-entity totals (with their ISO weeks, months and
//! years inside) and days, the site-wide hourly collection, the flush ledger
//! that makes every batch count once, and the run log.

mod apply;
mod cutover;
mod duplicates;
pub mod leaderboard;
mod legacy_periods;
mod markers;
mod queries;
mod ranges;
// Reads the raw event log (MySQL) it rebuilds from.
#[cfg(feature = "mysql")]
pub mod rebuild;
mod replica_backlog;
mod runs;
mod schema;
mod updates;

use std::time::Duration;

use analytics_domain::rollup::Counts;
use analytics_domain::{Action, Domain, EntityType, Period, Sum};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, DateTime as BsonDateTime, Document};
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection, Database};

use crate::error::StoreError;
use leaderboard::Leaderboards;

pub use crate::settings::{ExactlyOnce, MongoSettings};
pub use apply::{ApplyReport, BatchDelta, OpenApply};
pub use cutover::{
    CutoverRecord, Opening, Unimported, CUTOVER_PENDING, CUTOVER_RUNS, OPENING_BALANCE,
};
pub use duplicates::{merge_documents, DuplicateReport};
pub use ranges::{registers_of, RangeFigures, Registers, SiteHour};
pub use replica_backlog::{DeferredReplica, REPLICA_BACKLOG};
pub use runs::{FlushRunRecord, LoggedRun};

pub const TOTALS: &str = "analytics_entity_totals";
pub const HOURLY: &str = "analytics_hourly";
pub const LEDGER: &str = "analytics_flush_ledger";
pub const RUNS: &str = "analytics_flush_runs";
pub const PARITY_RUNS: &str = "analytics_parity_runs";
/// A daily document's unique-viewer registers (`viewers.<index>: rank`).
pub const VIEWER_REGISTERS: &str = "viewers";
/// A site hourly document's unique-user registers (`users.<index>: rank`).
pub const USER_REGISTERS: &str = "users";
/// The projection of a counts read: everything but the registers (a
/// popular film's day holds thousands), the periods a totals document
/// embeds and the marks of the batches applied.
pub fn counts_projection() -> Document {
    doc! {VIEWER_REGISTERS: 0, USER_REGISTERS: 0, "weeks": 0, "months": 0, "years": 0,
    markers::APPLIED: 0}
}
/// Likes minus unlikes, kept beside both counts.
pub const LIKES_NET: &str = "likes_net";

/// One document per entity and local day (the name and layout kept from the
/// system replaced, whose readers read them).
pub const DAILY: &str = "analytics_entity_daily";

/// The field of a totals document that holds one period's buckets, as
/// `weeks.<label>.<measure>`. Weeks, months and years live in their entity's
/// totals document rather than in documents of their own: a flush then
/// writes two documents per film it touches (totals and day) instead of
/// five, and a period's board reads one document per entity. Days keep
/// their own documents (`None`).
pub fn period_counts_field(period: Period) -> Option<&'static str> {
    match period {
        Period::Day => None,
        Period::Week => Some("weeks"),
        Period::Month => Some("months"),
        Period::Year => Some("years"),
    }
}

/// The counts of one embedded bucket of a totals document (zero when absent).
pub fn embedded_counts(totals: &Document, period: Period, label: &str) -> Counts {
    period_counts_field(period)
        .and_then(|field| totals.get_document(field).ok())
        .and_then(|buckets| buckets.get_document(label).ok())
        .map(counts_of)
        .unwrap_or_default()
}

#[derive(Clone)]
pub struct RollupStore {
    client: Client,
    pub(crate) db: Database,
    ledger_ttl: Duration,
    exactly_once: ExactlyOnce,
    leaderboards: Leaderboards,
}

impl RollupStore {
    pub async fn connect(settings: &MongoSettings) -> Result<Self, StoreError> {
        let mut options = ClientOptions::parse(&settings.url).await?;
        options.connect_timeout = Some(settings.connect_timeout);
        options.server_selection_timeout = Some(settings.connect_timeout);
        // The monitor's heartbeat is what notices a server that stopped
        // answering without closing its sockets (it then interrupts the
        // operations waiting on it): every connect timeout, not the
        // driver's 10 s, so a frozen server costs a request about two.
        options.heartbeat_freq = Some(settings.connect_timeout.max(Duration::from_millis(500)));
        options.app_name = Some("analytics".into());
        let client = Client::with_options(options)?;
        let db = client.database(&settings.database);
        Ok(RollupStore {
            client,
            leaderboards: Leaderboards::new(&db),
            db,
            ledger_ttl: settings.ledger_ttl,
            exactly_once: settings.exactly_once,
        })
    }

    /// Ends the client's sessions and closes its connections now; a
    /// process calls this before its runtime stops (a client dropped while
    /// the runtime shuts down has the driver end its sessions on a pool
    /// already gone, which panics). Any later call on the store is an error.
    pub async fn shutdown(&self) {
        self.client.clone().shutdown().immediate(true).await;
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The top-N boards kept beside these rollups.
    pub fn leaderboards(&self) -> &Leaderboards {
        &self.leaderboards
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.run_command(doc! {"ping": 1}).await?;
        Ok(())
    }

    /// A collection handle for callers that read documents directly (tests, reports).
    pub fn collection(&self, name: &str) -> Collection<Document> {
        self.db.collection(name)
    }
}

/// `(entity_id, counts)` of every document a cursor yields, in order.
pub(crate) async fn collect_counts(
    cursor: mongodb::Cursor<Document>,
) -> Result<Vec<(String, Counts)>, StoreError> {
    collect_counts_with(cursor, counts_of).await
}

/// [`collect_counts`] with the counts read from each document by `counts`
/// (an embedded bucket's, say).
pub(crate) async fn collect_counts_with(
    mut cursor: mongodb::Cursor<Document>,
    counts: impl Fn(&Document) -> Counts,
) -> Result<Vec<(String, Counts)>, StoreError> {
    let mut out = Vec::new();
    while let Some(doc) = cursor.try_next().await? {
        if let Ok(id) = doc.get_str("entity_id") {
            out.push((id.to_string(), counts(&doc)));
        }
    }
    Ok(out)
}

pub(crate) fn entity_filter(domain: &Domain, entity_type: EntityType, id: &str) -> Document {
    doc! {"domain": domain.as_str(), "entity_type": entity_type.as_str(), "entity_id": id}
}

/// Reads the per-action counts and sums of a rollup document; a missing
/// field is 0.
pub fn counts_of(doc: &Document) -> Counts {
    let number = |field: &str| match doc.get(field) {
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Double(n)) => *n as i64,
        _ => 0,
    };
    let mut counts = Counts::default();
    for action in Action::ALL {
        counts.add(action, number(action.as_str()));
    }
    for sum in Sum::ALL {
        counts.add_sum(sum, number(sum.as_str()));
    }
    counts
}

pub(crate) fn bson_time(t: DateTime<Utc>) -> BsonDateTime {
    BsonDateTime::from_millis(t.timestamp_millis())
}
