//! telemetry-svc's view of the crawled sites: rate alerts recorded as the
//! starts arrive, block signals with their cooldowns, and the site of a job
//! that did not name one.

use analytics_tests::{Telemetry, TestEnv, OPERATOR_TOKEN, PRODUCER_TOKEN};
use chrono::{DateTime, Duration, DurationRound, SecondsFormat, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use serde_json::{json, Value};

fn job(event_type: &str, uuid: &str, site: Option<&str>, at: DateTime<Utc>) -> Value {
    let mut body = json!({"event_type": event_type, "job_uuid": uuid, "job_name": "CrawlJob",
                          "timestamp": at.to_rfc3339()});
    if let Some(site) = site {
        body["site"] = json!(site);
    }
    body
}

fn failed(
    uuid: &str,
    site: Option<&str>,
    at: DateTime<Utc>,
    code: Option<i64>,
    message: &str,
) -> Value {
    let mut body = job("failed", uuid, site, at);
    body["error_code"] = json!(code);
    body["error_message"] = json!(message);
    body
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test]
async fn rate_alerts_are_recorded_once_per_site_second_and_level() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("telemetry.rate_warning_per_second", "3")
        .set("telemetry.rate_critical_per_second", "5");
    let t = Telemetry::spawn(&env).await?;
    let second = Utc::now().duration_trunc(Duration::seconds(1))? - Duration::minutes(2);
    let mut reached = Vec::new();
    for i in 0..7 {
        let at = second + Duration::milliseconds(100 * i);
        let answer = t
            .post(job("started", &format!("s-{i}"), Some("onejav"), at))
            .await?;
        reached.push(answer["rate_alerts"].clone());
    }
    // Each start says which levels its second has reached so far.
    assert_eq!(
        reached,
        [
            json!([]),
            json!([]),
            json!(["warning"]),
            json!(["warning"]),
            json!(["warning", "critical"]),
            json!(["warning", "critical"]),
            json!(["warning", "critical"])
        ]
    );
    // A quieter site in the same second, and the next second, alert nothing.
    for i in 0..2 {
        t.post(job("started", &format!("q-{i}"), Some("ffjav"), second))
            .await?;
    }
    t.post(job(
        "started",
        "n-1",
        Some("onejav"),
        second + Duration::seconds(1),
    ))
    .await?;
    // A producer that held a job back says so.
    let mut held = job("rate_limited", "h-1", Some("onejav"), second);
    held["error_message"] = json!("Local limit of 3/s reached");
    t.post(held).await?;

    let alerts: Vec<Document> = env
        .mongo()
        .await?
        .collection::<Document>("job_events")
        .find(doc! {"event_type": "rate_limit_exceeded"})
        .sort(doc! {"status": 1})
        .await?
        .try_collect()
        .await?;
    let seen: Vec<(String, String, i64, i64, i64)> = alerts
        .iter()
        .map(|d| {
            (
                d.get_str("site").unwrap_or_default().to_string(),
                d.get_str("status").unwrap_or_default().to_string(),
                d.get_i64("jobs_per_second").unwrap_or_default(),
                d.get_datetime("second_bucket")
                    .map(|t| t.timestamp_millis())
                    .unwrap_or_default(),
                d.get_i64("warning_threshold").unwrap_or_default(),
            )
        })
        .collect();
    let ms = second.timestamp_millis();
    assert_eq!(
        seen,
        [
            ("onejav".into(), "critical".into(), 7, ms, 3),
            ("onejav".into(), "warning".into(), 7, ms, 3)
        ]
    );

    let (status, summary) = t
        .get("/api/v1/telemetry/jobs/summary", Some(OPERATOR_TOKEN))
        .await?;
    assert_eq!(status, 200, "{summary}");
    let time = second.format("%Y-%m-%d %H:%M:%S").to_string();
    assert_eq!(
        summary["throughput"]["alerts"],
        json!([
            {"timestamp": time, "site": "onejav", "status": "critical", "jobs_per_second": 7,
             "warning_threshold": 3, "critical_threshold": 5},
            {"timestamp": time, "site": "onejav", "status": "warning", "jobs_per_second": 7,
             "warning_threshold": 3, "critical_threshold": 5},
        ])
    );
    assert_eq!(summary["throughput"]["peak_by_site"], json!({"onejav": 7}));
    assert_eq!(
        summary["throughput"]["rate_limited"],
        json!([{"timestamp": time, "site": "onejav", "job_name": "CrawlJob", "queue": "default",
                "error_message_short": "Local limit of 3/s reached"}])
    );
    Ok(())
}

