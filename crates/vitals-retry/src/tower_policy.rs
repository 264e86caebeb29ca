use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
};

use tower::retry::{Policy, budget::Budget};

use crate::{Backoff, Delays, Rng};

/// Decides from a result whether a request is retried. Implemented by [`RetryOnError`] and by
/// any `Fn(&Result<Res, E>) -> bool`.
pub trait ShouldRetry<Res, E> {
    /// `true` to retry the request that produced `result`.
    fn should_retry(&self, result: &Result<Res, E>) -> bool;
}

/// Retries every `Err` and no `Ok` (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct RetryOnError;

impl<Res, E> ShouldRetry<Res, E> for RetryOnError {
    fn should_retry(&self, result: &Result<Res, E>) -> bool {
        result.is_err()
    }
}

impl<Res, E, F: Fn(&Result<Res, E>) -> bool> ShouldRetry<Res, E> for F {
    fn should_retry(&self, result: &Result<Res, E>) -> bool {
        self(result)
    }
}

/// A [`tower::retry::Policy`] that sleeps the delays of a [`Backoff`] between attempts.
///
/// `tower::retry::Retry` clones the policy for every request, so the attempt count is per
/// request; clones are cheap (a few words and an optional `Arc`). Each request draws its own
/// jitter unless the policy is [seeded](RetryPolicy::seeded). An optional shared
/// [`Budget`] (e.g. [`TokenBucket`]) stops retry storms when a dependency is down for everyone.
///
/// ```
/// use tower::{ServiceBuilder, retry::RetryLayer};
/// use vitals_retry::{Backoff, RetryPolicy, TokenBucket};
///
/// let policy = RetryPolicy::new(Backoff::default()).budget(TokenBucket::aws_standard());
/// let svc = ServiceBuilder::new()
///     .layer(RetryLayer::new(policy))
///     .service_fn(|req: u32| async move { Ok::<_, std::io::Error>(req) });
/// # let _ = svc;
/// ```
#[derive(Clone)]
pub struct RetryPolicy<F = RetryOnError> {
    backoff: Backoff,
    seed: Option<u64>,
    // Created at the first retry, so clones made per request each get fresh randomness.
    delays: Option<Delays<Rng>>,
    budget: Option<Arc<dyn Budget + Send + Sync>>,
    should_retry: F,
}

impl<F> fmt::Debug for RetryPolicy<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("backoff", &self.backoff)
            .field("seed", &self.seed)
            .field(
                "retries_done",
                &self.delays.as_ref().map_or(0, Delays::taken),
            )
            .field("budget", &self.budget.is_some())
            .finish()
    }
}

impl RetryPolicy {
    /// Retries every error with the delays of `backoff`.
    #[must_use]
    pub fn new(backoff: Backoff) -> Self {
        RetryPolicy {
            backoff,
            seed: None,
            delays: None,
            budget: None,
            should_retry: RetryOnError,
        }
    }
}

impl<F> RetryPolicy<F> {
    /// Decides per result whether to retry.
    #[must_use]
    pub fn retry_if<G>(self, should_retry: G) -> RetryPolicy<G> {
        RetryPolicy {
            backoff: self.backoff,
            seed: self.seed,
            delays: self.delays,
            budget: self.budget,
            should_retry,
        }
    }

    /// Withdraws from `budget` before each retry and deposits on each request that needs none.
    #[must_use]
    pub fn budget(mut self, budget: impl Budget + Send + Sync + 'static) -> Self {
        self.budget = Some(Arc::new(budget));
        self
    }

    /// Shares an existing budget between several policies.
    #[must_use]
    pub fn shared_budget(mut self, budget: Arc<dyn Budget + Send + Sync>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Jitters every request with the same seeded sequence (deterministic tests).
    #[must_use]
    pub fn seeded(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
}

impl<Req: Clone, Res, E, F: ShouldRetry<Res, E>> Policy<Req, Res, E> for RetryPolicy<F> {
    type Future = tokio::time::Sleep;

    fn retry(&mut self, _req: &mut Req, result: &mut Result<Res, E>) -> Option<Self::Future> {
        if !self.should_retry.should_retry(result) {
            if let Some(budget) = &self.budget {
                budget.deposit();
            }
            return None;
        }
        let (backoff, seed) = (self.backoff, self.seed);
        let delays = self.delays.get_or_insert_with(|| match seed {
            Some(seed) => backoff.delays_seeded(seed),
            None => backoff.delays(),
        });
        if delays.taken() >= backoff.retries() {
            return None;
        }
        if let Some(budget) = &self.budget
            && !budget.withdraw()
        {
            return None;
        }
        delays.next().map(tokio::time::sleep)
    }

    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        Some(req.clone())
    }
}

/// A retry budget as a token bucket, like the AWS SDKs' standard retry mode: each retry
/// withdraws `retry_cost` tokens, each request that needs no retry deposits `refund` tokens
/// (up to `capacity`), and when the bucket is empty nothing is retried.
#[derive(Debug)]
pub struct TokenBucket {
    tokens: AtomicU32,
    capacity: u32,
    retry_cost: u32,
    refund: u32,
}

impl TokenBucket {
    /// A full bucket of `capacity` tokens.
    #[must_use]
    pub fn new(capacity: u32, retry_cost: u32, refund: u32) -> Self {
        TokenBucket {
            tokens: AtomicU32::new(capacity),
            capacity,
            retry_cost,
            refund,
        }
    }

    /// The AWS SDK standard mode: 500 tokens, 5 per retry, 1 back per success.
    #[must_use]
    pub fn aws_standard() -> Self {
        TokenBucket::new(500, 5, 1)
    }

    /// Tokens left.
    pub fn available(&self) -> u32 {
        self.tokens.load(Ordering::Acquire)
    }
}

impl Budget for TokenBucket {
    fn deposit(&self) {
        let _ = self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_add(self.refund).min(self.capacity))
            });
    }

    fn withdraw(&self) -> bool {
        self.tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                t.checked_sub(self.retry_cost)
            })
            .is_ok()
    }
}
