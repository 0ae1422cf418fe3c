//! flush-worker: the pipeline's batch jobs, run by Kubernetes CronJobs.

pub mod cutover;
pub mod deadline;
pub mod erase;
pub mod evidence;
pub mod fault;
pub mod flush;
pub mod parity;
pub mod progress;
pub mod prune;
pub mod rebuild;
pub mod settings;
pub mod stores;
pub mod summary_report;
