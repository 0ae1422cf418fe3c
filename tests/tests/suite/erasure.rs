//! Forgetting a user: their events leave every place that keeps them with
//! their id (the raw log, the filtered table, the Redis logs not yet
//! flushed, the live feed and viewers), the counts stay, the erasure is
//! recorded by a hash of the id, and an import of the erased events counts
//! nothing twice.

use std::time::Duration;

use analytics_domain::Action;
use analytics_store::erasure::{user_id_sha256, KEPT};
use analytics_tests::{eventually, TestEnv, ADMIN_TOKEN};
use mongodb::bson::Document;
use serde_json::{json, Value};

const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

/// An event of `user` now.
fn by(id: &str, movie: &str, action: &str, user: i64) -> Value {
    json!({"event_id": id, "domain": "jav", "entity_type": "movie", "entity_id": movie,
           "action": action, "occurred_at": chrono::Utc::now().to_rfc3339(), "user_id": user})
}

/// DELETE with an optional bearer token: (status, Retry-After, JSON body).
async fn delete(
    base: &str,
    path: &str,
    token: Option<&str>,
) -> anyhow::Result<(u16, Option<String>, Value)> {
    let mut req = reqwest::Client::new().delete(format!("{base}{path}"));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    analytics_tests::answer(req.send().await?).await
}

/// The raw-log table's event ids, sorted.
async fn ids_in(env: &TestEnv, table: &str) -> anyhow::Result<Vec<String>> {
    let mut conn = env.mysql().await?;
    Ok(sqlx::query_scalar(&format!(
        "SELECT CONVERT(event_id USING utf8mb4) FROM {table} ORDER BY event_id"
    ))
    .fetch_all(&mut conn)
    .await?)
}

/// The users of the live feed's samples, in order.
async fn feed_users(env: &TestEnv) -> anyhow::Result<Vec<i64>> {
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(format!("{}:live:feed", env.id))
        .arg("-")
        .arg("+")
        .query_async(&mut env.redis().await?)
        .await?;
    Ok(entries
        .iter()
        .flat_map(|(_, fields)| fields)
        .filter_map(|(_, v)| serde_json::from_str::<Value>(v).ok())
        .filter_map(|e| e["user_id"].as_i64())
        .collect())
}

/// The user's lines in the partitions' Redis logs.
async fn waiting_lines_of(env: &TestEnv, user: i64) -> anyhow::Result<usize> {
    let mut conn = env.redis().await?;
    let mut n = 0;
    for key in env.redis_keys().await? {
        if !key.ends_with(":log") {
            continue;
        }
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(&key)
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await?;
        n += entries
            .iter()
            .flat_map(|(_, fields)| fields)
            .flat_map(|(_, v)| v.lines())
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["user_id"].as_i64() == Some(user))
            .count();
    }
    Ok(n)
}

