//! Time buckets. An event's local date and hour are fixed at ingest in the
//! domain's configured zone, so every rollup derived from them later agrees.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// How an instant is turned into a local date and hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketMode {
    /// Convert to this IANA zone (DST-correct). The default is UTC.
    Zone(Tz),
    /// Legacy compatibility: the wall-clock date and hour written in the
    /// event's own offset, whatever zone that is.
    EventOffset,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is neither an IANA time zone (e.g. UTC, Asia/Tokyo) nor \"event-offset\"")]
pub struct InvalidBucketMode(pub String);

impl FromStr for BucketMode {
    type Err = InvalidBucketMode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "event-offset" {
            return Ok(BucketMode::EventOffset);
        }
        s.parse::<Tz>()
            .map(BucketMode::Zone)
            .map_err(|_| InvalidBucketMode(s.to_string()))
    }
}

impl Default for BucketMode {
    fn default() -> Self {
        BucketMode::Zone(Tz::UTC)
    }
}

impl fmt::Display for BucketMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BucketMode::Zone(tz) => f.write_str(tz.name()),
            BucketMode::EventOffset => f.write_str("event-offset"),
        }
    }
}

impl BucketMode {
    pub fn local_hour(&self, at: &DateTime<FixedOffset>) -> LocalHour {
        let (date, hour) = match self {
            BucketMode::Zone(tz) => {
                let local = at.with_timezone(tz);
                (local.date_naive(), local.hour())
            }
            BucketMode::EventOffset => (at.date_naive(), at.hour()),
        };
        LocalHour {
            date,
            hour: hour as u8,
        }
    }

    /// Today's date in this mode's zone (event-offset has no zone: UTC).
    pub fn today(&self, now: DateTime<chrono::Utc>) -> NaiveDate {
        match self {
            BucketMode::Zone(tz) => now.with_timezone(tz).date_naive(),
            BucketMode::EventOffset => now.date_naive(),
        }
    }

    /// The first instant of a local date (UTC's for `EventOffset`). A zone
    /// whose clocks skip midnight starts the day at the first local time
    /// that exists.
    pub fn day_start(&self, date: NaiveDate) -> DateTime<chrono::Utc> {
        let midnight = date.and_time(chrono::NaiveTime::MIN);
        match self {
            BucketMode::Zone(tz) => (0..=3)
                .find_map(|h| {
                    (midnight + chrono::Duration::hours(h))
                        .and_local_timezone(*tz)
                        .earliest()
                })
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or_else(|| midnight.and_utc()),
            BucketMode::EventOffset => midnight.and_utc(),
        }
    }
}

/// The local calendar hour an event is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalHour {
    pub date: NaiveDate,
    pub hour: u8,
}

/// A rollup granularity and the bucket label format of its collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Day,
    Week,
    Month,
    Year,
}

impl Period {
    pub const ALL: [Period; 4] = [Period::Day, Period::Week, Period::Month, Period::Year];

    /// The bucket label a date falls in: `2026-11-21`, `2026-W47`, `2026-11`, `2026`.
    pub fn bucket_of(self, date: NaiveDate) -> String {
        match self {
            Period::Day => date.format("%Y-%m-%d").to_string(),
            Period::Week => {
                let week = date.iso_week();
                format!("{}-W{:02}", week.year(), week.week())
            }
            Period::Month => date.format("%Y-%m").to_string(),
            Period::Year => date.format("%Y").to_string(),
        }
    }

    /// The first date of a bucket label, if the label is well formed
    /// (exactly what [`Period::bucket_of`] writes).
    pub fn parse_bucket(self, label: &str) -> Option<NaiveDate> {
        let first = match self {
            Period::Day => NaiveDate::parse_from_str(label, "%Y-%m-%d").ok()?,
            Period::Week => {
                let (year, week) = label.split_once("-W")?;
                NaiveDate::from_isoywd_opt(
                    year.parse().ok()?,
                    week.parse().ok()?,
                    chrono::Weekday::Mon,
                )?
            }
            Period::Month => NaiveDate::parse_from_str(&format!("{label}-01"), "%Y-%m-%d").ok()?,
            Period::Year => NaiveDate::from_ymd_opt(label.parse().ok()?, 1, 1)?,
        };
        (self.bucket_of(first) == label).then_some(first)
    }

