//! `report summary`: the catalogue snapshot, provider shares, the xcity.jp
//! crawler's coverage, the top lists and the job telemetry of a recent
//! window in one report, as JSON (`--json`, the keys the legacy report
//! command printed) or as text for a terminal.

use analytics_domain::job_summary::SummaryQuery;
use analytics_domain::snapshot::{provider_breakdown, Snapshot, SnapshotClock};
use analytics_domain::viewing::round_to;
use analytics_domain::BucketMode;
use analytics_store::job_summary::summary_body;
use chrono::Utc;
use serde_json::{json, Value};

use crate::stores::Stores;

#[derive(Debug, Clone, clap::Args)]
pub struct SummaryOptions {
    /// Days of the snapshot, 1..365.
    #[arg(long, default_value_t = 14)]
    pub days: i64,
    /// Entries per top list, 1..100.
    #[arg(long, default_value_t = 10)]
    pub limit: i64,
    /// Minutes of job telemetry, 5..1440.
    #[arg(long, default_value_t = 60)]
    pub telemetry_window: i64,
    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

impl SummaryOptions {
    /// Each bad option's message (the command exits 2 on any).
    pub fn problems(&self) -> Vec<String> {
        [
            ("--days", self.days, 1, 365),
            ("--limit", self.limit, 1, 100),
            ("--telemetry-window", self.telemetry_window, 5, 1440),
        ]
        .into_iter()
        .filter(|(_, v, min, max)| !(*min..=*max).contains(v))
        .map(|(name, v, min, max)| format!("{name} must be between {min} and {max} (got {v})."))
        .collect()
    }
}

/// Builds the report; prints it; exit code 0 (a store failure is an error,
/// exit 1, except telemetry's, which the report shows as unavailable).
pub async fn run(stores: &Stores, mode: &BucketMode, opts: &SummaryOptions) -> anyhow::Result<u8> {
    let now = Utc::now();
    let days = usize::try_from(opts.days).unwrap_or(1);
    let clock = SnapshotClock::at(mode, now, days);
    let today_start = clock.day_starts.get(days - 1).copied().unwrap_or_default();
    let facts = stores
        .step(
            "mariadb",
            stores
                .catalogue
                .snapshot_facts(&clock.day_starts, now.timestamp(), opts.limit),
        )
        .await?;
    let xcity = stores
        .step("mariadb", stores.catalogue.xcity_coverage(today_start))
        .await?;
    let generated_at = clock.generated_at.clone();
    let snapshot = Snapshot::build(clock, facts);
    let telemetry = telemetry(stores, opts.telemetry_window).await;
    let coverage = if xcity.actors_total > 0 {
        round_to(
            xcity.with_xcity_id as f64 * 100.0 / xcity.actors_total as f64,
            2,
        )
    } else {
        0.0
    };
    let mut xcity_json = json!(xcity);
    xcity_json["xcity_id_coverage_percent"] = json!(coverage);
    let report = json!({
        "generated_at": generated_at,
        "days": opts.days,
        "snapshot_generated_at": snapshot.generated_at,
        "timezone": snapshot.timezone,
        "totals": snapshot.totals,
        "todayCreated": snapshot.today_created,
        "provider_breakdown": provider_breakdown(&snapshot.provider_stats, snapshot.totals.jav),
        "provider_stats": snapshot.provider_stats,
        "quality": snapshot.quality,
        "syncHealth": snapshot.sync_health,
        "xcity": xcity_json,
        "dailyCreated": snapshot.daily_created,
        "dailyEngagement": snapshot.daily_engagement,
        "topViewed": snapshot.top_viewed,
        "topDownloaded": snapshot.top_downloaded,
        "topRated": snapshot.top_rated,
        "telemetry": telemetry,
    });
    if opts.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", text(&report));
    }
    Ok(0)
}

/// The job telemetry summary of the last `minutes`, or why it is missing.
async fn telemetry(stores: &Stores, minutes: i64) -> Value {
    let query = SummaryQuery {
        window_minutes: u32::try_from(minutes).unwrap_or(60),
        site: None,
        job_name: None,
        limit: 10,
    };
    let now = Utc::now();
    match stores
        .step("mongodb", stores.jobs.summary(&query, now))
        .await
    {
        Ok(data) => json!(summary_body(&query, now, &data)),
        Err(e) => json!({"unavailable": true, "error": e.to_string()}),
    }
}

/// The report for a terminal: the figures an operator looks for first.
fn text(r: &Value) -> String {
    let n = |v: &Value| v.as_i64().unwrap_or(0);
    let mut out = format!(
        "Analytics report, last {} days ({} {})\n",
        r["days"],
        r["generated_at"].as_str().unwrap_or_default(),
        r["timezone"].as_str().unwrap_or_default()
    );
    let (t, today) = (&r["totals"], &r["todayCreated"]);
    out += &format!(
        "Catalogue: {} movies (+{} today), {} actors (+{}), {} tags (+{})\n",
        n(&t["jav"]),
        n(&today["jav"]),
        n(&t["actors"]),
        n(&today["actors"]),
        n(&t["tags"]),
        n(&today["tags"])
    );
    out += "Providers (total / today / window / share):\n";
    for p in r["provider_breakdown"].as_array().into_iter().flatten() {
        out += &format!(
            "  {:<12} {:>8} {:>6} {:>7} {:>6.2}%\n",
            p["source"].as_str().unwrap_or_default(),
            n(&p["total_count"]),
            n(&p["today_count"]),
            n(&p["window_count"]),
            p["share_percent"].as_f64().unwrap_or(0.0)
        );
    }
    let q = &r["quality"];
    out += &format!(
        "Quality: {} without actors, {} without tags, {} without image, {} without date; {} actors and {} tags unused\n",
        n(&q["missing_actors"]),
        n(&q["missing_tags"]),
        n(&q["missing_image"]),
        n(&q["missing_date"]),
        n(&q["orphan_actors"]),
        n(&q["orphan_tags"])
    );
    out += &format!(
        "Sync queue: {} pending, {} failed in 24 h\n",
        n(&r["syncHealth"]["pending_jobs"]),
        n(&r["syncHealth"]["failed_jobs_24h"])
    );
    out += "Top viewed:\n";
    for m in r["topViewed"].as_array().into_iter().flatten() {
        out += &format!(
            "  {:<14} {:>9} views {:>7} downloads\n",
            m["code"]
                .as_str()
                .or(m["uuid"].as_str())
                .unwrap_or_default(),
            n(&m["views"]),
            n(&m["downloads"])
        );
    }
    let tel = &r["telemetry"];
    if tel["unavailable"] == true {
        out += &format!(
            "Job telemetry unavailable: {}\n",
            tel["error"].as_str().unwrap_or_default()
        );
    } else {
        let o = &tel["overview"];
        out += &format!(
            "Jobs (last {} min): {} ended, {} failed ({}%), p95 {} ms\n",
            tel["filters"]["window_minutes"],
            n(&o["total_completed"]),
            n(&o["failed"]),
            o["fail_rate"],
            o["p95_ms"]
        );
    }
    out
}
