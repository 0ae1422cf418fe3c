//! What every service does alike at the HTTP level: 405 with `Allow`, the
//! bearer scheme in any case, gzip bodies (bounded), stalled bodies (408),
//! rate-limit headers, readiness that names a store without its address,
//! and internal errors that show only a request id.

use std::io::Write;
use std::time::Duration;

use analytics_tests::{
    event, get_json, TestEnv, ADMIN_TOKEN, INGEST_PRODUCER_TOKEN, OPERATOR_TOKEN, PRODUCER_TOKEN,
};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

fn job_event(uuid: &str) -> Value {
    json!({"event_type": "started", "job_uuid": uuid, "job_name": "OnejavJob", "queue": "jav",
           "attempt": 1, "site": "onejav", "timestamp": chrono::Utc::now().to_rfc3339()})
}

fn closed_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[tokio::test]
async fn a_known_path_with_another_method_is_405_with_allow() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let ingest = env.spawn_ingest().await?;
    let api = env.spawn_read_api().await?;
    let telemetry = env.spawn_telemetry().await?;
    let client = reqwest::Client::new();
    for (method, url, allow) in [
        (
            "GET",
            format!("{}/api/v1/analytics/events", ingest.base),
            "POST",
        ),
        ("POST", format!("{}/health", ingest.base), "GET"),
        (
            "POST",
            format!("{}/api/v1/admin/analytics/top", api.base),
            "GET",
        ),
        (
            "DELETE",
            format!("{}/api/v1/analytics/counts/movie/m", api.base),
            "GET",
        ),
        (
            "GET",
            format!("{telemetry}/api/v1/telemetry/jobs/events"),
            "POST",
        ),
        (
            "PUT",
            format!("{telemetry}/api/v1/telemetry/pipeline"),
            "GET",
        ),
    ] {
        let resp = client.request(method.parse()?, &url).send().await?;
        assert_eq!(resp.status().as_u16(), 405, "{method} {url}");
        assert_eq!(
            resp.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {url}"
        );
        let body: Value = resp.json().await?;
        assert!(
            body["message"].as_str().is_some_and(|m| m.contains(allow)),
            "{body}"
        );
    }
    let missing = client.get(format!("{}/nope", api.base)).send().await?;
    assert_eq!(missing.status().as_u16(), 404);
    Ok(())
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let api = env.spawn_read_api().await?;
    let telemetry = env.spawn_telemetry().await?;
    let client = reqwest::Client::new();
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let top = client
            .get(format!("{}/api/v1/admin/analytics/top", api.base))
            .header("authorization", format!("{scheme} {ADMIN_TOKEN}"))
            .send()
            .await?;
        assert_eq!(top.status().as_u16(), 200, "{scheme}");
        let pipeline = client
            .get(format!("{telemetry}/api/v1/telemetry/pipeline"))
            .header("authorization", format!("{scheme} {OPERATOR_TOKEN}"))
            .send()
            .await?;
        assert_eq!(pipeline.status().as_u16(), 200, "{scheme}");
    }
    Ok(())
}

#[tokio::test]
async fn gzip_bodies_are_read_alike_by_ingest_and_telemetry_and_bounded() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let ingest = env.spawn_ingest().await?;
    let telemetry = env.spawn_telemetry().await?;
    let client = reqwest::Client::new();
    let post = |url: String, token: &'static str, encoding: &'static str, body: Vec<u8>| {
        client
            .post(url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("content-encoding", encoding)
            .body(body)
            .send()
    };
    let events_url = format!("{}/api/v1/analytics/events", ingest.base);
    let jobs_url = format!("{telemetry}/api/v1/telemetry/jobs/events");
    let event_body = serde_json::to_vec(&event("gz-1", "movie", "m-1", "view", 1))?;
    let job_body = serde_json::to_vec(&job_event("j-gz"))?;
    // 1 MB of JSON whitespace compresses to about a kilobyte: a small bomb.
    let mut bomb = b"{\"event_id\": \"x\"".to_vec();
    bomb.extend(std::iter::repeat_n(b' ', 1_000_000));
    bomb.push(b'}');
    for (url, token, body) in [
        (
            events_url.clone(),
            INGEST_PRODUCER_TOKEN,
            event_body.clone(),
        ),
        (jobs_url.clone(), PRODUCER_TOKEN, job_body.clone()),
    ] {
        let ok = post(url.clone(), token, "gzip", gzip(&body)).await?;
        assert_eq!(ok.status().as_u16(), 202, "{url}: {}", ok.text().await?);
        let too_large = post(url.clone(), token, "gzip", gzip(&bomb)).await?;
        assert_eq!(too_large.status().as_u16(), 413, "{url}");
        let body_err: Value = too_large.json().await?;
        assert!(body_err["errors"]["body"].is_array(), "{body_err}");
        let not_gzip = post(url.clone(), token, "gzip", body.clone()).await?;
        assert_eq!(not_gzip.status().as_u16(), 400, "{url}");
        let brotli = post(url.clone(), token, "br", body.clone()).await?;
        assert_eq!(brotli.status().as_u16(), 415, "{url}");
        let err: Value = brotli.json().await?;
        assert!(err["errors"]["content_encoding"].is_array(), "{err}");
    }
    Ok(())
}

