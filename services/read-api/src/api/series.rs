//! One entity's series and the site's daily trend, from the rollups.

use actix_web::{web, HttpRequest, HttpResponse};
use analytics_domain::{Action, EntityType, Period};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

use super::parameters::{self as doc, choice, query};
use super::top::V1Counts;
use super::Routing;
use crate::api::words;
use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, Query};
use crate::table;
use crate::AppState;

pub const ENTITY: &str = "/api/v1/admin/analytics/entities/{entity_type}/{entity_id}";
pub const TRENDS: &str = "/api/v1/admin/analytics/trends";

pub fn configure(cfg: &mut web::ServiceConfig, routes: &Routing) {
    cfg.service(routes.get(ENTITY).route(web::get().to(entity)))
        .service(routes.get(TRENDS).route(web::get().to(trends)));
}

/// This area's operations in the service's OpenAPI document, listed beside
/// the route table that serves them.
#[derive(utoipa::OpenApi)]
#[openapi(paths(entity, trends))]
pub struct Api;

/// The first and last labels of a series (the query's inclusive range).
fn span(labels: &[String]) -> (String, String) {
    (
        labels.first().cloned().unwrap_or_default(),
        labels.last().cloned().unwrap_or_default(),
    )
}

const SERIES_COLUMNS: &[&str] = &["bucket", "view", "download"];

/// One point of an entity's series.
#[derive(Serialize, ToSchema)]
pub struct SeriesPoint {
    bucket: String,
    #[serde(flatten)]
    counts: V1Counts,
}

/// An entity's totals and its zero-filled series.
#[derive(Serialize, ToSchema)]
pub struct EntitySeries {
    domain: String,
    #[schema(schema_with = words::entity_type)]
    entity_type: EntityType,
    entity_id: String,
    totals: V1Counts,
    #[schema(schema_with = words::granularity)]
    granularity: String,
    from: String,
    to: String,
    series: Vec<SeriesPoint>,
}

/// The entity route's parameters.
pub struct EntityParams;

impl IntoParams for EntityParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            doc::entity_type_path(),
            doc::entity_id_path(),
            doc::domain(),
            doc::date_query("from", "Default: 29 days before `to`; not after `to`."),
            doc::date_query("to", "Default: today in the domain's zone."),
            query(
                "granularity",
                choice(words::GRANULARITIES),
                "Series buckets (at most read_api.max_series_points of them).",
            ),
            doc::format(),
        ]
    }
}

/// An entity's totals and its zero-filled series.
#[utoipa::path(get, path = ENTITY, operation_id = "entity_series", params(EntityParams),
    security(("admin" = [])),
    responses((status = 200, description = "Totals and series (CSV: the series).",
        content((EntitySeries = "application/json"), (String = "text/csv")))),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
pub async fn entity(
    _: Admin,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let format = table::format(&req, &q)?;
    let entity = params::entity(path.into_inner(), &q, &state.rules)?;
    let granularity = params::period(&q, "granularity", "day", false)?.unwrap_or(Period::Day);
    let today = state
        .rules
        .bucket_mode(&entity.domain)
        .today(chrono::Utc::now());
    let to = params::date(&q, "to")?.unwrap_or(today);
    let from = params::date(&q, "from")?.unwrap_or(to - chrono::Duration::days(29));
    if from > to {
        return Err(ReadApiError::invalid(
            "from",
            "The from date must not be after the to date.",
        ));
    }
    let labels = granularity
        .buckets_between(from, to, state.max_series_points)
        .ok_or_else(|| {
            ReadApiError::invalid(
                "from",
                format!(
                    "The range has more than {} {granularity:?} buckets.",
                    state.max_series_points
                ),
            )
        })?;
    let (first, last) = span(&labels);
    let found = state
        .rollups
        .entity_series(&entity, granularity, &first, &last)
        .await
        .map_err(|e| state.store_error(e))?;
    let totals = state.totals(&entity).await?;
    let series = labels
        .iter()
        .map(|label| SeriesPoint {
            bucket: label.clone(),
            counts: V1Counts::of(&found.get(label).cloned().unwrap_or_default()),
        })
        .collect();
    let body = json!(EntitySeries {
        domain: entity.domain.as_str().to_string(),
        entity_type: entity.entity_type,
        entity_id: entity.entity_id,
        totals: V1Counts::of(&totals),
        granularity: format!("{granularity:?}").to_lowercase(),
        from: from.format("%Y-%m-%d").to_string(),
        to: to.format("%Y-%m-%d").to_string(),
        series,
    });
    Ok(table::respond(
        format,
        body,
        "series",
        SERIES_COLUMNS,
        |b| table::rows_at(b, "/series", SERIES_COLUMNS),
    ))
}

/// The site's daily series of one action.
#[derive(Serialize, ToSchema)]
pub struct SiteTrend {
    domain: String,
    days: i64,
    #[schema(schema_with = words::ranked_action)]
    action: Action,
    #[schema(schema_with = words::entity_type_or_all, required = true)]
    entity_type: Option<EntityType>,
    /// The local days.
    labels: Vec<String>,
    /// The action's count on each.
    values: Vec<i64>,
    total: i64,
}

/// The site trend's parameters.
pub struct TrendParams;

impl IntoParams for TrendParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let days = utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::Integer)
            .enum_values(Some([7, 14, 30, 90]))
            .default(Some(json!(14)));
        vec![
            doc::domain(),
            query("days", days, "Window ending today."),
            query("action", choice(words::RANKED_ACTIONS), "Counted action."),
            query(
                "entity_type",
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::Type::String)
                    .enum_values(Some(words::ENTITY_TYPES.iter().copied())),
                "Only this kind of entity (default: all).",
            ),
            doc::format(),
        ]
    }
}

/// Site-wide daily series of one action.
#[utoipa::path(get, path = TRENDS, operation_id = "site_trend", params(TrendParams),
    security(("admin" = [])),
    responses((status = 200, description = "Labels (dates) and values (CSV: date, value).",
        content((SiteTrend = "application/json"), (String = "text/csv")))),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
pub async fn trends(
    _: Admin,
    req: HttpRequest,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let format = table::format(&req, &q)?;
    let domain = params::domain(&q, &state.rules)?;
    let days = params::int(&q, "days", 14, 1, 90)?;
    if ![7, 14, 30, 90].contains(&days) {
        return Err(ReadApiError::invalid(
            "days",
            "The days must be one of 7, 14, 30, 90.",
        ));
    }
    let action = params::action(&q)?;
    let entity_type = params::optional_entity_type(&q)?;
    let today = state.rules.bucket_mode(&domain).today(chrono::Utc::now());
    let from = today - chrono::Duration::days(days - 1);
    let labels = Period::Day
        .buckets_between(from, today, 90)
        .unwrap_or_default();
    let (first, last) = span(&labels);
    let found = state
        .rollups
        .site_daily(&domain, entity_type, &first, &last)
        .await
        .map_err(|e| state.store_error(e))?;
    let values: Vec<i64> = labels
        .iter()
        .map(|l| found.get(l).map_or(0, |c| c.get(action)))
        .collect();
    let rows: Vec<Vec<Value>> = labels
        .iter()
        .zip(&values)
        .map(|(date, n)| vec![json!(date), json!(n)])
        .collect();
    let total = values.iter().sum();
    let body = json!(SiteTrend {
        domain: domain.as_str().to_string(),
        days,
        action,
        entity_type,
        labels,
        values,
        total,
    });
    Ok(table::respond(
        format,
        body,
        "trends",
        &["date", "value"],
        |_| rows,
    ))
}
