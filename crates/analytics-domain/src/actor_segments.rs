//! Actor segment analytics: the dimensions actors are segmented by (age
//! bucket, blood type, birthplace), the ratios that relate a segment to a
//! genre (support, confidence, lift) and their rounding — the arithmetic the
//! admin pages read, free of the SQL that counts.

use serde::Serialize;

/// Every ratio is rounded to this many decimals.
pub const RATIO_DECIMALS: i32 = 4;
/// A missing blood type or birthplace is counted under this key.
pub const UNKNOWN: &str = "unknown";
/// The blood types `suggest` offers.
pub const BLOOD_TYPES: [&str; 4] = ["A", "B", "O", "AB"];
/// Age buckets: (label, first age, last age or none).
pub const AGE_BUCKETS: [(&str, u32, Option<u32>); 5] = [
    ("18-22", 18, Some(22)),
    ("23-27", 23, Some(27)),
    ("28-32", 28, Some(32)),
    ("33-37", 33, Some(37)),
    ("38+", 38, None),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    AgeBucket,
    BloodType,
    Birthplace,
}

impl Dimension {
    pub const ALL: [Dimension; 3] = [
        Dimension::AgeBucket,
        Dimension::BloodType,
        Dimension::Birthplace,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::AgeBucket => "age_bucket",
            Dimension::BloodType => "blood_type",
            Dimension::Birthplace => "birthplace",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Dimension::ALL.into_iter().find(|d| d.as_str() == raw)
    }
}

/// The ages a segment value of the age dimension stands for, `[min, max)`:
/// `23-27` is 23 ≤ age < 28, `38+` is 38 and over; anything else 18..100.
pub fn age_range(value: &str) -> (u32, u32) {
    let value = value.trim();
    if let Some(min) = value.strip_suffix('+').and_then(|m| m.trim().parse().ok()) {
        return (min, 200);
    }
    value
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse::<u32>().ok()? + 1)))
        .filter(|(a, b)| a < b)
        .unwrap_or((18, 101))
}

/// The age bucket an age falls in (none under 18).
pub fn age_bucket(age: u32) -> Option<&'static str> {
    AGE_BUCKETS
        .iter()
        .find(|(_, min, max)| age >= *min && max.is_none_or(|m| age <= m))
        .map(|(label, _, _)| *label)
}

/// `x` rounded to [`RATIO_DECIMALS`].
pub fn round_ratio(x: f64) -> f64 {
    crate::viewing::round_to(x, RATIO_DECIMALS)
}

/// `part ÷ whole`, rounded; 0 without a whole.
pub fn ratio(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        return 0.0;
    }
    round_ratio(part as f64 / whole as f64)
}

/// How much more likely the segment is among the genre's actors than
/// among all (`confidence ÷ baseline share`); none when the baseline is 0.
pub fn lift(count: i64, total: i64, baseline: i64, population: i64) -> Option<f64> {
    if total <= 0 || baseline <= 0 || population <= 0 {
        return None;
    }
    let confidence = count as f64 / total as f64;
    Some(round_ratio(
        confidence / (baseline as f64 / population as f64),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_values_read_as_ranges() {
        assert_eq!(age_range("23-27"), (23, 28));
        assert_eq!(age_range("38+"), (38, 200));
        assert_eq!(age_range(" 18 - 22 "), (18, 23));
        assert_eq!(age_range("old"), (18, 101));
        assert_eq!(age_range("30-20"), (18, 101));
        assert_eq!(
            [17, 18, 22, 23, 37, 38, 70].map(age_bucket),
            [
                None,
                Some("18-22"),
                Some("18-22"),
                Some("23-27"),
                Some("33-37"),
                Some("38+"),
                Some("38+")
            ]
        );
    }

    #[test]
    fn ratios_round_to_four_decimals_and_lift_needs_a_baseline() {
        assert_eq!(ratio(1, 3), 0.3333);
        assert_eq!(ratio(2, 3), 0.6667);
        assert_eq!(ratio(1, 0), 0.0);
        // 2 of the genre's 4 actors are in a segment holding 10 of 100.
        assert_eq!(lift(2, 4, 10, 100), Some(5.0));
        assert_eq!(lift(1, 3, 1, 7), Some(2.3333));
        assert_eq!(lift(2, 4, 0, 100), None);
    }
}
