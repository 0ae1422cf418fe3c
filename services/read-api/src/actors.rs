//! Actor segment analytics for the admin pages: how a genre's actors are
//! spread over ages, blood types and birthplaces (distribution), which
//! genres a segment plays in (association), how segments grew (trends),
//! which genres a profile predicts (predict), the actor catalogue at a
//! glance (overview), how complete its profiles are (quality), what to offer
//! in a search box (suggest) and one actor in depth (insights). Parameters,
//! messages, payloads and the 4-decimal ratios are the ones the admin pages
//! were built against; the counting is SQL over `actors` and the actor–genre
//! index (`flush-worker refresh-catalogue-index`), whose age every answer
//! carries.

use actix_web::{web, HttpResponse};
use analytics_domain::actor_segments::{
    age_range, lift, ratio, Dimension, AGE_BUCKETS, BLOOD_TYPES,
};
use analytics_store::catalogue::{Grain, PeriodCounts, ProfileQuery, Segment};
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
    // Given means given: an empty value is refused, not taken for the default.
    let Some(raw) = q.get(name) else {
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
    match q.get(name).map(|r| r.trim()) {
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

/// The answer under `key`: kept for `read_api.snapshot_cache_ms` (the
/// catalogue changes without telling us), computed once for every request
/// waiting on it, stamped with its time and the index's age.
async fn serve<F, Fut>(
    state: &web::Data<AppState>,
    key: String,
    compute: F,
) -> Result<HttpResponse, ReadApiError>
where
    F: FnOnce(web::Data<AppState>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Value, ReadApiError>> + Send + 'static,
{
    let owned = state.clone();
    let cached = state
        .catalogue_reports
        .get_or_compute(format!("actors|{key}"), move || async move {
            let mut body = match compute(owned.clone()).await? {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            stamp(&owned, &mut body).await?;
            Ok::<_, ReadApiError>(Value::Object(body))
        })
        .await?;
    let mut response = HttpResponse::Ok().json(&cached.body);
    cached.stamp(&mut response);
    Ok(response)
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

/// GET /api/v1/admin/analytics/actors/overview
pub async fn overview(
    _: Admin,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let size = int(&q, "size", (1, 30), 8)?;
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
    let query = text(&q, "q")?.unwrap_or_default();
    let size = int(&q, "size", (1, 30), 8)?.clamp(1, MAX_SUGGESTIONS);
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

/// GET /api/v1/admin/analytics/actors/trends
pub async fn trends(
    _: Admin,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let dimension = dimension(&q, "dimension")?;
    let genre = text(&q, "genre")?.map(|g| g.to_lowercase());
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
    let size = usize::try_from(int(&q, "size", (1, 30), 5)?).unwrap_or(5);
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

/// Most counted first; equal counts by key, so the order is stable.
fn most_first(counts: &mut [(String, i64)]) {
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
}

/// `[{<key>: name, count}]` of named counts.
fn counted(counts: &[(String, i64)], key: &str) -> Vec<Value> {
    counts
        .iter()
        .map(|(name, n)| json!({key: name, "count": n}))
        .collect()
}

/// The genres a profile's actors play in most, with each one's share of
/// those returned.
fn predictions(genres: &[(String, i64)]) -> Vec<Value> {
    let sum: i64 = genres.iter().map(|(_, n)| n).sum();
    genres
        .iter()
        .map(|(g, n)| json!({"genre": g, "count": n, "probability": ratio(*n, sum)}))
        .collect()
}

/// A prediction's profile is a few fields: 16 KiB is plenty.
const PREDICT_BODY: analytics_runtime::body::BodyLimits = analytics_runtime::body::BodyLimits {
    max_bytes: 16 * 1024,
    timeout: std::time::Duration::from_secs(10),
};

/// Sampled actors shown with a prediction.
const SAMPLE_ACTORS: i64 = 5;

/// POST /api/v1/admin/analytics/actors/predict
pub async fn predict(
    _: Admin,
    req: actix_web::HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    // Read by the runtime, as every service reads bodies: a body over the
    // limit is the JSON 413 of the error contract, not actix's plain text.
    let body = analytics_runtime::body::read(&req, payload, PREDICT_BODY).await?;
    let body = analytics_runtime::json::parse(&body).map_err(|e| {
        ReadApiError::invalid("body", format!("The request body is not valid JSON: {e}"))
    })?;
    let Value::Object(fields) = body else {
        return Err(ReadApiError::invalid(
            "body",
            "The request body must be a JSON object.",
        ));
    };
    let profile = profile_of(&fields)?;
    let size = json_int(&fields, "size", (1, 30))?.unwrap_or(5);
    let key = format!("predict|{profile:?}|{size}");
    serve(&state, key, move |state| async move {
        let (matched, genres, sample) = state
            .catalogue
            .profile_matches(&profile, size, SAMPLE_ACTORS)
            .await
            .map_err(|e| state.store_error(e))?;
        Ok(json!({
            "input_profile": {"age": profile.age, "blood_type": profile.blood_type,
                              "birthplace": profile.birthplace, "movie_tags": profile.genres},
            "matched_actors": matched,
            "predictions": predictions(&genres),
            "sample_actors": sample,
        }))
    })
    .await
}

/// An integer field of a JSON body within `min..=max` (absent or null:
/// none).
fn json_int(
    fields: &Map<String, Value>,
    name: &'static str,
    (min, max): (i64, i64),
) -> Result<Option<i64>, ReadApiError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            Some(_) => Err(ReadApiError::invalid(
                name,
                format!("The {} field must be between {min} and {max}.", label(name)),
            )),
            None => Err(ReadApiError::invalid(
                name,
                format!("The {} field must be an integer.", label(name)),
            )),
        },
    }
}

/// The profile a predict body describes, each field checked.
fn profile_of(fields: &Map<String, Value>) -> Result<ProfileQuery, ReadApiError> {
    let text = |name: &'static str, max: usize| -> Result<Option<String>, ReadApiError> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.chars().count() <= max => {
                Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty()))
            }
            Some(Value::String(_)) => Err(ReadApiError::invalid(
                name,
                format!(
                    "The {} field must not be greater than {max} characters.",
                    label(name)
                ),
            )),
            Some(_) => Err(ReadApiError::invalid(
                name,
                format!("The {} field must be a string.", label(name)),
            )),
        }
    };
    let age = json_int(fields, "age", (16, 80))?.and_then(|a| u32::try_from(a).ok());
    let genres = match fields.get("movie_tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(tags)) if tags.len() > 10 => {
            return Err(ReadApiError::invalid(
                "movie_tags",
                "The movie tags field must not have more than 10 items.",
            ))
        }
        Some(Value::Array(tags)) => {
            let mut out = Vec::new();
            for tag in tags {
                match tag.as_str() {
                    Some(t) if t.chars().count() <= 100 => {
                        let t = t.trim().to_lowercase();
                        if !t.is_empty() && !out.contains(&t) {
                            out.push(t);
                        }
                    }
                    _ => {
                        return Err(ReadApiError::invalid(
                            "movie_tags",
                            "Each movie tag must be a string of at most 100 characters.",
                        ))
                    }
                }
            }
            out
        }
        Some(_) => {
            return Err(ReadApiError::invalid(
                "movie_tags",
                "The movie tags field must be an array.",
            ))
        }
    };
    Ok(ProfileQuery {
        age,
        blood_type: text("blood_type", 20)?,
        birthplace: text("birthplace", MAX_TEXT)?,
        genres,
    })
}

