//! A server-side producer: tracks one movie download the way a catalogue
//! site's download route does, right after it served the file.
//!
//! ```sh
//! cargo run -p analytics-examples --bin track-download -- \
//!     --endpoint http://127.0.0.1:8080 --movie f6f7163c-0d4e-4c4b-9a53-0d1c5b1f2a10 --user-id 42
//! ```
//!
//! The event id is made once, before the first attempt, and every retry
//! sends the same event: if an answer is lost after ingest counted the
//! event, the retry is a duplicate (202 + `X-Analytics-Duplicate: true`),
//! never a second download. Only what may pass later is retried (no
//! answer, 429, 5xx); a 4xx names the field to fix and is final.

use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::{json, Value};

#[derive(Parser)]
#[command(about = "Track one movie download, retrying with the same event id")]
struct Args {
    /// ingest-svc's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    endpoint: String,
    /// The movie's uuid.
    #[arg(long)]
    movie: String,
    /// The signed-in user, if any (counted in unique viewers).
    #[arg(long)]
    user_id: Option<i64>,
    /// The producer token (`ingest.producer_token`), if the site has one.
    #[arg(long, env = "ANALYTICS_INGEST_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The event's id: a new UUID unless given (a caller that keeps the id
    /// of an event it could not deliver sends it again with this).
    #[arg(long)]
    event_id: Option<String>,
    /// Attempts before giving up.
    #[arg(long, default_value_t = 5)]
    attempts: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut event = json!({
        "event_id": args.event_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        "domain": "jav",
        "entity_type": "movie",
        "entity_id": args.movie,
        "action": "download",
        "value": 1,
        "occurred_at": chrono::Utc::now().to_rfc3339(),
    });
    if let Some(user) = args.user_id {
        event["user_id"] = json!(user);
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let outcome = send_with_retries(&client, &args, &event).await?;
    println!(
        "{} {outcome}",
        event["event_id"].as_str().unwrap_or_default()
    );
    Ok(())
}

/// Posts `event` until ingest takes it; returns "accepted" or "duplicate".
async fn send_with_retries(
    client: &reqwest::Client,
    args: &Args,
    event: &Value,
) -> anyhow::Result<&'static str> {
    let url = format!(
        "{}/api/v1/analytics/events",
        args.endpoint.trim_end_matches('/')
    );
    let mut backoff = Duration::from_millis(200);
    for attempt in 1..=args.attempts {
        let mut request = client.post(&url).json(event);
        if let Some(token) = &args.token {
            request = request.bearer_auth(token);
        }
        let wait = match request.send().await {
            Ok(answer) if answer.status().as_u16() == 202 => {
                let duplicate = answer.headers().contains_key("x-analytics-duplicate");
                return Ok(if duplicate { "duplicate" } else { "accepted" });
            }
            Ok(answer) if answer.status().as_u16() == 429 || answer.status().is_server_error() => {
                let retry_after = answer
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.parse().ok())
                    .map(Duration::from_secs);
                eprintln!("attempt {attempt}: HTTP {}", answer.status());
                retry_after.unwrap_or(backoff)
            }
            Ok(answer) => {
                let status = answer.status();
                let body = answer.text().await.unwrap_or_default();
                bail!("ingest refused the event (HTTP {status}): {body}");
            }
            Err(e) => {
                eprintln!("attempt {attempt}: {e}");
                backoff
            }
        };
        if attempt < args.attempts {
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }
    Err(anyhow::anyhow!(
        "no answer after {} attempts",
        args.attempts
    ))
    .context("not delivered: send it again later with --event-id and the same id")
}
