//! A one-second memory of public display counts: a page everybody opens
//! (a popular movie) costs the stores one read per second per replica
//! instead of one per visitor. Bounded: past its capacity the cache drops
//! what expired, then everything, and starts again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use analytics_domain::rollup::Counts;
use analytics_domain::EntityKey;

pub struct CountsCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<EntityKey, (Instant, Counts)>>,
}

impl CountsCache {
    /// A zero `ttl` caches nothing.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        CountsCache {
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, entity: &EntityKey, now: Instant) -> Option<Counts> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(entity)
            .filter(|(at, _)| now.duration_since(*at) < self.ttl)
            .map(|(_, counts)| counts.clone())
    }

    pub fn put(&self, entity: &EntityKey, counts: Counts, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity {
            entries.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(entity.clone(), (now, counts));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use analytics_domain::{Action, Domain, EntityType};

    fn movie(id: &str) -> EntityKey {
        EntityKey {
            domain: Domain::new("jav").expect("domain"),
            entity_type: EntityType::Movie,
            entity_id: id.into(),
        }
    }

    #[test]
    fn entries_live_for_the_ttl_and_the_cache_stays_bounded() {
        let cache = CountsCache::new(Duration::from_secs(1), 3);
        let t0 = Instant::now();
        cache.put(
            &movie("a"),
            Counts::of(&[(Action::View, 5), (Action::Download, 1)]),
            t0,
        );
        assert_eq!(
            cache.get(&movie("a"), t0 + Duration::from_millis(999)),
            Some(Counts::of(&[(Action::View, 5), (Action::Download, 1)]))
        );
        assert_eq!(cache.get(&movie("a"), t0 + Duration::from_secs(1)), None);
        for i in 0..100 {
            cache.put(&movie(&i.to_string()), Counts::default(), t0);
        }
        assert!(cache.entries.lock().map(|e| e.len()).unwrap_or(0) <= 3);
        let off = CountsCache::new(Duration::ZERO, 3);
        off.put(
            &movie("a"),
            Counts::of(&[(Action::View, 1), (Action::Download, 1)]),
            t0,
        );
        assert_eq!(off.get(&movie("a"), t0), None);
    }
}
