//! Viewing analytics, on the routes and payloads the player and viewing
//! service producers' users already read: popular content, one film's
//! metrics, one user's statistics, daily trends and peak hours. Ranges are
//! local days of the domain's zone, ending today unless given; figures are
//! as of the last flush.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use analytics_domain::measures::Playback;
use analytics_domain::ranking::Measure;
use analytics_domain::unique::Sketch;
use analytics_domain::viewing::{percent, ViewingFigures};
use analytics_domain::{Action, BucketMode, Domain, EntityType, Sum};
use analytics_store::rollups::leaderboard::LEADERBOARD_SIZE;
use analytics_store::rollups::{RangeFigures, Registers};
use serde_json::{json, Map, Value};

use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, Query};
use crate::range_top::{board_candidates, range_top, ranking_word};
use crate::report::{Listing, Report};
use crate::routes::movie_titles;
use crate::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PopularBy {
    Views,
    UniqueViewers,
    WatchTime,
    PageViews,
}

impl PopularBy {
    /// The board measure, where one ranks it (unique viewers are not
    /// additive over days, so no board can).
    fn measure(self) -> Option<Measure> {
        match self {
            PopularBy::Views => Some(Measure::Count(Action::Start)),
            PopularBy::WatchTime => Some(Measure::Total(Sum::WatchSeconds)),
            PopularBy::PageViews => Some(Measure::Count(Action::View)),
            PopularBy::UniqueViewers => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            PopularBy::Views => "views",
            PopularBy::UniqueViewers => "unique_viewers",
            PopularBy::WatchTime => "watch_time",
            PopularBy::PageViews => "page_views",
        }
    }
}

const POPULAR_BY: [PopularBy; 4] = [
    PopularBy::Views,
    PopularBy::UniqueViewers,
    PopularBy::WatchTime,
    PopularBy::PageViews,
];

pub const POPULAR_COLUMNS: &[&str] = &[
    "rank",
    "movie_id",
    "code",
    "title",
    "total_views",
    "unique_viewers",
    "completion_rate",
    "watch_time_seconds",
    "avg_watch_percentage",
    "page_views",
];

/// GET /api/v1/analytics/content/popular
pub async fn popular(
    _: Admin,
    req: HttpRequest,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let report = Report::of(&req, &q, &state, 7)?;
    let limit = params::int(&q, "limit", 10, 1, LEADERBOARD_SIZE as i64)? as usize;
    let options: Vec<(&str, PopularBy)> = POPULAR_BY.iter().map(|b| (b.name(), *b)).collect();
    let by = params::choice(&q, "sort", &options, PopularBy::Views)?;
    let listing = Listing {
        name: "popular",
        rows_at: "/items",
        columns: POPULAR_COLUMNS,
    };
    report
        .serve(
            &state,
            &listing,
            &format!("{limit}|{}", by.name()),
            move |state, report| async move { popular_report(&state, &report, limit, by).await },
        )
        .await
}

async fn popular_report(
    state: &AppState,
    report: &Report,
    limit: usize,
    by: PopularBy,
) -> Result<Value, ReadApiError> {
    let (domain, range) = (&report.domain, report.range);
    let (ids, exact) = match by.measure() {
        Some(measure) => {
            let top = range_top(state, domain, EntityType::Movie, measure, range, limit).await?;
            (top.items.into_iter().map(|(id, _)| id).collect(), top.exact)
        }
        None => {
            // The films leading starts or page views on some day, ranked
            // by their merged viewers.
            let leaders = [Measure::Count(Action::Start), Measure::Count(Action::View)];
            let ids = board_candidates(
                state,
                domain,
                EntityType::Movie,
                &leaders,
                range,
                LEADERBOARD_SIZE,
            )
            .await?;
            (ids, false)
        }
    };
    let read = state
        .range_figures(domain, EntityType::Movie, &ids, range, Registers::Merge)
        .await?;
    let mut rows: Vec<(String, ViewingFigures, i64)> = ids
        .iter()
        .map(|id| {
            let f = read.get(id).cloned().unwrap_or_default();
            let figures = ViewingFigures::of(&f.counts, f.uniques.estimate());
            (id.clone(), figures, f.counts.get(Action::View))
        })
        .collect();
    if by == PopularBy::UniqueViewers {
        rows.retain(|(_, f, _)| f.unique_viewers > 0);
        rows.sort_by(|a, b| {
            b.1.unique_viewers
                .cmp(&a.1.unique_viewers)
                .then_with(|| a.0.cmp(&b.0))
        });
        rows.truncate(limit);
    }
    let top_ids: Vec<String> = rows.iter().map(|(id, ..)| id.clone()).collect();
    let titles = movie_titles(state, domain, &top_ids).await?;
    let items: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, (id, f, page_views))| {
            let (code, title) = titles.get(id).cloned().unwrap_or_default();
            json!({
                "rank": i + 1,
                "movie_id": id,
                "code": code,
                "title": title,
                "total_views": f.views,
                "unique_viewers": f.unique_viewers,
                // Percent, as the viewing service showed it.
                "completion_rate": round2(f.completion_rate * 100.0),
                "watch_time_seconds": f.watch_time_seconds,
                "avg_watch_percentage": f.avg_watch_percentage,
                "page_views": page_views,
            })
        })
        .collect();
    let mut body = report.head();
    body.insert("total_items".into(), json!(items.len()));
    body.insert("items".into(), json!(items));
    body.insert("sort".into(), json!(by.name()));
    body.insert("ranking".into(), json!(ranking_word(exact)));
    Ok(Value::Object(body))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

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

