//! Search and recommendation analytics: what people search for (and find
//! nothing for), searches per day, and how recommendations fare by where
//! and why they were shown. Queries come from the rollups (a search's
//! query is an entity), as do the movies clicked most from recommendations;
//! recommendations by placement and reason from the raw event log, the only
//! place those fields are kept.

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use analytics_domain::ranking::Measure;
use analytics_domain::viewing::ratio;
use analytics_domain::{Action, EntityType, Sum};
use analytics_store::rollups::leaderboard::LEADERBOARD_SIZE;
use analytics_store::rollups::Registers;
use serde_json::{json, Value};

use super::Routing;
use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, Query};
use crate::range_top::{range_top, ranking_word};
use crate::report::{Listing, Report};
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig, routes: &Routing) {
    cfg.service(
        routes
            .get("/api/v1/admin/analytics/search/queries")
            .route(web::get().to(search_queries)),
    )
    .service(
        routes
            .get("/api/v1/admin/analytics/search/daily")
            .route(web::get().to(search_daily)),
    )
    .service(
        routes
            .get("/api/v1/admin/analytics/recommendations")
            .route(web::get().to(recommendations)),
    )
    .service(
        routes
            .get("/api/v1/admin/analytics/recommendations/movies")
            .route(web::get().to(clicked_movies)),
    );
}

/// Clicks ÷ impressions, 4 decimals (0 without impressions).
fn ctr(clicks: i64, impressions: i64) -> f64 {
    (ratio(clicks, impressions) * 10_000.0).round() / 10_000.0
}

pub const QUERY_COLUMNS: &[&str] = &["rank", "query", "searches", "zero_results"];

/// GET /api/v1/admin/analytics/search/queries (`sort=searches` the top
/// queries, `sort=zero_results` the ones that found nothing most often).
pub async fn search_queries(
    _: Admin,
    req: HttpRequest,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let report = Report::of(&req, &q, &state, 7)?;
    let limit = params::int(&q, "limit", 10, 1, LEADERBOARD_SIZE as i64)? as usize;
    let measure = params::choice(
        &q,
        "sort",
        &[
            ("searches", Measure::Count(Action::Search)),
            ("zero_results", Measure::Total(Sum::ZeroResults)),
        ],
        Measure::Count(Action::Search),
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
                let items: Vec<Value> = ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        let c = read.get(id).map(|f| f.counts.clone()).unwrap_or_default();
                        json!({"rank": i + 1, "query": id, "searches": c.get(Action::Search),
                           "zero_results": c.sum(Sum::ZeroResults)})
                    })
                    .collect();
                let mut body = r.head();
                body.insert("sort".into(), json!(measure.as_str()));
                body.insert("ranking".into(), json!(ranking_word(top.exact)));
                body.insert("items".into(), json!(items));
                Ok::<_, ReadApiError>(Value::Object(body))
            },
        )
        .await
}

pub const SEARCH_DAY_COLUMNS: &[&str] = &["date", "searches", "zero_results", "zero_result_rate"];

/// GET /api/v1/admin/analytics/search/daily
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
            let days: Vec<Value> = r
                .range
                .labels()
                .iter()
                .map(|date| {
                    let c = found.get(date).cloned().unwrap_or_default();
                    let (searches, zero) = (c.get(Action::Search), c.sum(Sum::ZeroResults));
                    json!({"date": date, "searches": searches, "zero_results": zero,
                           "zero_result_rate": ctr(zero, searches)})
                })
                .collect();
            let mut body = r.head();
            body.insert("days".into(), json!(days));
            Ok::<_, ReadApiError>(Value::Object(body))
        })
        .await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupBy {
    Placement,
    Reason,
    Both,
}

pub const RECOMMENDATION_COLUMNS: &[&str] =
    &["placement", "reason", "impressions", "clicks", "ctr"];

/// GET /api/v1/admin/analytics/recommendations (`by=placement|reason|both`)
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
                let items: Vec<Value> = rows
                    .into_iter()
                    .map(|((placement, reason), (impressions, clicks))| {
                        json!({"placement": placement, "reason": reason, "impressions": impressions,
                           "clicks": clicks, "ctr": ctr(clicks, impressions)})
                    })
                    .collect();
                let mut body = r.head();
                body.insert(
                    "by".into(),
                    json!(match by {
                        GroupBy::Placement => "placement",
                        GroupBy::Reason => "reason",
                        GroupBy::Both => "both",
                    }),
                );
                body.insert("items".into(), json!(items));
                Ok::<_, ReadApiError>(Value::Object(body))
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

/// GET /api/v1/admin/analytics/recommendations/movies: the movies clicked
/// most from recommendations.
pub async fn clicked_movies(
    _: Admin,
    req: HttpRequest,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let report = Report::of(&req, &q, &state, 7)?;
    let limit = params::int(&q, "limit", 10, 1, LEADERBOARD_SIZE as i64)? as usize;
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
                let items: Vec<Value> = top
                    .items
                    .iter()
                    .enumerate()
                    .map(|(i, (id, clicks))| {
                        let (code, title) = titles.get(id).cloned().unwrap_or_default();
                        let impressions = read
                            .get(id)
                            .map_or(0, |f| f.counts.get(Action::RecommendationImpression));
                        json!({"rank": i + 1, "movie_id": id, "code": code, "title": title,
                           "clicks": clicks, "impressions": impressions,
                           "ctr": ctr(*clicks, impressions)})
                    })
                    .collect();
                let mut body = r.head();
                body.insert("ranking".into(), json!(ranking_word(top.exact)));
                body.insert("items".into(), json!(items));
                Ok::<_, ReadApiError>(Value::Object(body))
            },
        )
        .await
}
