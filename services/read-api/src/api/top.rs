//! The catalogue's top lists (from the boards, or over a range of days
//! from the day boards), one entity's series and the site's daily trend.

use actix_web::{web, HttpRequest, HttpResponse};
use analytics_domain::ranking::Measure;
use analytics_domain::rollup::Counts;
use analytics_domain::{Action, Domain, EntityType, Period};
use analytics_store::rollups::leaderboard::{BoardScope, LEADERBOARD_SIZE};
use analytics_store::rollups::Registers;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

use super::parameters::{self as doc, choice, query};
use super::Routing;
use crate::app::Titles;
use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, DayRange, Query};
use crate::range_top::{range_top, ranking_word};
use crate::table;
use crate::AppState;

pub const TOP: &str = "/api/v1/admin/analytics/top";
pub const ENTITY: &str = "/api/v1/admin/analytics/entities/{entity_type}/{entity_id}";
pub const TRENDS: &str = "/api/v1/admin/analytics/trends";

pub fn configure(cfg: &mut web::ServiceConfig, routes: &Routing) {
    cfg.service(routes.get(TOP).route(web::get().to(top)))
        .service(routes.get(ENTITY).route(web::get().to(entity)))
        .service(routes.get(TRENDS).route(web::get().to(trends)));
}

/// The v1 routes' counts: the v1 actions (the v2 measures have routes of
/// their own).
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct V1Counts {
    #[schema(minimum = 0)]
    view: i64,
    #[schema(minimum = 0)]
    download: i64,
}

impl V1Counts {
    fn of(c: &Counts) -> Self {
        V1Counts {
            view: c.get(Action::View),
            download: c.get(Action::Download),
        }
    }
}

/// A ranked entity with every v1 action's count.
#[derive(Serialize, ToSchema)]
pub struct TopItem {
    #[schema(minimum = 1)]
    rank: usize,
    entity_id: String,
    #[serde(flatten)]
    counts: V1Counts,
    /// Movies: the catalogue code (null when it has none; absent when the
    /// catalogue does not know the film).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    code: Option<Option<String>>,
    /// Movies: the catalogue title, as `code`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    title: Option<Option<String>>,
}

/// The top list of a period's board, or of a range of days.
#[derive(Serialize, ToSchema)]
pub struct TopList {
    domain: String,
    #[schema(value_type = String)]
    entity_type: EntityType,
    #[schema(value_type = String)]
    action: Action,
    /// day, week, month, year, all or range.
    period: String,
    /// The board's bucket (period day to year; null for all, absent for
    /// range).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    bucket: Option<Option<String>>,
    /// period=range: the range's first day.
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    /// period=range: the range's last day.
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    /// period=range: whether the threshold test proved the order exact
    /// (`exact`) or not (`approximate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    ranking: Option<&'static str>,
    items: Vec<TopItem>,
}

/// The top route's parameters.
pub struct TopParams;

impl IntoParams for TopParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = vec![
            doc::domain(),
            query("entity_type", choice(&["movie", "actor", "tag"]), "Kind of entity."),
            doc::action(),
            query(
                "period",
                choice(&["day", "week", "month", "year", "all", "range"]),
                "Rollup period; `range` ranks over days or from/to.",
            ),
            query(
                "bucket",
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::Type::String)
                    .pattern(Some("^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?|-W[0-9]{2})?$")),
                "A label of the period's kind (2026-11-21, 2026-W47, 2026-11 or 2026; not with period all or range); default: the current one in the domain's zone.",
            ),
            doc::limit(),
            doc::format(),
        ];
        params.extend(doc::range("from", "to", 7));
        params
    }
}

/// The first and last labels of a series (the query's inclusive range).
fn span(labels: &[String]) -> (String, String) {
    (
        labels.first().cloned().unwrap_or_default(),
        labels.last().cloned().unwrap_or_default(),
    )
}

const TOP_COLUMNS: &[&str] = &["rank", "entity_id", "code", "title", "view", "download"];

/// Top entities by an action in a day, ISO week, month, year, all time, or
/// a range of local days (period=range: the items' counts are the
/// range's, with `from`, `to` and `ranking`).
#[utoipa::path(get, path = TOP, operation_id = "top", params(TopParams),
    security(("admin" = [])),
    responses((status = 200,
        description = "Ranked items with every action's count (movies carry code and title).",
        content((TopList = "application/json"), (String = "text/csv")))),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
