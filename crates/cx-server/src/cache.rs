//! Short-lived caches for what every submission looks up: the survey
//! definition and the bearer token's user. Entries live `ttl` (two seconds);
//! this server clears them at once when it changes a survey or revokes a
//! token, so only a change made by another process (the CLI) can take up to
//! `ttl` to be seen.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most entries kept; a full cache is emptied rather than grown.
const MAX_ENTRIES: usize = 10_000;

/// A map whose entries expire.
#[derive(Debug)]
pub struct TtlCache<V> {
    ttl: Duration,
    map: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> TtlCache<V> {
    /// Entries live `ttl`.
    pub fn new(ttl: Duration) -> TtlCache<V> {
        TtlCache {
            ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The live entry for `key`.
    pub fn get(&self, key: &str) -> Option<V> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    /// Stores `value` under `key`.
    pub fn put(&self, key: &str, value: V) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key.to_string(), (Instant::now(), value));
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_clear() {
        let c = TtlCache::new(Duration::from_millis(30));
        c.put("a", 1);
        assert_eq!(c.get("a"), Some(1));
        assert_eq!(c.get("b"), None);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(c.get("a"), None);
        c.put("a", 2);
        c.clear();
        assert_eq!(c.get("a"), None);
    }
}