/// Sends a request head promising 500 bytes and then only 4; returns what
/// the server answers.
async fn stalled_body(addr: &str, path: &str, token: &str) -> anyhow::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{{\"a\""
    );
    stream.write_all(head.as_bytes()).await?;
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut answer)).await??;
    Ok(String::from_utf8_lossy(&answer[..n]).to_string())
}

#[tokio::test]
async fn a_client_that_stalls_its_body_gets_408_and_the_connection_back() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("ingest.body_timeout_seconds", "1")
        .set("telemetry.body_timeout_seconds", "1");
    let ingest = env.spawn_ingest().await?;
    let telemetry = env.spawn_telemetry().await?;
    for (base, path, token) in [
        (
            ingest.base.clone(),
            "/api/v1/analytics/events",
            INGEST_PRODUCER_TOKEN,
        ),
        (
            telemetry.clone(),
            "/api/v1/telemetry/jobs/events",
            PRODUCER_TOKEN,
        ),
    ] {
        let addr = base.trim_start_matches("http://");
        let answer = stalled_body(addr, path, token).await?;
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains("not received within 1 seconds"), "{answer}");
    }
    Ok(())
}

#[tokio::test]
async fn every_ingest_response_carries_the_clients_rate_limit() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("ingest.rate_limit_per_minute", "3");
    let ingest = env.spawn_ingest().await?;
    let header = |r: &reqwest::Response, name: &str| -> Option<u64> {
        r.headers().get(name)?.to_str().ok()?.parse().ok()
    };
    let now = chrono::Utc::now().timestamp() as u64;
    let accepted = ingest
        .post_json(&event("rl-1", "movie", "m", "view", 1))
        .await?;
    assert_eq!(accepted.status().as_u16(), 202);
    assert_eq!(header(&accepted, "x-ratelimit-limit"), Some(3));
    assert_eq!(header(&accepted, "x-ratelimit-remaining"), Some(2));
    let reset = header(&accepted, "x-ratelimit-reset").unwrap_or(0);
    assert!(
        (now + 55..=now + 62).contains(&reset),
        "reset {reset} vs now {now}"
    );
    let invalid = ingest.post_json(&json!({"event_id": "x"})).await?;
    assert_eq!(invalid.status().as_u16(), 422);
    assert_eq!(header(&invalid, "x-ratelimit-remaining"), Some(1));
    ingest
        .post_json(&event("rl-2", "movie", "m", "view", 1))
        .await?;
    let refused = ingest
        .post_json(&event("rl-3", "movie", "m", "view", 1))
        .await?;
    assert_eq!(refused.status().as_u16(), 429);
    assert_eq!(header(&refused, "x-ratelimit-remaining"), Some(0));
    assert!(header(&refused, "retry-after").is_some_and(|s| (1..=60).contains(&s)));
    let metrics = ingest.get("/metrics").await?.text().await?;
    assert!(
        metrics.contains(r#"analytics_events_rejected_total{reason="rate_limited"} 1"#),
        "{metrics}"
    );
    Ok(())
}

