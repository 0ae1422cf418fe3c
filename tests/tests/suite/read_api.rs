//! read-api against real stores, fed by the real ingest and flush.

use analytics_tests::{error_fields, metric, TestEnv, ADMIN_TOKEN};
use serde_json::{json, Value};

const ADMIN_ROUTES: [&str; 20] = [
    "/api/metrics/realtime",
    "/api/v1/admin/analytics/snapshot",
    "/api/v1/admin/analytics/actors/distribution?genre=drama",
    "/api/v1/admin/analytics/actors/association?segment_value=A",
    "/api/v1/admin/analytics/actors/overview",
    "/api/v1/admin/analytics/actors/quality",
    "/api/v1/admin/analytics/actors/suggest",
    "/api/v1/admin/analytics/actors/trends",
    "/api/v1/admin/analytics/top",
    "/api/v1/admin/analytics/entities/movie/m-1",
    "/api/v1/admin/analytics/trends",
    "/api/v1/admin/analytics/search/queries",
    "/api/v1/admin/analytics/search/daily",
    "/api/v1/admin/analytics/recommendations",
    "/api/v1/admin/analytics/recommendations/movies",
    "/api/v1/analytics/content/popular",
    "/api/metrics/video/m-1",
    "/api/v1/analytics/user/u-1/stats",
    "/api/v1/analytics/trends",
    "/api/v1/analytics/peak-hours",
];

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

#[tokio::test]
async fn every_admin_route_needs_the_right_bearer_token() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let api = env.spawn_read_api().await?;
    for route in ADMIN_ROUTES {
        let none = api
            .client
            .get(format!("{}{route}", api.base))
            .send()
            .await?;
        assert_eq!(none.status().as_u16(), 401, "{route}");
        assert_eq!(none.headers()["www-authenticate"], "Bearer");
        assert_eq!(
            api.get_as(route, Some("wrong-token")).await?.0,
            403,
            "{route}"
        );
        assert_eq!(
            api.get_as(route, Some(ADMIN_TOKEN)).await?.0,
            200,
            "{route}"
        );
    }
    assert_eq!(
        api.get_as("/api/v1/analytics/counts/movie/m-1", None)
            .await?
            .0,
        200
    );
    Ok(())
}