/// The site's hours of a range, read once per report.
async fn site_hours(
    state: &AppState,
    domain: &Domain,
    range: &crate::params::DayRange,
) -> Result<
    std::collections::BTreeMap<(String, u8), analytics_store::rollups::SiteHour>,
    ReadApiError,
> {
    state
        .rollups
        .site_hours(domain, &range.first(), &range.last())
        .await
        .map_err(|e| state.store_error(e))
}

pub const TREND_COLUMNS: &[&str] = &[
    "date",
    "views",
    "unique_viewers",
    "watch_time_seconds",
    "completions",
    "page_views",
];

/// GET /api/v1/analytics/trends
pub async fn viewing_trends(
    _: Admin,
    req: HttpRequest,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let report = Report::of(&req, &q, &state, 7)?;
    let listing = Listing {
        name: "trends",
        rows_at: "/days",
        columns: TREND_COLUMNS,
    };
    report
        .serve(&state, &listing, "", move |state, report| async move {
            let (domain, range) = (&report.domain, report.range);
            let hours = site_hours(&state, domain, &range).await?;
            let mut by_date: HashMap<&str, RangeFigures> = HashMap::new();
            let mut everyone = Sketch::default();
            for ((date, _), hour) in &hours {
                let day = by_date.entry(date.as_str()).or_default();
                day.counts.merge(&hour.counts());
                day.uniques.merge(&hour.users);
                everyone.merge(&hour.users);
            }
            let days: Vec<Value> = range
                .labels()
                .iter()
                .map(|date| {
                    let f = by_date.get(date.as_str()).cloned().unwrap_or_default();
                    json!({
                        "date": date,
                        "views": f.counts.get(Action::Start),
                        "unique_viewers": f.uniques.estimate(),
                        "watch_time_seconds": f.counts.sum(Sum::WatchSeconds),
                        "completions": f.counts.sum(Sum::Completions),
                        "page_views": f.counts.get(Action::View),
                    })
                })
                .collect();
            let mut body = report.head();
            body.insert("unique_viewers".into(), json!(everyone.estimate()));
            body.insert("days".into(), json!(days));
            Ok(Value::Object(body))
        })
        .await
}

pub const PEAK_COLUMNS: &[&str] = &["hour", "events_count", "unique_users"];

/// The zone a domain's hours are in, as the peak hours report names it.
fn zone_name(mode: &BucketMode) -> String {
    match mode {
        BucketMode::Zone(tz) => tz.name().to_string(),
        BucketMode::EventOffset => "each event's own offset".to_string(),
    }
}

/// GET /api/v1/analytics/peak-hours: per local hour of day, the events
/// that make their sender a viewer and the distinct users, busiest first.
pub async fn peak_hours(
    _: Admin,
    req: HttpRequest,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let report = Report::of(&req, &q, &state, 7)?;
    let listing = Listing {
        name: "peak-hours",
        rows_at: "/hours",
        columns: PEAK_COLUMNS,
    };
    report
        .serve(&state, &listing, "", move |state, report| async move {
            let (domain, range) = (&report.domain, report.range);
            let hours = site_hours(&state, domain, &range).await?;
            let mut events = [0i64; 24];
            let mut users: Vec<Sketch> = vec![Sketch::default(); 24];
            for ((_, hour), cell) in &hours {
                let h = usize::from(*hour).min(23);
                let counts = cell.counts();
                events[h] += Action::ALL
                    .iter()
                    .filter(|a| a.spec().viewer)
                    .map(|a| counts.get(*a))
                    .sum::<i64>();
                users[h].merge(&cell.users);
            }
            let mut rows: Vec<(usize, i64, u64)> = (0..24)
                .map(|h| (h, events[h], users[h].estimate()))
                .collect();
            rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let hours: Vec<Value> = rows
                .iter()
                .map(|(hour, events_count, unique_users)| {
                    json!({"hour": hour, "events_count": events_count, "unique_users": unique_users})
                })
                .collect();
            let mut body = report.head();
            body.insert(
                "timezone".into(),
                json!(zone_name(&state.rules.bucket_mode(domain))),
            );
            body.insert("hours".into(), json!(hours));
            Ok(Value::Object(body))
        })
        .await
}