/// `{points, total, avg}` of a per-period series (avg per period, 2 decimals).
fn period_series(points: &[(String, i64)]) -> Value {
    let total: i64 = points.iter().map(|(_, n)| n).sum();
    let avg = if points.is_empty() {
        0.0
    } else {
        analytics_domain::viewing::round_to(total as f64 / points.len() as f64, 2)
    };
    json!({
        "points": points.iter().map(|(p, n)| json!({"period": p, "count": n})).collect::<Vec<_>>(),
        "total": total,
        "avg": avg,
    })
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// GET /api/v1/admin/analytics/actors/insights
pub async fn insights(
    _: Admin,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let uuid = match q
        .get("actor_uuid")
        .map(|u| u.trim())
        .filter(|u| !u.is_empty())
    {
        None => {
            return Err(ReadApiError::invalid(
                "actor_uuid",
                "Actor UUID is required.",
            ))
        }
        Some(u) if !is_uuid(u) => {
            return Err(ReadApiError::invalid(
                "actor_uuid",
                "The actor uuid field must be a valid UUID.",
            ))
        }
        Some(u) => u.to_string(),
    };
    let size = int(&q, "size", (1, 30), 5)?;
    let key = format!("insights|{uuid}|{size}");
    serve(&state, key, move |state| async move {
        let store = &state.catalogue;
        let fail = |e| state.store_error(e);
        let Some((actor, movies)) = store.actor_by_uuid(&uuid).await.map_err(fail)? else {
            return Err(ReadApiError::NotFound("Actor not found."));
        };
        let profile = ProfileQuery {
            age: actor.age.and_then(|a| u32::try_from(a).ok()),
            blood_type: actor.blood_type.clone().filter(|b| !b.trim().is_empty()),
            birthplace: actor.birthplace.clone().filter(|b| !b.trim().is_empty()),
            genres: Vec::new(),
        };
        let (prediction, genres, [week, month, year]) = tokio::try_join!(
            store.profile_matches(&profile, size, 0),
            store.actor_genres(actor.id),
            store.actor_periods(actor.id),
        )
        .map_err(fail)?;
        let (matched, predicted, _) = prediction;
        let total_genres = genres.len();
        let shown = usize::try_from(size).unwrap_or(5);
        let series = |pick: fn(&PeriodCounts) -> &Vec<(String, i64)>| {
            json!({"week": period_series(pick(&week)), "month": period_series(pick(&month)),
               "year": period_series(pick(&year))})
        };
        let mut actor_json = json!(actor);
        actor_json["javs_count"] = json!(movies);
        Ok(json!({
            "actor": actor_json,
            "predicted_genres": predictions(&predicted),
            "matched_actors": matched,
            "actor_genres": counted(&genres[..genres.len().min(shown)], "genre"),
            "actor_genres_total": total_genres,
            "genre_period_counts": series(|p| &p.genres),
            "movie_period_counts": series(|p| &p.movies),
        }))
    })
    .await
}
