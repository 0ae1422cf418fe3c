//! Realtime metrics and the live feed: fed by a real ingest-svc through
//! Redis, read by read-api over HTTP and WebSocket.

use std::time::Duration;

use analytics_tests::{eventually, metric, ReadApi, TestEnv, ADMIN_TOKEN};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

const BATCH: &str = "/api/v1/analytics/events/batch";

fn playback(id: &str, action: &str, session: &str) -> Value {
    json!({"event_id": id, "domain": "jav", "entity_type": "movie", "entity_id": "live-film",
           "action": action, "session_id": session,
           "occurred_at": chrono::Utc::now().to_rfc3339()})
}

fn ws_url(api: &ReadApi, path: &str) -> String {
    format!("{}{path}", api.base.replacen("http://", "ws://", 1))
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect_with_header(api: &ReadApi, path: &str) -> anyhow::Result<Socket> {
    let mut request = ws_url(api, path).into_client_request()?;
    request.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {ADMIN_TOKEN}"))?,
    );
    Ok(tokio_tungstenite::connect_async(request).await?.0)
}

/// The next message of `kind` (within the deadline).
async fn next_of(socket: &mut Socket, kind: &str) -> anyhow::Result<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .map_err(|_| anyhow::anyhow!("no {kind} message in 10 s"))?
            .ok_or_else(|| anyhow::anyhow!("closed"))??;
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(text.as_str())?;
            if value["type"] == kind {
                return Ok(value["payload"].clone());
            }
        }
    }
}

async fn live_connections(api: &ReadApi) -> anyhow::Result<i64> {
    let text = api.metrics_page().await?;
    let ours = metric(&text, "analytics_live_feed_connections");
    // The replaced video service's name for it reads the same.
    assert_eq!(
        ours,
        metric(&text, "analytics_service_websocket_connections")
    );
    Ok(ours.map_or(-1, |n| n as i64))
}

#[tokio::test]
async fn realtime_reflects_accepted_refused_and_playback_events_within_a_second(
) -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let ingest = env.spawn_ingest().await?;
    let api = env.spawn_read_api().await?;
    let events = json!([
        playback("rt-1", "start", "s-1"),
        playback("rt-2", "start", "s-2"),
        playback("rt-3", "progress", "s-1"),
        playback("rt-4", "error", "s-2"),
        {"event_id": "rt-5", "domain": "jav", "entity_type": "movie", "entity_id": "p",
         "action": "view", "occurred_at": chrono::Utc::now().to_rfc3339()},
        {"event_id": "rt-bad", "domain": "jav", "action": "view"},
    ]);
    let (status, body) = ingest.post_json_to(BATCH, &events).await?;
    assert_eq!((status, body["accepted"].clone()), (200, json!(5)));
    let (status, _) = ingest.post_json_to(BATCH, &events).await?;
    assert_eq!(status, 200, "the same batch again: 5 duplicates, 1 invalid");
    // A reused id carrying another event: refused with 409.
    let conflict = playback("rt-1", "pause", "s-1");
    let (status, _) = ingest
        .post_json_to("/api/v1/analytics/events", &conflict)
        .await?;
    assert_eq!(status, 409);
    // Playback that happened two hours ago, sent now (a player's queue
    // replayed): accepted, but nobody is watching because of it.
    let hours_ago = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let replayed: Vec<Value> = (1..=3)
        .map(|n| {
            let mut e = playback(&format!("rt-old-{n}"), "progress", &format!("s-old-{n}"));
            e["occurred_at"] = json!(hours_ago);
            e
        })
        .collect();
    let (status, body) = ingest.post_json_to(BATCH, &json!(replayed)).await?;
    assert_eq!((status, body["accepted"].clone()), (200, json!(3)));
    let metrics = eventually(Duration::from_secs(10), || async {
        let (status, m) = api.admin("/api/metrics/realtime").await?;
        anyhow::ensure!(status == 200, "{m}");
        Ok((m["received_last_minute"] == 16).then_some(m))
    })
    .await?;
    assert_eq!(metrics["accepted_last_minute"], 8);
    assert_eq!(
        metrics["concurrent_viewers"], 2,
        "two sessions played now, three two hours ago"
    );
    assert_eq!(metrics["viewer_window_seconds"], 60);
    assert_eq!(metrics["error_rate"], 0.1875, "3 refused of 16");
    assert_eq!(metrics["playback_error_rate"], 0.1429, "1 error of 7");
    let now = chrono::Utc::now().timestamp();
    let as_of = metrics["as_of"].as_i64().unwrap_or(0);
    assert!((now - 2..=now).contains(&as_of), "{as_of} vs {now}");
    Ok(())
}

