//! How a segment's actors are spread (distribution), which genres it plays in
//! (association) and how segments grew (trends).

use actix_web::{web, HttpResponse};
use analytics_domain::actor_segments::{age_range, lift, ratio, Dimension};
use analytics_store::catalogue::{Grain, Segment};
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::{ObjectBuilder, Type};
use utoipa::{IntoParams, ToSchema};

use super::{
    dimension, most_first, serve, size, text, Stamped, ASSOCIATION, DISTRIBUTION, MAX_TEXT, TRENDS,
};
use crate::api::parameters::{choice, query};
use crate::api::words;
use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, Query};
use crate::AppState;

/// How a genre's actors spread over a dimension.
#[derive(Serialize, ToSchema)]
pub struct Distribution {
    #[schema(schema_with = words::dimension)]
    dimension: &'static str,
    genre: String,
    genre_total: i64,
    overall_total: i64,
    segments: Vec<SegmentShare>,
}

#[derive(Serialize, ToSchema)]
pub struct SegmentShare {
    segment: String,
    #[schema(minimum = 1)]
    count: i64,
    /// Share of the genre's actors.
    #[schema(minimum = 0)]
    confidence: f64,
    /// Against all actors (null without a baseline).
    lift: Option<f64>,
}

/// The distribution's parameters.
pub struct DistributionParams;

impl IntoParams for DistributionParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            text("genre", "Required: a genre (tag) name, any case.", true),
            dimension("dimension"),
            size(10),
        ]
    }
}

/// How a genre's actors spread over a dimension: per segment its count,
/// confidence (share of the genre's actors) and lift against all actors
/// (null without a baseline).
#[utoipa::path(get, path = DISTRIBUTION, operation_id = "actor_distribution", params(DistributionParams),
    security(("admin" = [])),
    responses((status = 200, body = Stamped<Distribution>, description = "The analysis.")),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
pub async fn distribution(
    _: Admin,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let dimension = params::dimension(&q, "dimension")?;
    let genre = params::text(&q, "genre", MAX_TEXT)?;
    let size = params::field_int(&q, "size", 10, 1, 30)?;
    let genre = params::required(genre, "genre", "Genre is required.")?.to_lowercase();
    let key = format!("distribution|{}|{genre}|{size}", dimension.as_str());
    serve(&state, key, move |state| async move {
        let store = &state.catalogue;
        let fail = |e| state.store_error(e);
        let (tag, overall_total) =
            tokio::try_join!(store.genre_id(&genre), store.actors_total()).map_err(fail)?;
        // (segment, its actors, those in the genre); a genre no tag has:
        // none in it.
        let (genre_total, counts) = match tag {
            Some(tag) => tokio::try_join!(
                store.genre_actors(tag),
                store.segment_counts_in_genre(dimension, tag)
            )
            .map_err(fail)?,
            None => (0, Vec::new()),
        };
        let mut in_genre: Vec<(String, i64)> = counts
            .iter()
            .filter(|(_, _, n)| *n > 0)
            .map(|(segment, _, n)| (segment.clone(), *n))
            .collect();
        most_first(&mut in_genre);
        in_genre.truncate(usize::try_from(size).unwrap_or(10));
        let segments = in_genre
            .iter()
            .map(|(segment, count)| {
                let baseline = counts
                    .iter()
                    .find(|(s, _, _)| s == segment)
                    .map_or(0, |(_, all, _)| *all);
                SegmentShare {
                    segment: segment.clone(),
                    count: *count,
                    confidence: ratio(*count, genre_total),
                    lift: lift(*count, genre_total, baseline, overall_total),
                }
            })
            .collect();
        Ok(Distribution {
            dimension: dimension.as_str(),
            genre,
            genre_total,
            overall_total,
            segments,
        })
    })
    .await
}

/// The genres a segment's actors play in.
#[derive(Serialize, ToSchema)]
pub struct Association {
    segment_type: &'static str,
    segment_value: String,
    segment_total: i64,
    population_total: i64,
    /// By confidence.
    rules: Vec<GenreRule>,
}

#[derive(Serialize, ToSchema)]
pub struct GenreRule {
    genre: String,
    #[schema(minimum = 1)]
    count: i64,
    /// Share of all actors.
    #[schema(minimum = 0)]
    support: f64,
    /// Share of the segment's actors.
    #[schema(minimum = 0)]
    confidence: f64,
    lift: Option<f64>,
}

/// The association's parameters.
pub struct AssociationParams;

impl IntoParams for AssociationParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let min_support = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(10_000))
            .default(Some(json!(1)));
        vec![
            text(
                "segment_value",
                "Required: 23-27 or 38+ (ages), a blood type, a birthplace.",
                true,
            ),
            dimension("segment_type"),
            size(10),
            query("min_support", min_support, "Fewest actors a genre needs."),
        ]
    }
}

/// The genres a segment's actors play in, by confidence: count, support
/// (of all actors), confidence (of the segment), lift.
#[utoipa::path(get, path = ASSOCIATION, operation_id = "actor_association", params(AssociationParams),
    security(("admin" = [])),
    responses((status = 200, body = Stamped<Association>, description = "The analysis.")),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
