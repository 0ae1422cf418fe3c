//! OpenTelemetry: with an OTLP endpoint configured, the real binaries send
//! their spans there (OTLP over HTTP/protobuf); a small in-test collector
//! receives them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use analytics_tests::{eventually, TestEnv};

/// Every body POSTed to `/v1/traces`.
#[derive(Clone, Default)]
struct Collector {
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Collector {
    async fn start(&self) -> anyhow::Result<String> {
        let bodies = self.bodies.clone();
        let server = HttpServer::new(move || {
            let bodies = bodies.clone();
            App::new().route(
                "/v1/traces",
                web::post().to(move |body: web::Bytes| {
                    let bodies = bodies.clone();
                    async move {
                        if let Ok(mut b) = bodies.lock() {
                            b.push(body.to_vec());
                        }
                        // An empty ExportTraceServiceResponse.
                        HttpResponse::Ok()
                            .content_type("application/x-protobuf")
                            .finish()
                    }
                }),
            )
        })
        .workers(1)
        .bind("127.0.0.1:0")?;
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Ok(format!("http://127.0.0.1:{port}"))
    }

    /// Whether every one of `needles` was in some export (protobuf keeps
    /// strings as plain bytes; the batch processor may split a trace).
    fn received(&self, needles: &[&str]) -> bool {
        self.bodies.lock().is_ok_and(|bodies| {
            needles.iter().all(|n| {
                bodies
                    .iter()
                    .any(|b| b.windows(n.len()).any(|w| w == n.as_bytes()))
            })
        })
    }
}

fn with_otlp(env: &mut TestEnv, endpoint: &str) {
    // Not settings of ours: the standard OpenTelemetry variables.
    env.set_process_env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .set_process_env("OTEL_BSP_SCHEDULE_DELAY", "50");
}

#[tokio::test]
async fn services_export_a_span_per_request_to_the_configured_endpoint() -> anyhow::Result<()> {
    let collector = Collector::default();
    let endpoint = collector.start().await?;
    let mut env = TestEnv::new().await?;
    with_otlp(&mut env, &endpoint);
    let ingest = env.run_service("ingest-svc", "ingest.bind").await?;
    let resp = ingest
        .client
        .post(format!("{}/api/v1/analytics/events", ingest.base))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .json(&analytics_tests::event("otel-1", "movie", "m-1", "view", 1))
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 202);
    eventually(Duration::from_secs(20), || async {
        Ok(collector
            .received(&["ingest-svc", "/api/v1/analytics/events"])
            .then_some(()))
    })
    .await?;
    // The caller's trace id continues in ours (raw bytes in the protobuf).
    let trace_id: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&"4bf92f3577b34da6a3ce929d0e0e4736"[2 * i..2 * i + 2], 16))
        .collect::<Result<_, _>>()?;
    let continued = collector.bodies.lock().is_ok_and(|bodies| {
        bodies
            .iter()
            .any(|b| b.windows(16).any(|w| w == trace_id.as_slice()))
    });
    assert!(continued, "the traceparent's trace id was not continued");
    Ok(())
}

#[tokio::test]
async fn a_flush_run_exports_its_run_and_round_spans() -> anyhow::Result<()> {
    let collector = Collector::default();
    let endpoint = collector.start().await?;
    let mut env = TestEnv::new().await?;
    env.migrate().await?;
    let ingest = env.spawn_ingest().await?;
    ingest.send("e-1", "movie", "m-1", "view", 1).await?;
    with_otlp(&mut env, &endpoint);
    let out = env.flush_worker(&["flush"], &[]).await?;
    assert!(out.status.success(), "{out:?}");
    // The CLI exits only after its spans were handed over.
    assert!(
        collector.received(&["flush-worker", "flush_run", "flush_round"]),
        "no flush spans exported: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