    /// Every bucket label from the one holding `from` to the one holding
    /// `to`, in order; at most `max` (None when there would be more).
    pub fn buckets_between(
        self,
        from: NaiveDate,
        to: NaiveDate,
        max: usize,
    ) -> Option<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        let mut day = from;
        while day <= to {
            let label = self.bucket_of(day);
            if out.last() != Some(&label) {
                if out.len() == max {
                    return None;
                }
                out.push(label);
            }
            day = match self {
                Period::Day => day.succ_opt()?,
                // Jump close to the next bucket; the label check above dedups.
                Period::Week => {
                    day + chrono::Duration::days(
                        7 - i64::from(day.weekday().num_days_from_monday()),
                    )
                }
                Period::Month => NaiveDate::from_ymd_opt(
                    day.year() + i32::from(day.month() == 12),
                    day.month() % 12 + 1,
                    1,
                )?,
                Period::Year => NaiveDate::from_ymd_opt(day.year() + 1, 1, 1)?,
            };
        }
        Some(out)
    }

    /// The document field holding the bucket label (legacy names).
    pub fn field(self) -> &'static str {
        match self {
            Period::Day => "date",
            Period::Week => "week",
            Period::Month => "month",
            Period::Year => "year",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).expect("test timestamp")
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("test date")
    }

    #[test]
    fn a_local_day_starts_at_its_zones_midnight_or_the_first_time_after_it() {
        let tokyo: BucketMode = "Asia/Tokyo".parse().expect("zone");
        assert_eq!(
            tokyo.day_start(date(2026, 11, 26)).to_rfc3339(),
            "2026-11-25T15:00:00+00:00"
        );
        // São Paulo's clocks went from 00:00 to 01:00 on 2018-11-04.
        let sao_paulo: BucketMode = "America/Sao_Paulo".parse().expect("zone");
        assert_eq!(
            sao_paulo.day_start(date(2018, 11, 4)).to_rfc3339(),
            "2018-11-04T03:00:00+00:00"
        );
        assert_eq!(
            BucketMode::EventOffset
                .day_start(date(2026, 1, 1))
                .to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
    }

    #[test]
    fn event_offset_mode_keeps_the_written_wall_clock_date() {
        let mode = BucketMode::EventOffset;
        assert_eq!(
            mode.local_hour(&at("2026-02-19T23:59:59-05:00")).date,
            date(2026, 2, 19)
        );
        assert_eq!(
            mode.local_hour(&at("2026-02-20T00:00:01+07:00")).date,
            date(2026, 2, 20)
        );
        assert_eq!(
            mode.local_hour(&at("2026-02-19T10:00:00Z")).date,
            date(2026, 2, 19)
        );
    }

    #[test]
    fn utc_mode_converts_to_utc_first() {
        let mode = BucketMode::default();
        let late = mode.local_hour(&at("2026-02-19T23:59:59-05:00"));
        assert_eq!((late.date, late.hour), (date(2026, 2, 20), 4));
        let early = mode.local_hour(&at("2026-02-20T00:00:01+07:00"));
        assert_eq!((early.date, early.hour), (date(2026, 2, 19), 17));
    }

    #[test]
    fn spring_forward_skips_the_missing_hour() {
        let mode: BucketMode = "America/New_York".parse().expect("zone");
        // 2026-03-08 02:00 EST jumps to 03:00 EDT.
        assert_eq!(mode.local_hour(&at("2026-03-08T06:59:59Z")).hour, 1);
        assert_eq!(mode.local_hour(&at("2026-03-08T07:00:00Z")).hour, 3);
    }

    #[test]
    fn fall_back_counts_the_repeated_hour_twice_in_the_same_bucket() {
        let mode: BucketMode = "America/New_York".parse().expect("zone");
        // 2026-11-01 02:00 EDT falls back to 01:00 EST.
        let first = mode.local_hour(&at("2026-11-01T05:30:00Z"));
        let second = mode.local_hour(&at("2026-11-01T06:30:00Z"));
        assert_eq!(first, second);
        assert_eq!((first.date, first.hour), (date(2026, 11, 1), 1));
    }

    #[test]
    fn a_zone_moves_events_across_midnight() {
        let tokyo: BucketMode = "Asia/Tokyo".parse().expect("zone");
        let h = tokyo.local_hour(&at("2026-12-31T15:30:00Z"));
        assert_eq!((h.date, h.hour), (date(2027, 1, 1), 0));
    }

    #[test]
    fn year_end_buckets_follow_iso_weeks() {
        let d = date(2027, 1, 1);
        assert_eq!(Period::Day.bucket_of(d), "2027-01-01");
        assert_eq!(Period::Week.bucket_of(d), "2026-W53");
        assert_eq!(Period::Month.bucket_of(d), "2027-01");
        assert_eq!(Period::Year.bucket_of(d), "2027");
        assert_eq!(Period::Week.bucket_of(date(2026, 2, 19)), "2026-W08");
        assert_eq!(Period::Week.bucket_of(date(2024, 12, 30)), "2025-W01");
    }

    #[test]
    fn bucket_labels_parse_back_and_reject_near_misses() {
        assert_eq!(
            Period::Week.parse_bucket("2026-W53"),
            Some(date(2026, 12, 28))
        );
        assert_eq!(
            Period::Month.parse_bucket("2027-01"),
            Some(date(2027, 1, 1))
        );
        assert_eq!(Period::Year.parse_bucket("2027"), Some(date(2027, 1, 1)));
        assert_eq!(
            Period::Day.parse_bucket("2026-02-19"),
            Some(date(2026, 2, 19))
        );
        for (p, bad) in [
            (Period::Week, "2026-W1"),
            (Period::Week, "2025-W53"),
            (Period::Day, "2026-2-19"),
            (Period::Month, "2026-13"),
            (Period::Year, "26"),
        ] {
            assert_eq!(p.parse_bucket(bad), None, "{bad}");
        }
    }

    #[test]
    fn buckets_between_covers_the_range_once_each_and_respects_the_cap() {
        let (from, to) = (date(2026, 12, 30), date(2027, 1, 12));
        assert_eq!(
            Period::Week.buckets_between(from, to, 10),
            Some(vec![
                "2026-W53".to_string(),
                "2027-W01".into(),
                "2027-W02".into()
            ])
        );
        assert_eq!(
            Period::Month.buckets_between(from, to, 10),
            Some(vec!["2026-12".to_string(), "2027-01".into()])
        );
        assert_eq!(
            Period::Day.buckets_between(from, to, 14).map(|v| v.len()),
            Some(14)
        );
        assert_eq!(Period::Day.buckets_between(from, to, 13), None);
        assert_eq!(Period::Year.buckets_between(to, from, 10), Some(vec![]));
    }

    #[test]
    fn mode_parsing_names_bad_values() {
        assert_eq!("event-offset".parse(), Ok(BucketMode::EventOffset));
        assert_eq!("UTC".parse(), Ok(BucketMode::default()));
        assert!("Mars/Olympus".parse::<BucketMode>().is_err());
    }

    proptest! {
        #[test]
        fn week_labels_are_well_formed_and_contain_the_date(days in 0i64..200_000) {
            let d = date(1900, 1, 1) + chrono::Duration::days(days);
            let label = Period::Week.bucket_of(d);
            let (year, week) = label.split_once("-W").expect("week label");
            let year: i32 = year.parse().expect("year");
            let week: u32 = week.parse().expect("week");
            prop_assert!((1..=53).contains(&week));
            prop_assert!((year - d.year()).abs() <= 1);
            let monday = NaiveDate::from_isoywd_opt(year, week, chrono::Weekday::Mon).expect("monday");
            prop_assert!(d >= monday && d < monday + chrono::Duration::days(7));
        }

        #[test]
        fn local_hours_stay_within_a_day_of_utc(secs in 0i64..4_000_000_000, zone in 0usize..4) {
            let zones = ["UTC", "America/New_York", "Asia/Kathmandu", "Pacific/Chatham"];
            let mode: BucketMode = zones[zone].parse().expect("zone");
            let instant = DateTime::from_timestamp(secs, 0).expect("instant").fixed_offset();
            let local = mode.local_hour(&instant);
            prop_assert!(local.hour < 24);
            let drift = (local.date - instant.date_naive()).num_days().abs();
            prop_assert!(drift <= 1);
        }
    }
}
