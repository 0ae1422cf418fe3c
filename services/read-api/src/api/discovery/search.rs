//! What people search for (and find nothing for), and searches per day,
//! from the rollups (a search's query is an entity).

use actix_web::{web, HttpRequest, HttpResponse};
use analytics_domain::ranking::Measure;
use analytics_domain::{Action, EntityType, Sum};
use analytics_store::rollups::Registers;
use serde::Serialize;
use serde_json::json;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

use crate::api::parameters::{choice, query};
use crate::api::viewing::SiteReportParams;
use crate::api::words;
use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, Query};
use crate::range_top::{range_top, ranking_word};
use crate::report::{Listing, Report, ReportHead};
use crate::AppState;

use super::{ctr, ranked_params, SEARCH_DAILY, SEARCH_QUERIES};

pub const QUERY_COLUMNS: &[&str] = &["rank", "query", "searches", "zero_results"];

/// Ranked search queries of a range.
#[derive(Serialize, ToSchema)]
pub struct SearchQueries {
    #[serde(flatten)]
    head: ReportHead,
    #[schema(schema_with = words::search_sort)]
    sort: &'static str,
    #[schema(schema_with = words::ranking)]
    ranking: &'static str,
    items: Vec<SearchQuery>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchQuery {
    #[schema(minimum = 1)]
    rank: usize,
    /// Trimmed and lower-cased.
    query: String,
    searches: i64,
    zero_results: i64,
}

/// The search queries' parameters.
pub struct SearchQueryParams;

impl IntoParams for SearchQueryParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        ranked_params(Some(query("sort", choice(words::SEARCH_SORTS), "Ranking.")))
    }
}

/// Top search queries, or the queries that found nothing most often.
#[utoipa::path(get, path = SEARCH_QUERIES, operation_id = "search_queries", params(SearchQueryParams),
    security(("admin" = [])),
    responses((status = 200, description = "Ranked queries (trimmed, lower-cased).",
        content((SearchQueries = "application/json"), (String = "text/csv")))),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
pub async fn search_queries(
    _: Admin,
    req: HttpRequest,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let report = Report::of(&req, &q, &state, 7)?;
    let limit = params::limit(&q)?;
    // The body echoes the parameter's word, not the measure's field name.
    let searches = ("searches", Measure::Count(Action::Search));
    let (sort, measure) = params::choice(
        &q,
        "sort",
        &[
            ("searches", searches),
            (
                "zero_results",
                ("zero_results", Measure::Total(Sum::ZeroResults)),
            ),
        ],
        searches,
    )?;
    let listing = Listing {
        name: "search-queries",
        rows_at: "/items",
        columns: QUERY_COLUMNS,
    };
    report
        .serve(
            &state,
            &listing,
            &format!("{limit}|{}", measure.as_str()),
            move |state, report| async move {
                let r = &report;
                let top = range_top(
                    &state,
                    &r.domain,
                    EntityType::Query,
                    measure,
                    r.range,
                    limit,
                )
                .await?;
                let ids: Vec<String> = top.items.iter().map(|(id, _)| id.clone()).collect();
                let read = state
                    .range_figures(&r.domain, EntityType::Query, &ids, r.range, Registers::Skip)
                    .await?;
                let items = ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        let c = read.get(id).map(|f| f.counts.clone()).unwrap_or_default();
                        SearchQuery {
                            rank: i + 1,
                            query: id.clone(),
                            searches: c.get(Action::Search),
                            zero_results: c.sum(Sum::ZeroResults),
                        }
                    })
                    .collect();
                Ok::<_, ReadApiError>(json!(SearchQueries {
                    head: r.head(),
                    sort,
                    ranking: ranking_word(top.exact),
                    items,
                }))
            },
        )
        .await
}

pub const SEARCH_DAY_COLUMNS: &[&str] = &["date", "searches", "zero_results", "zero_result_rate"];

/// Searches per local day.
#[derive(Serialize, ToSchema)]
pub struct SearchDaily {
    #[serde(flatten)]
    head: ReportHead,
    /// One row per day, zero-filled.
    days: Vec<SearchDay>,
}

#[derive(Serialize, ToSchema)]
pub struct SearchDay {
    date: String,
    searches: i64,
    zero_results: i64,
    #[schema(minimum = 0, maximum = 1)]
    zero_result_rate: f64,
}

/// Searches and zero-result searches per local day.
#[utoipa::path(get, path = SEARCH_DAILY, operation_id = "search_daily", params(SiteReportParams),
    security(("admin" = [])),
    responses((status = 200, description = "One row per day, zero-filled.",
        content((SearchDaily = "application/json"), (String = "text/csv")))),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
pub async fn search_daily(
    _: Admin,
    req: HttpRequest,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let report = Report::of(&req, &q, &state, 7)?;
    let listing = Listing {
        name: "search-daily",
        rows_at: "/days",
        columns: SEARCH_DAY_COLUMNS,
    };
    report
        .serve(&state, &listing, "", move |state, report| async move {
            let r = &report;
            let found = state
                .rollups
                .site_daily(
                    &r.domain,
                    Some(EntityType::Query),
                    &r.range.first(),
                    &r.range.last(),
                )
                .await
                .map_err(|e| state.store_error(e))?;
            let days = r
                .range
                .labels()
                .iter()
                .map(|date| {
                    let c = found.get(date).cloned().unwrap_or_default();
                    let (searches, zero) = (c.get(Action::Search), c.sum(Sum::ZeroResults));
                    SearchDay {
                        date: date.clone(),
                        searches,
                        zero_results: zero,
                        zero_result_rate: ctr(zero, searches),
                    }
                })
                .collect();
            Ok::<_, ReadApiError>(json!(SearchDaily {
                head: r.head(),
                days,
            }))
        })
        .await
}
