//! What the raw event log keeps of an event and of the client that sent
//! it: never the full address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::event::Event;
use crate::time::BucketMode;

/// Where a request came from, as far as the raw event log keeps it.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    pub client_ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    /// Why the request's events are counted nowhere (`bot`), if they are
    /// not: their log lines say so.
    pub filtered: Option<&'static str>,
}

impl Event {
    /// The raw-log entry: the normalised event, when it arrived, the
    /// client's network and its user agent.
    pub fn log_entry(
        &self,
        mode: &BucketMode,
        received_at: DateTime<Utc>,
        provenance: &Provenance,
    ) -> String {
        let mut entry = self.to_json(mode);
        entry.insert(
            "received_at".into(),
            received_at
                .to_rfc3339_opts(SecondsFormat::Millis, true)
                .into(),
        );
        if let Some(ip) = provenance.client_ip {
            entry.insert("client_network".into(), anonymise_ip(ip).to_string().into());
        }
        if let Some(ua) = &provenance.user_agent {
            entry.insert("user_agent".into(), bounded_user_agent(ua).into());
        }
        if let Some(reason) = provenance.filtered {
            entry.insert("filtered".into(), reason.into());
        }
        Value::Object(entry).to_string()
    }
}

/// The client's network, not the client: IPv4 cut to its /24, IPv6 to its
/// /48 (a v4-mapped v6 address is treated as v4).
pub fn anonymise_ip(ip: IpAddr) -> IpAddr {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::V4(Ipv4Addr::new(a, b, c, 0))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0))
        }
    }
}

/// Longest user agent kept; longer ones are cut (on a character boundary).
pub const MAX_USER_AGENT_CHARS: usize = 512;

pub fn bounded_user_agent(ua: &str) -> String {
    ua.chars()
        .filter(|c| !c.is_control())
        .take(MAX_USER_AGENT_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_keep_only_their_network() {
        let cut = |s: &str| anonymise_ip(s.parse().expect("ip")).to_string();
        assert_eq!(cut("203.0.113.77"), "203.0.113.0");
        assert_eq!(cut("2001:db8:abcd:12:1:2:3:4"), "2001:db8:abcd::");
        assert_eq!(cut("::ffff:198.51.100.9"), "198.51.100.0");
    }

    #[test]
    fn user_agents_are_bounded_and_printable() {
        assert_eq!(bounded_user_agent("a\nb"), "ab");
        assert_eq!(bounded_user_agent(&"é".repeat(600)).chars().count(), 512);
    }
}
