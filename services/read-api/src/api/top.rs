//! The catalogue's top lists (from the boards, or over a range of days
//! from the day boards), one entity's series and the site's daily trend.

use actix_web::{web, HttpRequest, HttpResponse};
use analytics_domain::ranking::Measure;
use analytics_domain::rollup::Counts;
use analytics_domain::{Action, Domain, EntityType, Period};
use analytics_store::rollups::leaderboard::{BoardScope, LEADERBOARD_SIZE};
use analytics_store::rollups::Registers;
use serde_json::{json, Map, Value};

use super::Routing;
use crate::app::Titles;
use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, DayRange, Query};
use crate::range_top::{range_top, ranking_word};
use crate::table;
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig, routes: &Routing) {
    cfg.service(
        routes
            .get("/api/v1/admin/analytics/top")
            .route(web::get().to(top)),
    )
    .service(
        routes
            .get("/api/v1/admin/analytics/entities/{entity_type}/{entity_id}")
            .route(web::get().to(entity)),
    )
    .service(
        routes
            .get("/api/v1/admin/analytics/trends")
            .route(web::get().to(trends)),
    );
}

/// The v1 routes' counts: the v1 actions (the v2 measures have routes of
/// their own).
fn counts_json(c: &Counts) -> Map<String, Value> {
    Action::V1
        .iter()
        .map(|a| (a.as_str().to_string(), json!(c.get(*a))))
        .collect()
}

/// The first and last labels of a series (the query's inclusive range).
fn span(labels: &[String]) -> (String, String) {
    (
        labels.first().cloned().unwrap_or_default(),
        labels.last().cloned().unwrap_or_default(),
    )
}

const TOP_COLUMNS: &[&str] = &["rank", "entity_id", "code", "title", "view", "download"];

/// GET /api/v1/admin/analytics/top
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
        let body = top.over_range(&state, range).await?;
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
    let body = json!({
        "domain": domain.as_str(),
        "entity_type": entity_type,
        "action": action,
        "period": period.map_or("all".to_string(), |p| format!("{p:?}").to_lowercase()),
        "bucket": bucket,
        "items": items,
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
) -> Result<Vec<Value>, ReadApiError> {
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
            let mut item = Map::new();
            item.insert("rank".into(), json!(i + 1));
            item.insert("entity_id".into(), json!(id));
            item.extend(counts_json(counts));
            if let Some((code, title)) = titles.get(id) {
                item.insert("code".into(), json!(code));
                item.insert("title".into(), json!(title));
            }
            Value::Object(item)
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
    async fn over_range(&self, state: &AppState, range: DayRange) -> Result<Value, ReadApiError> {
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
        Ok(json!({
            "domain": self.domain.as_str(),
            "entity_type": self.entity_type,
            "action": self.action,
            "period": RANGE_PERIOD,
            "from": range.first(),
            "to": range.last(),
            "ranking": ranking_word(ranked.exact),
            "items": items,
        }))
    }
}

const SERIES_COLUMNS: &[&str] = &["bucket", "view", "download"];

/// GET /api/v1/admin/analytics/entities/{entity_type}/{entity_id}
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
    let series: Vec<Value> = labels
        .iter()
        .map(|label| {
            let mut point = Map::new();
            point.insert("bucket".into(), json!(label));
            point.extend(counts_json(&found.get(label).cloned().unwrap_or_default()));
            Value::Object(point)
        })
        .collect();
    let body = json!({
        "domain": entity.domain.as_str(),
        "entity_type": entity.entity_type,
        "entity_id": entity.entity_id,
        "totals": counts_json(&totals),
        "granularity": format!("{granularity:?}").to_lowercase(),
        "from": from.format("%Y-%m-%d").to_string(),
        "to": to.format("%Y-%m-%d").to_string(),
        "series": series,
    });
    Ok(table::respond(
        format,
        body,
        "series",
        SERIES_COLUMNS,
        |b| table::rows_at(b, "/series", SERIES_COLUMNS),
    ))
}

/// GET /api/v1/admin/analytics/trends
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
    let body = json!({
        "domain": domain.as_str(),
        "days": days,
        "action": action,
        "entity_type": entity_type,
        "labels": labels,
        "values": values,
        "total": values.iter().sum::<i64>(),
    });
    Ok(table::respond(
        format,
        body,
        "trends",
        &["date", "value"],
        |_| rows,
    ))
}
