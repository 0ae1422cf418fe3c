//! The server-side producer example (`examples/track_download.rs`) run as
//! a real process against ingest-svc behind a gateway that loses answers.

use std::sync::{Arc, Mutex};

use analytics_domain::Action;
use analytics_tests::{binary, TestEnv};
use serde_json::Value;

/// A gateway in front of `ingest` that forwards every request but answers
/// the first with a 502, as if the upstream answer was lost after the
/// event was counted. Returns its base URL and the bodies it saw.
async fn lossy_gateway(ingest: String) -> anyhow::Result<(String, Arc<Mutex<Vec<Value>>>)> {
    let seen = Arc::new(Mutex::new(Vec::<Value>::new()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let (state, client) = (seen.clone(), reqwest::Client::new());
    let server = actix_web::HttpServer::new(move || {
        let (seen, client, ingest) = (state.clone(), client.clone(), ingest.clone());
        actix_web::App::new().default_service(actix_web::web::to(
            move |req: actix_web::HttpRequest, body: actix_web::web::Bytes| {
                let (seen, client, ingest) = (seen.clone(), client.clone(), ingest.clone());
                async move {
                    let upstream = client
                        .post(format!("{ingest}{}", req.path()))
                        .header("content-type", "application/json")
                        .body(body.to_vec())
                        .send()
                        .await;
                    let first = {
                        let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                        seen.push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                        seen.len() == 1
                    };
                    match upstream {
                        Ok(answer) if !first => {
                            let mut out = actix_web::HttpResponse::build(
                                actix_web::http::StatusCode::from_u16(answer.status().as_u16())
                                    .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY),
                            );
                            for (name, value) in answer.headers() {
                                if name.as_str().starts_with("x-analytics") {
                                    out.insert_header((name.as_str(), value.as_bytes()));
                                }
                            }
                            out.body(answer.bytes().await.unwrap_or_default())
                        }
                        _ => actix_web::HttpResponse::BadGateway().finish(),
                    }
                }
            },
        ))
    })
    .workers(1)
    .listen(listener)?
    .run();
    tokio::spawn(server);
    Ok((format!("http://127.0.0.1:{port}"), seen))
}

#[tokio::test]
async fn the_download_tracker_retries_with_the_same_id_and_counts_once() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let ingest = env.spawn_ingest().await?;
    let (gateway, seen) = lossy_gateway(ingest.base.clone()).await?;
    let out = tokio::process::Command::new(binary("track-download")?)
        .args([
            "--endpoint",
            &gateway,
            "--movie",
            "m-downloaded",
            "--user-id",
            "42",
        ])
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bodies = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(bodies.len(), 2, "one lost answer, one retry");
    assert_eq!(bodies[0], bodies[1], "the retry is the same event");
    assert_eq!(bodies[0]["action"], "download");
    assert_eq!(bodies[0]["user_id"], 42);
    let id = bodies[0]["event_id"].as_str().unwrap_or_default();
    assert_eq!(stdout.trim(), format!("{id} duplicate"));
    env.flush_until_clean().await?;
    assert_eq!(
        env.totals("movie", "m-downloaded")
            .await?
            .get(Action::Download),
        1
    );
    Ok(())
}

#[tokio::test]
async fn the_download_tracker_stops_at_a_refusal_and_names_the_field() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let ingest = env.spawn_ingest().await?;
    let blank = " ";
    let out = tokio::process::Command::new(binary("track-download")?)
        .args(["--endpoint", &ingest.base, "--movie", blank])
        .output()
        .await?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("HTTP 422") && stderr.contains("entity_id"),
        "{stderr}"
    );
    Ok(())
}
