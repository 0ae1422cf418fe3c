//! Every step of a job under a deadline. Redis calls carry their own
//! (`redis.command_timeout_ms`); MongoDB and MariaDB calls can wait forever
//! on a server that stopped answering or a transaction stuck behind a
//! conflict. A step past its deadline fails like an outage: the run ends
//! with an error line and exit 1, and what it left (an open batch, a lease)
//! is taken over by the next run, as after a kill — instead of one stuck
//! Job holding every later flush behind `concurrencyPolicy: Forbid`.

use std::future::Future;
use std::time::Duration;

use analytics_store::StoreError;

/// [`step`] for a step whose error is already an `anyhow` one.
pub async fn step_anyhow<T>(
    what: &'static str,
    limit: Duration,
    step: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(limit, step).await {
        Ok(result) => result,
        Err(_) => anyhow::bail!("{what} did not finish within {} s", limit.as_secs()),
    }
}

/// Runs `step` for at most `limit`; `what` names it in the error.
pub async fn step<T>(
    what: &'static str,
    limit: Duration,
    step: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, step).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Timeout {
            store: what,
            millis: limit.as_millis(),
        }),
    }
}