pub async fn top(
    _: Admin,
    req: HttpRequest,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let format = table::format(&req, &q)?;
    let domain = params::domain(&q, &state.rules)?;
    let entity_type = params::entity_type(q.get("entity_type").map(String::as_str))?;
    let action = params::action(&q)?;
    let limit = params::int(&q, "limit", 10, 1, LEADERBOARD_SIZE as i64)?;
    let today = state.rules.bucket_mode(&domain).today(chrono::Utc::now());
    if q.get("period").map(String::as_str) == Some(RANGE_PERIOD) {
        if q.contains_key("bucket") {
            return Err(ReadApiError::invalid(
                "bucket",
                "The bucket applies to period day, week, month or year, not range.",
            ));
        }
        let range = params::day_range(&q, ("from", "to"), today, 7)?;
        let top = Top {
            domain,
            entity_type,
            action,
            limit: usize::try_from(limit).unwrap_or(LEADERBOARD_SIZE),
        };
        let body = json!(top.over_range(&state, range).await?);
        return Ok(table::respond(format, body, "top", TOP_COLUMNS, |b| {
            table::rows_at(b, "/items", TOP_COLUMNS)
        }));
    }
    for name in ["days", "from", "to"] {
        if q.contains_key(name) {
            return Err(ReadApiError::invalid(
                name,
                format!("{name} applies to period={RANGE_PERIOD} only."),
            ));
        }
    }
    let period = params::period(&q, "period", "day", true)?;
    let bucket = match period {
        Some(p) => Some(params::bucket(&q, p, today)?),
        None if q.contains_key("bucket") => {
            return Err(ReadApiError::invalid(
                "bucket",
                "The bucket applies to period day, week, month or year, not all.",
            ))
        }
        None => None,
    };

    let scope = BoardScope::new(&domain, entity_type, period.zip(bucket.as_deref()));
    let rows = state
        .rollups
        .leaderboards()
        .top(
            &scope,
            Measure::Count(action),
            usize::try_from(limit).unwrap_or(LEADERBOARD_SIZE),
        )
        .await
        .map_err(|e| state.store_error(e))?;
    let items = top_items(&state, &domain, entity_type, &rows).await?;
    let body = json!(TopList {
        domain: domain.as_str().to_string(),
        entity_type,
        action,
        period: period.map_or("all".to_string(), |p| format!("{p:?}").to_lowercase()),
        bucket: Some(bucket),
        from: None,
        to: None,
        ranking: None,
        items,
    });
    Ok(table::respond(format, body, "top", TOP_COLUMNS, |b| {
        table::rows_at(b, "/items", TOP_COLUMNS)
    }))
}

/// `period=range`: the top of a range of local days (`days`, or `from`/`to`),
/// read from the day boards like the range reports.
const RANGE_PERIOD: &str = "range";

/// Ranked rows as the `top` route lists them, movies with their catalogue
/// code and title.
async fn top_items(
    state: &AppState,
    domain: &Domain,
    entity_type: EntityType,
    rows: &[(String, Counts)],
) -> Result<Vec<TopItem>, ReadApiError> {
    let titles = if entity_type == EntityType::Movie {
        let ids: Vec<String> = rows.iter().map(|(id, _)| id.clone()).collect();
        state.movie_titles(domain, &ids).await?
    } else {
        Titles::new()
    };
    Ok(rows
        .iter()
        .enumerate()
        .map(|(i, (id, counts))| {
            let known = titles.get(id);
            TopItem {
                rank: i + 1,
                entity_id: id.clone(),
                counts: V1Counts::of(counts),
                code: known.map(|(code, _)| code.clone()),
                title: known.map(|(_, title)| title.clone()),
            }
        })
        .collect())
}

/// What a `top` request ranks.
struct Top {
    domain: Domain,
    entity_type: EntityType,
    action: Action,
    limit: usize,
}

impl Top {
    /// The top over `range`: ranked by the action's count in the range,
    /// each item with both actions' counts in it.
    async fn over_range(&self, state: &AppState, range: DayRange) -> Result<TopList, ReadApiError> {
        let ranked = range_top(
            state,
            &self.domain,
            self.entity_type,
            Measure::Count(self.action),
            range,
            self.limit,
        )
        .await?;
        let ids: Vec<String> = ranked.items.iter().map(|(id, _)| id.clone()).collect();
        let mut figures = state
            .range_figures(&self.domain, self.entity_type, &ids, range, Registers::Skip)
            .await?;
        let rows: Vec<(String, Counts)> = ids
            .into_iter()
            .map(|id| {
                let counts = figures.remove(&id).unwrap_or_default().counts;
                (id, counts)
            })
            .collect();
        let items = top_items(state, &self.domain, self.entity_type, &rows).await?;
        Ok(TopList {
            domain: self.domain.as_str().to_string(),
            entity_type: self.entity_type,
            action: self.action,
            period: RANGE_PERIOD.to_string(),
            bucket: None,
            from: Some(range.first()),
            to: Some(range.last()),
            ranking: Some(ranking_word(ranked.exact)),
            items,
        })
    }
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
    #[schema(value_type = String)]
    entity_type: EntityType,
    entity_id: String,
    totals: V1Counts,
    /// day, week, month or year.
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
                choice(&["day", "week", "month", "year"]),
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
    #[schema(value_type = String)]
    action: Action,
    /// Only this kind of entity (null: all).
    #[schema(value_type = Option<String>)]
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
            query("action", choice(&["view", "download"]), "Counted action."),
            query(
                "entity_type",
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::Type::String)
                    .enum_values(Some(["movie", "actor", "tag"])),
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
