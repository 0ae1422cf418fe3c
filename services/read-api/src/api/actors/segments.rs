//! How a segment's actors are spread (distribution), which genres it plays in
//! (association) and how segments grew (trends).

use actix_web::{web, HttpResponse};
use analytics_domain::actor_segments::{age_range, lift, ratio, Dimension};
use analytics_store::catalogue::{Grain, Segment};
use serde_json::{json, Map, Value};

use super::{most_first, serve, MAX_TEXT};
use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, Query};
use crate::AppState;

/// GET /api/v1/admin/analytics/actors/distribution
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
        let segments: Vec<Value> = in_genre
            .iter()
            .map(|(segment, count)| {
                let baseline = counts
                    .iter()
                    .find(|(s, _, _)| s == segment)
                    .map_or(0, |(_, all, _)| *all);
                json!({"segment": segment, "count": count,
                   "confidence": ratio(*count, genre_total),
                   "lift": lift(*count, genre_total, baseline, overall_total)})
            })
            .collect();
        Ok(
            json!({"dimension": dimension.as_str(), "genre": genre, "genre_total": genre_total,
               "overall_total": overall_total, "segments": segments}),
        )
    })
    .await
}

/// GET /api/v1/admin/analytics/actors/association
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
        let rules: Vec<Value> = genres
            .iter()
            .map(|g| {
                json!({"genre": g.genre, "count": g.count,
                   "support": ratio(g.count, population_total),
                   "confidence": ratio(g.count, segment_total),
                   "lift": lift(g.count, segment_total, g.genre_actors, population_total)})
            })
            .collect();
        Ok(
            json!({"segment_type": segment_type.as_str(), "segment_value": value,
               "segment_total": segment_total, "population_total": population_total,
               "rules": rules}),
        )
    })
    .await
}

/// GET /api/v1/admin/analytics/actors/trends
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
) -> Result<Value, ReadApiError> {
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
    let periods: Vec<Value> = totals
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
            json!({
                "period": period,
                "total": total,
                "segments": segments,
                "top_segment": top,
                "top_count": top_count,
                "top_share": ratio(top_count, *total),
            })
        })
        .collect();
    let interval = if grain == Grain::Week {
        "week"
    } else {
        "month"
    };
    Ok(json!({"dimension": dimension.as_str(), "genre": genre,
              "interval": interval, "periods": periods}))
}
