//! telemetry-svc `GET /api/v1/telemetry/jobs/summary`: the legacy summary
//! payload computed by the MongoDB-wire server's aggregations.

use analytics_tests::{Telemetry, TestEnv, OPERATOR_TOKEN, PRODUCER_TOKEN};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{json, Value};

async fn summary_as(
    t: &Telemetry,
    query: &str,
    token: Option<&str>,
) -> anyhow::Result<(u16, Value)> {
    t.get(&format!("/api/v1/telemetry/jobs/summary{query}"), token)
        .await
}

/// The summary as the operator reads it (which must be a 200).
async fn summary(t: &Telemetry, query: &str) -> anyhow::Result<Value> {
    let (status, body) = summary_as(t, query, Some(OPERATOR_TOKEN)).await?;
    anyhow::ensure!(status == 200, "{status}: {body}");
    Ok(body)
}

fn job(
    event_type: &str,
    uuid: &str,
    name: &str,
    site: &str,
    at: DateTime<Utc>,
    duration_ms: Option<i64>,
) -> Value {
    json!({"event_type": event_type, "job_uuid": uuid, "job_name": name, "site": site,
           "timestamp": at.to_rfc3339(), "duration_ms": duration_ms})
}

fn label(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

#[tokio::test]
async fn the_summary_needs_the_operator_token_and_names_bad_parameters() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let t = Telemetry::spawn(&env).await?;
    assert_eq!(summary_as(&t, "", None).await?.0, 401);
    assert_eq!(summary_as(&t, "", Some(PRODUCER_TOKEN)).await?.0, 403);
    assert_eq!(summary_as(&t, "", Some(OPERATOR_TOKEN)).await?.0, 200);

    let (status, body) = summary_as(
        &t,
        "?window_minutes=4&limit=500&site=",
        Some(OPERATOR_TOKEN),
    )
    .await?;
    assert_eq!(status, 422);
    assert_eq!(
        body["errors"],
        json!({
            "limit": ["The limit field must be an integer between 5 and 200."],
            "window_minutes": ["The window minutes field must be an integer between 5 and 1440."],
        })
    );

    // A write without the producer token is refused before its body is read.
    let resp = t
        .client
        .post(format!("{}/api/v1/telemetry/jobs/events", t.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 401);
    Ok(())
}

#[tokio::test]
async fn an_empty_window_has_zero_rates_and_null_percentiles() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let t = Telemetry::spawn(&env).await?;
    let s = summary(&t, "?window_minutes=15&limit=5").await?;
    assert_eq!(
        s["overview"],
        json!({"total_started": 0, "total_completed": 0, "success": 0, "failed": 0, "success_rate": 0.0,
               "fail_rate": 0.0, "timeout_count": 0, "timeout_rate": 0.0,
               "throughput_per_sec": 0.0, "p50_ms": null, "p95_ms": null, "p99_ms": null})
    );
    assert_eq!(
        s["filters"],
        json!({"window_minutes": 15, "site": null, "job_name": null, "limit": 5})
    );
    assert_eq!(s["throughput"]["labels"].as_array().map(Vec::len), Some(16));
    assert_eq!(s["throughput"]["series"], json!([]));
    assert_eq!(
        (&s["job_performance"], &s["failures"], &s["slow_jobs"]),
        (&json!([]), &json!([]), &json!([]))
    );
    Ok(())
}