#[tokio::test]
async fn events_flow_into_top_entities_trends_and_fresh_counts() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    env.insert_movies(&[("m-1", "ABC-1", 0, 0), ("m-2", "ABC-2", 0, 0)])
        .await?;
    let ingest = env.spawn_ingest().await?;
    let api = env.spawn_read_api().await?;
    let day = today();
    ingest.send("e1", "movie", "m-1", "view", 4).await?;
    ingest.send("e2", "movie", "m-1", "view", 1).await?;
    ingest.send("e3", "movie", "m-1", "download", 2).await?;
    ingest.send("e4", "movie", "m-2", "view", 3).await?;
    ingest.send("e5", "actor", "a-1", "view", 1).await?;

    // Before any flush the public count already includes the new events.
    let (status, counts) = api
        .get_as("/api/v1/analytics/counts/movie/m-1", None)
        .await?;
    assert_eq!(status, 200);
    assert_eq!(
        counts,
        json!({"domain": "jav", "entity_type": "movie", "entity_id": "m-1", "view": 5, "download": 2,
               "likes": 0, "favorites": 0, "watchlist": 0, "ratings": 0, "rating_average": null})
    );

    let out = env.flush_worker(&["flush"], &[]).await?;
    assert!(out.status.success());
    assert_eq!(
        api.get_as("/api/v1/analytics/counts/movie/m-1", None)
            .await?
            .1["view"],
        5
    );

    let (_, top) = api
        .admin(&format!(
            "/api/v1/admin/analytics/top?period=day&bucket={day}"
        ))
        .await?;
    assert_eq!(top["bucket"], day);
    assert_eq!(
        top["items"],
        json!([
            {"rank": 1, "entity_id": "m-1", "view": 5, "download": 2, "code": "ABC-1", "title": "Title of ABC-1"},
            {"rank": 2, "entity_id": "m-2", "view": 3, "download": 0, "code": "ABC-2", "title": "Title of ABC-2"}
        ])
    );
    // The same over a range of days (the dashboard's period), from the
    // day boards; days/from/to apply to that period only.
    let (_, range) = api
        .admin("/api/v1/admin/analytics/top?period=range&days=7")
        .await?;
    assert_eq!(
        (&range["period"], &range["to"], &range["ranking"]),
        (&json!("range"), &json!(day), &json!("exact"))
    );
    assert_eq!(range["items"], top["items"]);
    let (_, by_downloads) = api
        .admin(&format!(
            "/api/v1/admin/analytics/top?period=range&from={day}&to={day}&action=download"
        ))
        .await?;
    assert_eq!(
        by_downloads["items"],
        json!([{"rank": 1, "entity_id": "m-1", "view": 5, "download": 2, "code": "ABC-1", "title": "Title of ABC-1"}])
    );
    let (status, refused) = api
        .admin("/api/v1/admin/analytics/top?period=week&days=7")
        .await?;
    assert_eq!(
        (status, error_fields(&refused)),
        (422, vec!["days".to_string()])
    );
    let (status, refused) = api
        .admin(&format!(
            "/api/v1/admin/analytics/top?period=range&bucket={day}"
        ))
        .await?;
    assert_eq!(
        (status, error_fields(&refused)),
        (422, vec!["bucket".to_string()])
    );
    let (_, downloads) = api
        .admin("/api/v1/admin/analytics/top?action=download&period=all&limit=5")
        .await?;
    assert_eq!(downloads["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(downloads["items"][0]["entity_id"], "m-1");
    let (_, actors) = api
        .admin("/api/v1/admin/analytics/top?entity_type=actor&period=all")
        .await?;
    assert_eq!(
        actors["items"],
        json!([{"rank": 1, "entity_id": "a-1", "view": 1, "download": 0}])
    );

    let from = (chrono::Utc::now() - chrono::Duration::days(2))
        .format("%Y-%m-%d")
        .to_string();
    let (_, entity) = api
        .admin(&format!(
            "/api/v1/admin/analytics/entities/movie/m-1?from={from}&to={day}"
        ))
        .await?;
    assert_eq!(entity["totals"], json!({"view": 5, "download": 2}));
    let series = entity["series"].as_array().cloned().unwrap_or_default();
    assert_eq!(series.len(), 3);
    assert_eq!(series[0], json!({"bucket": from, "view": 0, "download": 0}));
    assert_eq!(series[2], json!({"bucket": day, "view": 5, "download": 2}));

    let (_, trends) = api.admin("/api/v1/admin/analytics/trends?days=7").await?;
    assert_eq!(trends["labels"].as_array().map(Vec::len), Some(7));
    assert_eq!(trends["total"], 9);
    let (_, movie_trends) = api
        .admin("/api/v1/admin/analytics/trends?days=7&entity_type=movie")
        .await?;
    assert_eq!(movie_trends["total"], 8);
    let (_, download_trends) = api
        .admin("/api/v1/admin/analytics/trends?days=7&action=download")
        .await?;
    assert_eq!(download_trends["total"], 2);

    // New events show in counts at once, and in the rollups after the next flush.
    ingest.send("e6", "movie", "m-1", "view", 1).await?;
    assert_eq!(
        api.get_as("/api/v1/analytics/counts/movie/m-1", None)
            .await?
            .1["view"],
        6
    );
    let (_, before) = api.admin("/api/v1/admin/analytics/top?period=all").await?;
    assert_eq!(before["items"][0]["view"], 5);
    env.flush_worker(&["flush"], &[]).await?;
    let (_, after) = api.admin("/api/v1/admin/analytics/top?period=all").await?;
    assert_eq!(after["items"][0]["view"], 6);
    Ok(())
}

#[tokio::test]
async fn counts_are_exact_while_a_batch_is_open_before_and_after_its_apply() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let ingest = env.spawn_ingest().await?;
    let api = env.spawn_read_api().await?;
    for i in 0..3 {
        ingest
            .send(&format!("o{i}"), "movie", "m-1", "view", 1)
            .await?;
    }
    // Two likes, one taken back, a watchlist entry and a 4-star rating: the
    // page's figures are as exact as the views at every step.
    for (id, action) in [
        ("l1", "like"),
        ("l2", "like"),
        ("l3", "unlike"),
        ("w1", "watchlist_add"),
    ] {
        ingest.send(id, "movie", "m-1", action, 1).await?;
    }
    ingest.send("r1", "movie", "m-1", "rate", 4).await?;
    let count = || async {
        let (_, body) = api
            .get_as("/api/v1/analytics/counts/movie/m-1", None)
            .await?;
        let figures = (
            body["likes"].clone(),
            body["watchlist"].clone(),
            body["ratings"].clone(),
            body["rating_average"].clone(),
        );
        anyhow::ensure!(
            figures == (json!(1), json!(1), json!(1), json!(4.0)),
            "display figures: {body}"
        );
        Ok::<Value, anyhow::Error>(body["view"].clone())
    };

    // Claimed, not applied: counted once, from Redis.
    let crashed = env
        .flush_worker(&["flush"], &[("ANALYTICS_FLUSH_FAULT", "after-claim")])
        .await?;
    assert_eq!(crashed.status.code(), Some(flush_worker::fault::EXIT_CODE));
    assert_eq!(count().await?, 3);

    // Applied but the batch still open: counted once, from Mongo.
    let applied = analytics_tests::eventually(std::time::Duration::from_secs(10), || async {
        let out = env
            .flush_worker(&["flush"], &[("ANALYTICS_FLUSH_FAULT", "after-mongo")])
            .await?;
        Ok((out.status.code() == Some(flush_worker::fault::EXIT_CODE)).then_some(()))
    })
    .await;
    applied?;
    assert_eq!(count().await?, 3);

    env.flush_until_clean().await?;
    assert_eq!(count().await?, 3);
    Ok(())
}

