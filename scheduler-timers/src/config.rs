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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    tick_ns: u64,
    levels: usize,
}

impl Default for TimerConfig {
    /// A 1 ms tick and 7 levels: the wheel spans 64^7 ms (about 139 years); later deadlines
    /// wait in the overflow list.
    fn default() -> Self {
        TimerConfig { tick_ns: 1_000_000, levels: 7 }
    }
}

impl TimerConfig {
    /// The default geometry (1 ms tick, 7 levels).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the tick (slot width of level 0).
    ///
    /// # Errors
    /// [`ConfigError::TickOutOfRange`] unless 100 µs <= `tick` <= 1 s.
    pub fn with_tick(mut self, tick: Duration) -> Result<Self, ConfigError> {
        if tick < Duration::from_micros(100) || tick > Duration::from_secs(1) {
            return Err(ConfigError::TickOutOfRange);
        }
        self.tick_ns = tick.as_nanos() as u64; // <= 1e9: fits
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

    /// The tick in nanoseconds.
    pub fn tick_ns(&self) -> u64 {
        self.tick_ns
    }

    /// The number of levels.
    pub fn levels(&self) -> usize {
        self.levels
    }
}
