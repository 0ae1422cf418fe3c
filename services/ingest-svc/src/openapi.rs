//! The OpenAPI description of ingest-svc, derived from the handlers'
//! `#[utoipa::path]` and the contract's types (`contract.rs`): every route,
//! every accepted shape (the contract and the video player's, viewing
//! service's and stream-message bodies) and every body form (JSON, JSON as
//! text/plain, protobuf).

use serde_json::{json, Value};
use utoipa::OpenApi;

use crate::{contract, import, routes};

#[derive(OpenApi)]
#[openapi(
    info(title = "analytics ingest-svc"),
    paths(routes::ingest, routes::batch, import::import, routes::validate),
    // The answers named by `IntoResponses` enums, which the derive
    // references without collecting.
    components(schemas(contract::Accepted, contract::BatchResult))
)]
struct IngestApi;

/// The derived operations, and the video player's route: the same
/// operation at its own address.
fn operations() -> utoipa::openapi::OpenApi {
    let mut api = IngestApi::openapi();
    if let Some(mut item) = api.paths.paths.get(routes::EVENTS).cloned() {
        if let Some(post) = item.post.as_mut() {
            post.operation_id = Some("ingest_player_event".into());
            post.summary =
                Some("The video player's route: the same as /api/v1/analytics/events.".into());
        }
        api.paths.paths.insert(routes::PLAYER_EVENTS.into(), item);
    }
    api
}

/// An event the route counts as it is: its time is when the service
/// started, so "Try it out" on the docs page sends one ingest accepts (a
/// second try is a duplicate, answered and not counted again).
fn example_event(domain: &str) -> Value {
    json!({"event_id": "6b1f2d9e-3c1a-4f55-9a0e-2f8c5d7b4e10", "domain": domain,
           "entity_type": "movie", "entity_id": "f6f7163c-4c8c-4ce8-bfe5-7dbd7574d273",
           "action": "view", "user_id": "42",
           "occurred_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)})
}

/// The document for the configured `domains` and batch size.
pub fn document(domains: &[&str], max_batch_events: usize) -> Value {
    let one = example_event(domains.first().copied().unwrap_or("jav"));
    let many = json!({"events": [one.clone()]});
    let configured = [
        ("/components/schemas/DomainName/enum", json!(domains)),
        (
            "/components/schemas/EventList/maxItems",
            json!(max_batch_events),
        ),
        ("/components/schemas/ContractEvent/example", one.clone()),
        (
            "/components/schemas/BeaconEvent/example",
            json!(one.to_string()),
        ),
        (
            "/components/schemas/BeaconBatch/example",
            json!(many.to_string()),
        ),
    ];
    analytics_runtime::openapi::derived(
        &operations(),
        "Redis reachable.",
        &["producer"],
        &configured,
    )
}