#[tokio::test]
async fn the_summary_reports_nearest_rank_percentiles_failures_and_rate_alerts(
) -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("telemetry.rate_warning_per_second", "3")
        .set("telemetry.rate_critical_per_second", "5");
    let t = Telemetry::spawn(&env).await?;
    // Whole seconds, well inside the window and a minute apart.
    let now = Utc::now().duration_trunc(Duration::seconds(1))?;
    let early = now - Duration::minutes(10);
    let late = now - Duration::minutes(5);

    for (i, d) in [10, 20, 30, 40].into_iter().enumerate() {
        let at = early + Duration::seconds(i as i64);
        t.post(job(
            "completed",
            &format!("a-{i}"),
            "OnejavJob",
            "onejav",
            at,
            Some(d),
        ))
        .await?;
    }
    let mut timed_out = job("failed", "b-1", "FfjavJob", "ffjav", late, Some(100));
    timed_out["error_class"] = json!("RuntimeException");
    timed_out["error_code"] = json!(504);
    timed_out["error_message"] = json!("Gave up after 100 milliseconds");
    t.post(timed_out).await?;
    let mut refused = job(
        "failed",
        "d-1",
        "XcityJob",
        "xcity.jp",
        late + Duration::seconds(1),
        None,
    );
    refused["error_class"] = json!("GuzzleHttp\\Exception\\ConnectException");
    refused["attempt"] = json!(3);
    t.post(refused).await?;
    // Starts: onejav 3 in one second (warning), 141jav 5 in one second (critical).
    for i in 0..3 {
        t.post(job(
            "started",
            &format!("s-{i}"),
            "OnejavJob",
            "onejav",
            early,
            None,
        ))
        .await?;
    }
    for i in 0..5 {
        t.post(job(
            "started",
            &format!("r-{i}"),
            "RankJob",
            "141jav",
            late,
            None,
        ))
        .await?;
    }

    let s = summary(&t, "?window_minutes=60&limit=5").await?;
    assert_eq!(
        s["overview"],
        json!({"total_started": 8, "total_completed": 6, "success": 4, "failed": 2, "success_rate": 66.67,
               "fail_rate": 33.33, "timeout_count": 2, "timeout_rate": 33.33,
               "throughput_per_sec": 0.002, "p50_ms": 30, "p95_ms": 100, "p99_ms": 100}),
        "durations 10, 20, 30, 40, 100"
    );
    assert_eq!(
        s["job_performance"],
        json!([
            {"job_name": "OnejavJob", "total": 4, "failed": 0, "fail_rate": 0.0,
             "p50_ms": 20, "p95_ms": 40, "p99_ms": 40, "max_ms": 40},
            {"job_name": "FfjavJob", "total": 1, "failed": 1, "fail_rate": 100.0,
             "p50_ms": 100, "p95_ms": 100, "p99_ms": 100, "max_ms": 100},
            {"job_name": "XcityJob", "total": 1, "failed": 1, "fail_rate": 100.0,
             "p50_ms": null, "p95_ms": null, "p99_ms": null, "max_ms": null},
        ])
    );
    let time = |at: DateTime<Utc>| at.format("%Y-%m-%d %H:%M:%S").to_string();
    assert_eq!(
        s["failures"],
        json!([
            {"timestamp": time(late + Duration::seconds(1)), "site": "xcity.jp", "job_name": "XcityJob",
             "error_class": "GuzzleHttp\\Exception\\ConnectException", "error_code": null,
             "error_message_short": null, "timeout_ms_observed": null, "duration_ms": null, "attempt": 3},
            {"timestamp": time(late), "site": "ffjav", "job_name": "FfjavJob",
             "error_class": "RuntimeException", "error_code": 504,
             "error_message_short": "Gave up after 100 milliseconds", "timeout_ms_observed": 100,
             "duration_ms": 100, "attempt": 1},
        ])
    );
    let slow: Vec<(&str, i64)> = s["slow_jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r["job_name"].as_str()?, r["duration_ms"].as_i64()?)))
        .collect();
    assert_eq!(
        slow,
        [
            ("FfjavJob", 100),
            ("OnejavJob", 40),
            ("OnejavJob", 30),
            ("OnejavJob", 20),
            ("OnejavJob", 10)
        ]
    );
    assert_eq!(s["slow_jobs"][0]["status"], "failed");

    let throughput = &s["throughput"];
    let labels: Vec<&str> = throughput["labels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(labels.len(), 61, "every minute of the hour");
    let point = |series: &Value, at: DateTime<Utc>| {
        let i = labels.iter().position(|l| *l == label(at));
        i.map(|i| series["points"][i].clone())
    };
    let series = throughput["series"].as_array().cloned().unwrap_or_default();
    assert_eq!(series.len(), 2);
    assert_eq!(
        (&series[0]["site"], &series[0]["total_started"]),
        (&json!("141jav"), &json!(5))
    );
    assert_eq!(point(&series[0], late), Some(json!(5)));
    assert_eq!(
        (&series[1]["site"], &series[1]["total_started"]),
        (&json!("onejav"), &json!(3))
    );
    assert_eq!(point(&series[1], early), Some(json!(3)));
    // Recorded as the starts arrived: one per site, second and level
    // reached (5 starts reached both), with the highest rate seen.
    assert_eq!(
        throughput["alerts"],
        json!([
            {"timestamp": time(late), "site": "141jav", "status": "critical", "jobs_per_second": 5,
             "warning_threshold": 3, "critical_threshold": 5},
            {"timestamp": time(late), "site": "141jav", "status": "warning", "jobs_per_second": 5,
             "warning_threshold": 3, "critical_threshold": 5},
            {"timestamp": time(early), "site": "onejav", "status": "warning", "jobs_per_second": 3,
             "warning_threshold": 3, "critical_threshold": 5},
        ])
    );
    assert_eq!(
        throughput["peak_by_site"].to_string(),
        r#"{"141jav":5,"onejav":3}"#
    );
    assert_eq!(
        s["available_sites"],
        json!(["141jav", "ffjav", "onejav", "xcity.jp"])
    );
    assert_eq!(
        s["available_jobs"],
        json!(["FfjavJob", "OnejavJob", "RankJob", "XcityJob"])
    );

    // Filters narrow the figures but still offer every site and job.
    let one = summary(&t, "?window_minutes=60&limit=5&job_name=OnejavJob").await?;
    assert_eq!(
        (
            &one["overview"]["total_completed"],
            &one["overview"]["p50_ms"],
            &one["overview"]["p95_ms"],
            &one["overview"]["p99_ms"]
        ),
        (&json!(4), &json!(20), &json!(40), &json!(40)),
        "durations 10, 20, 30, 40"
    );
    assert_eq!(one["failures"], json!([]));
    // Rate alerts are about a site, whichever job started there.
    assert_eq!(
        one["throughput"]["alerts"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(one["available_jobs"], s["available_jobs"]);
    let site = summary(&t, "?site=ffjav").await?;
    assert_eq!(
        (
            &site["overview"]["total_completed"],
            &site["overview"]["failed"]
        ),
        (&json!(1), &json!(1))
    );
    assert_eq!(site["filters"]["site"], "ffjav");

    // A shorter window leaves out what happened before it.
    let recent = summary(&t, "?window_minutes=7").await?;
    assert_eq!(recent["overview"]["total_completed"], 2);
    Ok(())
}

#[tokio::test]
async fn a_flush_run_shows_up_in_the_summary() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let t = Telemetry::spawn(&env).await?;
    let ingest = env.spawn_ingest().await?;
    ingest.send("e-1", "movie", "m-1", "view", 1).await?;
    let out = env.flush_worker(&["flush"], &[]).await?;
    assert!(out.status.success(), "{out:?}");

    let s = summary(&t, "?job_name=analytics:flush").await?;
    let flush = &s["job_performance"][0];
    assert_eq!(
        (&flush["job_name"], &flush["total"], &flush["failed"]),
        (&json!("analytics:flush"), &json!(1), &json!(0))
    );
    assert!(flush["p50_ms"].as_i64().is_some(), "{flush}");
    assert_eq!(s["overview"]["success"], 1);
    let started: u64 = s["throughput"]["series"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["total_started"].as_u64())
        .sum();
    assert_eq!(started, 1);
    assert!(s["available_jobs"]
        .as_array()
        .is_some_and(|j| j.contains(&json!("analytics:flush"))));
    Ok(())
}

#[tokio::test]
async fn twenty_durations_rank_at_ten_nineteen_and_twenty() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let t = Telemetry::spawn(&env).await?;
    let at = Utc::now() - Duration::minutes(1);
    // Nearest rank: ceil(0.50·20) = 10, ceil(0.95·20) = 19, ceil(0.99·20) = 20.
    for d in 1..=20 {
        t.post(job(
            "completed",
            &format!("j-{d}"),
            "TwentyJob",
            "s",
            at,
            Some(d),
        ))
        .await?;
    }
    let s = summary(&t, "").await?;
    assert_eq!(
        (
            &s["overview"]["p50_ms"],
            &s["overview"]["p95_ms"],
            &s["overview"]["p99_ms"]
        ),
        (&json!(10), &json!(19), &json!(20))
    );
    Ok(())
}
