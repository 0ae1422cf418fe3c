//! One film's video metrics and one user's statistics.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use analytics_domain::measures::Playback;
use analytics_domain::viewing::{percent, ViewingFigures};
use analytics_domain::{Action, EntityType};
use analytics_store::rollups::Registers;
use serde::Serialize;
use serde_json::json;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

use super::{USER_STATS, VIDEO};
use crate::api::parameters as doc;
use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, Query};
use crate::AppState;

/// One film's viewing metrics over a range of days.
#[derive(Serialize, ToSchema)]
pub struct VideoMetrics {
    video_id: String,
    #[serde(flatten)]
    figures: ViewingFigures,
    page_views: i64,
    start_date: String,
    end_date: String,
    domain: String,
}

/// The video metrics' parameters.
pub struct VideoParams;

impl IntoParams for VideoParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = vec![doc::id_path("video_id"), doc::domain()];
        params.extend(doc::range("startDate", "endDate", 30));
        params
    }
}

/// One film's viewing metrics over a range of days (default: the last
/// 30).
#[utoipa::path(get, path = VIDEO, operation_id = "video_metrics", params(VideoParams),
    security(("admin" = [])),
    responses((status = 200, body = VideoMetrics, description = "Views (starts), unique viewers, watch time, average watch %, completion rate (0..1), engagement score (0..10).")),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
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
            Ok::<_, ReadApiError>(json!(VideoMetrics {
                video_id: id,
                figures: ViewingFigures::of(&f.counts, f.uniques.estimate()),
                page_views: f.counts.get(Action::View),
                start_date: range.first(),
                end_date: range.last(),
                domain: domain.as_str().to_string(),
            }))
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

/// One user's viewing over a range of days.
#[derive(Serialize, ToSchema)]
pub struct UserStats {
    user_id: String,
    movies_started: i64,
    movies_finished: i64,
    unique_movies_watched: usize,
    total_watch_time_seconds: i64,
    /// Finished ÷ started, in percent.
    #[schema(minimum = 0, maximum = 100)]
    completion_rate: f64,
    period_days: i64,
    /// The film watched longest (then most often; the smaller id on a tie).
    most_watched_movie_id: Option<String>,
    domain: String,
    from: String,
    to: String,
}

/// The user statistics' parameters.
pub struct UserStatsParams;

impl IntoParams for UserStatsParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = vec![doc::user_id_path(), doc::domain()];
        params.extend(doc::range("from", "to", 30));
        params
    }
}

/// One user's viewing statistics over a range of days (default: the last
/// 30), from the raw event log (the rollups count per film, not per user).
#[utoipa::path(get, path = USER_STATS, operation_id = "user_stats", params(UserStatsParams),
    security(("admin" = [])),
    responses((status = 200, body = UserStats, description = "Starts, completions, films, watch time, completion rate (%), the most watched film.")),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
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
    Ok(HttpResponse::Ok().json(UserStats {
        user_id,
        movies_started: started,
        movies_finished: finished,
        unique_movies_watched: movies.len(),
        total_watch_time_seconds: watch_total,
        completion_rate: percent(finished, started),
        period_days: range.days(),
        most_watched_movie_id: most_watched,
        domain: domain.as_str().to_string(),
        from: range.first(),
        to: range.last(),
    }))
}
