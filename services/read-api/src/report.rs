//! What every range report shares: its parameters (format, domain, range
//! of local days), its cache key, the fields its body starts with, and how
//! it is served (computed once per key, answered as JSON or CSV).

use std::future::Future;

use actix_web::{web, HttpRequest, HttpResponse};
use analytics_domain::Domain;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::ReadApiError;
use crate::params::{self, DayRange, Query};
use crate::table;
use crate::AppState;

/// The table a report's CSV is: the array at `rows_at`, these columns.
pub struct Listing {
    /// The CSV attachment's name (without `.csv`).
    pub name: &'static str,
    pub rows_at: &'static str,
    pub columns: &'static [&'static str],
}

/// The fields every range report's body starts with.
#[derive(Serialize, ToSchema)]
pub struct ReportHead {
    domain: String,
    /// Local days in the range.
    #[schema(minimum = 1, maximum = 366)]
    period_days: i64,
    /// The range's first local day.
    from: String,
    /// The range's last local day.
    to: String,
}

#[derive(Clone)]
pub struct Report {
    pub format: table::Format,
    pub domain: Domain,
    pub range: DayRange,
}

impl Report {
    /// `domain`, `format` and the range (`days`, default `default_days`,
    /// or `from`/`to`), each refused with a 422 naming it.
    pub fn of(
        req: &HttpRequest,
        q: &Query,
        state: &AppState,
        default_days: i64,
    ) -> Result<Self, ReadApiError> {
        let domain = params::domain(q, &state.rules)?;
        Ok(Report {
            format: table::format(req, q)?,
            range: params::day_range(q, ("from", "to"), state.today(&domain), default_days)?,
            domain,
        })
    }

    /// [`Report::of`] for a report read from the raw event log: a range
    /// older than the log keeps is refused with a 422 that says so.
    pub fn of_raw_log(
        req: &HttpRequest,
        q: &Query,
        state: &AppState,
        default_days: i64,
    ) -> Result<Self, ReadApiError> {
        let report = Report::of(req, q, state, default_days)?;
        let today = state.today(&report.domain);
        params::within_raw_log(q, &report.range, "from", today, state.raw_log_days)?;
        Ok(report)
    }

    /// The fields every report body starts with.
    pub fn head(&self) -> ReportHead {
        ReportHead {
            domain: self.domain.as_str().to_string(),
            period_days: self.range.days(),
            from: self.range.first(),
            to: self.range.last(),
        }
    }

    /// The body `compute` makes from the state and this report (once per
    /// report, range and `variant` while the cache keeps it; it may run
    /// after this request is answered, so it owns what it reads), as JSON
    /// or as the listing's CSV.
    pub async fn serve<F, Fut>(
        &self,
        state: &web::Data<AppState>,
        listing: &Listing,
        variant: &str,
        compute: F,
    ) -> Result<HttpResponse, ReadApiError>
    where
        F: FnOnce(web::Data<AppState>, Report) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Value, ReadApiError>> + Send + 'static,
    {
        let key = format!(
            "{}|{}|{}|{}|{variant}",
            listing.name,
            self.domain.as_str(),
            self.range.first(),
            self.range.last()
        );
        let (owned_state, report) = (state.clone(), self.clone());
        let mut cached = state
            .reports
            .get_or_compute(key, move || compute(owned_state, report))
            .await?;
        let mut response = table::respond(
            self.format,
            std::mem::take(&mut cached.body),
            listing.name,
            listing.columns,
            |b| table::rows_at(b, listing.rows_at, listing.columns),
        );
        cached.stamp(&mut response);
        Ok(response)
    }
}
