//! Contract v2 at the HTTP edge: the seed producers' bodies, batches with
//! per-item results, protobuf, browser beacons and CORS, and the dry run.

use analytics_proto::analytics::v1::{Event as ProtoEvent, EventBatch};
use analytics_tests::{error_fields, event, metric, TestEnv};
use prost::Message;
use serde_json::{json, Value};

const BATCH: &str = "/api/v1/analytics/events/batch";
const VALIDATE: &str = "/api/v1/analytics/events/validate";

fn statuses(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| r["status"].as_str().unwrap_or("?").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_seed_producers_bodies_are_accepted_where_they_send_them() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let app = env.spawn_ingest().await?;
    let player = json!({"event_type": "video_start", "user_id": "user_123",
        "session_id": "session_456", "video_id": "video_789",
        "properties": {"quality": "720p", "device_type": "desktop", "browser": "chrome"}});
    let resp = app
        .post_to("/api/events", "application/json", player.to_string())
        .await?;
    assert_eq!(resp.status().as_u16(), 202);
    assert_eq!(resp.text().await?, r#"{"status":"accepted"}"#);

    let viewing = json!({"user_id": "u-1", "movie_id": "movie-1", "event_type": "finish",
        "position_seconds": 3600, "session_id": "s-1", "metadata": {"device": "tv"}});
    let (status, _) = app
        .post_json_to("/api/v1/analytics/events", &viewing)
        .await?;
    assert_eq!(status, 202);

    // A stream message delivered twice is one event (its id is derived).
    let at = chrono::Utc::now().to_rfc3339();
    let message = json!({"user_id": "u-1", "movie_id": "movie-1", "action": "stream_start",
        "timestamp": at, "position_seconds": 0, "session_id": "s-1"});
    let (status, body) = app
        .post_json_to(BATCH, &json!([message.clone(), message]))
        .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(statuses(&body), ["accepted", "duplicate"]);

    // Errors name the producer's own fields.
    let (status, body) = app
        .post_json_to(
            "/api/events",
            &json!({"event_type": "video_explode", "video_id": ""}),
        )
        .await?;
    assert_eq!(status, 422);
    assert_eq!(error_fields(&body), ["event_type", "video_id"], "{body}");
    Ok(())
}

#[tokio::test]
async fn a_batch_answers_each_item_in_order() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("ingest.max_batch_events", "5");
    let app = env.spawn_ingest().await?;
    app.send("seen-before", "movie", "m-0", "view", 1).await?;
    let items = json!([
        event("b-1", "movie", "m-1", "view", 1),
        event("b-2", "movie", "m-1", "explode", 1),
        event("b-1", "movie", "m-1", "view", 1),
        event("b-1", "movie", "m-2", "view", 1),
        5,
    ]);
    let (status, body) = app.post_json_to(BATCH, &items).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        statuses(&body),
        ["accepted", "invalid", "duplicate", "conflict", "invalid"]
    );
    assert_eq!(
        (
            &body["accepted"],
            &body["duplicates"],
            &body["conflicts"],
            &body["invalid"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(2))
    );
    assert_eq!(
        body["results"][1]["errors"]["action"][0],
        "The selected action is invalid."
    );
    assert_eq!(
        body["results"][4]["errors"]["event"][0],
        "Each event must be a JSON object."
    );
    assert_eq!(body["results"][0]["event_id"], "b-1");

    let wrapped = json!({"events": [event("seen-before", "movie", "m-0", "view", 1)]});
    let (_, body) = app.post_json_to(BATCH, &wrapped).await?;
    assert_eq!(statuses(&body), ["duplicate"]);

    let six: Vec<Value> = (0..6)
        .map(|i| event(&format!("s-{i}"), "movie", "m", "view", 1))
        .collect();
    for too_many in [json!(six), json!([])] {
        let (status, body) = app.post_json_to(BATCH, &too_many).await?;
        assert_eq!(status, 422);
        assert_eq!(
            body["errors"]["events"][0],
            "A batch must hold 1 to 5 events."
        );
    }
    let (status, _) = app.post_json_to(BATCH, &json!({"nope": 1})).await?;
    assert_eq!(status, 400);
    assert_eq!(env.counts_waiting().await?, 2, "m-0 and b-1 only");
    Ok(())
}

