//! How recommendations fare by where and why they were shown (from the raw
//! event log, the only place those fields are kept), and the movies clicked
//! most from them (from the rollups).

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use analytics_domain::ranking::Measure;
use analytics_domain::{Action, EntityType};
use analytics_store::rollups::Registers;
use serde::Serialize;
use serde_json::json;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

use crate::api::parameters::{self as doc, choice, query};
use crate::api::words;
use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, Query};
use crate::range_top::{range_top, ranking_word};
use crate::report::{Listing, Report, ReportHead};
use crate::AppState;

use super::{ctr, ranked_params, RECOMMENDATIONS, RECOMMENDED_MOVIES};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupBy {
    Placement,
    Reason,
    Both,
}

pub const RECOMMENDATION_COLUMNS: &[&str] =
    &["placement", "reason", "impressions", "clicks", "ctr"];

/// Recommendations grouped by placement, reason or both.
#[derive(Serialize, ToSchema)]
pub struct Recommendations {
    #[serde(flatten)]
    head: ReportHead,
    #[schema(schema_with = words::grouping)]
    by: &'static str,
    /// Most shown first.
    items: Vec<RecommendationGroup>,
}

#[derive(Serialize, ToSchema)]
pub struct RecommendationGroup {
    /// Null when not grouped by it.
    placement: Option<String>,
    /// Null when not grouped by it.
    reason: Option<String>,
    impressions: i64,
    clicks: i64,
    #[schema(minimum = 0, maximum = 1)]
    ctr: f64,
}

/// The recommendations report's parameters.
pub struct RecommendationParams;

impl IntoParams for RecommendationParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = doc::range("from", "to", 7);
        params.extend([
            doc::domain(),
            query(
                "by",
                choice(words::GROUPINGS),
                "Grouping (an ungrouped field is null).",
            ),
            doc::format(),
        ]);
        params
    }
}

/// Recommendation impressions, clicks and click-through rate by placement,
/// reason, or both.
#[utoipa::path(get, path = RECOMMENDATIONS, operation_id = "recommendations", params(RecommendationParams),
    security(("admin" = [])),
    responses((status = 200, description = "Groups, most shown first.",
        content((Recommendations = "application/json"), (String = "text/csv")))),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
pub async fn recommendations(
    _: Admin,
    req: HttpRequest,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let report = Report::of_raw_log(&req, &q, &state, 7)?;
    let by = params::choice(
        &q,
        "by",
        &[
            ("placement", GroupBy::Placement),
            ("reason", GroupBy::Reason),
            ("both", GroupBy::Both),
        ],
        GroupBy::Placement,
    )?;
    let listing = Listing {
        name: "recommendations",
        rows_at: "/items",
        columns: RECOMMENDATION_COLUMNS,
    };
    report
        .serve(
            &state,
            &listing,
            &format!("{by:?}"),
            move |state, report| async move {
                let r = &report;
                let cells = state
                    .catalogue
                    .recommendation_cells(r.domain.as_str(), r.range.log_days())
                    .await
                    .map_err(|e| state.store_error(e))?;
                let mut groups: BTreeMap<(Option<String>, Option<String>), (i64, i64)> =
                    BTreeMap::new();
                for c in cells {
                    let placement = (by != GroupBy::Reason).then_some(c.placement);
                    let reason = (by != GroupBy::Placement).then_some(c.reason);
                    let g = groups.entry((placement, reason)).or_default();
                    g.0 += c.impressions;
                    g.1 += c.clicks;
                }
                let mut rows: Vec<_> = groups.into_iter().collect();
                // Most shown first, then by name.
                rows.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(&b.0)));
                let items = rows
                    .into_iter()
                    .map(
                        |((placement, reason), (impressions, clicks))| RecommendationGroup {
                            placement,
                            reason,
                            impressions,
                            clicks,
                            ctr: ctr(clicks, impressions),
                        },
                    )
                    .collect();
                Ok::<_, ReadApiError>(json!(Recommendations {
                    head: r.head(),
                    by: match by {
                        GroupBy::Placement => "placement",
                        GroupBy::Reason => "reason",
                        GroupBy::Both => "both",
                    },
                    items,
                }))
            },
        )
        .await
}

pub const CLICKED_COLUMNS: &[&str] = &[
    "rank",
    "movie_id",
    "code",
    "title",
    "clicks",
    "impressions",
    "ctr",
];

/// The movies clicked most from recommendations.
#[derive(Serialize, ToSchema)]
pub struct RecommendedMovies {
    #[serde(flatten)]
    head: ReportHead,
    #[schema(schema_with = words::ranking)]
    ranking: &'static str,
    /// By clicks, then id.
    items: Vec<RecommendedMovie>,
}

#[derive(Serialize, ToSchema)]
pub struct RecommendedMovie {
    #[schema(minimum = 1)]
    rank: usize,
    movie_id: String,
    code: Option<String>,
    title: Option<String>,
    clicks: i64,
    impressions: i64,
    #[schema(minimum = 0)]
    ctr: f64,
}

/// The recommended movies' parameters.
pub struct RecommendedMovieParams;

impl IntoParams for RecommendedMovieParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        ranked_params(None)
    }
}

/// The movies clicked most from recommendations.
#[utoipa::path(get, path = RECOMMENDED_MOVIES, operation_id = "recommended_movies", params(RecommendedMovieParams),
    security(("admin" = [])),
    responses((status = 200, description = "Movies by clicks, then id.",
        content((RecommendedMovies = "application/json"), (String = "text/csv")))),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
pub async fn clicked_movies(
    _: Admin,
    req: HttpRequest,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let report = Report::of(&req, &q, &state, 7)?;
    let limit = params::limit(&q)?;
    let listing = Listing {
        name: "recommended-movies",
        rows_at: "/items",
        columns: CLICKED_COLUMNS,
    };
    report
        .serve(
            &state,
            &listing,
            &limit.to_string(),
            move |state, report| async move {
                let r = &report;
                let clicks = Measure::Count(Action::RecommendationClick);
                let top =
                    range_top(&state, &r.domain, EntityType::Movie, clicks, r.range, limit).await?;
                let ids: Vec<String> = top.items.iter().map(|(id, _)| id.clone()).collect();
                let read = state
                    .range_figures(&r.domain, EntityType::Movie, &ids, r.range, Registers::Skip)
                    .await?;
                let titles = state.movie_titles(&r.domain, &ids).await?;
                let items = top
                    .items
                    .iter()
                    .enumerate()
                    .map(|(i, (id, clicks))| {
                        let (code, title) = titles.get(id).cloned().unwrap_or_default();
                        let impressions = read
                            .get(id)
                            .map_or(0, |f| f.counts.get(Action::RecommendationImpression));
                        RecommendedMovie {
                            rank: i + 1,
                            movie_id: id.clone(),
                            code,
                            title,
                            clicks: *clicks,
                            impressions,
                            ctr: ctr(*clicks, impressions),
                        }
                    })
                    .collect();
                Ok::<_, ReadApiError>(json!(RecommendedMovies {
                    head: r.head(),
                    ranking: ranking_word(top.exact),
                    items,
                }))
            },
        )
        .await
}