#[tokio::test]
async fn erasing_a_user_deletes_their_events_everywhere_and_keeps_the_counts() -> anyhow::Result<()>
{
    let mut env = TestEnv::new().await?;
    env.set("events.log_filtered", "true");
    env.migrate().await?;
    let ingest = env.spawn_ingest().await?;
    let api = env.spawn_read_api().await?;
    let batch = "/api/v1/analytics/events/batch";

    // Flushed: two events of user 7 (one a playback start: a live viewer),
    // one of user 8, and a crawler's view under user 7 (filtered).
    let (status, body) = ingest
        .post_json_to(
            batch,
            &json!([
                by("u7-a", "m-1", "view", 7),
                by("u7-b", "m-1", "start", 7),
                by("u8-a", "m-1", "view", 8)
            ]),
        )
        .await?;
    assert_eq!((status, &body["accepted"]), (200, &json!(3)), "{body}");
    let crawled = reqwest::Client::new()
        .post(format!("{}/api/v1/analytics/events", ingest.base))
        .header("user-agent", GOOGLEBOT)
        .json(&by("u7-bot", "m-1", "view", 7))
        .send()
        .await?;
    assert_eq!(crawled.status().as_u16(), 202);
    env.flush_until_clean().await?;
    // Waiting in Redis: two more of user 7 and one of user 8, in one batch
    // (so log entries hold both users' lines).
    let (status, body) = ingest
        .post_json_to(
            batch,
            &json!([
                by("u7-c", "m-2", "view", 7),
                by("u8-b", "m-2", "view", 8),
                by("u7-d", "m-2", "view", 7)
            ]),
        )
        .await?;
    assert_eq!((status, &body["accepted"]), (200, &json!(3)), "{body}");
    assert_eq!(waiting_lines_of(&env, 7).await?, 2);
    // Every counted event reaches the live feed (the first 20 a second).
    eventually(Duration::from_secs(10), || async {
        let users = feed_users(&env).await?;
        Ok((users.len() == 6).then_some(()))
    })
    .await?;
    let viewers = format!("{}:live:viewers", env.id);
    let watching: Option<i64> = redis::cmd("ZSCORE")
        .arg(&viewers)
        .arg("u:7")
        .query_async(&mut env.redis().await?)
        .await?;
    assert!(watching.is_some(), "user 7 is a live viewer");

    let (status, _, body) = delete(
        &api.base,
        "/api/v1/admin/analytics/users/7?requested_by=ticket-1",
        Some(ADMIN_TOKEN),
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    let mut erased_at = body["erased_at"].clone();
    assert!(erased_at.is_string(), "{body}");
    assert_eq!(
        body,
        json!({"user_id": "7", "user_id_sha256": user_id_sha256("7"), "requested_by": "ticket-1",
               "erased_at": erased_at, "events_erased": 9,
               "erased": {"raw_log_rows": 2, "filtered_rows": 1, "waiting_events": 2,
                          "live_feed_samples": 4, "live_viewer": true},
               "kept": KEPT})
    );

    // Nothing of user 7 reaches MySQL; their ids stay, without them.
    assert_eq!(waiting_lines_of(&env, 7).await?, 0);
    env.flush_until_clean().await?;
    assert_eq!(ids_in(&env, "analytics_events").await?, ["u8-a", "u8-b"]);
    assert!(ids_in(&env, "analytics_events_filtered").await?.is_empty());
    assert_eq!(
        ids_in(&env, "analytics_erased_events").await?,
        ["u7-a", "u7-b", "u7-c", "u7-d"]
    );
    // The counts stay: they hold no user.
    assert_eq!(env.totals("movie", "m-1").await?.get(Action::View), 2);
    assert_eq!(env.totals("movie", "m-1").await?.get(Action::Start), 1);
    assert_eq!(env.totals("movie", "m-2").await?.get(Action::View), 3);
    assert_eq!(feed_users(&env).await?, [8, 8]);
    let watching: Option<i64> = redis::cmd("ZSCORE")
        .arg(&viewers)
        .arg("u:7")
        .query_async(&mut env.redis().await?)
        .await?;
    assert_eq!(watching, None);
    let (status, stats) = api.admin("/api/v1/analytics/user/7/stats").await?;
    assert_eq!(
        (status, &stats["movies_started"]),
        (200, &json!(0)),
        "{stats}"
    );

    // The audit trail names the hash, never the id.
    let audit: Vec<Document> = env.docs("analytics_erasures").await?;
    assert_eq!(audit.len(), 1);
    let record = &audit[0];
    assert_eq!(record.get_str("user_id_sha256")?, user_id_sha256("7"));
    assert_eq!(record.get_str("requested_by")?, "ticket-1");
    assert_eq!(
        [
            "raw_log_rows",
            "filtered_rows",
            "waiting_events",
            "live_feed_samples"
        ]
        .map(|k| record.get_i64(k).unwrap_or(-1)),
        [2, 1, 2, 4]
    );
    assert!(!format!("{record}").contains("\"7\""), "{record}");

    // An import of the erased events, flushed or not, counts nothing again;
    // one of their ids with another event is a conflict.
    let import = "/api/v1/analytics/events/import";
    let (status, body) = ingest
        .post_json_to(
            import,
            &json!([
                by("u7-a", "m-1", "view", 7),
                by("u7-c", "m-2", "view", 7),
                by("u7-d", "m-9", "view", 7)
            ]),
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    let statuses: Vec<&Value> = (0..3).map(|i| &body["results"][i]["status"]).collect();
    assert_eq!(
        statuses,
        [&json!("duplicate"), &json!("duplicate"), &json!("conflict")]
    );

    // Again: nothing left to erase, and a second record says so.
    let (status, _, body) = delete(
        &api.base,
        "/api/v1/admin/analytics/users/7",
        Some(ADMIN_TOKEN),
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    erased_at = body["erased_at"].clone();
    assert_eq!(
        (
            &body["events_erased"],
            &body["requested_by"],
            &body["erased"]["live_viewer"]
        ),
        (&json!(0), &json!("read-api"), &json!(false)),
        "{body} {erased_at}"
    );
    assert_eq!(env.docs("analytics_erasures").await?.len(), 2);

    // The operator's command does the same for user 8.
    let out = env
        .flush_worker(&["erase-user", "8", "--requested-by", "ops"], &[])
        .await?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut expected = format!(
        "Erased user {} (requested by ops): 2 raw-log rows, 0 filtered rows, 0 events waiting in Redis, \
         2 live-feed samples; live viewer: no.\n",
        user_id_sha256("8")
    );
    for kept in KEPT {
        expected.push_str(&format!("Kept: {kept}.\n"));
    }
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    assert!(ids_in(&env, "analytics_events").await?.is_empty());
    assert!(feed_users(&env).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn an_erasure_is_refused_clearly_and_waits_for_a_flush_holding_a_partition(
) -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("read_api.erasure_wait_seconds", "0");
    env.migrate().await?;
    let api = env.spawn_read_api().await?;
    let path = "/api/v1/admin/analytics/users/7";

    let (status, _, body) = delete(&api.base, path, None).await?;
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = delete(&api.base, path, Some("wrong-token-123")).await?;
    assert_eq!(status, 403, "{body}");
    let long = format!("/api/v1/admin/analytics/users/{}", "x".repeat(65));
    let (status, _, body) = delete(&api.base, &long, Some(ADMIN_TOKEN)).await?;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["errors"]["user_id"][0]
            .as_str()
            .is_some_and(|m| m.contains("1..64 characters")),
        "{body}"
    );
    let out = env.flush_worker(&["erase-user", " "], &[]).await?;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("USER_ID must be 1..64 characters"));

    // A flush holds partition 3: the erasure waits (0 s here), then is an
    // outage to retry, and leaves no lease of its own behind.
    let lease = format!("{}:{{3}}:flush:lease", env.id);
    redis::cmd("SET")
        .arg(&lease)
        .arg("a-flush")
        .arg("PX")
        .arg(60_000)
        .query_async::<()>(&mut env.redis().await?)
        .await?;
    let (status, retry, body) = delete(&api.base, path, Some(ADMIN_TOKEN)).await?;
    assert_eq!((status, retry.as_deref()), (503, Some("1")), "{body}");
    let out = env
        .flush_worker(&["erase-user", "7", "--wait-seconds", "0"], &[])
        .await?;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "partition 3 is being flushed (waited 0 s for it); retry when the flush is done"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let leases: Vec<String> = env
        .redis_keys()
        .await?
        .into_iter()
        .filter(|k| k.ends_with(":flush:lease"))
        .collect();
    assert_eq!(leases, [lease]);
    assert!(env.docs("analytics_erasures").await?.is_empty());
    Ok(())
}
