use std::time::Duration;

use crate::{Backoff, Jitter};

/// A source of uniform random numbers in `[0, 1)` for jitter.
///
/// Implemented by [`Rng`] and by any `FnMut() -> f64`, so a test can inject a fixed sequence.
pub trait RandomSource {
    /// The next number, uniform in `[0, 1)`.
    fn next_f64(&mut self) -> f64;
}

impl<F: FnMut() -> f64> RandomSource for F {
    fn next_f64(&mut self) -> f64 {
        self()
    }
}

/// The default random source: a small fast generator, seeded from entropy or from a number.
#[derive(Clone, Debug)]
pub struct Rng(fastrand::Rng);

impl Rng {
    /// A generator seeded from the thread-local generator (itself seeded from entropy).
    #[must_use]
    pub fn new() -> Self {
        Rng(fastrand::Rng::new())
    }

    /// A deterministic generator.
    #[must_use]
    pub fn seeded(seed: u64) -> Self {
        Rng(fastrand::Rng::with_seed(seed))
    }
}

impl Default for Rng {
    fn default() -> Self {
        Rng::new()
    }
}

impl RandomSource for Rng {
    fn next_f64(&mut self) -> f64 {
        self.0.f64()
    }
}

/// The delays of a [`Backoff`], one per retry. Yields exactly [`Backoff::retries`] items.
#[derive(Clone, Debug)]
pub struct Delays<R = Rng> {
    backoff: Backoff,
    rng: R,
    retry: u32,
    previous: Duration,
}

impl Backoff {
    /// The delays of this schedule, jittered by an entropy-seeded generator.
    pub fn delays(&self) -> Delays<Rng> {
        self.delays_with(Rng::new())
    }

    /// The delays of this schedule, jittered by a generator seeded with `seed`: the same seed
    /// gives the same delays.
    pub fn delays_seeded(&self, seed: u64) -> Delays<Rng> {
        self.delays_with(Rng::seeded(seed))
    }

    /// The delays of this schedule, jittered by the given source.
    ///
    /// ```
    /// use std::time::Duration;
    /// use vitals_retry::{Backoff, Jitter};
    ///
    /// // A source that always returns 0.999…: full jitter then gives (almost) the base delay.
    /// let backoff = Backoff::builder().jitter(Jitter::Full).build().unwrap();
    /// let first = backoff.delays_with(|| 0.999_999).next().unwrap();
    /// assert!(first > Duration::from_millis(999));
    /// ```
    pub fn delays_with<R: RandomSource>(&self, rng: R) -> Delays<R> {
        Delays {
            backoff: *self,
            rng,
            retry: 0,
            previous: self.initial,
        }
    }

    /// The delay before retry `k` (0-based) for a random draw `u` in `[0, 1)`, given the
    /// previous delay (used only by decorrelated jitter). Always `<= max_delay`.
    pub(crate) fn jittered(&self, k: u32, u: f64, previous: Duration) -> Duration {
        let u = if u.is_finite() {
            u.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let max = self.max_delay.as_secs_f64();
        let base = self.base_delay(k).as_secs_f64();
        let secs = match self.jitter {
            Jitter::None => base,
            Jitter::Full => base * u,
            Jitter::Equal => base / 2.0 + base / 2.0 * u,
            Jitter::Decorrelated => {
                let low = self.initial.as_secs_f64();
                let high = (previous.as_secs_f64() * 3.0).max(low);
                low + (high - low) * u
            }
            Jitter::Proportional(f) => base * (1.0 - f + 2.0 * f * u),
        };
        // The cap comes last, so jitter can never push a delay past the maximum.
        Duration::from_secs_f64(secs.clamp(0.0, max))
    }
}

impl<R> Delays<R> {
    /// Starts the schedule again from the first retry, keeping the random source.
    pub fn reset(&mut self) {
        self.retry = 0;
        self.previous = self.backoff.initial;
    }

    /// How many delays have been taken so far.
    pub fn taken(&self) -> u32 {
        self.retry
    }
}

impl<R: RandomSource> Iterator for Delays<R> {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.retry >= self.backoff.retries {
            return None;
        }
        let delay = self
            .backoff
            .jittered(self.retry, self.rng.next_f64(), self.previous);
        self.retry += 1;
        self.previous = delay;
        Some(delay)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.backoff.retries - self.retry) as usize;
        (left, Some(left))
    }
}

impl<R: RandomSource> ExactSizeIterator for Delays<R> {}
impl<R: RandomSource> std::iter::FusedIterator for Delays<R> {}