#[tokio::test]
async fn anonymous_values_are_limited_and_the_producer_token_lifts_the_limit() -> anyhow::Result<()>
{
    let env = TestEnv::new().await?;
    let ingest = env.spawn_ingest().await?;
    let anonymous = ingest
        .post_json(&event("v-1", "movie", "m", "view", 10_000))
        .await?;
    assert_eq!(anonymous.status().as_u16(), 422);
    let body: Value = anonymous.json().await?;
    assert_eq!(
        body["errors"]["value"],
        json!(["The value field must not be greater than 1."])
    );
    let producer = ingest
        .post_as_producer(&event("v-2", "movie", "m", "view", 10_000))
        .await?;
    assert_eq!(producer.status().as_u16(), 202);
    let wrong = ingest
        .client
        .post(format!("{}/api/v1/analytics/events", ingest.base))
        .bearer_auth("not-the-producer-token")
        .json(&event("v-3", "movie", "m", "view", 1))
        .send()
        .await?;
    assert_eq!(wrong.status().as_u16(), 403);
    let wrong: Value = wrong.json().await?;
    assert!(wrong["errors"]["authorization"].is_array(), "{wrong}");
    let mut bidi = event("v-4", "movie", "m", "view", 1);
    bidi["entity_id"] = json!("movie\u{202E}4pm.exe");
    let refused = ingest.post_json(&bidi).await?;
    assert_eq!(refused.status().as_u16(), 422);
    let refused: Value = refused.json().await?;
    assert!(refused["errors"]["entity_id"].is_array(), "{refused}");
    assert_eq!(
        env.dirty_keys().await?,
        1,
        "only the producer's event counted"
    );
    Ok(())
}

#[tokio::test]
async fn readiness_names_the_store_that_failed_but_not_its_address() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.use_redis(format!("redis://127.0.0.1:{}/", closed_port()?))
        .set("redis.connect_timeout_ms", "200")
        .set("redis.command_timeout_ms", "300");
    let ingest = env.spawn_ingest().await?;
    let ready = ingest.get("/ready").await?;
    assert_eq!(ready.status().as_u16(), 503);
    assert!(ready.headers().contains_key("retry-after"));
    let body: Value = ready.json().await?;
    assert_eq!(
        body,
        json!({"status": "unavailable", "checks": {"redis": "unavailable"}})
    );

    // The operator page answers exactly then, naming the problem.
    let telemetry = env.spawn_telemetry().await?;
    let (status, pipeline) = get_json(
        &reqwest::Client::new(),
        &format!("{telemetry}/api/v1/telemetry/pipeline"),
        Some(OPERATOR_TOKEN),
    )
    .await?;
    assert_eq!(status, 200, "{pipeline}");
    assert_eq!(pipeline["healthy"], false);
    assert!(
        pipeline["problems"]
            .to_string()
            .contains("the Redis backlog could not be read: redis did not answer"),
        "{pipeline}"
    );
    assert!(!pipeline.to_string().contains("127.0.0.1"), "{pipeline}");
    Ok(())
}

#[tokio::test]
async fn an_unexpected_store_error_is_a_500_with_a_request_id_and_no_detail() -> anyhow::Result<()>
{
    let env = TestEnv::new().await?;
    let ingest = env.spawn_ingest().await?;
    // Dedupe hashes of the wrong type: the ingest script fails before it
    // writes anything, a bug-class error, not an outage (retrying is no use).
    // Tomorrow's too, should Redis's day turn over meanwhile.
    let mut redis = env.redis().await?;
    let today = env.redis_day().await?;
    for day in today..=today + 1 {
        let hash = env.seen_hash("boom-1", day)?;
        let _: () = redis::cmd("SET")
            .arg(&hash)
            .arg("not a hash")
            .query_async(&mut redis)
            .await?;
    }
    let resp = ingest
        .client
        .post(format!("{}/api/v1/analytics/events", ingest.base))
        .header("x-request-id", "req-42")
        .json(&event("boom-1", "movie", "m", "view", 1))
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 500);
    assert!(!resp.headers().contains_key("retry-after"));
    assert_eq!(
        resp.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("req-42")
    );
    let body: Value = resp.json().await?;
    assert_eq!(body["request_id"], "req-42");
    assert!(
        !body.to_string().to_lowercase().contains("wrongtype"),
        "{body}"
    );
    Ok(())
}

