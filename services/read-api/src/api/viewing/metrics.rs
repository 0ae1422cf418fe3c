//! One film's video metrics and one user's statistics.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use analytics_domain::measures::Playback;
use analytics_domain::viewing::{percent, ViewingFigures};
use analytics_domain::{Action, EntityType};
use analytics_store::rollups::Registers;
use serde_json::{json, Map, Value};

use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, Query};
use crate::AppState;

/// GET /api/metrics/video/{video_id}
pub async fn video_metrics(
    _: Admin,
    path: web::Path<String>,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let domain = params::domain(&q, &state.rules)?;
    let id = params::id("video_id", &path)?;
    let range = params::day_range(&q, ("startDate", "endDate"), state.today(&domain), 30)?;
    let key = format!(
        "video|{}|{}|{}|{id}",
        domain.as_str(),
        range.first(),
        range.last()
    );
    let owned = state.clone();
    let cached = state
        .film_reports
        .get_or_compute(key, move || async move {
            let state = owned;
            let mut read = state
                .range_figures(
                    &domain,
                    EntityType::Movie,
                    std::slice::from_ref(&id),
                    range,
                    Registers::Merge,
                )
                .await?;
            let f = read.remove(&id).unwrap_or_default();
            let figures = ViewingFigures::of(&f.counts, f.uniques.estimate());
            let mut body = Map::new();
            body.insert("video_id".into(), json!(id));
            if let Value::Object(figures) = json!(figures) {
                body.extend(figures);
            }
            body.insert("page_views".into(), json!(f.counts.get(Action::View)));
            body.insert("start_date".into(), json!(range.first()));
            body.insert("end_date".into(), json!(range.last()));
            body.insert("domain".into(), json!(domain.as_str()));
            Ok::<_, ReadApiError>(Value::Object(body))
        })
        .await?;
    let mut response = HttpResponse::Ok().json(&cached.body);
    cached.stamp(&mut response);
    Ok(response)
}

/// One movie's part of a user's statistics.
#[derive(Debug, Default)]
struct MovieWatch {
    watch_seconds: i64,
    events: i64,
}

/// GET /api/v1/analytics/user/{user_id}/stats (from the raw event log:
/// the rollups count per film, not per user).
pub async fn user_stats(
    _: Admin,
    path: web::Path<String>,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let domain = params::domain(&q, &state.rules)?;
    let user_id = params::user_id(&path)?;
    let today = state.today(&domain);
    let range = params::day_range(&q, ("from", "to"), today, 30)?;
    params::within_raw_log(&q, &range, "from", today, state.raw_log_days)?;
    let rows = state
        .catalogue
        .user_playback(domain.as_str(), &user_id, range.log_days())
        .await
        .map_err(|e| state.store_error(e))?;
    let (mut started, mut finished, mut watch_total) = (0i64, 0i64, 0i64);
    let mut movies: HashMap<String, MovieWatch> = HashMap::new();
    for row in &rows {
        let playback = Playback::of(row.action, &row.details);
        started += i64::from(row.action == Action::Start);
        finished += i64::from(playback.completed);
        watch_total += playback.watched_seconds;
        let movie = movies.entry(row.movie_id.clone()).or_default();
        movie.watch_seconds += playback.watched_seconds;
        movie.events += 1;
    }
    let most_watched = movies
        .iter()
        .max_by(|a, b| {
            (a.1.watch_seconds, a.1.events)
                .cmp(&(b.1.watch_seconds, b.1.events))
                // The smaller id wins a tie.
                .then_with(|| b.0.cmp(a.0))
        })
        .map(|(id, _)| id.clone());
    Ok(HttpResponse::Ok().json(json!({
        "user_id": user_id,
        "movies_started": started,
        "movies_finished": finished,
        "unique_movies_watched": movies.len(),
        "total_watch_time_seconds": watch_total,
        "completion_rate": percent(finished, started),
        "period_days": range.days(),
        "most_watched_movie_id": most_watched,
        "domain": domain.as_str(),
        "from": range.first(),
        "to": range.last(),
    })))
}