#[tokio::test]
async fn bad_parameters_are_422_naming_the_parameter() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let api = env.spawn_read_api().await?;
    let cases = [
        ("/api/v1/admin/analytics/top?period=hour", "period"),
        (
            "/api/v1/admin/analytics/top?period=week&bucket=2026-W99",
            "bucket",
        ),
        (
            "/api/v1/admin/analytics/top?period=day&bucket=yesterday",
            "bucket",
        ),
        ("/api/v1/admin/analytics/top?limit=0", "limit"),
        ("/api/v1/admin/analytics/top?limit=ten", "limit"),
        ("/api/v1/admin/analytics/top?action=like", "action"),
        (
            "/api/v1/admin/analytics/top?entity_type=person",
            "entity_type",
        ),
        ("/api/v1/admin/analytics/top?domain=other", "domain"),
        ("/api/v1/admin/analytics/entities/person/x", "entity_type"),
        (
            "/api/v1/admin/analytics/entities/movie/m?granularity=hour",
            "granularity",
        ),
        (
            "/api/v1/admin/analytics/entities/movie/m?from=2026-02-30",
            "from",
        ),
        (
            "/api/v1/admin/analytics/entities/movie/m?from=2026-03-02&to=2026-03-01",
            "from",
        ),
        (
            "/api/v1/admin/analytics/entities/movie/m?from=2020-01-01&to=2026-01-01",
            "from",
        ),
        ("/api/v1/admin/analytics/trends?days=8", "days"),
        ("/api/v1/admin/analytics/trends?action=rate", "action"),
    ];
    for (path, param) in cases {
        let (status, body) = api.admin(path).await?;
        assert_eq!(status, 422, "{path}: {body}");
        let named: Vec<&String> = body["errors"]
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(named, [param], "{path}: {body}");
    }
    let (status, body) = api
        .get_as("/api/v1/analytics/counts/person/x", None)
        .await?;
    assert_eq!(
        (status, body["errors"].get("entity_type").is_some()),
        (422, true)
    );
    Ok(())
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let api = env.spawn_read_api().await?;
    let (status, doc) = api.get_as("/openapi.json", None).await?;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let mut paths: Vec<&String> = doc["paths"]
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/api/metrics/health",
            "/api/metrics/realtime",
            "/api/metrics/video/{video_id}",
            "/api/v1/admin/analytics/actors/association",
            "/api/v1/admin/analytics/actors/distribution",
            "/api/v1/admin/analytics/actors/insights",
            "/api/v1/admin/analytics/actors/overview",
            "/api/v1/admin/analytics/actors/predict",
            "/api/v1/admin/analytics/actors/quality",
            "/api/v1/admin/analytics/actors/suggest",
            "/api/v1/admin/analytics/actors/trends",
            "/api/v1/admin/analytics/entities/{entity_type}/{entity_id}",
            "/api/v1/admin/analytics/live",
            "/api/v1/admin/analytics/recommendations",
            "/api/v1/admin/analytics/recommendations/movies",
            "/api/v1/admin/analytics/search/daily",
            "/api/v1/admin/analytics/search/queries",
            "/api/v1/admin/analytics/snapshot",
            "/api/v1/admin/analytics/top",
            "/api/v1/admin/analytics/trends",
            "/api/v1/admin/analytics/users/{user_id}",
            "/api/v1/analytics/content/popular",
            "/api/v1/analytics/counts/{entity_type}/{entity_id}",
            "/api/v1/analytics/peak-hours",
            "/api/v1/analytics/trends",
            "/api/v1/analytics/user/{user_id}/stats",
            "/health",
            "/metrics",
            "/openapi.json",
            "/ready",
            "/ws",
        ]
    );
    for route in ["/ready", "/api/metrics/health"] {
        let (status, ready) = api.get_as(route, None).await?;
        assert_eq!(status, 200, "{route}: {ready}");
        assert_eq!(
            ready,
            json!({"status": "ready", "checks": {"redis": "ok", "mongo": "ok", "mysql": "ok"}}),
            "{route}"
        );
    }
    let metrics = api.metrics_page().await?;
    let line = r#"analytics_http_request_duration_seconds_count{route="/openapi.json",method="GET",status="200"} 1"#;
    assert!(metrics.contains(line), "missing {line} in {metrics}");
    Ok(())
}

