//! In-memory bookkeeping keyed by ids that clients control (users, chats, submissions), bounded
//! whatever they send: every map here has a capacity, and entries whose time is up are dropped
//! before anything still meaningful is.
//!
//! Times are passed in (`now`), so callers decide the clock and tests need no sleeping.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// A map whose entries live for a time given at insertion, holding at most `capacity` of them.
/// A full map first drops what has expired, then the entries closest to expiring.
#[derive(Debug)]
pub struct ExpiringMap<K, V> {
    capacity: usize,
    entries: HashMap<K, (V, Instant)>,
}

impl<K, V> ExpiringMap<K, V>
where
    K: Eq + Hash + Clone,
{
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: HashMap::new(),
        }
    }

    /// The value for `key`, unless it expired by `now`.
    pub fn get(&self, key: &K, now: Instant) -> Option<&V> {
        self.entries
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(value, _)| value)
    }

    /// Keeps `value` for `key` until `until`.
    pub fn insert(&mut self, key: K, value: V, until: Instant, now: Instant) {
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.make_room(now);
        }
        self.entries.insert(key, (value, until));
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.entries.remove(key).map(|(value, _)| value)
    }

    /// Removes `key` and returns its value, unless it expired by `now`.
    pub fn take(&mut self, key: &K, now: Instant) -> Option<V> {
        self.entries
            .remove(key)
            .filter(|(_, until)| *until > now)
            .map(|(value, _)| value)
    }

    /// Keeps only the entries `keep` says to.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.entries.retain(|key, (value, _)| keep(key, value));
    }

    /// Entries held, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops the expired entries, and when that is not enough, the eighth of the capacity
    /// closest to expiring: a sort once per many inserts rather than a scan per insert.
    fn make_room(&mut self, now: Instant) {
        self.entries.retain(|_, (_, until)| *until > now);
        if self.entries.len() < self.capacity {
            return;
        }
        let mut untils: Vec<Instant> = self.entries.values().map(|(_, until)| *until).collect();
        let drop = (self.capacity / 8).max(1).min(untils.len());
        let (_, cutoff, _) = untils.select_nth_unstable(drop - 1);
        let cutoff = *cutoff;
        let mut dropped = 0;
        self.entries.retain(|_, (_, until)| {
            if *until <= cutoff && dropped < drop {
                dropped += 1;
                false
            } else {
                true
            }
        });
    }
}

/// A rate per key (GCRA: a burst, then one every `period`), with a capacity: a key whose
/// allowance is whole again holds nothing worth keeping, and when the map is full of keys still
/// limited, those closest to whole again are forgotten first.
///
/// Unlike governor's keyed limiters, it can be asked whether a request *would* pass without
/// spending anything ([`KeyedRate::check`]), which lets a caller refuse early and charge only for
/// what it actually does.
#[derive(Debug)]
pub struct KeyedRate<K> {
    period: Duration,
    burst: u32,
    /// Per key, the theoretical arrival time of its next request: it is limited while this lies
    /// more than `(burst - 1) × period` ahead.
    tat: ExpiringMap<K, Instant>,
}

impl<K> KeyedRate<K>
where
    K: Eq + Hash + Clone,
{
    pub fn new(period: Duration, burst: u32, capacity: usize) -> Self {
        Self {
            period,
            burst: burst.max(1),
            tat: ExpiringMap::new(capacity),
        }
    }

    /// `Ok` when a request for `key` would pass now, else how long until it would.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let tat = self.tat.get(key, now).copied().unwrap_or(now).max(now);
        let allowance = self.period * (self.burst - 1);
        let ahead = tat - now;
        if ahead <= allowance {
            Ok(())
        } else {
            Err(ahead - allowance)
        }
    }

    /// Spends one request for `key` if it passes; else says how long until it would.
    pub fn charge(&mut self, key: &K, now: Instant) -> Result<(), Duration> {
        self.check(key, now)?;
        let tat = self.tat.get(key, now).copied().unwrap_or(now).max(now) + self.period;
        // The entry means something until its allowance is whole again.
        self.tat.insert(key.clone(), tat, tat, now);
        Ok(())
    }

    /// Keys held (for tests and their bound).
    pub fn len(&self) -> usize {
        self.tat.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tat.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn entries_expire_and_a_full_map_drops_what_expires_soonest() {
        let t0 = Instant::now();
        let mut map = ExpiringMap::new(16);
        map.insert(0, 1, t0 + S, t0);
        assert_eq!(map.get(&0, t0), Some(&1));
        assert_eq!(map.get(&0, t0 + S), None);
        for n in 1..1000u32 {
            map.insert(n, n, t0 + S * (n + 2), t0);
            assert!(map.len() <= 16, "{} at {n}", map.len());
        }
        // The longest-lived entries stay.
        assert_eq!(map.get(&999, t0), Some(&999));
        assert_eq!(map.get(&1, t0), None);
    }

    #[test]
    fn a_key_gets_its_burst_then_one_per_period_and_check_spends_nothing() {
        let t0 = Instant::now();
        let mut rate = KeyedRate::new(10 * S, 3, 100);
        for _ in 0..3 {
            assert_eq!(rate.check(&1, t0), Ok(()));
            assert_eq!(rate.charge(&1, t0), Ok(()));
        }
        assert_eq!(rate.check(&1, t0), Err(10 * S));
        assert_eq!(rate.charge(&1, t0), Err(10 * S));
        assert_eq!(rate.check(&1, t0 + 10 * S), Ok(()));
        // Other keys are not affected.
        assert_eq!(rate.charge(&2, t0), Ok(()));
        // Checking alone never limits.
        for _ in 0..100 {
            assert_eq!(rate.check(&3, t0), Ok(()));
        }
        assert_eq!(rate.len(), 2);
    }

    #[test]
    fn a_flood_of_keys_stays_within_the_capacity() {
        let t0 = Instant::now();
        let mut rate = KeyedRate::new(S, 1, 64);
        for key in 0..10_000 {
            assert_eq!(rate.charge(&key, t0), Ok(()));
            assert!(rate.len() <= 64);
        }
    }
}
