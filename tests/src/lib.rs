//! Test harness: every test gets its own Redis key prefix, Mongo database and
//! MySQL schema on the shared real stores, so tests run in parallel.
//! Store addresses come from `ANALYTICS_REDIS_URL`, `ANALYTICS_MONGO_URL` and
//! `ANALYTICS_MYSQL_URL` (set by scripts/test.sh), with the dev ports as defaults.

pub mod browser;
pub mod private_servers;

/// The synthetic catalogue, shared with the benchmarks.
pub use analytics_bench::catalogue_data;

mod clients;
mod env;
mod fixtures;
mod peeks;
mod stores;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use analytics_domain::rollup::Counts;
use analytics_domain::Period;
use analytics_store::rollups::counts_of;
use anyhow::Context;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use serde_json::{json, Value};
use sqlx::{Connection, Executor, MySqlConnection};

pub use clients::*;
pub use fixtures::*;
pub use stores::*;
// Store helpers the other modules share, not part of the harness's API.
use stores::mysql_url_for;

/// The admin bearer token every test's read-api accepts.
pub const ADMIN_TOKEN: &str = "test-admin-token";

/// The producer token every test's ingest-svc accepts (values above the
/// public limit need it).
pub const INGEST_PRODUCER_TOKEN: &str = "test-ingest-producer-token";

/// The telemetry tokens every test's telemetry-svc accepts.
pub const PRODUCER_TOKEN: &str = "test-producer-token";
pub const OPERATOR_TOKEN: &str = "test-operator-token";

/// One test's isolated slice of the stores.
pub struct TestEnv {
    pub id: String,
    pub redis_url: String,
    pub mongo_url: String,
    pub mysql_url: String,
    /// Extra `ANALYTICS__…` settings for every app and binary of this test.
    pub settings: BTreeMap<String, String>,
    /// Other environment variables for the binaries this test runs.
    pub process_env: BTreeMap<String, String>,
}
