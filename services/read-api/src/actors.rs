//! Actor segment analytics for the admin pages: how a genre's actors are
//! spread over ages, blood types and birthplaces (distribution), which
//! genres a segment plays in (association), the actor catalogue at a glance
//! (overview), how complete its profiles are (quality) and what to offer in
//! a search box (suggest). Parameters, messages, payloads and the 4-decimal
//! ratios are the ones the admin pages were built against; the counting is
//! SQL over `actors` and the actor–genre index (`flush-worker
//! refresh-actor-index`), whose age every answer carries.

use actix_web::{web, HttpResponse};
use analytics_domain::actor_segments::{
    age_range, lift, ratio, Dimension, AGE_BUCKETS, BLOOD_TYPES,
};
use analytics_store::catalogue::Segment;
use serde_json::{json, Map, Value};

use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::Query;
use crate::AppState;

const MAX_TEXT: usize = 120;
/// `suggest` answers with at most this many items.
const MAX_SUGGESTIONS: i64 = 20;

fn label(name: &str) -> String {
    name.replace('_', " ")
}

/// A text parameter, trimmed; blank is absent.
fn text(q: &Query, name: &'static str) -> Result<Option<String>, ReadApiError> {
    let Some(raw) = q.get(name) else {
        return Ok(None);
    };
    if raw.chars().count() > MAX_TEXT {
        return Err(ReadApiError::invalid(
            name,
            format!(
                "The {} field must not be greater than {MAX_TEXT} characters.",
                label(name)
            ),
        ));
    }
    Ok(Some(raw.trim().to_string()).filter(|s| !s.is_empty()))
}

fn int(
    q: &Query,
    name: &'static str,
    (min, max): (i64, i64),
    default: i64,
) -> Result<i64, ReadApiError> {
    let Some(raw) = q.get(name).filter(|r| !r.trim().is_empty()) else {
        return Ok(default);
    };
    let n: i64 = raw.trim().parse().map_err(|_| {
        ReadApiError::invalid(
            name,
            format!("The {} field must be an integer.", label(name)),
        )
    })?;
    if !(min..=max).contains(&n) {
        return Err(ReadApiError::invalid(
            name,
            format!("The {} field must be between {min} and {max}.", label(name)),
        ));
    }
    Ok(n)
}

fn dimension(q: &Query, name: &'static str) -> Result<Dimension, ReadApiError> {
    match q.get(name).map(|r| r.trim()).filter(|r| !r.is_empty()) {
        None => Ok(Dimension::AgeBucket),
        Some(raw) => Dimension::parse(raw).ok_or_else(|| {
            ReadApiError::invalid(name, format!("The selected {} is invalid.", label(name)))
        }),
    }
}

fn required(
    value: Option<String>,
    name: &'static str,
    message: &str,
) -> Result<String, ReadApiError> {
    value.ok_or_else(|| ReadApiError::invalid(name, message))
}

/// `generated_at` and the index's age, which every answer carries.
async fn stamp(state: &AppState, body: &mut Map<String, Value>) -> Result<(), ReadApiError> {
    let run = state
        .catalogue
        .actor_index_run()
        .await
        .map_err(|e| state.store_error(e))?;
    body.insert(
        "generated_at".into(),
        json!(chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()),
    );
    body.insert("index_refreshed_at".into(), json!(run.map(|(at, _)| at)));
    Ok(())
}

