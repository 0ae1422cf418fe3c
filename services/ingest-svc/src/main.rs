use ingest_svc::Settings;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    // Held to the end: dropping it flushes the spans still queued.
    let _telemetry = analytics_runtime::logging::init("ingest-svc");
    let settings: Settings = analytics_runtime::load()?;
    let app = ingest_svc::build(settings)?;
    tracing::info!(port = app.port, "ingest-svc listening");
    // actix stops accepting on SIGTERM/SIGINT and drains in-flight requests.
    app.server.await?;
    tracing::info!("ingest-svc stopped");
    Ok(())
}
