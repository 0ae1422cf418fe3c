//! The OpenAPI description of read-api, derived from the handlers'
//! `#[utoipa::path]` (route constants, parameters, answers) and the types
//! they answer with.

use serde_json::{json, Value};
use utoipa::OpenApi;

use crate::api::parameters::DomainName;
use crate::api::{actors, counts, discovery, erasure, live, series, snapshot, top, viewing};

/// The document's frame; each area lists its own operations (its `Api`,
/// beside its route table).
#[derive(OpenApi)]
#[openapi(
    info(title = "analytics read-api"),
    // Named by the domain parameter of every route, not by a type the
    // derive walks.
    components(schemas(DomainName))
)]
struct ReadApi;

/// Every area's operations in one document.
fn areas() -> utoipa::openapi::OpenApi {
    let mut api = ReadApi::openapi();
    for area in [
        top::Api::openapi(),
        series::Api::openapi(),
        snapshot::Api::openapi(),
        actors::Api::openapi(),
        viewing::Api::openapi(),
        discovery::Api::openapi(),
        live::Api::openapi(),
        counts::Api::openapi(),
        erasure::Api::openapi(),
    ] {
        api.merge(area);
    }
    api
}

/// The derived operations, and the live feed at the video player
/// dashboard's address: the same operation at its own path.
fn operations() -> utoipa::openapi::OpenApi {
    let mut api = areas();
    if let Some(mut item) = api.paths.paths.get(live::LIVE).cloned() {
        if let Some(get) = item.get.as_mut() {
            get.operation_id = Some("player_live_feed".into());
            get.summary = Some("The live feed (the video player dashboard's address).".into());
        }
        api.paths.paths.insert(live::PLAYER_LIVE.into(), item);
    }
    api
}

/// The document for the configured `domains`.
pub fn document(domains: &[&str]) -> Value {
    let configured = [("/components/schemas/DomainName/enum", json!(domains))];
    let mut doc = analytics_runtime::openapi::derived(
        &operations(),
        "Redis, MongoDB and MySQL reachable.",
        &["admin"],
        &configured,
    );
    // The replaced video service's health route answers as /ready does.
    let mut health = doc["paths"]["/ready"].clone();
    health["get"]["summary"] =
        json!("The replaced video service's health route: the same answer as /ready.");
    doc["paths"]["/api/metrics/health"] = health;
    doc
}

#[cfg(test)]
mod tests {
    use analytics_domain::snapshot::{SNAPSHOT_DAYS, TOP_LIST_SIZE};

    use super::*;

    #[test]
    fn the_snapshot_is_described_with_its_windows_and_list_sizes() {
        let doc = document(&["jav"]);
        let snapshot = &doc["components"]["schemas"]["Snapshot"]["properties"];
        assert_eq!(snapshot["days"]["enum"], json!(SNAPSHOT_DAYS));
        for list in ["topViewed", "topDownloaded", "topRated"] {
            assert_eq!(snapshot[list]["maxItems"], json!(TOP_LIST_SIZE), "{list}");
        }
    }
}
