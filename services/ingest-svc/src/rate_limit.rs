//! Per-client fixed-window rate limit (legacy `throttle:analytics`: N per
//! minute per IP). In memory per replica: with R replicas behind the load
//! balancer a client gets at most R×N; a cluster-wide limit would cost a
//! Redis round trip per request on the hottest path.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SHARDS: usize = 32;
/// A shard purges expired windows when it grows past this many clients.
const PURGE_AT: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the client's window resets.
    pub reset_after: u64,
}

pub struct RateLimiter {
    limit: u32,
    window: Duration,
    shards: Vec<Mutex<HashMap<IpAddr, (Instant, u32)>>>,
    hasher: std::collections::hash_map::RandomState,
}

impl RateLimiter {
    /// `limit` requests per `window`; 0 disables the limit.
    pub fn new(limit: u32, window: Duration) -> Self {
        RateLimiter {
            limit,
            window,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: Default::default(),
        }
    }

    pub fn check(&self, client: IpAddr, now: Instant) -> Decision {
        if self.limit == 0 {
            return Decision {
                allowed: true,
                limit: 0,
                remaining: 0,
                reset_after: 0,
            };
        }
        let shard = &self.shards[(self.hasher.hash_one(client) as usize) % SHARDS];
        // A poisoned lock only means another request panicked mid-update;
        // the counts are still usable.
        let mut map = shard.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= PURGE_AT {
            map.retain(|_, (start, _)| now.duration_since(*start) < self.window);
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
            reset_after: (self.window.saturating_sub(elapsed)).as_secs().max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_third_request_in_a_window_of_two_is_refused_until_it_resets() {
        let rl = RateLimiter::new(2, Duration::from_secs(60));
        let ip: IpAddr = [10, 0, 0, 1].into();
        let t0 = Instant::now();
        assert!(rl.check(ip, t0).allowed);
        let second = rl.check(ip, t0);
        assert_eq!((second.allowed, second.remaining), (true, 0));
        let third = rl.check(ip, t0 + Duration::from_secs(10));
        assert!(!third.allowed);
        assert_eq!(third.reset_after, 50);
        assert!(rl.check(ip, t0 + Duration::from_secs(60)).allowed);
    }

    #[test]
    fn clients_have_separate_budgets_and_zero_disables() {
        let rl = RateLimiter::new(1, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(rl.check([10, 0, 0, 1].into(), t0).allowed);
        assert!(rl.check([10, 0, 0, 2].into(), t0).allowed);
        assert!(!rl.check([10, 0, 0, 1].into(), t0).allowed);
        let off = RateLimiter::new(0, Duration::from_secs(60));
        assert!((0..1000).all(|_| off.check([10, 0, 0, 1].into(), t0).allowed));
    }
}
