//! The OpenAPI description of read-api, derived from the handlers'
//! `#[utoipa::path]` (route constants, parameters, answers) and the types
//! they answer with.

use serde_json::{json, Value};
use utoipa::OpenApi;

use crate::api::parameters::DomainName;
use crate::api::{actors, counts, discovery, erasure, live, series, snapshot, top, viewing};

#[derive(OpenApi)]
#[openapi(
    info(title = "analytics read-api"),
    paths(
        top::top,
        series::entity,
        series::trends,
        snapshot::snapshot,
        actors::profile::predict,
        actors::segments::distribution,
        actors::segments::association,
        actors::catalogue::overview,
        actors::catalogue::quality,
        actors::catalogue::suggest,
        actors::segments::trends,
        actors::profile::insights,
        viewing::popular::popular,
        viewing::metrics::video_metrics,
        viewing::metrics::user_stats,
        viewing::site::viewing_trends,
        viewing::site::peak_hours,
        discovery::search::search_queries,
        discovery::search::search_daily,
        discovery::recommendations::recommendations,
        discovery::recommendations::clicked_movies,
        live::realtime,
        live::connect,
        counts::counts,
        erasure::erase_user
    ),
    // Named by the domain parameter of every route, not by a type the
    // derive walks.
    components(schemas(DomainName))
)]
struct ReadApi;

/// The derived operations, and the live feed at the video player
/// dashboard's address: the same operation at its own path.
fn operations() -> utoipa::openapi::OpenApi {
    let mut api = ReadApi::openapi();
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
