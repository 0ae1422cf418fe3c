//! Store adapters. Each adapter owns its store's schema and scripts; the
//! services compose them and never talk to a store directly.

pub mod block_signals;
pub mod catalogue;
pub mod erasure;
pub mod error;
pub mod event_log;
pub mod hot_counters;
pub mod job_events;
pub mod job_summary;
pub mod leaderboard;
pub mod log_reads;
pub mod retention;
pub mod rollups;

pub use catalogue::CatalogueStore;
pub use error::StoreError;
pub use hot_counters::HotCounters;
pub use job_events::JobEventStore;
pub use leaderboard::Leaderboards;
pub use rollups::RollupStore;
