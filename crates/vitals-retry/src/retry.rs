use std::{fmt, future::Future};

use tokio::time::Instant;

use crate::{Backoff, RandomSource, Rng};

/// Whether a failed attempt is worth retrying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Classification {
    /// The failure may go away: retry after the next delay.
    Transient,
    /// Retrying cannot help: stop now.
    Permanent,
}

/// Why [`Retry::run`] stopped retrying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GiveUp {
    /// The classifier called the last error permanent.
    Permanent,
    /// Every retry of the schedule was used.
    Exhausted,
    /// The next delay would have ended at or past the deadline.
    Deadline,
}

/// A successful outcome and the number of attempts it took (1 = first try).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retried<T> {
    /// The operation's output.
    pub value: T,
    /// Attempts made, including the successful one.
    pub attempts: u32,
}

/// The last error of a retried operation, with the attempts made and why retrying stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryError<E> {
    /// The error of the last attempt.
    pub error: E,
    /// Attempts made, all failed.
    pub attempts: u32,
    /// Why no further attempt was made.
    pub reason: GiveUp,
}

impl<E: fmt::Display> fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.reason {
            GiveUp::Permanent => "permanent error",
            GiveUp::Exhausted => "retries exhausted",
            GiveUp::Deadline => "deadline reached",
        };
        write!(
            f,
            "{} (after {} attempt{}, {why})",
            self.error,
            self.attempts,
            if self.attempts == 1 { "" } else { "s" }
        )
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RetryError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Decides whether an error is transient. Implemented by [`AllTransient`] and by any
/// `Fn(&E) -> Classification`.
pub trait Classify<E> {
    /// Classifies one error.
    fn classify(&self, error: &E) -> Classification;
}

/// Treats every error as transient (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct AllTransient;

impl<E> Classify<E> for AllTransient {
    fn classify(&self, _: &E) -> Classification {
        Classification::Transient
    }
}

impl<E, F: Fn(&E) -> Classification> Classify<E> for F {
    fn classify(&self, error: &E) -> Classification {
        self(error)
    }
}

/// Runs an async operation until it succeeds, the schedule is used up, an error is permanent,
/// or the next sleep would end past the deadline.
///
/// ```
/// use std::time::Duration;
/// use vitals_retry::{Backoff, Classification, GiveUp, Retry};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let backoff = Backoff::builder().retries(5).build().unwrap();
/// let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
/// let err = Retry::new(backoff)
///     .classify(|e: &&str| if *e == "denied" { Classification::Permanent } else { Classification::Transient })
///     .deadline(deadline)
///     .run(|_attempt| async { Err::<(), _>("timeout") })
///     .await
///     .unwrap_err();
/// // ~1 s then ~2 s fit before the deadline; ~4 s more would not.
/// assert_eq!((err.attempts, err.reason), (3, GiveUp::Deadline));
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use = "call .run(operation) to retry it"]
pub struct Retry<C = AllTransient, R = Rng> {
    backoff: Backoff,
    classify: C,
    deadline: Option<Instant>,
    rng: R,
}

impl Retry {
    /// Retries with `backoff`, every error transient, no deadline.
    pub fn new(backoff: Backoff) -> Self {
        Retry {
            backoff,
            classify: AllTransient,
            deadline: None,
            rng: Rng::new(),
        }
    }
}

impl<C, R> Retry<C, R> {
    /// Classifies errors: a permanent one stops retrying at once.
    pub fn classify<E, C2: Classify<E>>(self, classify: C2) -> Retry<C2, R> {
        Retry {
            backoff: self.backoff,
            classify,
            deadline: self.deadline,
            rng: self.rng,
        }
    }

    /// Never starts a sleep that would end at or past `deadline` (tokio's clock, so it can be paused
    /// in tests). The operation itself is not cut off; bound each attempt yourself.
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Like [`Retry::deadline`], but optional.
    pub fn deadline_opt(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }

    /// The random source for jitter.
    pub fn rng<R2: RandomSource>(self, rng: R2) -> Retry<C, R2> {
        Retry {
            backoff: self.backoff,
            classify: self.classify,
            deadline: self.deadline,
            rng,
        }
    }

    /// Runs `operation`, which receives the 1-based attempt number.
    pub async fn run<T, E, Fut, Op>(self, mut operation: Op) -> Result<Retried<T>, RetryError<E>>
    where
        Op: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        C: Classify<E>,
        R: RandomSource,
    {
        let mut delays = self.backoff.delays_with(self.rng);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let error = match operation(attempts).await {
                Ok(value) => return Ok(Retried { value, attempts }),
                Err(error) => error,
            };
            let reason = if self.classify.classify(&error) == Classification::Permanent {
                GiveUp::Permanent
            } else {
                match delays.next() {
                    None => GiveUp::Exhausted,
                    Some(delay) => {
                        let wake = Instant::now() + delay;
                        // A retry starting at the deadline would have no time left to run.
                        if self.deadline.is_some_and(|deadline| wake >= deadline) {
                            GiveUp::Deadline
                        } else {
                            tokio::time::sleep_until(wake).await;
                            continue;
                        }
                    }
                }
            };
            return Err(RetryError {
                error,
                attempts,
                reason,
            });
        }
    }
}

/// Retries `operation` with `backoff`, treating every error as transient and with no deadline.
///
/// ```
/// use vitals_retry::{retry, Backoff};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let out = retry(Backoff::default(), |attempt| async move {
///     if attempt < 3 { Err("not yet") } else { Ok(attempt) }
/// })
/// .await
/// .unwrap();
/// assert_eq!((out.value, out.attempts), (3, 3));
/// # }
/// ```
pub async fn retry<T, E, Fut, Op>(
    backoff: Backoff,
    operation: Op,
) -> Result<Retried<T>, RetryError<E>>
where
    Op: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    Retry::new(backoff).run(operation).await
}