#[tokio::test]
async fn protobuf_and_json_forms_are_one_event() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let app = env.spawn_ingest().await?;
    let at = chrono::Utc::now().to_rfc3339();
    let json_form = json!({"event_id": "p-1", "domain": "jav", "entity_type": "movie",
        "entity_id": "m-1", "action": "progress", "occurred_at": at, "user_id": 7,
        "session_id": "s", "position_seconds": 120, "watched_seconds": 30,
        "properties": {"quality": "1080p"}});
    let proto = ProtoEvent {
        event_id: "p-1".into(),
        domain: "jav".into(),
        entity_type: "movie".into(),
        entity_id: "m-1".into(),
        action: "progress".into(),
        occurred_at: at.clone(),
        user_id: Some(analytics_proto::analytics::v1::event::UserId::UserIdInt(7)),
        session_id: Some("s".into()),
        position_seconds: Some(120),
        watched_seconds: Some(30),
        properties: [("quality".to_string(), "1080p".to_string())]
            .into_iter()
            .collect(),
        ..Default::default()
    };
    let (status, from_json) = app.post_json_to(VALIDATE, &json_form).await?;
    assert_eq!(status, 200, "{from_json}");
    let resp = app
        .post_to(VALIDATE, "application/x-protobuf", proto.encode_to_vec())
        .await?;
    assert_eq!(resp.status().as_u16(), 200);
    let from_proto: Value = resp.json().await?;
    assert_eq!(from_json, from_proto);
    assert_eq!(from_json["event"]["watched_seconds"], 30);

    let resp = app
        .post_to(
            "/api/v1/analytics/events",
            "application/x-protobuf",
            proto.encode_to_vec(),
        )
        .await?;
    assert_eq!(resp.status().as_u16(), 202);
    // The same event again as JSON: a duplicate, not a conflict.
    let (status, _) = app
        .post_json_to("/api/v1/analytics/events", &json_form)
        .await?;
    assert_eq!(status, 202);

    let batch = EventBatch {
        events: vec![
            ProtoEvent {
                event_id: "p-2".into(),
                ..proto.clone()
            },
            ProtoEvent {
                action: "explode".into(),
                event_id: "p-3".into(),
                ..proto
            },
        ],
    };
    let resp = app
        .post_to(BATCH, "application/x-protobuf", batch.encode_to_vec())
        .await?;
    let body: Value = resp.json().await?;
    assert_eq!(statuses(&body), ["accepted", "invalid"]);
    let resp = app
        .post_to(BATCH, "application/x-protobuf", vec![0xff, 0xff, 0xff])
        .await?;
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(env.counts_waiting().await?, 2);
    Ok(())
}

#[tokio::test]
async fn the_dry_run_normalises_and_counts_nothing() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let app = env.spawn_ingest().await?;
    let at = chrono::Utc::now();
    let body = json!({"event_id": "d-1", "domain": "jav", "action": "actor.viewed",
        "entity_id": " a-1 ", "occurred_at": at.to_rfc3339()});
    let (status, answer) = app.post_json_to(VALIDATE, &body).await?;
    assert_eq!(status, 200);
    assert_eq!(answer["valid"], true);
    assert_eq!(answer["shape"], "contract");
    let e = &answer["event"];
    assert_eq!(
        (
            &e["entity_type"],
            &e["entity_id"],
            &e["action"],
            &e["value"]
        ),
        (&json!("actor"), &json!("a-1"), &json!("view"), &json!(1))
    );
    let (status, answer) = app
        .post_json_to(VALIDATE, &json!({"event_id": "d-2", "action": "rate"}))
        .await?;
    assert_eq!(status, 422);
    assert!(answer["errors"]["value"].is_array(), "{answer}");
    assert!(
        env.redis_keys().await?.is_empty(),
        "a dry run wrote to Redis"
    );
    Ok(())
}

