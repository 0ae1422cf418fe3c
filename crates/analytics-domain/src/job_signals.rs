//! What a job event says about the sites the crawlers hit: which site it
//! belongs to when the producer did not say, and whether a failure means the
//! target is blocking us (and for how long to leave it alone).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// Job payload properties naming the site, in the order they are trusted.
const SITE_PROPERTIES: [&str; 4] = ["site", "source", "domain", "provider"];
/// Job payload properties holding a URL, in the order they are trusted.
const URL_PROPERTIES: [&str; 7] = [
    "url",
    "detailUrl",
    "detail_url",
    "seedUrl",
    "seed_url",
    "baseUrl",
    "base_url",
];
/// Jobs whose class alone names their site.
const SITE_OF_JOB: [(&str, &str); 8] = [
    ("OnejavJob", "onejav"),
    ("OneFourOneJavJob", "141jav"),
    ("FfjavJob", "ffjav"),
    ("DailySyncJob", "daily_sync"),
    ("TagsSyncJob", "tags_sync"),
    ("XcityIdolJob", "xcity.jp"),
    ("XcityKanaJob", "xcity.jp"),
    ("XcityPersonalJob", "xcity.jp"),
];

pub const UNKNOWN_SITE: &str = "unknown";

/// The host of an absolute URL, lower-cased, without user or port.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.trim().split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

fn non_empty(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The site a job belongs to: as sent; else a site-like payload property;
/// else the host of its URL or of a URL-like payload property; else the
/// site its job class is known to crawl; else `unknown`.
pub fn resolve_site(
    site: Option<&str>,
    url: Option<&str>,
    payload_meta: &BTreeMap<String, Value>,
    job_name: &str,
) -> String {
    if let Some(s) = site.map(str::trim).filter(|s| !s.is_empty()) {
        return s.to_string();
    }
    if let Some(s) = SITE_PROPERTIES
        .iter()
        .find_map(|k| non_empty(payload_meta.get(*k)))
    {
        return s.to_string();
    }
    let urls = url.into_iter().chain(
        URL_PROPERTIES
            .iter()
            .filter_map(|k| non_empty(payload_meta.get(*k))),
    );
    if let Some(host) = urls.into_iter().find_map(url_host) {
        return host;
    }
    let class = job_name.rsplit(['\\', ':', '.']).next().unwrap_or(job_name);
    SITE_OF_JOB
        .iter()
        .find(|(job, _)| *job == class)
        .map_or(UNKNOWN_SITE, |(_, site)| site)
        .to_string()
}

/// A target telling us to back off, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BlockSignal {
    pub status: u16,
    pub signal_type: &'static str,
    pub cooldown_seconds: u32,
    /// How loudly operators are told (403 means we are shut out).
    pub level: &'static str,
}

const SIGNALS: [BlockSignal; 3] = [
    BlockSignal {
        status: 403,
        signal_type: "forbidden",
        cooldown_seconds: 600,
        level: "error",
    },
    BlockSignal {
        status: 429,
        signal_type: "rate_limit",
        cooldown_seconds: 300,
        level: "warning",
    },
    BlockSignal {
        status: 503,
        signal_type: "service_unavailable",
        cooldown_seconds: 120,
        level: "warning",
    },
];

/// The signals' types, as documents list them.
#[cfg(feature = "openapi")]
pub fn signal_type_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(SIGNALS.iter().map(|s| s.signal_type)))
        .description(Some("What the target's answer said: 403 forbidden, 429 rate_limit, 503 service_unavailable."))
        .build()
}

/// A signal's type, or null where there is none.
#[cfg(feature = "openapi")]
pub fn signal_type_or_none_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(
            SIGNALS
                .iter()
                .map(|s| serde_json::json!(s.signal_type))
                .chain([serde_json::Value::Null]),
        ))
        .description(Some("The latest signal's type (null: none)."))
        .build()
}