#[tokio::test]
async fn the_live_feed_checks_the_token_at_the_upgrade() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let api = env.spawn_read_api().await?;
    for path in ["/ws", "/api/v1/admin/analytics/live"] {
        let refused = tokio_tungstenite::connect_async(ws_url(&api, path)).await;
        let status = match refused {
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => r.status().as_u16(),
            other => anyhow::bail!("{path}: expected 401, got {other:?}"),
        };
        assert_eq!(status, 401, "{path}");
        let mut wrong = ws_url(&api, path).into_client_request()?;
        wrong.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("analytics.v1, bearer.wrong-token"),
        );
        match tokio_tungstenite::connect_async(wrong).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
                assert_eq!(r.status().as_u16(), 403, "{path}")
            }
            other => anyhow::bail!("{path}: expected 403, got {other:?}"),
        }
        // A browser's way: the token as a subprotocol, the other echoed.
        let mut browser = ws_url(&api, path).into_client_request()?;
        browser.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(&format!("analytics.v1, bearer.{ADMIN_TOKEN}"))?,
        );
        let (mut socket, response) = tokio_tungstenite::connect_async(browser).await?;
        assert_eq!(response.headers()["sec-websocket-protocol"], "analytics.v1");
        next_of(&mut socket, "realtime_metrics").await?;
    }
    // A plain GET with the token is not an upgrade.
    let (status, body) = api.admin("/ws").await?;
    assert_eq!(status, 400, "{body}");
    Ok(())
}