#[tokio::test]
async fn public_counts_are_limited_per_client_and_served_from_memory_for_the_cache_time(
) -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("read_api.counts_rate_limit_per_minute", "3")
        // Long enough that the test cannot outlive it.
        .set("read_api.counts_cache_ms", "60000");
    let ingest = env.spawn_ingest().await?;
    let api = env.spawn_read_api().await?;
    ingest.send("c-1", "movie", "m-c", "view", 1).await?;
    let path = "/api/v1/analytics/counts/movie/m-c";
    assert_eq!(
        api.get_as(path, None).await?,
        (
            200,
            json!({"domain": "jav",
        "entity_type": "movie", "entity_id": "m-c", "view": 1, "download": 0,
        "likes": 0, "favorites": 0, "watchlist": 0, "ratings": 0, "rating_average": null})
        )
    );
    // A new event is not seen while the cached count lives.
    ingest.send("c-2", "movie", "m-c", "view", 1).await?;
    assert_eq!(api.get_as(path, None).await?.1["view"], 1);
    let third = api.client.get(format!("{}{path}", api.base)).send().await?;
    assert_eq!(third.status().as_u16(), 200);
    assert_eq!(
        third
            .headers()
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok()),
        Some("0")
    );
    let refused = api.client.get(format!("{}{path}", api.base)).send().await?;
    assert_eq!(refused.status().as_u16(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    // Admin routes are not limited.
    for _ in 0..5 {
        assert_eq!(api.admin("/api/v1/admin/analytics/top").await?.0, 200);
    }
    Ok(())
}

/// A film page of a configured origin may read its own count (CORS), and
/// preflight without spending its budget; any other origin is refused,
/// logged and counted.
#[tokio::test]
async fn public_counts_answer_cors_for_the_configured_origins_and_count_the_others(
) -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set(
        "read_api.cors_allowed_origins",
        r#"["https://movies.example"]"#,
    )
    .set("read_api.counts_rate_limit_per_minute", "2");
    let api = env.spawn_read_api().await?;
    let url = format!("{}/api/v1/analytics/counts/movie/m-cors", api.base);
    let get_from = |origin: &'static str| api.client.get(&url).header("origin", origin).send();
    let preflight = |origin: &'static str| {
        api.client
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    for _ in 0..3 {
        let allowed = preflight("https://movies.example").await?;
        assert_eq!(allowed.status().as_u16(), 204);
        assert_eq!(
            allowed.headers()["access-control-allow-origin"],
            "https://movies.example"
        );
        assert_eq!(allowed.headers()["access-control-allow-methods"], "GET");
    }
    let read = get_from("https://movies.example").await?;
    assert_eq!(read.status().as_u16(), 200, "preflights spent no budget");
    assert_eq!(
        read.headers()["access-control-allow-origin"],
        "https://movies.example"
    );
    assert_eq!(read.json::<Value>().await?["view"], 0);
    let refused = get_from("https://evil.example").await?;
    assert_eq!(refused.status().as_u16(), 200);
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    let refused = preflight("https://evil.example").await?;
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    let page = api.metrics_page().await?;
    assert_eq!(
        metric(&page, "analytics_cors_refused_total"),
        Some(2.0),
        "{page}"
    );
    Ok(())
}

