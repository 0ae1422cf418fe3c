//! The actor catalogue at a glance (overview), how complete its profiles are
//! (quality) and what to offer in a search box (suggest).

use actix_web::{web, HttpResponse};
use analytics_domain::actor_segments::{ratio, Dimension, AGE_BUCKETS, BLOOD_TYPES};
use serde_json::{json, Value};

use super::{counted, most_first, serve, MAX_SUGGESTIONS, MAX_TEXT};
use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, Query};
use crate::AppState;

/// GET /api/v1/admin/analytics/actors/overview
pub async fn overview(
    _: Admin,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let size = params::field_int(&q, "size", 8, 1, 30)?;
    serve(
        &state,
        format!("overview|{size}"),
        move |state| async move { overview_body(&state, size).await },
    )
    .await
}

async fn overview_body(state: &AppState, size: i64) -> Result<Value, ReadApiError> {
    let store = &state.catalogue;
    let (total, genres, ages, mut blood, timeline) = tokio::try_join!(
        store.actors_total(),
        store.top_genres(size),
        store.segment_counts(Dimension::AgeBucket),
        store.segment_counts(Dimension::BloodType),
        store.actors_per_month(),
    )
    .map_err(|e| state.store_error(e))?;
    let ages: Vec<(String, i64)> = AGE_BUCKETS
        .iter()
        .map(|(bucket, _, _)| {
            let count = ages
                .iter()
                .find(|(s, _)| s == bucket)
                .map_or(0, |(_, n)| *n);
            (bucket.to_string(), count)
        })
        .collect();
    most_first(&mut blood);
    blood.truncate(8);
    Ok(json!({
        "total_actors": total,
        "top_genres": counted(&genres, "genre"),
        "age_buckets": counted(&ages, "bucket"),
        "blood_types": counted(&blood, "type"),
        "actors_timeline": counted(&timeline, "period"),
    }))
}

/// GET /api/v1/admin/analytics/actors/quality
pub async fn quality(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ReadApiError> {
    serve(&state, "quality".to_string(), |state| async move {
        quality_body(&state).await
    })
    .await
}

async fn quality_body(state: &AppState) -> Result<Value, ReadApiError> {
    let c = state
        .catalogue
        .profile_coverage()
        .await
        .map_err(|e| state.store_error(e))?;
    let field = |count: i64| json!({"count": count, "rate": ratio(count, c.actors), "missing": c.actors - count});
    Ok(json!({"total_actors": c.actors, "coverage": {
        "genres": field(c.with_genres),
        "age": field(c.with_birth_date),
        "blood_type": field(c.with_blood_type),
        "birthplace": field(c.with_birthplace),
        "birth_date": field(c.with_birth_date),
    }}))
}

/// GET /api/v1/admin/analytics/actors/suggest
pub async fn suggest(
    _: Admin,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    const TYPES: [&str; 4] = ["actor", "genre", "birthplace", "blood_type"];
    let kind = match q.get("type").map(|t| t.trim()) {
        None => "genre",
        Some(t) => *TYPES
            .iter()
            .find(|k| **k == t)
            .ok_or_else(|| ReadApiError::invalid("type", "The selected type is invalid."))?,
    };
    let query = params::text(&q, "q", MAX_TEXT)?.unwrap_or_default();
    let size = params::field_int(&q, "size", 8, 1, 30)?.clamp(1, MAX_SUGGESTIONS);
    let key = format!("suggest|{kind}|{size}|{query}");
    serve(&state, key, move |state| async move {
        suggest_body(&state, kind, query, size).await
    })
    .await
}

async fn suggest_body(
    state: &AppState,
    kind: &str,
    query: String,
    size: i64,
) -> Result<Value, ReadApiError> {
    let store = &state.catalogue;
    let fail = |e| state.store_error(e);
    let items: Vec<Value> = match kind {
        "actor" => store
            .suggest_actors(&query, size)
            .await
            .map_err(fail)?
            .into_iter()
            .map(|(name, uuid)| {
                json!({"label": format!("{name} ({uuid})"), "value": uuid, "name": name})
            })
            .collect(),
        "birthplace" => store
            .suggest_birthplaces(&query, size)
            .await
            .map_err(fail)?
            .into_iter()
            .map(|p| json!({"label": p, "value": p}))
            .collect(),
        "blood_type" => {
            let wanted = query.to_uppercase();
            BLOOD_TYPES
                .iter()
                .filter(|t| t.contains(wanted.as_str()))
                .take(usize::try_from(size).unwrap_or(4))
                .map(|t| json!({"label": t, "value": t}))
                .collect()
        }
        _ => store
            .suggest_genres(&query, size)
            .await
            .map_err(fail)?
            .into_iter()
            .map(|g| json!({"label": g, "value": g.to_lowercase()}))
            .collect(),
    };
    Ok(json!({"type": kind, "query": query, "items": items}))
}