pub async fn association(
    _: Admin,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let segment_type = params::dimension(&q, "segment_type")?;
    let value = params::text(&q, "segment_value", MAX_TEXT)?;
    let size = params::field_int(&q, "size", 10, 1, 30)?;
    let min_support = params::field_int(&q, "min_support", 1, 1, 10_000)?;
    let value = params::required(value, "segment_value", "Segment value is required.")?;
    let segment = match segment_type {
        Dimension::AgeBucket => {
            let (min, max) = age_range(&value);
            Segment::Ages(min, max)
        }
        Dimension::BloodType => Segment::BloodType(value.clone()),
        Dimension::Birthplace => Segment::Birthplace(value.clone()),
    };
    let key = format!(
        "association|{}|{value}|{size}|{min_support}",
        segment_type.as_str()
    );
    serve(&state, key, move |state| async move {
        let store = &state.catalogue;
        let (population_total, segment_total, genres) = tokio::try_join!(
            store.actors_total(),
            store.segment_size(&segment),
            store.segment_genres(&segment, min_support, size),
        )
        .map_err(|e| state.store_error(e))?;
        let rules = genres
            .iter()
            .map(|g| GenreRule {
                genre: g.genre.clone(),
                count: g.count,
                support: ratio(g.count, population_total),
                confidence: ratio(g.count, segment_total),
                lift: lift(g.count, segment_total, g.genre_actors, population_total),
            })
            .collect();
        Ok(Association {
            segment_type: segment_type.as_str(),
            segment_value: value,
            segment_total,
            population_total,
            rules,
        })
    })
    .await
}

/// Actors added per period, split by a dimension.
#[derive(Serialize, ToSchema)]
pub struct SegmentTrends {
    #[schema(schema_with = words::dimension)]
    dimension: &'static str,
    genre: Option<String>,
    #[schema(schema_with = words::interval)]
    interval: &'static str,
    periods: Vec<TrendPeriod>,
}

#[derive(Serialize, ToSchema)]
pub struct TrendPeriod {
    period: String,
    #[schema(minimum = 1)]
    total: i64,
    /// The top segments and their counts.
    #[schema(value_type = std::collections::HashMap<String, i64>)]
    segments: Map<String, Value>,
    top_segment: Option<String>,
    top_count: i64,
    #[schema(minimum = 0)]
    top_share: f64,
}

/// The trends' parameters.
pub struct TrendParams;

impl IntoParams for TrendParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            dimension("dimension"),
            text("genre", "Only actors playing in this genre.", false),
            query("interval", choice(words::INTERVALS), "Period length."),
            size(5),
        ]
    }
}

/// Actors added per month or ISO week (of a genre, if given), each period
/// split by a dimension: its top segments, the leader and its share.
#[utoipa::path(get, path = TRENDS, operation_id = "actor_trends", params(TrendParams),
    security(("admin" = [])),
    responses((status = 200, body = Stamped<SegmentTrends>, description = "The analysis.")),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
pub async fn trends(
    _: Admin,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let dimension = params::dimension(&q, "dimension")?;
    let genre = params::text(&q, "genre", MAX_TEXT)?.map(|g| g.to_lowercase());
    let grain = match q.get("interval").map(|i| i.trim()) {
        None | Some("month") => Grain::Month,
        Some("week") => Grain::Week,
        Some(_) => {
            return Err(ReadApiError::invalid(
                "interval",
                "The selected interval is invalid.",
            ))
        }
    };
    let size = usize::try_from(params::field_int(&q, "size", 5, 1, 30)?).unwrap_or(5);
    let key = format!("trends|{}|{genre:?}|{grain:?}|{size}", dimension.as_str());
    serve(&state, key, move |state| async move {
        trends_body(&state, dimension, genre, grain, size).await
    })
    .await
}

async fn trends_body(
    state: &AppState,
    dimension: Dimension,
    genre: Option<String>,
    grain: Grain,
    size: usize,
) -> Result<SegmentTrends, ReadApiError> {
    let store = &state.catalogue;
    let fail = |e| state.store_error(e);
    let tag = match &genre {
        // A genre no tag has: the periods of no actor.
        Some(g) => Some(store.genre_id(g).await.map_err(fail)?.unwrap_or(0)),
        None => None,
    };
    let (totals, split) = store
        .segment_trends(dimension, tag, grain)
        .await
        .map_err(fail)?;
    let periods = totals
        .iter()
        .map(|(period, total)| {
            let mut segments: Vec<(String, i64)> = split
                .iter()
                .filter(|(p, _, _)| p == period)
                .map(|(_, s, n)| (s.clone(), *n))
                .collect();
            most_first(&mut segments);
            segments.truncate(size);
            let (top, top_count) = segments
                .first()
                .map_or((None, 0), |(s, n)| (Some(s.clone()), *n));
            let segments: Map<String, Value> =
                segments.into_iter().map(|(s, n)| (s, json!(n))).collect();
            TrendPeriod {
                period: period.clone(),
                total: *total,
                segments,
                top_segment: top,
                top_count,
                top_share: ratio(top_count, *total),
            }
        })
        .collect();
    let interval = if grain == Grain::Week {
        "week"
    } else {
        "month"
    };
    Ok(SegmentTrends {
        dimension: dimension.as_str(),
        genre,
        interval,
        periods,
    })
}
