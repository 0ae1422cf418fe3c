//! JSON logs (one object per line), filtered by `RUST_LOG`, and OpenTelemetry
//! OTLP traces when an endpoint is configured with the standard variables
//! (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`;
//! OTLP over HTTP/protobuf). Without one, no exporter exists at all.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The environment variables that turn trace export on.
pub const OTLP_ENDPOINT_VARS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
];

/// Keeps the trace exporter alive; dropping it flushes the spans still
/// queued (call it last in `main`, after the server stopped).
#[must_use = "dropping the guard at once stops trace export"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(e) = provider.shutdown() {
                eprintln!("trace export did not shut down cleanly: {e}");
            }
        }
    }
}

/// For services: logs to stdout. A second call (tests) installs nothing.
pub fn init(service: &'static str) -> Telemetry {
    install(service, "info", std::io::stdout)
}

/// For CLI jobs: logs to stderr so stdout carries only the job's output
/// (operators script against it).
pub fn init_stderr(service: &'static str) -> Telemetry {
    install(service, "warn", std::io::stderr)
}

/// Whether an OTLP endpoint is configured (traces are exported).
pub fn traces_configured() -> bool {
    OTLP_ENDPOINT_VARS
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()))
}

/// The tracer provider exporting to the configured endpoint, if any. An
/// exporter that cannot be built is reported and skipped: traces are an
/// aid, never a reason for a service not to start.
fn tracer_provider(service: &'static str) -> Option<SdkTracerProvider> {
    if !traces_configured() {
        return None;
    }
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
    {
        Ok(exporter) => exporter,
        Err(e) => {
            eprintln!("OTLP trace export disabled: {e}");
            return None;
        }
    };
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .build();
    Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    )
}

fn install<W>(service: &'static str, default_level: &str, writer: W) -> Telemetry
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{default_level},{}=info",
            service.replace('-', "_")
        ))
    });
    let provider = tracer_provider(service);
    // RUST_LOG picks the log lines; spans go to the collector from INFO up
    // whatever the log level, so quiet logs still give whole traces.
    let otel = provider.as_ref().map(|p| {
        // Incoming `traceparent` headers continue the caller's trace.
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer(service))
            .with_filter(LevelFilter::INFO)
    });
    let fmt = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_writer(writer)
        .with_filter(filter);
    let installed = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init()
        .is_ok();
    Telemetry {
        provider: provider.filter(|_| installed),
    }
}
