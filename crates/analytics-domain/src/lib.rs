//! The analytics pipeline's vocabulary and rules, free of I/O so every service
//! (and every test) shares one definition of what an event is and where it counts.

pub mod actor_segments;
pub mod artifact;
pub mod canonical;
pub mod details;
pub mod event;
pub mod hash;
pub mod job_event;
pub mod job_signals;
pub mod job_summary;
pub mod keys;
pub mod measures;
pub mod opening;
pub mod privacy;
pub mod producers;
pub mod ranking;
pub mod realtime;
pub mod rebuild;
pub mod rollup;
pub mod snapshot;
pub mod sweep;
pub mod time;
pub mod unique;
pub mod validation;
pub mod value_limits;
pub mod viewing;
pub mod vocabulary;

pub use event::{Event, EventRules, Lateness, UserId, ValueLimits};
pub use keys::{CounterField, EntityKey, KeySpace};
pub use time::{BucketMode, LocalHour, Period};
pub use validation::ValidationErrors;
pub use vocabulary::{Action, Domain, EntityType, Sum};
