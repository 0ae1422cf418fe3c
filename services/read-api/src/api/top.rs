//! The catalogue's top lists (from the boards, or over a range of days
//! from the day boards).

use actix_web::{web, HttpRequest, HttpResponse};
use analytics_domain::ranking::Measure;
use analytics_domain::rollup::Counts;
use analytics_domain::{Action, Domain, EntityType};
use analytics_store::rollups::leaderboard::BoardScope;
use analytics_store::rollups::Registers;
use serde::Serialize;
use serde_json::json;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

use super::parameters::{self as doc, choice, query};
use super::Routing;
use crate::api::words;
use crate::app::Titles;
use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, DayRange, Query};
use crate::range_top::{range_top, ranking_word};
use crate::table;
use crate::AppState;

pub const TOP: &str = "/api/v1/admin/analytics/top";

pub fn configure(cfg: &mut web::ServiceConfig, routes: &Routing) {
    cfg.service(routes.get(TOP).route(web::get().to(top)));
}

/// This area's operations in the service's OpenAPI document, listed beside
/// the route table that serves them.
#[derive(utoipa::OpenApi)]
#[openapi(paths(top))]
pub struct Api;

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
    pub(super) fn of(c: &Counts) -> Self {
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
    #[schema(schema_with = words::entity_type)]
    entity_type: EntityType,
    #[schema(schema_with = words::ranked_action)]
    action: Action,
    #[schema(schema_with = words::top_period)]
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
    /// Only for period=range.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = words::ranking)]
    ranking: Option<&'static str>,
    items: Vec<TopItem>,
}

/// The top route's parameters.
pub struct TopParams;

impl IntoParams for TopParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = vec![
            doc::domain(),
            query("entity_type", choice(words::ENTITY_TYPES), "Kind of entity."),
            doc::action(),
            query(
                "period",
                choice(words::TOP_PERIODS),
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
    let limit = params::limit(&q)?;
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
            limit,
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
        .top(&scope, Measure::Count(action), limit)
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
