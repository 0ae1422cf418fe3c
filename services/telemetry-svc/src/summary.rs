//! `GET /api/v1/telemetry/jobs/summary`: the legacy telemetry page's payload
//! (the shape the existing operator page reads) from the store's aggregations.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use analytics_domain::job_summary::SummaryQuery;
use analytics_store::job_summary::{summary_body, JobSummary};
use chrono::Utc;

use crate::auth::Operator;
use crate::error::TelemetryError;
use crate::AppState;

pub const SUMMARY: &str = "/api/v1/telemetry/jobs/summary";

/// The job telemetry summary of a window.
#[utoipa::path(get, path = SUMMARY, params(SummaryQuery), security(("operator" = [])),
    responses((status = 200, description = "The summary.", body = JobSummary)),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
pub async fn summary(
    _: Operator,
    params: web::Query<HashMap<String, String>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, TelemetryError> {
    let query = SummaryQuery::parse(&params).map_err(TelemetryError::Validation)?;
    let now = Utc::now();
    let data = state
        .events
        .summary(&query, now)
        .await
        .map_err(|e| state.store_error(e))?;
    Ok(HttpResponse::Ok().json(summary_body(&query, now, &data)))
}
