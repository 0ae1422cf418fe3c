//! The actor catalogue at a glance (overview), how complete its profiles are
//! (quality) and what to offer in a search box (suggest).

use actix_web::{web, HttpResponse};
use analytics_domain::actor_segments::{ratio, Dimension, AGE_BUCKETS, BLOOD_TYPES};
use serde::Serialize;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

use super::{
    counted, genre_count, most_first, period_count, serve, size, text, GenreCount, PeriodCount,
    Stamped, MAX_SUGGESTIONS, MAX_TEXT, OVERVIEW, QUALITY, SUGGEST,
};
use crate::api::parameters::{choice, query};
use crate::api::words;
use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, Query};
use crate::AppState;

/// The actor catalogue at a glance.
#[derive(Serialize, ToSchema)]
pub struct Overview {
    total_actors: i64,
    top_genres: Vec<GenreCount>,
    age_buckets: Vec<BucketCount>,
    blood_types: Vec<BloodTypeCount>,
    /// Actors added per month.
    actors_timeline: Vec<PeriodCount>,
}

#[derive(Serialize, ToSchema)]
pub struct BucketCount {
    bucket: String,
    count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct BloodTypeCount {
    r#type: String,
    count: i64,
}

/// The overview's parameters.
pub struct OverviewParams;

impl IntoParams for OverviewParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![size(8)]
    }
}

/// The actor catalogue at a glance: top genres, age buckets, blood types,
/// actors added per month.
#[utoipa::path(get, path = OVERVIEW, operation_id = "actor_overview", params(OverviewParams),
    security(("admin" = [])),
    responses((status = 200, body = Stamped<Overview>, description = "The analysis.")),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
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

async fn overview_body(state: &AppState, size: i64) -> Result<Overview, ReadApiError> {
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
    Ok(Overview {
        total_actors: total,
        top_genres: counted(&genres, genre_count),
        age_buckets: counted(&ages, |bucket, count| BucketCount { bucket, count }),
        blood_types: counted(&blood, |r#type, count| BloodTypeCount { r#type, count }),
        actors_timeline: counted(&timeline, period_count),
    })
}

/// How complete actor profiles are.
#[derive(Serialize, ToSchema)]
pub struct ProfileQuality {
    total_actors: i64,
    coverage: Coverage,
}

#[derive(Serialize, ToSchema)]
pub struct Coverage {
    genres: FieldCoverage,
    age: FieldCoverage,
    blood_type: FieldCoverage,
    birthplace: FieldCoverage,
    birth_date: FieldCoverage,
}

/// The actors that have a field, their share and those missing it.
#[derive(Serialize, ToSchema)]
pub struct FieldCoverage {
    count: i64,
    #[schema(minimum = 0)]
    rate: f64,
    missing: i64,
}

/// How complete actor profiles are: per field the actors that have it, the
/// rate and those missing it.
#[utoipa::path(get, path = QUALITY, operation_id = "actor_quality", security(("admin" = [])),
    responses((status = 200, body = Stamped<ProfileQuality>, description = "The analysis.")),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
pub async fn quality(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ReadApiError> {
    serve(&state, "quality".to_string(), |state| async move {
        quality_body(&state).await
    })
    .await
}

async fn quality_body(state: &AppState) -> Result<ProfileQuality, ReadApiError> {
    let c = state
        .catalogue
        .profile_coverage()
        .await
        .map_err(|e| state.store_error(e))?;
    let field = |count: i64| FieldCoverage {
        count,
        rate: ratio(count, c.actors),
        missing: c.actors - count,
    };
    Ok(ProfileQuality {
        total_actors: c.actors,
        coverage: Coverage {
            genres: field(c.with_genres),
            age: field(c.with_birth_date),
            blood_type: field(c.with_blood_type),
            birthplace: field(c.with_birthplace),
            birth_date: field(c.with_birth_date),
        },
    })
}

/// Values for a search box.
#[derive(Serialize, ToSchema)]
pub struct Suggestions {
    #[schema(schema_with = words::suggestion)]
    r#type: &'static str,
    query: String,
    #[schema(max_items = 20)]
    items: Vec<Suggestion>,
}

#[derive(Serialize, ToSchema)]
pub struct Suggestion {
    label: String,
    value: String,
    /// Actors: the name.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    name: Option<String>,
}

impl Suggestion {
    fn of(label: impl Into<String>, value: impl Into<String>) -> Self {
        Suggestion {
            label: label.into(),
            value: value.into(),
            name: None,
        }
    }
}

/// The suggestions' parameters.
pub struct SuggestParams;

impl IntoParams for SuggestParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            query("type", choice(words::SUGGESTIONS), "What to suggest."),
            text("q", "Contained text (any case).", false),
            size(8),
        ]
    }
}

/// Values for a search box: actors (name or uuid), genres, birthplaces,
/// blood types containing q.
#[utoipa::path(get, path = SUGGEST, operation_id = "actor_suggest", params(SuggestParams),
    security(("admin" = [])),
    responses((status = 200, body = Stamped<Suggestions>, description = "The suggestions.")),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
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
    kind: &'static str,
    query: String,
    size: i64,
) -> Result<Suggestions, ReadApiError> {
    let store = &state.catalogue;
    let fail = |e| state.store_error(e);
    let items: Vec<Suggestion> = match kind {
        "actor" => store
            .suggest_actors(&query, size)
            .await
            .map_err(fail)?
            .into_iter()
            .map(|(name, uuid)| Suggestion {
                label: format!("{name} ({uuid})"),
                value: uuid,
                name: Some(name),
            })
            .collect(),
        "birthplace" => store
            .suggest_birthplaces(&query, size)
            .await
            .map_err(fail)?
            .into_iter()
            .map(|p| Suggestion::of(p.clone(), p))
            .collect(),
        "blood_type" => {
            let wanted = query.to_uppercase();
            BLOOD_TYPES
                .iter()
                .filter(|t| t.contains(wanted.as_str()))
                .take(usize::try_from(size).unwrap_or(4))
                .map(|t| Suggestion::of(*t, *t))
                .collect()
        }
        _ => store
            .suggest_genres(&query, size)
            .await
            .map_err(fail)?
            .into_iter()
            .map(|g| Suggestion::of(g.clone(), g.to_lowercase()))
            .collect(),
    };
    Ok(Suggestions {
        r#type: kind,
        query,
        items,
    })
}