/// A body read-api refuses is the error contract's JSON like any other:
/// too large is a 413 naming `body`, a repeated key a 422 naming it.
#[tokio::test]
async fn a_refused_body_is_json_with_the_field_named() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let api = env.spawn_read_api().await?;
    let post = |body: String| {
        api.client
            .post(format!(
                "{}/api/v1/admin/analytics/actors/predict",
                api.base
            ))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let big = format!(r#"{{"tags": ["{}"]}}"#, "x".repeat(20_000));
    let resp = post(big).await?;
    assert_eq!(resp.status().as_u16(), 413);
    let body: Value = resp.json().await?;
    assert_eq!(
        body["errors"]["body"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
    let resp = post(r#"{"tags":["a"],"tags":["b"]}"#.to_string()).await?;
    assert_eq!(resp.status().as_u16(), 422);
    let body: Value = resp.json().await?;
    assert_eq!(
        body["errors"]["body"][0],
        "The request body is not valid JSON: the key \"tags\" appears twice in one object at line 1 column 20"
    );
    Ok(())
}

/// A path id with a control character is refused even where trimming
/// would take the character away (a tab, a vertical tab): the OpenAPI
/// document's pattern refuses it, and the route must agree.
#[tokio::test]
async fn a_path_id_holding_a_control_character_is_a_422_even_at_its_edges() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let api = env.spawn_read_api().await?;
    for path in [
        "/api/metrics/video/%0Bm-1",
        "/api/metrics/video/m-1%09",
        "/api/v1/admin/analytics/entities/movie/%0Cm-1",
    ] {
        let (status, body) = api.admin(path).await?;
        assert_eq!(status, 422, "{path}: {body}");
    }
    let (status, body) = api.admin("/api/metrics/video/%20m-1%20").await?;
    assert_eq!((status, &body["video_id"]), (200, &json!("m-1")), "{body}");
    Ok(())
}