#[tokio::test]
async fn beacons_and_cors_serve_configured_origins_only() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let mut settings = env.ingest_settings()?;
    settings.ingest.cors_allowed_origins = vec!["https://movies.example".into()];
    let app = env.spawn_ingest_with(settings).await?;
    let url = format!("{}/api/v1/analytics/events", app.base);
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let allowed = preflight("https://movies.example").await?;
    assert_eq!(allowed.status().as_u16(), 204);
    let h = allowed.headers();
    assert_eq!(h["access-control-allow-origin"], "https://movies.example");
    assert_eq!(h["access-control-allow-methods"], "POST");
    assert!(h.get("access-control-allow-credentials").is_none());
    let refused = preflight("https://evil.example").await?;
    assert_eq!(refused.status().as_u16(), 204);
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    // What navigator.sendBeacon sends: JSON as text/plain, no credentials.
    let beacon = app
        .client
        .post(&url)
        .header("origin", "https://movies.example")
        .header("content-type", "text/plain;charset=UTF-8")
        .body(event("beacon-1", "movie", "m-1", "view", 1).to_string())
        .send()
        .await?;
    assert_eq!(beacon.status().as_u16(), 202);
    assert_eq!(
        beacon.headers()["access-control-allow-origin"],
        "https://movies.example"
    );
    assert_eq!(env.counts_waiting().await?, 1);

    // The refused preflight is counted; so is a beacon from that origin
    // (counted as an event too: CORS only hides the answer). A request of
    // ingest's own origin is not cross-origin at all.
    let own = app.base.clone();
    for (origin, id) in [
        ("https://evil.example", "beacon-2"),
        (own.as_str(), "beacon-3"),
    ] {
        let sent = app
            .client
            .post(&url)
            .header("origin", origin)
            .header("content-type", "text/plain;charset=UTF-8")
            .body(event(id, "movie", "m-1", "view", 1).to_string())
            .send()
            .await?;
        assert_eq!(sent.status().as_u16(), 202, "{origin}");
        assert!(sent.headers().get("access-control-allow-origin").is_none());
    }
    let metrics = app.get("/metrics").await?.text().await?;
    assert_eq!(
        metric(&metrics, "analytics_cors_refused_total"),
        Some(2.0),
        "{metrics}"
    );
    Ok(())
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_shape_and_form() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let app = env.spawn_ingest().await?;
    let doc: Value = app.get("/openapi.json").await?.json().await?;
    for route in ["/api/v1/analytics/events", "/api/events", BATCH, VALIDATE] {
        let content = &doc["paths"][route]["post"]["requestBody"]["content"];
        for form in ["application/json", "text/plain", "application/x-protobuf"] {
            assert!(content[form].is_object(), "{route} lacks {form}");
        }
    }
    let schemas = &doc["components"]["schemas"];
    let event = &doc["paths"]["/api/v1/analytics/events"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]["$ref"];
    assert_eq!(event, "#/components/schemas/Event");
    let shapes: Vec<&str> = schemas["Event"]["anyOf"]
        .as_array()
        .map(|s| s.iter().filter_map(|x| x["$ref"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        shapes,
        [
            "#/components/schemas/ContractEvent",
            "#/components/schemas/VideoPlayerEvent",
            "#/components/schemas/ViewingServiceEvent",
            "#/components/schemas/StreamMessage"
        ]
    );
    let actions = &schemas["ActionName"]["enum"];
    for name in ["view", "quality_change", "stream.stop", "search.performed"] {
        assert!(
            actions.as_array().is_some_and(|a| a.contains(&json!(name))),
            "{name}"
        );
    }
    // What only the configuration knows: the domains and the batch size.
    assert_eq!(schemas["DomainName"]["enum"], json!(["jav"]));
    assert_eq!(
        doc["paths"][BATCH]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Batch"
    );
    assert_eq!(schemas["EventList"]["maxItems"], 500);
    Ok(())
}

#[tokio::test]
async fn ingest_reloads_its_script_when_redis_forgot_it() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let app = env.spawn_ingest().await?;
    app.send("before", "movie", "m-1", "view", 1).await?;
    // What a Redis restart does to the script cache (every test's scripts
    // load again on their next call).
    let mut redis = env.redis().await?;
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut redis)
        .await?;
    app.send("after", "movie", "m-1", "view", 1).await?;
    let (status, body) = app
        .post_json_to(
            BATCH,
            &json!([event("after-batch", "movie", "m-2", "view", 1)]),
        )
        .await?;
    assert_eq!(
        (status, statuses(&body)),
        (200, vec!["accepted".to_string()])
    );
    assert_eq!(env.counts_waiting().await?, 3);
    Ok(())
}
