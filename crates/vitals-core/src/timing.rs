//! The one timing rule: how long an attempt, a run and a served result may take.
//!
//! 1. **An attempt** is bounded by the check's own driver timeout
//!    ([`Check::attempt_timeout`](crate::Check::attempt_timeout): Mongo server selection plus
//!    its command timeout, Redis connect plus command timeout, …). The registry cuts it only a
//!    grace period later ([`attempt_grace`]), so the driver's own error ("connection refused",
//!    "DNS lookup failed") is what a report shows, not a generic "timed out". A check without a
//!    driver timeout is cut at the registry's default attempt timeout (10 s); an explicit
//!    [`CheckOptions::attempt_timeout`](crate::CheckOptions::attempt_timeout) wins over both.
//! 2. **A run** (all attempts and the backoff delays between them) has a budget. Unless one is
//!    set, it is derived so that every planned attempt fits at worst:
//!    `(retries + 1) × attempt + Σ max delay`, each delay at the top of its jitter range.
//!    A set budget that cannot hold every attempt is accepted; [`CheckTiming::fits`] says so and
//!    [`CheckTiming::attempts_that_fit`] says how many do, so the application can warn once.
//! 3. **A caller** (a probe request, a gRPC deadline) never changes a run: it only bounds its
//!    own wait, and gets the latest result (with its age) or the pending status.
//! 4. **A result** older than its maximum age (refresh period + budget unless set) counts as
//!    failed: a run that should have replaced it did not.
use std::time::Duration;

use vitals_retry::Backoff;

/// The attempt timeout of a check that declares no driver timeout and sets none.
pub(crate) const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a probe request waits for a run it started or joined before it answers from the
/// latest result (stale-while-revalidate): well under kubelet's 1 s default `timeoutSeconds`.
pub(crate) const DEFAULT_ANSWER_WITHIN: Duration = Duration::from_millis(250);

/// The time the registry leaves a driver's own timeout to surface before it cuts an attempt:
/// a tenth of it, at least 100 ms and at most 2 s.
pub fn attempt_grace(driver_timeout: Duration) -> Duration {
    (driver_timeout / 10).clamp(Duration::from_millis(100), Duration::from_secs(2))
}

/// How one check is timed, resolved once when the registry is built
/// ([`Health::timings`](crate::Health::timings)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckTiming {
    /// The driver's own bound of one attempt, when the check declares one.
    pub driver_timeout: Option<Duration>,
    /// Where the registry cuts one attempt.
    pub attempt_timeout: Duration,
    /// The longest all retry delays of one run sleep together.
    pub max_total_delay: Duration,
    /// The budget of one run: every attempt and every delay.
    pub budget: Duration,
    /// Whether the budget was set; else it was derived so that every planned attempt fits.
    pub budget_is_set: bool,
    /// The attempts the retry schedule plans: its retries and the first try.
    pub planned_attempts: u32,
    /// The attempts that fit whole in the budget at worst (every attempt cut, every delay at
    /// its longest). The first attempt always runs, cut at the budget if need be.
    pub attempts_that_fit: u32,
    /// A result older than this counts as failed.
    pub max_age: Duration,
}

impl CheckTiming {
    /// Resolves the rule for one check.
    pub(crate) fn resolve(
        driver_timeout: Option<Duration>,
        attempt_timeout: Option<Duration>,
        default_attempt_timeout: Duration,
        budget: Option<Duration>,
        backoff: &Backoff,
        refresh_period: Duration,
        max_age: Option<Duration>,
    ) -> CheckTiming {
        let attempt_timeout = attempt_timeout
            .or(driver_timeout.map(|d| d + attempt_grace(d)))
            .unwrap_or(default_attempt_timeout);
        let planned_attempts = backoff.retries().saturating_add(1);
        // worst[n - 1]: the longest n attempts and the n - 1 delays between them take.
        let mut worst = Vec::with_capacity(planned_attempts as usize);
        worst.push(attempt_timeout);
        for delay in backoff.max_delays() {
            let previous = *worst.last().expect("starts with one attempt");
            worst.push(previous + delay + attempt_timeout);
        }
        let needed = *worst.last().expect("at least one attempt");
        let budget_is_set = budget.is_some();
        let budget = budget.unwrap_or(needed);
        let attempts_that_fit = worst.iter().filter(|w| **w <= budget).count() as u32;
        CheckTiming {
            driver_timeout,
            attempt_timeout,
            max_total_delay: backoff.max_total_delay(),
            budget,
            budget_is_set,
            planned_attempts,
            attempts_that_fit,
            max_age: max_age.unwrap_or(refresh_period + budget),
        }
    }

    /// Whether every planned attempt fits in the budget.
    pub fn fits(&self) -> bool {
        self.attempts_that_fit >= self.planned_attempts
    }

    /// The budget in which every planned attempt would fit.
    pub fn budget_needed(&self) -> Duration {
        self.attempt_timeout * self.planned_attempts + self.max_total_delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn the_guides_defaults_fit_every_attempt_of_a_30_s_driver_timeout() {
        // Mongo: 30 s server selection; 3 retries of ~1, ~2, ~4 s (at most 1.25, 2.5, 5 s).
        let t = CheckTiming::resolve(
            Some(secs(30.0)),
            None,
            DEFAULT_ATTEMPT_TIMEOUT,
            None,
            &Backoff::default(),
            secs(5.0),
            None,
        );
        assert_eq!(t.attempt_timeout, secs(32.0));
        assert_eq!(t.max_total_delay, secs(8.75));
        assert_eq!(t.budget, secs(4.0 * 32.0 + 8.75));
        assert_eq!((t.planned_attempts, t.attempts_that_fit), (4, 4));
        assert!(t.fits() && !t.budget_is_set);
        assert_eq!(t.max_age, secs(5.0) + t.budget);
        assert_eq!(t.budget_needed(), t.budget);
    }

    #[test]
    fn a_set_budget_that_is_too_short_says_how_many_attempts_fit() {
        let t = CheckTiming::resolve(
            Some(secs(30.0)),
            None,
            DEFAULT_ATTEMPT_TIMEOUT,
            Some(secs(30.0)),
            &Backoff::default(),
            secs(1.0),
            None,
        );
        assert!(!t.fits());
        // Not even one 32 s attempt fits whole.
        assert_eq!(t.attempts_that_fit, 0);
        let t = CheckTiming::resolve(
            None,
            Some(secs(1.0)),
            DEFAULT_ATTEMPT_TIMEOUT,
            Some(secs(5.0)),
            &Backoff::default(),
            secs(1.0),
            None,
        );
        // 1 + 1.25 + 1 + 2.5 + 1 = 6.75 > 5: two attempts fit.
        assert_eq!(t.attempts_that_fit, 2);
    }

    #[test]
    fn grace_is_a_tenth_within_bounds() {
        assert_eq!(attempt_grace(secs(0.5)), secs(0.1));
        assert_eq!(attempt_grace(secs(10.0)), secs(1.0));
        assert_eq!(attempt_grace(secs(60.0)), secs(2.0));
    }
}
