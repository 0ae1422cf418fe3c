use telemetry_svc::Settings;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    // Held to the end: dropping it flushes the spans still queued.
    let _telemetry = analytics_runtime::logging::init("telemetry-svc");
    let settings: Settings = analytics_runtime::load()?;
    let app = telemetry_svc::build(settings).await?;
    tracing::info!(port = app.port, "telemetry-svc listening");
    app.server.await?;
    tracing::info!("telemetry-svc stopped");
    Ok(())
}
