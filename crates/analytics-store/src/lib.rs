//! Store adapters. Each adapter owns its store's schema and scripts; the
//! services compose them and never talk to a store directly.
//!
//! One feature per driver (`redis`, `mongo`, `mysql`): a service compiles
//! only the drivers of the stores it talks to (ingest-svc has no MongoDB
//! driver, telemetry-svc no MySQL one). The settings and the error type are
//! always there, so the runtime's configuration names them without a driver.

pub mod error;
pub mod settings;

#[cfg(feature = "redis")]
pub mod hot_counters;

#[cfg(feature = "mysql")]
pub mod catalogue;
#[cfg(feature = "mysql")]
pub mod event_log;
#[cfg(feature = "mysql")]
pub mod log_reads;

#[cfg(feature = "mongo")]
pub mod block_signals;
#[cfg(feature = "mongo")]
pub mod job_events;
#[cfg(feature = "mongo")]
pub mod job_summary;
#[cfg(feature = "mongo")]
pub mod rollups;

// The jobs that span stores.
#[cfg(all(feature = "redis", feature = "mongo", feature = "mysql"))]
pub mod erasure;
#[cfg(all(feature = "mongo", feature = "mysql"))]
pub mod retention;

pub use error::StoreError;

#[cfg(feature = "mysql")]
pub use catalogue::CatalogueStore;
#[cfg(feature = "redis")]
pub use hot_counters::HotCounters;
#[cfg(feature = "mongo")]
pub use job_events::JobEventStore;
#[cfg(feature = "mongo")]
pub use rollups::{leaderboard::Leaderboards, RollupStore};
