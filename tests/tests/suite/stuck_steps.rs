//! A job whose store stops answering mid-run ends with exit 1 and an error
//! line naming the step once `flush.step_timeout_seconds` passes, instead
//! of waiting for as long as the store does. The test holds table locks
//! the jobs need (MariaDB waits a day for a table lock by default), which
//! is what a stuck migration or a long `ALTER TABLE` does to them.

use analytics_tests::{job_messages, TestEnv};
use sqlx::Connection;

/// Every operator job that reads or writes MariaDB, each stuck on the
/// first table it reaches.
const JOBS: [&[&str]; 5] = [
    &["refresh-catalogue-index"],
    &["report", "summary"],
    &["cutover"],
    &["erase-user", "u-1", "--wait-seconds", "5"],
    &["rebuild", "--from", "TODAY", "--to", "TODAY"],
];

#[tokio::test]
async fn a_job_stuck_on_a_store_ends_with_an_error_at_its_step_deadline() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    // The cut-over runs on the one Redis the replaced system used.
    env.use_redis(analytics_tests::redis_url());
    // Long enough for connecting and the schema check on a loaded machine.
    env.set("flush.step_timeout_seconds", "4")
        .set("retention.raw_log_days", "30");
    env.migrate().await?;
    env.insert_movies(&[("m-1", "SS-1", 0, 0)]).await?;
    let today = chrono::Utc::now().date_naive().to_string();

    let mut holder = env.mysql().await?;
    sqlx::query("LOCK TABLES jav WRITE, actor_genres WRITE, analytics_events WRITE")
        .execute(&mut holder)
        .await?;
    let runs = JOBS.iter().map(|args| {
        let args: Vec<&str> = args
            .iter()
            .map(|a| if *a == "TODAY" { today.as_str() } else { a })
            .collect();
        let env = &env;
        async move {
            let out = env.flush_worker(&args, &[]).await?;
            anyhow::Ok((args.join(" "), out))
        }
    });
    let outcomes = futures_util::future::join_all(runs).await;
    sqlx::query("UNLOCK TABLES").execute(&mut holder).await?;
    holder.close().await?;

    for outcome in outcomes {
        let (job, out) = outcome?;
        let stderr = job_messages(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{job}: {stderr}");
        assert!(
            stderr.starts_with("error: ")
                && stderr.contains("mariadb did not answer within 4000 ms"),
            "{job}: {stderr}"
        );
    }

    // Released, each job runs to its end.
    for args in [
        &["refresh-catalogue-index"][..],
        &["cutover"],
        &["erase-user", "u-1"],
    ] {
        let out = env.flush_worker(args, &[]).await?;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            job_messages(&out.stderr)
        );
    }
    let out = env
        .flush_worker(&["rebuild", "--from", &today, "--to", &today], &[])
        .await?;
    assert_eq!(out.status.code(), Some(0), "{}", job_messages(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Nothing changed"));
    Ok(())
}
