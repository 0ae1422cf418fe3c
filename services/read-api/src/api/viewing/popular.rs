//! Popular content over a range of days, by views, unique viewers, watch
//! time or page views.

use actix_web::{web, HttpRequest, HttpResponse};
use analytics_domain::ranking::Measure;
use analytics_domain::viewing::ViewingFigures;
use analytics_domain::{Action, EntityType, Sum};
use analytics_store::rollups::leaderboard::LEADERBOARD_SIZE;
use analytics_store::rollups::Registers;
use serde_json::{json, Value};

use super::round2;
use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, Query};
use crate::range_top::{board_candidates, range_top, ranking_word};
use crate::report::{Listing, Report};
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
    let titles = state.movie_titles(domain, &top_ids).await?;
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
