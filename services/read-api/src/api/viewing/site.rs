//! The site's daily viewing trends and its peak hours.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use analytics_domain::unique::Sketch;
use analytics_domain::{Action, BucketMode, Domain, Sum};
use analytics_store::rollups::RangeFigures;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{SiteReportParams, PEAK_HOURS, TRENDS};
use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::Query;
use crate::report::{Listing, Report, ReportHead};
use crate::AppState;

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

/// The site's viewing per local day.
#[derive(Serialize, ToSchema)]
pub struct ViewingTrend {
    #[serde(flatten)]
    head: ReportHead,
    /// Over the whole range.
    unique_viewers: u64,
    /// One row per local day, zero-filled.
    days: Vec<TrendDay>,
}

#[derive(Serialize, ToSchema)]
pub struct TrendDay {
    date: String,
    /// Playback starts.
    views: i64,
    unique_viewers: u64,
    watch_time_seconds: i64,
    completions: i64,
    page_views: i64,
}

/// Daily viewing trends: views (starts), unique viewers, watch time,
/// completions, page views.
#[utoipa::path(get, path = TRENDS, operation_id = "viewing_trends", params(SiteReportParams),
    security(("admin" = [])),
    responses((status = 200, description = "One row per local day, zero-filled; `unique_viewers` over the whole range.",
        content((ViewingTrend = "application/json"), (String = "text/csv")))),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
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
            let days = range
                .labels()
                .iter()
                .map(|date| {
                    let f = by_date.get(date.as_str()).cloned().unwrap_or_default();
                    TrendDay {
                        date: date.clone(),
                        views: f.counts.get(Action::Start),
                        unique_viewers: f.uniques.estimate(),
                        watch_time_seconds: f.counts.sum(Sum::WatchSeconds),
                        completions: f.counts.sum(Sum::Completions),
                        page_views: f.counts.get(Action::View),
                    }
                })
                .collect();
            Ok(json!(ViewingTrend {
                head: report.head(),
                unique_viewers: everyone.estimate(),
                days,
            }))
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

/// Activity per local hour of day.
#[derive(Serialize, ToSchema)]
pub struct PeakHours {
    #[serde(flatten)]
    head: ReportHead,
    /// The zone the hours are in.
    timezone: String,
    /// All 24 hours, busiest first (then by hour).
    #[schema(min_items = 24, max_items = 24)]
    hours: Vec<PeakHour>,
}

#[derive(Serialize, ToSchema)]
pub struct PeakHour {
    #[schema(minimum = 0, maximum = 23)]
    hour: usize,
    /// Events that make their sender a viewer.
    events_count: i64,
    unique_users: u64,
}

/// Activity per local hour of day: viewer events and distinct users,
/// busiest first.
#[utoipa::path(get, path = PEAK_HOURS, operation_id = "peak_hours", params(SiteReportParams),
    security(("admin" = [])),
    responses((status = 200, description = "All 24 hours, ordered by events_count descending, then hour.",
        content((PeakHours = "application/json"), (String = "text/csv")))),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
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
            let hours = rows
                .iter()
                .map(|&(hour, events_count, unique_users)| PeakHour {
                    hour,
                    events_count,
                    unique_users,
                })
                .collect();
            Ok(json!(PeakHours {
                head: report.head(),
                timezone: zone_name(&state.rules.bucket_mode(domain)),
                hours,
            }))
        })
        .await
}
