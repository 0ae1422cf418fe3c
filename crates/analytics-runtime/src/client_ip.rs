//! The client address a request is rate limited by. `X-Forwarded-For` is
//! believed only when the peer is a configured proxy; otherwise any client
//! could pick its own budget.

use std::net::IpAddr;
use std::str::FromStr;

/// An IP network in CIDR form (a bare IP is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for IpNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an IP or CIDR"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?} has an invalid prefix length"))?,
            None => max,
        };
        Ok(IpNet { addr, prefix })
    }
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Parses a configured list of trusted proxies (blank entries skipped);
/// an error names `key`.
pub fn parse_trusted(list: &[String], key: &str) -> Result<Vec<IpNet>, crate::config::ConfigError> {
    list.iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.parse()
                .map_err(|message| crate::config::ConfigError::Invalid {
                    key: key.to_string(),
                    message,
                })
        })
        .collect()
}

/// Walks `X-Forwarded-For` from the right, past trusted proxies, to the
/// first address a proxy did not vouch for.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    if let Some(header) = forwarded_for {
        for hop in header.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !is_trusted(ip) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let trusted = ["10.0.0.0/8".parse().expect("net")];
        assert_eq!(
            client_ip(ip("203.0.113.9"), Some("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted: Vec<IpNet> = vec![
            "10.0.0.0/8".parse().expect("net"),
            "192.168.1.1".parse().expect("ip"),
        ];
        assert_eq!(
            client_ip(
                ip("10.1.2.3"),
                Some("6.6.6.6, 198.51.100.7, 192.168.1.1"),
                &trusted
            ),
            ip("198.51.100.7")
        );
        assert_eq!(client_ip(ip("10.1.2.3"), None, &trusted), ip("10.1.2.3"));
        assert_eq!(
            client_ip(ip("10.1.2.3"), Some("garbage"), &trusted),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn cidr_parsing_checks_prefixes() {
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
        assert!("::1/128".parse::<IpNet>().is_ok());
        assert!("not-an-ip".parse::<IpNet>().is_err());
        assert!("0.0.0.0/0"
            .parse::<IpNet>()
            .expect("any")
            .contains(ip("8.8.8.8")));
    }
}
