//! Per-client fixed-window rate limit (N requests per minute), in memory per
//! replica: with R replicas behind the load balancer a client gets at most
//! R×N (a cluster-wide limit would cost a Redis round trip per request on
//! the hottest path). A client is an IPv4 address or an IPv6 /64 (one
//! subscriber usually holds a whole /64). Every response of a limited route
//! carries `X-RateLimit-Limit`, `-Remaining` and `-Reset` (the Unix time the
//! window resets); a refusal is a 429 with `Retry-After`.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use prometheus_client::metrics::counter::Counter;

use crate::client_ip::{client_ip, IpNet};
use crate::error::{retry_after, ErrorKind, ServiceError};

const SHARDS: usize = 32;

/// Whom a budget belongs to: an IPv4 address, or the /64 of an IPv6 one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    V4(u32),
    V6Net(u64),
}

impl From<IpAddr> for ClientKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => ClientKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(u32::from(v4)),
                None => ClientKey::V6Net((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the client's window resets (at least 1).
    pub reset_after: u64,
}

impl Decision {
    /// The `X-RateLimit-*` headers; `Reset` is the Unix time of the reset.
    pub fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        vec![
            (
                HeaderName::from_static("x-ratelimit-limit"),
                self.limit.into(),
            ),
            (
                HeaderName::from_static("x-ratelimit-remaining"),
                self.remaining.into(),
            ),
            (
                HeaderName::from_static("x-ratelimit-reset"),
                (now + self.reset_after).into(),
            ),
        ]
    }
}

/// A refused request.
#[derive(Debug, thiserror::Error)]
#[error("Too Many Attempts.")]
pub struct RateLimited(pub Decision);

impl ServiceError for RateLimited {
    fn kind(&self) -> ErrorKind {
        ErrorKind::TooManyRequests
    }
    fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let mut headers = self.0.headers();
        headers.push(retry_after(self.0.reset_after));
        headers
    }
}
crate::service_error_response!(RateLimited);

type Window = (Instant, u32);

pub struct RateLimiter {
    limit: u32,
    window: Duration,
    /// Most clients tracked per shard; beyond it expired windows are purged
    /// and then the oldest window is evicted (memory stays bounded whatever
    /// the number of addresses a flood comes from).
    shard_capacity: usize,
    shards: Vec<Mutex<HashMap<ClientKey, Window>>>,
    hasher: std::collections::hash_map::RandomState,
}

impl RateLimiter {
    /// `limit` requests per `window`, for at most about `max_clients`
    /// clients at once; a limit of 0 disables it.
    pub fn new(limit: u32, window: Duration, max_clients: usize) -> Self {
        RateLimiter {
            limit,
            window,
            shard_capacity: (max_clients / SHARDS).max(1),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.limit > 0
    }

    /// Clients tracked right now.
    pub fn tracked(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    pub fn check(&self, client: ClientKey, now: Instant) -> Decision {
        if !self.is_enabled() {
            return Decision {
                allowed: true,
                limit: 0,
                remaining: 0,
                reset_after: 1,
            };
        }
        let shard = &self.shards[(self.hasher.hash_one(client) as usize) % SHARDS];
        // A poisoned lock only means another request panicked mid-update;
        // the counts are still usable.
        let mut map = shard.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.shard_capacity && !map.contains_key(&client) {
            map.retain(|_, (start, _)| now.duration_since(*start) < self.window);
            if map.len() >= self.shard_capacity {
                let oldest = map
                    .iter()
                    .min_by_key(|(_, (start, _))| *start)
                    .map(|(k, _)| *k);
                if let Some(oldest) = oldest {
                    map.remove(&oldest);
                }
            }
        }
        let entry = map.entry(client).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        let allowed = entry.1 < self.limit;
        if allowed {
            entry.1 += 1;
        }
        let elapsed = now.duration_since(entry.0);
        Decision {
            allowed,
            limit: self.limit,
            remaining: self.limit - entry.1,
            reset_after: self.window.saturating_sub(elapsed).as_secs().max(1),
        }
    }
}

/// A route's limit: the limiter, whose `X-Forwarded-For` to believe, and
/// the counter of refusals.
#[derive(Clone)]
pub struct ClientRateLimit {
    pub limiter: Arc<RateLimiter>,
    pub trusted_proxies: Arc<Vec<IpNet>>,
    pub refused: Counter,
}

impl ClientRateLimit {
    fn decide(&self, req: &ServiceRequest) -> Option<Decision> {
        if !self.limiter.is_enabled() {
            return None;
        }
        let peer = req.peer_addr()?.ip();
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        let client = client_ip(peer, forwarded, &self.trusted_proxies);
        Some(self.limiter.check(ClientKey::from(client), Instant::now()))
    }
}

/// Middleware body (`middleware::from_fn`): refuses a client over its
/// budget before the route reads anything (invalid requests spend quota
/// too), and adds the budget's headers to every response.
pub async fn enforce(
    limit: ClientRateLimit,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let decision = limit.decide(&req);
    if let Some(d) = decision.filter(|d| !d.allowed) {
        limit.refused.inc();
        let response = crate::error::respond(&RateLimited(d));
        return Ok(req.into_response(response).map_into_right_body());
    }
    let mut res = next.call(req).await?;
    if let Some(d) = decision {
        for (name, value) in d.headers() {
            res.headers_mut().insert(name, value);
        }
    }
    Ok(res.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(last: u8) -> ClientKey {
        ClientKey::from(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn the_third_request_in_a_window_of_two_is_refused_until_it_resets() {
        let rl = RateLimiter::new(2, Duration::from_secs(60), 1000);
        let t0 = Instant::now();
        assert!(rl.check(v4(1), t0).allowed);
        let second = rl.check(v4(1), t0);
        assert_eq!((second.allowed, second.remaining), (true, 0));
        let third = rl.check(v4(1), t0 + Duration::from_secs(10));
        assert!(!third.allowed);
        assert_eq!(third.reset_after, 50);
        assert!(rl.check(v4(1), t0 + Duration::from_secs(60)).allowed);
    }

    #[test]
    fn clients_have_separate_budgets() {
        let rl = RateLimiter::new(1, Duration::from_secs(60), 1000);
        let t0 = Instant::now();
        assert!(rl.check(v4(1), t0).allowed);
        assert!(rl.check(v4(2), t0).allowed);
        assert!(!rl.check(v4(1), t0).allowed);
        let off = RateLimiter::new(0, Duration::from_secs(60), 1000);
        assert!((0..100).all(|_| off.check(v4(1), t0).allowed));
    }

    #[test]
    fn an_ipv6_64_shares_one_budget() {
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(ClientKey::from(a), ClientKey::from(b));
        assert_ne!(ClientKey::from(a), ClientKey::from(other));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().expect("ip");
        assert_eq!(ClientKey::from(mapped), v4(1));
    }

    #[test]
    fn the_client_map_stays_bounded_under_a_flood_of_addresses() {
        let rl = RateLimiter::new(5, Duration::from_secs(60), SHARDS * 10);
        let t0 = Instant::now();
        for i in 0..100_000u32 {
            rl.check(ClientKey::V4(i), t0);
        }
        assert!(rl.tracked() <= SHARDS * 10, "{}", rl.tracked());
    }
}
