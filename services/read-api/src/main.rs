use read_api::Settings;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    // Held to the end: dropping it flushes the spans still queued.
    let _telemetry = analytics_runtime::logging::init("read-api");
    let settings: Settings = analytics_runtime::load()?;
    let app = read_api::build(settings).await?;
    tracing::info!(port = app.port, "read-api listening");
    app.server.await?;
    tracing::info!("read-api stopped");
    Ok(())
}
