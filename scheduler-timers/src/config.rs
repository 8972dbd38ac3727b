//! Wheel geometry: the tick and the number of 64-slot levels.

use crate::error::ConfigError;
use std::time::Duration;

/// Most levels a wheel may have; 8 levels of 64 slots span 2^48 ticks.
pub const MAX_LEVELS: usize = 8;

/// The geometry of one shard's wheel.
///
/// Deadlines are always kept in nanoseconds; the tick only decides bucketing (how many
/// timers share a slot) and never the firing instant, which is exact: a timer fires at the
/// first `fire_due(now)` with `now >= deadline`, in `(deadline, insertion order)` order.
/// Hence the wheel rounds the tick to the nearest power of two nanoseconds (1 ms becomes
/// 2^20 ns = 1.049 ms, 100 µs becomes 2^17 ns = 131 µs), so bucketing is a shift, not a
/// 64-bit division, on every insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    tick_shift: u32,
    levels: usize,
}

/// The power of two nearest to `ns` (ties go up), as a shift.
fn nearest_shift(ns: u64) -> u32 {
    let below = 63 - ns.leading_zeros();
    let low = 1u64 << below;
    if ns - low >= low / 2 && below < 63 {
        below + 1
    } else {
        below
    }
}

impl Default for TimerConfig {
    /// A 1 ms tick (2^20 ns) and 7 levels: the wheel spans 2^62 ns (about 146 years); later
    /// deadlines wait in the overflow list.
    fn default() -> Self {
        TimerConfig { tick_shift: 20, levels: 7 }
    }
}

impl TimerConfig {
    /// The default geometry (1 ms tick, 7 levels).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the tick (slot width of level 0), rounded to the nearest power of two ns.
    ///
    /// # Errors
    /// [`ConfigError::TickOutOfRange`] unless 100 µs <= `tick` <= 1 s.
    pub fn with_tick(mut self, tick: Duration) -> Result<Self, ConfigError> {
        if tick < Duration::from_micros(100) || tick > Duration::from_secs(1) {
            return Err(ConfigError::TickOutOfRange);
        }
        self.tick_shift = nearest_shift(tick.as_nanos() as u64); // <= 1e9: fits
        Ok(self)
    }

    /// Sets the number of 64-slot levels; deadlines beyond `64^levels` ticks go to the
    /// overflow list (fewer levels are useful in tests of the overflow path).
    ///
    /// # Errors
    /// [`ConfigError::LevelsOutOfRange`] unless 1 <= `levels` <= [`MAX_LEVELS`].
    pub fn with_levels(mut self, levels: usize) -> Result<Self, ConfigError> {
        if !(1..=MAX_LEVELS).contains(&levels) {
            return Err(ConfigError::LevelsOutOfRange);
        }
        self.levels = levels;
        Ok(self)
    }

    /// The effective tick in nanoseconds (a power of two).
    pub fn tick_ns(&self) -> u64 {
        1 << self.tick_shift
    }

    /// The effective tick as a shift: `tick_ns() == 1 << tick_shift()`.
    pub fn tick_shift(&self) -> u32 {
        self.tick_shift
    }

    /// The number of levels.
    pub fn levels(&self) -> usize {
        self.levels
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_to_the_nearest_power_of_two() {
        assert_eq!(TimerConfig::default().tick_ns(), 1 << 20);
        let t = |us| TimerConfig::default().with_tick(Duration::from_micros(us)).unwrap().tick_ns();
        assert_eq!(t(1000), 1 << 20);
        assert_eq!(t(100), 1 << 17);
        assert_eq!(t(1_000_000), 1 << 30);
        assert_eq!(nearest_shift(3), 2);
        assert_eq!(nearest_shift(5), 2);
        assert_eq!(nearest_shift(6), 3);
    }
}