#[tokio::test]
async fn block_signals_carry_their_cooldowns_per_host() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let t = Telemetry::spawn(&env).await?;
    let now = Utc::now().duration_trunc(Duration::seconds(1))?;
    let answer = t
        .post(failed("f-1", Some("onejav"), now, Some(403), "Forbidden"))
        .await?;
    assert_eq!(
        answer["block_signal"],
        json!({"target_host": "onejav", "signal_type": "forbidden", "status": 403,
               "cooldown_until": stamp(now + Duration::seconds(600))})
    );
    // Retried: the same attempt is one signal.
    t.post(failed("f-1", Some("onejav"), now, Some(403), "Forbidden"))
        .await?;
    // No site: the URL's host is the target; the status is in the message.
    let mut throttled = failed(
        "f-2",
        None,
        now - Duration::seconds(1),
        None,
        "HTTP 429 Too Many Requests",
    );
    throttled["url"] = json!("https://www.FFjav.com/page/2");
    let answer = t.post(throttled).await?;
    assert_eq!(answer["site"], "www.ffjav.com");
    assert_eq!(answer["block_signal"]["signal_type"], "rate_limit");
    // Long ago: its cooldown has ended.
    let old = now - Duration::minutes(20);
    t.post(failed(
        "f-3",
        Some("141jav"),
        old,
        Some(503),
        "Service Unavailable",
    ))
    .await?;
    // Not block signals: another status, a number that is not a word.
    for (uuid, code, message) in [
        ("f-4", Some(500), "Server Error 503"),
        ("f-5", None, "code 4291"),
    ] {
        let answer = t
            .post(failed(uuid, Some("missav"), now, code, message))
            .await?;
        assert_eq!(answer["block_signal"], Value::Null, "{message}");
    }

    let (status, list) = t
        .get(
            "/api/v1/telemetry/block-signals?window_minutes=60",
            Some(OPERATOR_TOKEN),
        )
        .await?;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list["hosts"],
        json!([
            {"target_host": "onejav", "signals": 1, "last_signal_type": "forbidden", "last_status": 403,
             "last_at": stamp(now), "cooldown_until": stamp(now + Duration::seconds(600)), "cooling_down": true},
            {"target_host": "www.ffjav.com", "signals": 1, "last_signal_type": "rate_limit", "last_status": 429,
             "last_at": stamp(now - Duration::seconds(1)), "cooldown_until": stamp(now + Duration::seconds(299)),
             "cooling_down": true},
            {"target_host": "141jav", "signals": 1, "last_signal_type": "service_unavailable", "last_status": 503,
             "last_at": stamp(old), "cooldown_until": stamp(old + Duration::seconds(120)), "cooling_down": false},
        ])
    );
    let hosts: Vec<&str> = list["signals"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["target_host"].as_str())
        .collect();
    assert_eq!(hosts, ["onejav", "www.ffjav.com", "141jav"]);
    let (_, one) = t
        .get(
            "/api/v1/telemetry/block-signals?host=141jav",
            Some(OPERATOR_TOKEN),
        )
        .await?;
    assert_eq!(one["signals"].as_array().map(Vec::len), Some(1));

    // A crawler asks before it hits a host.
    let (status, wait) = t
        .get(
            "/api/v1/telemetry/hosts/onejav/cooldown",
            Some(PRODUCER_TOKEN),
        )
        .await?;
    assert_eq!(status, 200, "{wait}");
    assert_eq!(
        (
            &wait["allowed"],
            &wait["signal_type"],
            &wait["cooldown_until"]
        ),
        (
            &json!(false),
            &json!("forbidden"),
            &json!(stamp(now + Duration::seconds(600)))
        )
    );
    let retry = wait["retry_after_seconds"].as_i64().unwrap_or_default();
    assert!((590..=600).contains(&retry), "{retry}");
    let (_, free) = t
        .get(
            "/api/v1/telemetry/hosts/141jav/cooldown",
            Some(PRODUCER_TOKEN),
        )
        .await?;
    assert_eq!(
        free,
        json!({"target_host": "141jav", "allowed": true, "cooldown_until": null,
               "signal_type": null, "status": null, "retry_after_seconds": 0})
    );

    // Operators list, producers ask; each needs its token; bad parameters are named.
    assert_eq!(
        t.get("/api/v1/telemetry/block-signals", Some(PRODUCER_TOKEN))
            .await?
            .0,
        403
    );
    assert_eq!(
        t.get(
            "/api/v1/telemetry/hosts/onejav/cooldown",
            Some(OPERATOR_TOKEN)
        )
        .await?
        .0,
        403
    );
    let (status, bad) = t
        .get(
            "/api/v1/telemetry/block-signals?window_minutes=1&limit=0",
            Some(OPERATOR_TOKEN),
        )
        .await?;
    assert_eq!(status, 422);
    assert_eq!(
        bad["errors"],
        json!({"limit": ["The limit field must be an integer between 5 and 200."],
               "window_minutes": ["The window minutes field must be an integer between 5 and 1440."]})
    );
    Ok(())
}

#[tokio::test]
async fn a_job_without_a_site_gets_one_from_its_url_payload_or_class() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let t = Telemetry::spawn(&env).await?;
    let now = Utc::now();
    let mut with_url = job("started", "u-1", None, now);
    with_url["url"] = json!("https://141jav.com:443/new?page=2");
    let mut with_meta = job("started", "u-2", None, now);
    with_meta["payload_meta"] = json!({"provider": "missav", "detail_url": "https://x.com/a"});
    let mut with_meta_url = job("started", "u-3", None, now);
    with_meta_url["payload_meta"] = json!({"seed_url": "https://OneJav.com/"});
    let mut by_class = job("started", "u-4", None, now);
    by_class["job_name"] = json!("App\\Jobs\\FfjavJob");
    let unknown = job("started", "u-5", None, now);
    let mut sites = Vec::new();
    for body in [with_url, with_meta, with_meta_url, by_class, unknown] {
        sites.push(t.post(body).await?["site"].clone());
    }
    assert_eq!(
        sites,
        [
            json!("141jav.com"),
            json!("missav"),
            json!("onejav.com"),
            json!("ffjav"),
            json!("unknown")
        ]
    );
    let (_, summary) = t
        .get("/api/v1/telemetry/jobs/summary", Some(OPERATOR_TOKEN))
        .await?;
    assert_eq!(
        summary["available_sites"],
        json!(["141jav.com", "ffjav", "missav", "onejav.com", "unknown"])
    );
    Ok(())
}