#[tokio::test]
async fn clients_get_metrics_and_sampled_events_and_a_stalled_one_is_dropped() -> anyhow::Result<()>
{
    let mut env = TestEnv::new().await?;
    env.set("ingest.live_events_per_second", "1000");
    let ingest = env.spawn_ingest().await?;
    let api = env.spawn_read_api().await?;
    let mut reader = connect_with_header(&api, "/ws").await?;
    let first = next_of(&mut reader, "realtime_metrics").await?;
    assert!(first["as_of"].as_i64().is_some(), "{first}");

    ingest
        .post_json_to(BATCH, &json!([playback("feed-1", "start", "s-feed")]))
        .await?;
    let event = next_of(&mut reader, "analytics_event").await?;
    assert_eq!(event["event_id"], "feed-1");
    assert_eq!(event["action"], "start");
    assert_eq!(event["session_id"], "s-feed");

    // One batch whose events happened out of order: fed in the order they
    // happened.
    let batch: Vec<Value> = [("feed-new", 0), ("feed-old", 60), ("feed-mid", 30)]
        .into_iter()
        .map(|(id, minutes_ago)| {
            let mut e = playback(id, "progress", "s-feed");
            e["occurred_at"] =
                json!((chrono::Utc::now() - chrono::Duration::minutes(minutes_ago)).to_rfc3339());
            e
        })
        .collect();
    ingest.post_json_to(BATCH, &json!(batch)).await?;
    let mut fed = Vec::new();
    for _ in 0..3 {
        fed.push(next_of(&mut reader, "analytics_event").await?["event_id"].clone());
    }
    assert_eq!(
        fed,
        [json!("feed-old"), json!("feed-mid"), json!("feed-new")]
    );

    // The reading client reads on, counting the metrics it gets.
    let (seen_tx, seen) = tokio::sync::watch::channel(0u64);
    let reading = tokio::spawn(async move {
        let mut metrics = 0;
        while let Some(Ok(message)) = reader.next().await {
            if let Message::Text(text) = message {
                if text.as_str().contains("\"realtime_metrics\"") {
                    metrics += 1;
                    let _ = seen_tx.send(metrics);
                }
            }
        }
    });

    // A client that never reads, with a tiny receive window.
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(2048)?;
    let address = api.base.trim_start_matches("http://").parse()?;
    let stream = socket.connect(address).await?;
    let mut request = ws_url(&api, "/ws").into_client_request()?;
    request.headers_mut().insert(
        "Authorization",
        HeaderValue::from_str(&format!("Bearer {ADMIN_TOKEN}"))?,
    );
    let (stalled, _) = tokio_tungstenite::client_async(request, stream).await?;
    eventually(Duration::from_secs(5), || async {
        Ok((live_connections(&api).await? == 2).then_some(()))
    })
    .await?;

    // A busy feed of large sampled events until the stalled client is
    // dropped.
    let padding: serde_json::Map<String, Value> = (0..16)
        .map(|i| (format!("k{i}"), json!("x".repeat(200))))
        .collect();
    let mut round = 0;
    eventually(Duration::from_secs(60), || {
        round += 1;
        let batch: Vec<Value> = (0..200)
            .map(|i| {
                let mut e = playback(&format!("busy-{round}-{i}"), "progress", "s-busy");
                e["properties"] = Value::Object(padding.clone());
                e
            })
            .collect();
        let (ingest, api) = (&ingest, &api);
        async move {
            let (status, body) = ingest.post_json_to(BATCH, &json!(batch)).await?;
            anyhow::ensure!(status == 200, "{body}");
            Ok((live_connections(api).await? == 1).then_some(()))
        }
    })
    .await?;
    // The reading client was not harmed: it is connected and new metrics
    // keep coming.
    let before = *seen.borrow();
    let mut seen = seen;
    eventually(Duration::from_secs(10), || {
        let current = *seen.borrow_and_update();
        async move { Ok((current >= before + 2).then_some(())) }
    })
    .await?;
    assert!(
        !reading.is_finished(),
        "the reading client is still connected"
    );
    assert_eq!(live_connections(&api).await?, 1);
    drop(stalled);
    Ok(())
}

/// A browser page of another origin cannot open the feed with a stolen or
/// stored token; read-api's own pages and configured origins can, and so
/// can a client that sends no Origin (not a page).
#[tokio::test]
async fn the_live_feed_opens_only_for_its_own_and_configured_origins() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set(
        "read_api.live_allowed_origins",
        r#"["https://admin.example"]"#,
    );
    let api = env.spawn_read_api().await?;
    let own = api.base.clone();
    let upgrade = |origin: Option<&str>| {
        let mut request = ws_url(&api, "/ws").into_client_request();
        if let Ok(r) = request.as_mut() {
            r.headers_mut().insert(
                "Authorization",
                HeaderValue::from_str(&format!("Bearer {ADMIN_TOKEN}")).expect("header"),
            );
            if let Some(o) = origin {
                r.headers_mut()
                    .insert("Origin", HeaderValue::from_str(o).expect("header"));
            }
        }
        async move {
            match tokio_tungstenite::connect_async(request?).await {
                Ok((_, response)) => Ok::<u16, anyhow::Error>(response.status().as_u16()),
                Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
                    let body = r.body().clone().unwrap_or_default();
                    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    assert_eq!(
                        body["errors"]["origin"][0],
                        "Pages of this origin may not open the live feed: add it to read_api.live_allowed_origins.",
                        "{body}"
                    );
                    Ok(r.status().as_u16())
                }
                Err(e) => Err(e.into()),
            }
        }
    };
    assert_eq!(upgrade(Some("https://evil.example")).await?, 403);
    assert_eq!(upgrade(Some("null")).await?, 403);
    assert_eq!(upgrade(Some(&own)).await?, 101);
    assert_eq!(upgrade(Some("https://admin.example")).await?, 101);
    assert_eq!(upgrade(None).await?, 101);
    Ok(())
}
