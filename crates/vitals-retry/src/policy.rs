use std::{fmt, time::Duration};

/// How a delay is randomised around its exponential base.
///
/// `base(k) = min(max_delay, initial · multiplier^k)` for the `k`-th retry (from 0). Whatever
/// the mode, the result is capped at `max_delay` again after jitter.
/// The formulas follow AWS's "Exponential Backoff And Jitter".
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Jitter {
    /// Exactly `base(k)`.
    None,
    /// Uniform in `[0, base(k)]`.
    Full,
    /// Uniform in `[base(k) / 2, base(k)]`.
    Equal,
    /// Uniform in `[initial, 3 · previous]`, starting from `previous = initial`.
    Decorrelated,
    /// Uniform in `[base(k) · (1 − f), base(k) · (1 + f)]` for a fraction `f` in `[0, 1]`:
    /// delays read "~1 s, ~2 s, ~4 s". The default is `Proportional(0.25)`.
    Proportional(f64),
}

impl Default for Jitter {
    fn default() -> Self {
        Jitter::Proportional(0.25)
    }
}

/// A retry schedule: exponential backoff with jitter, capped at a maximum delay.
///
/// `Backoff` is `Copy` and cheap: it holds only the parameters. Build one with
/// [`Backoff::builder`] (validated) or take [`Backoff::default`], the health-check defaults of
/// the deployment guide (3 retries from 1 s, doubling, capped at 10 s, ±25 % jitter).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    pub(crate) initial: Duration,
    pub(crate) multiplier: f64,
    pub(crate) max_delay: Duration,
    pub(crate) retries: u32,
    pub(crate) jitter: Jitter,
}

/// The deployment guide's retries after a failed attempt (`HEALTH_CHECK_RETRIES`).
pub const DEFAULT_RETRIES: u32 = 3;
/// The deployment guide's first retry delay (`HEALTH_CHECK_RETRY_DELAY_MS`).
pub const DEFAULT_INITIAL_DELAY: Duration = Duration::from_secs(1);
/// The deployment guide's cap on any delay (`HEALTH_CHECK_MAX_RETRY_DELAY_MS`).
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(10);

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: DEFAULT_INITIAL_DELAY,
            multiplier: 2.0,
            max_delay: DEFAULT_MAX_DELAY,
            retries: DEFAULT_RETRIES,
            jitter: Jitter::default(),
        }
    }
}

impl Backoff {
    /// A builder starting from the defaults.
    pub fn builder() -> BackoffBuilder {
        BackoffBuilder {
            inner: Backoff::default(),
        }
    }

    /// A schedule that never retries.
    #[must_use]
    pub fn none() -> Self {
        Backoff {
            retries: 0,
            ..Backoff::default()
        }
    }

    /// The first retry's base delay.
    pub fn initial_delay(&self) -> Duration {
        self.initial
    }

    /// The growth factor between successive base delays.
    pub fn multiplier(&self) -> f64 {
        self.multiplier
    }

    /// The hard cap on every delay, applied after jitter.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// How many retries follow a first failed attempt.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The jitter mode.
    pub fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// The un-jittered delay before retry `k` (0-based): `min(max, initial · multiplier^k)`.
    pub fn base_delay(&self, k: u32) -> Duration {
        let max = self.max_delay.as_secs_f64();
        // powi saturates to inf on overflow; min() then clamps, so no overflow panic.
        let exp = self.multiplier.powi(k.min(i32::MAX as u32) as i32);
        let secs = (self.initial.as_secs_f64() * exp).min(max);
        Duration::from_secs_f64(if secs.is_finite() { secs } else { max })
    }

    /// The total of the un-jittered delays: a rough bound for how long all retries sleep.
    pub fn total_base_delay(&self) -> Duration {
        (0..self.retries).map(|k| self.base_delay(k)).sum()
    }

    /// The longest the retries of one run can sleep in all: every delay at the top of its
    /// jitter range (and still capped at [`Backoff::max_delay`]). A deadline at least this
    /// much longer than the attempts themselves always leaves room for every retry.
    ///
    /// ```
    /// use std::time::Duration;
    /// use vitals_retry::Backoff;
    ///
    /// // The defaults: ~1 s, ~2 s, ~4 s with ±25 % jitter sleep at most 1.25 + 2.5 + 5 s.
    /// assert_eq!(Backoff::default().max_total_delay(), Duration::from_millis(8750));
    /// ```
    pub fn max_total_delay(&self) -> Duration {
        self.max_delays().sum()
    }

    /// The longest each retry's delay can be, in order: the top of its jitter range, capped.
    pub fn max_delays(&self) -> impl Iterator<Item = Duration> + use<> {
        let backoff = *self;
        let mut previous = backoff.initial;
        (0..backoff.retries).map(move |k| {
            // Every jitter mode grows with its draw, so the top of the range is u = 1.
            previous = backoff.jittered(k, 1.0, previous);
            previous
        })
    }
}

/// Builds a validated [`Backoff`].
///
/// ```
/// use std::time::Duration;
/// use vitals_retry::{Backoff, Jitter};
///
/// let backoff = Backoff::builder()
///     .initial_delay(Duration::from_millis(2000))
///     .max_delay(Duration::from_secs(30))
///     .retries(5)
///     .jitter(Jitter::Equal)
///     .build()
///     .unwrap();
/// assert_eq!(backoff.retries(), 5);
/// ```
#[derive(Clone, Copy, Debug)]
#[must_use = "call .build() to get a Backoff"]
pub struct BackoffBuilder {
    inner: Backoff,
}

impl BackoffBuilder {
    /// The first retry's base delay (default 1 s).
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.inner.initial = delay;
        self
    }

    /// The growth factor, at least 1 (default 2).
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.inner.multiplier = multiplier;
        self
    }

    /// The hard cap on any delay, after jitter; at least the initial delay (default 10 s).
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.inner.max_delay = delay;
        self
    }

    /// Retries after the first failed attempt (default 3).
    pub fn retries(mut self, retries: u32) -> Self {
        self.inner.retries = retries;
        self
    }

    /// The jitter mode (default `Proportional(0.25)`).
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.inner.jitter = jitter;
        self
    }

    /// Checks the parameters and returns the schedule.
    pub fn build(self) -> Result<Backoff, InvalidBackoff> {
        let b = self.inner;
        if !(b.multiplier.is_finite() && b.multiplier >= 1.0) {
            return Err(InvalidBackoff(format!(
                "multiplier {} is invalid: expected a finite number >= 1",
                b.multiplier
            )));
        }
        if b.max_delay < b.initial {
            return Err(InvalidBackoff(format!(
                "max delay {} ms is below the initial delay {} ms: expected max >= initial",
                b.max_delay.as_millis(),
                b.initial.as_millis()
            )));
        }
        if let Jitter::Proportional(f) = b.jitter
            && !(0.0..=1.0).contains(&f)
        {
            return Err(InvalidBackoff(format!(
                "proportional jitter {f} is invalid: expected a fraction from 0 to 1"
            )));
        }
        Ok(b)
    }
}

/// A [`BackoffBuilder`] was given parameters that make no schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidBackoff(String);

impl fmt::Display for InvalidBackoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidBackoff {}
