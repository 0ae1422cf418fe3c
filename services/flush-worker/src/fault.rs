//! Named fault points: `ANALYTICS_FLUSH_FAULT=after-claim|in-transaction|after-mongo|after-mysql|after-log-copy`,
//! and a stall (`ANALYTICS_FLUSH_STALL_MS`). A fault
//! ends the process on the spot, as a kill would, so tests can prove that a
//! crash at any step neither loses nor doubles a count. `in-transaction`
//! leaves a Mongo transaction open with its writes done: the server keeps
//! it until its lifetime runs out, as after a real kill (with
//! `mongo.exactly_once = "markers"`: the round's documents written and
//! marked, its ledger entries not). `after-log-copy`
//! stops between copying raw-log entries to MySQL and trimming them from
//! Redis; the copy runs beside the rollup sweep, so this kill can also land
//! inside the sweep's transaction and leave it open as `in-transaction` does.

pub const VAR: &str = "ANALYTICS_FLUSH_FAULT";
/// `ANALYTICS_FLUSH_STALL_MS=<ms>` holds each round this long inside its
/// open transaction, as a store that is merely slow would: a live run must
/// keep its leases through it.
pub const STALL_VAR: &str = "ANALYTICS_FLUSH_STALL_MS";
/// Exit code of an injected fault, distinct from a normal failure.
pub const EXIT_CODE: i32 = 86;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    AfterClaim,
    InTransaction,
    AfterMongo,
    AfterMysql,
    AfterLogCopy,
}

impl FaultPoint {
    fn name(self) -> &'static str {
        match self {
            FaultPoint::AfterClaim => "after-claim",
            FaultPoint::InTransaction => "in-transaction",
            FaultPoint::AfterMongo => "after-mongo",
            FaultPoint::AfterMysql => "after-mysql",
            FaultPoint::AfterLogCopy => "after-log-copy",
        }
    }
}

/// Reads the configured fault once at start; an unknown name is refused.
pub fn configured() -> anyhow::Result<Option<FaultPoint>> {
    let Ok(name) = std::env::var(VAR) else {
        return Ok(None);
    };
    [
        FaultPoint::AfterClaim,
        FaultPoint::InTransaction,
        FaultPoint::AfterMongo,
        FaultPoint::AfterMysql,
        FaultPoint::AfterLogCopy,
    ]
    .into_iter()
    .find(|p| p.name() == name)
    .map(Some)
    .ok_or_else(|| {
        anyhow::anyhow!(
            "{VAR}={name:?}: expected after-claim, in-transaction, after-mongo, after-mysql or after-log-copy"
        )
    })
}

pub fn trip(configured: Option<FaultPoint>, here: FaultPoint) {
    if configured == Some(here) {
        eprintln!("fault injected at {}", here.name());
        std::process::exit(EXIT_CODE);
    }
}

/// Reads the configured stall once at start; a value that is not a whole
/// number of milliseconds is refused.
pub fn configured_stall() -> anyhow::Result<Option<std::time::Duration>> {
    let Ok(ms) = std::env::var(STALL_VAR) else {
        return Ok(None);
    };
    let ms: u64 = ms
        .parse()
        .map_err(|_| anyhow::anyhow!("{STALL_VAR}={ms:?}: expected milliseconds"))?;
    Ok(Some(std::time::Duration::from_millis(ms)))
}

pub async fn stall(configured: Option<std::time::Duration>) {
    if let Some(pause) = configured {
        eprintln!("stalled for {} ms", pause.as_millis());
        tokio::time::sleep(pause).await;
    }
}
