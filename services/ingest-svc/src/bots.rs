//! Which requests come from crawlers, monitors and headless browsers: their
//! events are answered like any other (202, so a crawler does not retry)
//! and counted nowhere. The patterns are the vendored isbot list
//! (`bots/isbot-patterns.txt`, refreshed by `scripts/refresh-bot-list.sh`)
//! plus `events.bot_patterns`.

use analytics_runtime::config::ConfigError;

/// The vendored list: one pattern per line, `#` lines are comments. A
/// pattern may start with a space, so lines are not trimmed.
const VENDORED: &str = include_str!("../bots/isbot-patterns.txt");

/// A pattern written for JavaScript (the list's home) in Rust's syntax:
/// inside a class, JavaScript takes a `-` next to a class escape (`[\w-.]`)
/// or at the class's end as itself, where Rust refuses a range; it is
/// escaped. Everything else reads the same in both.
fn from_javascript(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.chars().peekable();
    let (mut in_class, mut after_class_escape) = (false, false);
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(next) = chars.next() {
                    out.push(next);
                    after_class_escape = in_class && "dDwWsS".contains(next);
                }
                continue;
            }
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '-' if in_class && (after_class_escape || chars.peek() == Some(&']')) => {
                out.push_str("\\-");
                after_class_escape = false;
                continue;
            }
            _ => {}
        }
        after_class_escape = false;
        out.push(c);
    }
    out
}

/// The reason a filtered event is counted under.
pub const BOT: &str = "bot";

/// The bot patterns, compiled: the plain ones as one alternation (one pass
/// of a DFA over the user agent), the few with look-around one by one.
pub struct BotFilter {
    plain: Option<regex::Regex>,
    look_around: Vec<fancy_regex::Regex>,
}

impl BotFilter {
    /// Every pattern of the vendored list and `extra` (`events.bot_patterns`);
    /// `enabled = false` filters nothing. A pattern that does not compile
    /// names its key.
    pub fn new(enabled: bool, extra: &[String]) -> Result<Self, ConfigError> {
        if !enabled {
            return Ok(BotFilter {
                plain: None,
                look_around: Vec::new(),
            });
        }
        let mut plain = Vec::new();
        let mut look_around = Vec::new();
        let vendored = VENDORED
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| (l, None));
        let configured = extra
            .iter()
            .enumerate()
            .map(|(i, p)| (p.as_str(), Some(format!("events.bot_patterns[{i}]"))));
        for (source, key) in vendored.chain(configured) {
            let pattern = &from_javascript(source);
            let invalid = |e: String| ConfigError::Invalid {
                key: key.clone().unwrap_or_else(|| "events.filter_bots".into()),
                message: format!("bot pattern {pattern:?} does not compile: {e}"),
            };
            if regex::Regex::new(pattern).is_ok() {
                plain.push(format!("(?:{pattern})"));
            } else {
                let compiled = fancy_regex::Regex::new(&format!("(?i){pattern}"))
                    .map_err(|e| invalid(e.to_string()))?;
                look_around.push(compiled);
            }
        }
        let plain = regex::RegexBuilder::new(&plain.join("|"))
            .case_insensitive(true)
            .size_limit(64 << 20)
            .build()
            .map_err(|e| ConfigError::Invalid {
                key: "events.bot_patterns".into(),
                message: format!("the bot patterns do not compile together: {e}"),
            })?;
        Ok(BotFilter {
            plain: Some(plain),
            look_around,
        })
    }

    /// Whether a request with this user agent is a bot's. No user agent
    /// is not evidence of one (server-side producers often send none).
    pub fn is_bot(&self, user_agent: Option<&str>) -> bool {
        let (Some(plain), Some(ua)) = (&self.plain, user_agent) else {
            return false;
        };
        if ua.is_empty() {
            return false;
        }
        // A pattern that gives up (backtracking limit) is not a match.
        plain.is_match(ua)
            || self
                .look_around
                .iter()
                .any(|r| r.is_match(ua).unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter() -> BotFilter {
        BotFilter::new(true, &["^internal-checker/".to_string()]).expect("patterns compile")
    }

    #[test]
    fn crawlers_monitors_and_headless_browsers_are_bots() {
        let f = filter();
        for ua in [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             HeadlessChrome/120.0.0.0 Safari/537.36",
            "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
            "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
            "curl/8.5.0",
            "python-requests/2.31.0",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "Internal-Checker/1.0",
        ] {
            assert!(f.is_bot(Some(ua)), "{ua}");
        }
    }

    #[test]
    fn people_are_not() {
        let f = filter();
        for ua in [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/131.0.0.0 Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/131.0.0.0 Mobile Safari/537.36",
        ] {
            assert!(!f.is_bot(Some(ua)), "{ua}");
        }
        assert!(!f.is_bot(None));
        assert!(!f.is_bot(Some("")));
        let off = BotFilter::new(false, &[]).expect("off");
        assert!(!off.is_bot(Some("Googlebot/2.1")));
    }

    #[test]
    fn javascript_dashes_in_classes_are_literal() {
        assert_eq!(from_javascript(r"[\w\d-.]+"), r"[\w\d\-.]+");
        assert_eq!(from_javascript(r"[a-z-]"), r"[a-z\-]");
        assert_eq!(from_javascript(r"a-b[\]-]"), r"a-b[\]\-]");
        assert_eq!(from_javascript(r"^x\-y$"), r"^x\-y$");
    }

    #[test]
    fn a_pattern_that_does_not_compile_names_its_key() {
        let err = BotFilter::new(true, &["ok".into(), "(unclosed".into()])
            .err()
            .expect("refused");
        assert!(err.to_string().contains("events.bot_patterns[1]"), "{err}");
    }
}