async fn respond(state: &AppState, body: Value) -> Result<HttpResponse, ReadApiError> {
    let mut body = match body {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    stamp(state, &mut body).await?;
    Ok(HttpResponse::Ok().json(Value::Object(body)))
}

/// GET /api/v1/admin/analytics/actors/distribution
pub async fn distribution(
    _: Admin,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let dimension = dimension(&q, "dimension")?;
    let genre = text(&q, "genre")?;
    let size = int(&q, "size", (1, 30), 10)?;
    let genre = required(genre, "genre", "Genre is required.")?.to_lowercase();
    let store = &state.catalogue;
    let fail = |e| state.store_error(e);
    let (tag, overall_total, overall) = tokio::try_join!(
        store.genre_id(&genre),
        store.actors_total(),
        store.segment_counts(dimension, None),
    )
    .map_err(fail)?;
    let (genre_total, mut counts) = match tag {
        Some(tag) => tokio::try_join!(
            store.genre_actors(tag),
            store.segment_counts(dimension, Some(tag))
        )
        .map_err(fail)?,
        None => (0, Vec::new()),
    };
    counts.retain(|(_, n)| *n > 0);
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts.truncate(usize::try_from(size).unwrap_or(10));
    let segments: Vec<Value> = counts
        .iter()
        .map(|(segment, count)| {
            let baseline = overall
                .iter()
                .find(|(s, _)| s == segment)
                .map_or(0, |(_, n)| *n);
            json!({"segment": segment, "count": count,
                   "confidence": ratio(*count, genre_total),
                   "lift": lift(*count, genre_total, baseline, overall_total)})
        })
        .collect();
    respond(
        &state,
        json!({"dimension": dimension.as_str(), "genre": genre, "genre_total": genre_total,
               "overall_total": overall_total, "segments": segments}),
    )
    .await
}

/// GET /api/v1/admin/analytics/actors/association
pub async fn association(
    _: Admin,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let segment_type = dimension(&q, "segment_type")?;
    let value = text(&q, "segment_value")?;
    let size = int(&q, "size", (1, 30), 10)?;
    let min_support = int(&q, "min_support", (1, 10_000), 1)?;
    let value = required(value, "segment_value", "Segment value is required.")?;
    let segment = match segment_type {
        Dimension::AgeBucket => {
            let (min, max) = age_range(&value);
            Segment::Ages(min, max)
        }
        Dimension::BloodType => Segment::BloodType(value.clone()),
        Dimension::Birthplace => Segment::Birthplace(value.clone()),
    };
    let store = &state.catalogue;
    let (population_total, segment_total, genres) = tokio::try_join!(
        store.actors_total(),
        store.segment_size(&segment),
        store.segment_genres(&segment, min_support, size),
    )
    .map_err(|e| state.store_error(e))?;
    let rules: Vec<Value> = genres
        .iter()
        .map(|g| {
            json!({"genre": g.genre, "count": g.count,
                   "support": ratio(g.count, population_total),
                   "confidence": ratio(g.count, segment_total),
                   "lift": lift(g.count, segment_total, g.genre_actors, population_total)})
        })
        .collect();
    respond(
        &state,
        json!({"segment_type": segment_type.as_str(), "segment_value": value,
               "segment_total": segment_total, "population_total": population_total,
               "rules": rules}),
    )
    .await
}

/// GET /api/v1/admin/analytics/actors/overview
pub async fn overview(
    _: Admin,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let size = int(&q, "size", (1, 30), 8)?;
    let store = &state.catalogue;
    let (total, genres, ages, blood, timeline) = tokio::try_join!(
        store.actors_total(),
        store.top_genres(size),
        store.segment_counts(Dimension::AgeBucket, None),
        store.segment_counts(Dimension::BloodType, None),
        store.actors_per_month(),
    )
    .map_err(|e| state.store_error(e))?;
    let age_buckets: Vec<Value> = AGE_BUCKETS
        .iter()
        .map(|(bucket, _, _)| {
            let count = ages
                .iter()
                .find(|(s, _)| s == bucket)
                .map_or(0, |(_, n)| *n);
            json!({"bucket": bucket, "count": count})
        })
        .collect();
    let mut blood = blood;
    blood.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    blood.truncate(8);
    respond(
        &state,
        json!({
            "total_actors": total,
            "top_genres": genres.iter().map(|(g, n)| json!({"genre": g, "count": n})).collect::<Vec<_>>(),
            "age_buckets": age_buckets,
            "blood_types": blood.iter().map(|(t, n)| json!({"type": t, "count": n})).collect::<Vec<_>>(),
            "actors_timeline": timeline.iter().map(|(p, n)| json!({"period": p, "count": n})).collect::<Vec<_>>(),
        }),
    )
    .await
}

/// GET /api/v1/admin/analytics/actors/quality
pub async fn quality(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ReadApiError> {
    let c = state
        .catalogue
        .profile_coverage()
        .await
        .map_err(|e| state.store_error(e))?;
    let field = |count: i64| json!({"count": count, "rate": ratio(count, c.actors), "missing": c.actors - count});
    respond(
        &state,
        json!({"total_actors": c.actors, "coverage": {
            "genres": field(c.with_genres),
            "age": field(c.with_birth_date),
            "blood_type": field(c.with_blood_type),
            "birthplace": field(c.with_birthplace),
            "birth_date": field(c.with_birth_date),
        }}),
    )
    .await
}

/// GET /api/v1/admin/analytics/actors/suggest
pub async fn suggest(
    _: Admin,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    const TYPES: [&str; 4] = ["actor", "genre", "birthplace", "blood_type"];
    let kind = match q.get("type").map(|t| t.trim()).filter(|t| !t.is_empty()) {
        None => "genre",
        Some(t) => *TYPES
            .iter()
            .find(|k| **k == t)
            .ok_or_else(|| ReadApiError::invalid("type", "The selected type is invalid."))?,
    };
    let query = text(&q, "q")?.unwrap_or_default();
    let size = int(&q, "size", (1, 30), 8)?.clamp(1, MAX_SUGGESTIONS);
    let store = &state.catalogue;
    let fail = |e| state.store_error(e);
    let items: Vec<Value> = match kind {
        "actor" => store
            .suggest_actors(&query, size)
            .await
            .map_err(fail)?
            .into_iter()
            .map(|(name, uuid)| json!({"label": format!("{name} ({uuid})"), "value": uuid, "name": name}))
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
    respond(
        &state,
        json!({"type": kind, "query": query, "items": items}),
    )
    .await
}
