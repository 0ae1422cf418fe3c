//! The admin analytics snapshot: what the catalogue grew by, per day and per
//! provider, how it is used, its top lists, its data quality and the sync
//! queue's health — under the key names the admin page has always read.
//! The store gathers [`SnapshotFacts`]; everything derived from them (days,
//! series, shares, rounding) is decided here.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::viewing::round_to;
use crate::BucketMode;

/// The periods the snapshot offers (days, ending today).
pub const SNAPSHOT_DAYS: [i64; 4] = [7, 14, 30, 90];
pub const DEFAULT_SNAPSHOT_DAYS: i64 = 14;
/// Entries of each of the snapshot's top lists (reports may ask for more).
pub const TOP_LIST_SIZE: i64 = 10;

/// The local days a snapshot covers, oldest first, ending today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotWindow {
    pub first: NaiveDate,
    pub days: usize,
}

impl SnapshotWindow {
    pub fn ending(today: NaiveDate, days: usize) -> Self {
        let back = i64::try_from(days.max(1)).unwrap_or(1) - 1;
        SnapshotWindow {
            first: today - Duration::days(back),
            days: days.max(1),
        }
    }

    /// Every date of the window, then the day after it (the end bound).
    pub fn bounds(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        (0..=self.days).filter_map(|i| {
            i64::try_from(i)
                .ok()
                .map(|i| self.first + Duration::days(i))
        })
    }

    pub fn labels(&self) -> Vec<String> {
        self.bounds()
            .take(self.days)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .collect()
    }
}

/// When a snapshot is taken: its window of local days, the first instant
/// (epoch seconds) of each day and of the day after, and its time stamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotClock {
    pub window: SnapshotWindow,
    pub day_starts: Vec<i64>,
    pub generated_at: String,
    pub timezone: String,
}

impl SnapshotClock {
    /// Days counted in the catalogue domain's zone (UTC when it buckets
    /// by each event's own offset: catalogue rows carry none).
    pub fn at(mode: &BucketMode, now: DateTime<Utc>, days: usize) -> Self {
        let window = SnapshotWindow::ending(mode.today(now), days);
        let (local_now, timezone) = match mode {
            BucketMode::Zone(tz) => (now.with_timezone(tz).naive_local(), tz.name()),
            BucketMode::EventOffset => (now.naive_utc(), "UTC"),
        };
        SnapshotClock {
            day_starts: window
                .bounds()
                .map(|d| mode.day_start(d).timestamp())
                .collect(),
            window,
            generated_at: local_now.format("%Y-%m-%d %H:%M:%S").to_string(),
            timezone: timezone.to_string(),
        }
    }
}

/// Rows created per window day: `(day index from 0, count)`.
pub type DayCounts = Vec<(usize, i64)>;

