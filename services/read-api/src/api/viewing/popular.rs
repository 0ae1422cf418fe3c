//! Popular content over a range of days, by views, unique viewers, watch
//! time or page views.

use actix_web::{web, HttpRequest, HttpResponse};
use analytics_domain::ranking::Measure;
use analytics_domain::viewing::ViewingFigures;
use analytics_domain::{Action, EntityType, Sum};
use analytics_store::rollups::leaderboard::LEADERBOARD_SIZE;
use analytics_store::rollups::Registers;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

use super::{round2, POPULAR};
use crate::api::parameters::{self as doc, choice, query};
use crate::api::words;
use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, Query};
use crate::range_top::{board_candidates, range_top, ranking_word};
use crate::report::{Listing, Report, ReportHead};
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

/// Ranked movies of a range.
#[derive(Serialize, ToSchema)]
pub struct PopularList {
    #[serde(flatten)]
    head: ReportHead,
    total_items: usize,
    items: Vec<PopularItem>,
    #[schema(schema_with = words::popular_sort)]
    sort: &'static str,
    #[schema(schema_with = words::ranking)]
    ranking: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct PopularItem {
    #[schema(minimum = 1)]
    rank: usize,
    movie_id: String,
    code: Option<String>,
    title: Option<String>,
    /// Playback starts.
    total_views: i64,
    unique_viewers: u64,
    /// Completions ÷ starts, in percent.
    #[schema(minimum = 0, maximum = 100)]
    completion_rate: f64,
    watch_time_seconds: i64,
    #[schema(minimum = 0, maximum = 100)]
    avg_watch_percentage: f64,
    page_views: i64,
}

/// The popular route's parameters.
pub struct PopularParams;

impl IntoParams for PopularParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = doc::range("from", "to", 7);
        params.extend([
            doc::domain(),
            doc::limit(),
            query(
                "sort",
                choice(words::POPULAR_SORTS),
                "Ranking: starts, merged unique viewers (among each day's leaders: approximate), watch seconds, page views.",
            ),
            doc::format(),
        ]);
        params
    }
}

/// Most popular movies over a range of days: views (playback starts),
/// unique viewers, completion rate (%), watch time.
#[utoipa::path(get, path = POPULAR, operation_id = "popular_content", params(PopularParams),
    security(("admin" = [])),
    responses((status = 200, description = "Ranked movies; `ranking` says whether the threshold test proved the order exact.",
        content((PopularList = "application/json"), (String = "text/csv")))),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
pub async fn popular(
    _: Admin,
    req: HttpRequest,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let report = Report::of(&req, &q, &state, 7)?;
    let limit = params::limit(&q)?;
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
    let items: Vec<PopularItem> = rows
        .iter()
        .enumerate()
        .map(|(i, (id, f, page_views))| {
            let (code, title) = titles.get(id).cloned().unwrap_or_default();
            PopularItem {
                rank: i + 1,
                movie_id: id.clone(),
                code,
                title,
                total_views: f.views,
                unique_viewers: f.unique_viewers,
                // Percent, as the viewing service showed it.
                completion_rate: round2(f.completion_rate * 100.0),
                watch_time_seconds: f.watch_time_seconds,
                avg_watch_percentage: f.avg_watch_percentage,
                page_views: *page_views,
            }
        })
        .collect();
    Ok(json!(PopularList {
        head: report.head(),
        total_items: items.len(),
        items,
        sort: by.name(),
        ranking: ranking_word(exact),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_sorts_are_the_ones_parsed_in_their_order() {
        let parsed: Vec<&str> = POPULAR_BY.iter().map(|b| b.name()).collect();
        assert_eq!(parsed, words::POPULAR_SORTS);
    }
}