#[tokio::test]
async fn every_service_describes_its_routes_in_openapi() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let ingest = env.spawn_ingest().await?;
    let api = env.spawn_read_api().await?;
    let telemetry = env.spawn_telemetry().await?;
    let client = reqwest::Client::new();
    for (base, routes) in [
        (
            ingest.base.clone(),
            vec![
                "/api/v1/analytics/events",
                "/api/events",
                "/api/v1/analytics/events/batch",
                "/api/v1/analytics/events/validate",
            ],
        ),
        (
            api.base.clone(),
            vec![
                "/api/v1/admin/analytics/top",
                "/api/v1/analytics/counts/{entity_type}/{entity_id}",
            ],
        ),
        (
            telemetry.clone(),
            vec![
                "/api/v1/telemetry/jobs/events",
                "/api/v1/telemetry/jobs/summary",
                "/api/v1/telemetry/pipeline",
                "/api/v1/telemetry/block-signals",
                "/api/v1/telemetry/hosts/{host}/cooldown",
            ],
        ),
    ] {
        let (status, doc) = get_json(&client, &format!("{base}/openapi.json"), None).await?;
        assert_eq!(status, 200);
        // The document is public: any page may read it.
        let cross_origin = client
            .get(format!("{base}/openapi.json"))
            .header("origin", "https://evil.example")
            .send()
            .await?;
        assert_eq!(cross_origin.headers()["access-control-allow-origin"], "*");
        // Derived from the types (utoipa): OpenAPI 3.1.
        assert_eq!(doc["openapi"], "3.1.0", "{base}");
        for route in routes
            .into_iter()
            .chain(["/health", "/ready", "/metrics", "/openapi.json"])
        {
            assert!(doc["paths"][route].is_object(), "{base} lacks {route}");
        }
        assert!(doc["components"]["schemas"]["Error"].is_object());
        let dangling = unresolved_refs(&doc, &doc);
        assert!(dangling.is_empty(), "{base}: no schema for {dangling:?}");
        let missing = operations_without_examples(&doc);
        assert!(missing.is_empty(), "{base}: no example for {missing:?}");
        // The one request-metrics middleware counts those two requests, in
        // every service.
        let metrics = client
            .get(format!("{base}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        let line = r#"analytics_http_request_duration_seconds_count{route="/openapi.json",method="GET",status="200"} 2"#;
        assert!(metrics.contains(line), "{base} lacks {line} in {metrics}");
    }
    Ok(())
}

/// The `$ref`s anywhere under `node` that name nothing in `doc`.
fn unresolved_refs(doc: &Value, node: &Value) -> Vec<String> {
    match node {
        Value::Object(members) => members
            .iter()
            .flat_map(|(key, value)| match (key.as_str(), value.as_str()) {
                ("$ref", Some(target)) => target
                    .strip_prefix('#')
                    .and_then(|pointer| doc.pointer(pointer))
                    .map_or_else(|| vec![target.to_string()], |_| Vec::new()),
                _ => unresolved_refs(doc, value),
            })
            .collect(),
        Value::Array(items) => items.iter().flat_map(|v| unresolved_refs(doc, v)).collect(),
        _ => Vec::new(),
    }
}

/// The operations (`METHOD path: what`) lacking an example of a required
/// parameter, of a JSON or text request body, or of a JSON response.
fn operations_without_examples(doc: &Value) -> Vec<String> {
    let mut missing = Vec::new();
    let paths = doc["paths"].as_object().into_iter().flatten();
    for (path, item) in paths {
        for (method, op) in item.as_object().into_iter().flatten() {
            let name = format!("{} {path}", method.to_uppercase());
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["required"] == true && p.get("example").is_none() {
                    missing.push(format!("{name}: parameter {}", p["name"]));
                }
            }
            let bodies = op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten();
            let responses = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .flat_map(|(_, r)| r["content"].as_object().into_iter().flatten());
            for (kind, media) in bodies.chain(responses) {
                let textual = kind.contains("json") || kind.starts_with("text/");
                if textual && media.get("example").is_none() {
                    missing.push(format!("{name}: {kind}"));
                }
            }
        }
    }
    missing
}

#[tokio::test]
async fn configured_tokens_never_show_in_debug_output() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let overrides: Vec<(&str, &str)> = env
        .settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let ingest: ingest_svc::Settings = analytics_runtime::config::load_with(&overrides)?;
    let read: read_api::Settings = analytics_runtime::config::load_with(&overrides)?;
    let telemetry: telemetry_svc::Settings = analytics_runtime::config::load_with(&overrides)?;
    let printed = format!("{ingest:?} {read:?} {telemetry:?}");
    for token in [
        INGEST_PRODUCER_TOKEN,
        ADMIN_TOKEN,
        PRODUCER_TOKEN,
        OPERATOR_TOKEN,
    ] {
        assert!(!printed.contains(token), "{token} printed");
    }
    assert!(printed.contains("REDACTED"), "{printed}");
    Ok(())
}
