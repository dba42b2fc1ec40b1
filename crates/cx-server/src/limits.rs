//! Per-IP rate limits on public endpoints and login throttling.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed sign-ins allowed before a lockout starts.
const FREE_FAILURES: u32 = 5;
/// Longest lockout.
const MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// Entries kept before old ones are swept.
const SWEEP_AT: usize = 100_000;

/// Limits state.
#[derive(Debug)]
pub struct Limits {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Limits {
    /// `per_minute` requests per IP on public endpoints (0: unlimited).
    pub fn new(per_minute: u32) -> Limits {
        Limits {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `ip`'s bucket (a token bucket holding a minute's
    /// allowance, refilled continuously); false when it is empty.
    pub fn allow(&self, ip: IpAddr) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let now = Instant::now();
        let capacity = f64::from(self.per_minute);
        let rate = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > SWEEP_AT {
            buckets.retain(|_, (_, t)| now.duration_since(*t) < Duration::from_secs(60));
        }
        let (tokens, last) = buckets.entry(ip).or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(capacity);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long sign-ins for `key` (user name and IP) are locked, if they are.
    pub fn login_locked(&self, key: &str) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let (count, at) = failures.get(key)?;
        let wait = lockout(*count)?;
        let elapsed = at.elapsed();
        (elapsed < wait).then(|| wait - elapsed)
    }

    /// Records a failed sign-in.
    pub fn login_failed(&self, key: &str) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() > SWEEP_AT {
            failures.retain(|_, (_, t)| now.duration_since(*t) < MAX_LOCKOUT);
        }
        let entry = failures.entry(key.to_string()).or_insert((0, now));
        entry.0 += 1;
        entry.1 = now;
    }

    /// Forgets failures after a successful sign-in.
    pub fn login_succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

/// Lockout after `count` consecutive failures: none for the first five, then
/// 2, 4, 8, … seconds, at most 15 minutes.
fn lockout(count: u32) -> Option<Duration> {
    if count < FREE_FAILURES {
        return None;
    }
    let exp = (count - FREE_FAILURES + 1).min(10);
    Some(Duration::from_secs(1 << exp).min(MAX_LOCKOUT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_and_is_per_ip() {
        let limits = Limits::new(3);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert!(limits.allow(a) && limits.allow(a) && limits.allow(a));
        assert!(!limits.allow(a));
        assert!(limits.allow(b));
        assert!(Limits::new(0).allow(a));
    }

    #[test]
    fn lockout_grows_after_five_failures() {
        let limits = Limits::new(0);
        for _ in 0..4 {
            limits.login_failed("admin|1.2.3.4");
        }
        assert_eq!(limits.login_locked("admin|1.2.3.4"), None);
        limits.login_failed("admin|1.2.3.4");
        let wait = limits.login_locked("admin|1.2.3.4").expect("locked");
        assert!(wait <= Duration::from_secs(2) && wait > Duration::from_secs(1));
        assert_eq!(limits.login_locked("admin|5.6.7.8"), None);
        limits.login_succeeded("admin|1.2.3.4");
        assert_eq!(limits.login_locked("admin|1.2.3.4"), None);
        assert_eq!(lockout(30), Some(MAX_LOCKOUT));
    }
}