/// A provider's name as the snapshot shows it: empty or NULL is `unknown`.
pub fn provider_name(source: Option<&str>) -> String {
    match source.map(str::trim) {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => "unknown".to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopMovie {
    pub uuid: String,
    pub code: Option<String>,
    pub title: Option<String>,
    pub views: i64,
    pub downloads: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RatedMovie {
    pub uuid: String,
    pub code: Option<String>,
    pub title: Option<String>,
    pub ratings_avg_rating: f64,
    pub ratings_count: i64,
}

/// What the store reads; a table that does not exist reads as empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotFacts {
    /// Every movie per raw `source` value (all time).
    pub movies_by_source: Vec<(Option<String>, i64)>,
    /// Movies created per raw `source` and window day.
    pub movies_created: Vec<(Option<String>, usize, i64)>,
    pub actors_total: i64,
    pub actors_created: DayCounts,
    pub tags_total: i64,
    pub tags_created: DayCounts,
    pub favorites: DayCounts,
    pub watchlists: DayCounts,
    pub ratings: DayCounts,
    pub history: DayCounts,
    pub top_viewed: Vec<TopMovie>,
    pub top_downloaded: Vec<TopMovie>,
    pub figures: CatalogueFigures,
    /// When the refresh kept `figures` (none: computed for this snapshot).
    pub figures_refreshed_at: Option<String>,
    pub pending_jobs: i64,
    pub failed_jobs_24h: i64,
}

/// Figures that take a pass over every movie, actor, tag or rating: kept by
/// the catalogue refresh, or computed when it has not run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct CatalogueFigures {
    pub movies_without_actors: i64,
    pub movies_without_tags: i64,
    pub movies_without_image: i64,
    pub movies_without_date: i64,
    pub actors_without_movies: i64,
    pub tags_without_movies: i64,
    pub actor_links: i64,
    pub tag_links: i64,
    /// Best average first (at least one rating), more ratings first among
    /// equal averages.
    pub top_rated: Vec<RatedMovie>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CatalogueCounts {
    pub jav: i64,
    pub actors: i64,
    pub tags: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DailySeries {
    pub labels: Vec<String>,
    pub values: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DailyCreated {
    pub jav: DailySeries,
    pub actors: DailySeries,
    pub tags: DailySeries,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderDaily {
    pub labels: Vec<String>,
    /// Provider → movies per day, providers in alphabetical order.
    pub series: BTreeMap<String, Vec<i64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DailyEngagement {
    pub favorites: DailySeries,
    pub watchlists: DailySeries,
    pub ratings: DailySeries,
    pub history: DailySeries,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderStat {
    pub source: String,
    pub total_count: i64,
    pub today_count: i64,
    pub window_count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Quality {
    pub missing_actors: i64,
    pub missing_tags: i64,
    pub missing_image: i64,
    pub missing_date: i64,
    pub orphan_actors: i64,
    pub orphan_tags: i64,
    pub avg_actors_per_jav: f64,
    pub avg_tags_per_jav: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncHealth {
    pub pending_jobs: i64,
    pub failed_jobs_24h: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    #[cfg_attr(feature = "openapi", schema(schema_with = snapshot_days))]
    pub days: usize,
    /// Local time of the zone the days are counted in (`YYYY-MM-DD HH:MM:SS`).
    #[serde(rename = "generated_at")]
    pub generated_at: String,
    pub timezone: String,
    /// When the quality figures and the best rated were last refreshed
    /// (none: computed for this snapshot).
    #[serde(rename = "stats_refreshed_at")]
    pub stats_refreshed_at: Option<String>,
    pub totals: CatalogueCounts,
    pub today_created: CatalogueCounts,
    pub daily_created: DailyCreated,
    pub provider_daily_created: ProviderDaily,
    pub daily_engagement: DailyEngagement,
    pub provider_stats: Vec<ProviderStat>,
    // TOP_LIST_SIZE each (the derive takes a literal; read-api's document
    // test holds the two together).
    #[cfg_attr(feature = "openapi", schema(max_items = 10))]
    pub top_viewed: Vec<TopMovie>,
    #[cfg_attr(feature = "openapi", schema(max_items = 10))]
    pub top_downloaded: Vec<TopMovie>,
    #[cfg_attr(feature = "openapi", schema(max_items = 10))]
    pub top_rated: Vec<RatedMovie>,
    pub quality: Quality,
    pub sync_health: SyncHealth,
}

/// The windows a snapshot is asked for.
#[cfg(feature = "openapi")]
fn snapshot_days() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::Integer)
        .enum_values(Some(SNAPSHOT_DAYS))
        .description(Some("The window's days, ending today."))
        .build()
}

impl Snapshot {
    // One function on purpose: it is the snapshot's shape, field by field.
    pub fn build(clock: SnapshotClock, facts: SnapshotFacts) -> Snapshot {
        let SnapshotClock {
            window,
            generated_at,
            timezone,
            ..
        } = clock;
        let labels = window.labels();
        let series = |counts: &DayCounts| DailySeries {
            labels: labels.clone(),
            values: per_day(window.days, counts.iter().copied()),
        };
        let mut by_provider: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for (source, day, n) in &facts.movies_created {
            let values = by_provider
                .entry(provider_name(source.as_deref()))
                .or_insert_with(|| vec![0; window.days]);
            if let Some(v) = values.get_mut(*day) {
                *v += n;
            }
        }
        let movies_daily = DailySeries {
            labels: labels.clone(),
            values: (0..window.days)
                .map(|d| by_provider.values().map(|v| v[d]).sum())
                .collect(),
        };
        let daily_created = DailyCreated {
            jav: movies_daily,
            actors: series(&facts.actors_created),
            tags: series(&facts.tags_created),
        };
        let movies_total: i64 = facts.movies_by_source.iter().map(|(_, n)| n).sum();
        let totals = CatalogueCounts {
            jav: movies_total,
            actors: facts.actors_total,
            tags: facts.tags_total,
        };
        let today_created = CatalogueCounts {
            jav: last(&daily_created.jav),
            actors: last(&daily_created.actors),
            tags: last(&daily_created.tags),
        };
        let provider_stats = provider_stats(&facts.movies_by_source, &by_provider);
        let f = facts.figures;
        let quality = Quality {
            missing_actors: f.movies_without_actors,
            missing_tags: f.movies_without_tags,
            missing_image: f.movies_without_image,
            missing_date: f.movies_without_date,
            orphan_actors: f.actors_without_movies,
            orphan_tags: f.tags_without_movies,
            avg_actors_per_jav: per_movie(f.actor_links, movies_total),
            avg_tags_per_jav: per_movie(f.tag_links, movies_total),
        };
        Snapshot {
            days: window.days,
            generated_at,
            timezone,
            stats_refreshed_at: facts.figures_refreshed_at,
            totals,
            today_created,
            daily_engagement: DailyEngagement {
                favorites: series(&facts.favorites),
                watchlists: series(&facts.watchlists),
                ratings: series(&facts.ratings),
                history: series(&facts.history),
            },
            daily_created,
            provider_daily_created: ProviderDaily {
                labels,
                series: by_provider,
            },
            provider_stats,
            top_viewed: facts.top_viewed,
            top_downloaded: facts.top_downloaded,
            top_rated: f.top_rated,
            quality,
            sync_health: SyncHealth {
                pending_jobs: facts.pending_jobs,
                failed_jobs_24h: facts.failed_jobs_24h,
            },
        }
    }
}

/// Counts laid on the window's days (indexes past the window are ignored).
fn per_day(days: usize, counts: impl Iterator<Item = (usize, i64)>) -> Vec<i64> {
    let mut values = vec![0; days];
    for (day, n) in counts {
        if let Some(v) = values.get_mut(day) {
            *v += n;
        }
    }
    values
}

fn last(series: &DailySeries) -> i64 {
    series.values.last().copied().unwrap_or(0)
}

/// Links per movie, 2 decimals (0 without movies).
fn per_movie(links: i64, movies: i64) -> f64 {
    if movies <= 0 {
        return 0.0;
    }
    round_to(links as f64 / movies as f64, 2)
}

/// The crawled providers a report always lists first, in this order.
pub const FIXED_PROVIDERS: [&str; 4] = ["onejav", "141jav", "ffjav", "missav"];

/// A provider's movies and its share of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderShare {
    pub source: String,
    pub total_count: i64,
    pub today_count: i64,
    pub window_count: i64,
    /// Of all movies, in percent, 2 decimals.
    pub share_percent: f64,
}

/// The fixed providers (zeros when they have no movie), then every other
/// provider as [`Snapshot::provider_stats`] orders them (most movies first).
pub fn provider_breakdown(stats: &[ProviderStat], movies: i64) -> Vec<ProviderShare> {
    let share = |p: &ProviderStat| ProviderShare {
        source: p.source.clone(),
        total_count: p.total_count,
        today_count: p.today_count,
        window_count: p.window_count,
        share_percent: if movies > 0 {
            round_to(p.total_count as f64 * 100.0 / movies as f64, 2)
        } else {
            0.0
        },
    };
    let fixed = FIXED_PROVIDERS.iter().map(|name| {
        stats.iter().find(|p| p.source == *name).map_or_else(
            || ProviderShare {
                source: (*name).to_string(),
                total_count: 0,
                today_count: 0,
                window_count: 0,
                share_percent: 0.0,
            },
            share,
        )
    });
    let others = stats
        .iter()
        .filter(|p| !FIXED_PROVIDERS.contains(&p.source.as_str()))
        .map(share);
    fixed.chain(others).collect()
}

/// Every provider with its all-time, today's and the window's movies, most
/// movies first (ties by name, so the order is stable).
fn provider_stats(
    all_time: &[(Option<String>, i64)],
    daily: &BTreeMap<String, Vec<i64>>,
) -> Vec<ProviderStat> {
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    for (source, n) in all_time {
        *totals.entry(provider_name(source.as_deref())).or_default() += n;
    }
    let mut stats: Vec<ProviderStat> = totals
        .into_iter()
        .map(|(source, total_count)| {
            let days = daily.get(&source);
            ProviderStat {
                total_count,
                today_count: days.and_then(|d| d.last().copied()).unwrap_or(0),
                window_count: days.map(|d| d.iter().sum()).unwrap_or(0),
                source,
            }
        })
        .collect();
    stats.sort_by(|a, b| {
        b.total_count
            .cmp(&a.total_count)
            .then_with(|| a.source.cmp(&b.source))
    });
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn clock(now: &str, days: usize) -> SnapshotClock {
        let now = DateTime::parse_from_rfc3339(now).unwrap_or_default();
        SnapshotClock::at(&BucketMode::default(), now.with_timezone(&Utc), days)
    }

    #[test]
    fn a_zones_snapshot_counts_its_local_days_and_stamps_its_local_time() {
        let tokyo: BucketMode = "Asia/Tokyo".parse().unwrap_or_default();
        let now = DateTime::parse_from_rfc3339("2026-11-25T16:30:00Z").unwrap_or_default();
        let c = SnapshotClock::at(&tokyo, now.with_timezone(&Utc), 2);
        assert_eq!(c.window.labels(), ["2026-11-25", "2026-11-26"]);
        // 2026-11-25T00:00+09:00, 11-26, 11-27.
        assert_eq!(c.day_starts, [1_795_532_400, 1_795_618_800, 1_795_705_200]);
        assert_eq!(c.generated_at, "2026-11-26 01:30:00");
        assert_eq!(c.timezone, "Asia/Tokyo");
    }

    #[test]
    fn the_window_ends_today_and_crosses_a_year_end() {
        let w = SnapshotWindow::ending(date("2027-01-02"), 7);
        assert_eq!(w.first, date("2026-12-27"));
        assert_eq!(
            w.labels(),
            [
                "2026-12-27",
                "2026-12-28",
                "2026-12-29",
                "2026-12-30",
                "2026-12-31",
                "2027-01-01",
                "2027-01-02"
            ]
        );
        assert_eq!(w.bounds().last(), Some(date("2027-01-03")));
    }

    #[test]
    fn providers_merge_blank_sources_and_rank_by_total() {
        let facts = SnapshotFacts {
            movies_by_source: vec![
                (None, 2),
                (Some(String::new()), 1),
                (Some("onejav".into()), 3),
                (Some("141jav".into()), 3),
            ],
            movies_created: vec![
                (Some("onejav".into()), 0, 1),
                (Some("onejav".into()), 2, 2),
                (None, 2, 1),
                (Some(" ".into()), 1, 1),
            ],
            figures: CatalogueFigures {
                actor_links: 10,
                tag_links: 2,
                ..CatalogueFigures::default()
            },
            ..SnapshotFacts::default()
        };
        let s = Snapshot::build(clock("2026-11-26T10:00:00Z", 3), facts);
        assert_eq!(s.totals.jav, 9);
        assert_eq!(s.daily_created.jav.values, [1, 1, 3]);
        assert_eq!(s.today_created.jav, 3);
        let series: Vec<(&str, &[i64])> = s
            .provider_daily_created
            .series
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        assert_eq!(
            series,
            [("onejav", &[1, 0, 2][..]), ("unknown", &[0, 1, 1][..])]
        );
        let stats: Vec<(&str, i64, i64, i64)> = s
            .provider_stats
            .iter()
            .map(|p| {
                (
                    p.source.as_str(),
                    p.total_count,
                    p.today_count,
                    p.window_count,
                )
            })
            .collect();
        assert_eq!(
            stats,
            [
                ("141jav", 3, 0, 0),
                ("onejav", 3, 2, 3),
                ("unknown", 3, 1, 2)
            ]
        );
        assert_eq!(s.quality.avg_actors_per_jav, 1.11);
        assert_eq!(s.quality.avg_tags_per_jav, 0.22);
    }

    #[test]
    fn the_breakdown_lists_the_fixed_providers_first_with_their_shares() {
        let stat = |source: &str, total_count| ProviderStat {
            source: source.into(),
            total_count,
            today_count: 1,
            window_count: 2,
        };
        let stats = [stat("unknown", 5), stat("onejav", 3), stat("javdb", 2)];
        let rows: Vec<(String, i64, f64)> = provider_breakdown(&stats, 11)
            .into_iter()
            .map(|p| (p.source, p.total_count, p.share_percent))
            .collect();
        let want: Vec<(String, i64, f64)> = [
            ("onejav", 3, 27.27),
            ("141jav", 0, 0.0),
            ("ffjav", 0, 0.0),
            ("missav", 0, 0.0),
            ("unknown", 5, 45.45),
            ("javdb", 2, 18.18),
        ]
        .into_iter()
        .map(|(s, n, p)| (s.to_string(), n, p))
        .collect();
        assert_eq!(rows, want);
    }

    #[test]
    fn an_empty_catalogue_is_all_zeros() {
        let s = Snapshot::build(clock("2026-11-26T10:00:00Z", 7), SnapshotFacts::default());
        assert_eq!(s.daily_created.tags.values, [0; 7]);
        assert_eq!(s.quality.avg_actors_per_jav, 0.0);
        assert!(s.provider_stats.is_empty());
        let json = serde_json::to_value(&s).unwrap_or_default();
        let keys: Vec<&str> = json
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            [
                "days",
                "generated_at",
                "timezone",
                "stats_refreshed_at",
                "totals",
                "todayCreated",
                "dailyCreated",
                "providerDailyCreated",
                "dailyEngagement",
                "providerStats",
                "topViewed",
                "topDownloaded",
                "topRated",
                "quality",
                "syncHealth"
            ]
        );
    }
}