/// The block signal of a failed job: its `error_code` when it has one,
/// else the first 403, 429 or 503 standing as a word in its message.
pub fn block_signal(error_code: Option<i64>, message: Option<&str>) -> Option<BlockSignal> {
    let status = match error_code {
        Some(code) => u16::try_from(code).ok()?,
        None => {
            message?
                .split(|c: char| !c.is_ascii_alphanumeric())
                .find_map(|word| SIGNALS.iter().find(|s| s.status.to_string() == word))?
                .status
        }
    };
    SIGNALS.iter().copied().find(|s| s.status == status)
}

/// The host a signal is about: the job's site, unless unknown; then its
/// URL's host; else `unknown`.
pub fn target_host(site: &str, url: Option<&str>) -> String {
    if site != UNKNOWN_SITE && !site.trim().is_empty() {
        return site.to_string();
    }
    url.and_then(url_host)
        .unwrap_or_else(|| UNKNOWN_SITE.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(v: Value) -> BTreeMap<String, Value> {
        v.as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    #[test]
    fn hosts_come_out_of_urls_without_user_port_or_case() {
        for (url, host) in [
            ("https://OneJav.com/torrent/abc", Some("onejav.com")),
            ("http://user:pw@141jav.com:8080/x?y#z", Some("141jav.com")),
            ("https://[2001:db8::1]:443/", Some("2001:db8::1")),
            ("https://ffjav.com", Some("ffjav.com")),
            ("not a url", None),
            ("https:///path", None),
        ] {
            assert_eq!(url_host(url).as_deref(), host, "{url}");
        }
    }

    #[test]
    fn the_site_is_what_was_sent_then_a_property_then_a_url_then_the_job() {
        let none = BTreeMap::new();
        assert_eq!(
            resolve_site(Some("onejav"), Some("https://x.com"), &none, "J"),
            "onejav"
        );
        assert_eq!(
            resolve_site(
                None,
                None,
                &meta(json!({"provider": "missav", "source": " "})),
                "J"
            ),
            "missav"
        );
        assert_eq!(
            resolve_site(Some(" "), Some("https://www.FFJAV.com/a"), &none, "J"),
            "www.ffjav.com"
        );
        assert_eq!(
            resolve_site(
                None,
                None,
                &meta(json!({"detail_url": "https://141jav.com/x"})),
                "J"
            ),
            "141jav.com"
        );
        assert_eq!(
            resolve_site(None, None, &none, "App\\Jobs\\OneFourOneJavJob"),
            "141jav"
        );
        assert_eq!(resolve_site(None, None, &none, "SomethingElse"), "unknown");
    }

    #[test]
    fn block_signals_come_from_the_code_or_a_whole_word_in_the_message() {
        let kind = |code, message| block_signal(code, message).map(|s| s.signal_type);
        assert_eq!(kind(Some(403), None), Some("forbidden"));
        assert_eq!(kind(Some(404), Some("429 too many")), None);
        assert_eq!(
            kind(None, Some("HTTP 429 Too Many Requests")),
            Some("rate_limit")
        );
        assert_eq!(
            kind(None, Some("status=503; retry")),
            Some("service_unavailable")
        );
        assert_eq!(kind(None, Some("error 4291 and 5030")), None);
        assert_eq!(kind(None, None), None);
        let s = block_signal(None, Some("got 403")).map(|s| (s.cooldown_seconds, s.level));
        assert_eq!(s, Some((600, "error")));
        assert_eq!(
            block_signal(Some(429), None).map(|s| s.cooldown_seconds),
            Some(300)
        );
        assert_eq!(
            block_signal(Some(503), None).map(|s| s.cooldown_seconds),
            Some(120)
        );
    }

    #[test]
    fn a_signal_is_about_the_site_unless_unknown() {
        assert_eq!(target_host("onejav", Some("https://a.com")), "onejav");
        assert_eq!(target_host("unknown", Some("https://a.com/x")), "a.com");
        assert_eq!(target_host("unknown", None), "unknown");
    }
}
