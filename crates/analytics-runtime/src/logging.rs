//! JSON logs (one object per line), filtered by `RUST_LOG`.

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// For services: logs to stdout. A second call (tests) is a no-op.
pub fn init(service: &'static str) {
    install(service, "info", std::io::stdout);
}

/// For CLI jobs: logs to stderr so stdout carries only the job's output
/// (operators script against it).
pub fn init_stderr(service: &'static str) {
    install(service, "warn", std::io::stderr);
}

fn install<W>(service: &'static str, default_level: &str, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{default_level},{}=info",
            service.replace('-', "_")
        ))
    });
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .try_init();
}
