//! `GET /api/v1/telemetry/jobs/summary`: the legacy telemetry page's payload
//! (the shape the existing operator page reads) from the store's aggregations.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use analytics_domain::job_summary::SummaryQuery;
use analytics_store::job_summary::summary_body;
use chrono::Utc;

use crate::auth::Operator;
use crate::error::TelemetryError;
use crate::AppState;

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
