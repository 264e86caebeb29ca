//! Exponential backoff with jitter whose maximum is a hard cap.
//!
//! A [`Backoff`] describes a retry schedule: an initial delay, a multiplier, a maximum delay,
//! a number of retries and a [`Jitter`] mode. It is used:
//!
//! - as an iterator of delays ([`Backoff::delays`]), with randomness that can be seeded
//!   ([`Backoff::delays_seeded`]) or injected ([`Backoff::delays_with`]) so tests are
//!   deterministic;
//! - by the async [`retry`](crate::Retry) helper (feature `tokio`, on by default);
//! - as a [`tower::retry::Policy`](crate::RetryPolicy) (feature `tower`);
//! - through the `backoff` crate's trait (feature `backoff`, off by default: that crate is
//!   unmaintained, RUSTSEC-2025-0012).
//!
//! Unlike most backoff crates, the maximum delay is applied **after** jitter: no delay this
//! crate produces ever exceeds [`Backoff::max_delay`]. There is no hidden elapsed-time limit;
//! bound a whole run with a deadline instead.
//!
//! ```
//! use std::time::Duration;
//! use vitals_retry::Backoff;
//!
//! // The defaults: 3 retries, ~1 s, ~2 s, ~4 s (±25 %), never above 10 s.
//! let backoff = Backoff::default();
//! let delays: Vec<Duration> = backoff.delays_seeded(7).collect();
//! assert_eq!(delays.len(), 3);
//! for (k, delay) in delays.iter().enumerate() {
//!     let base = Duration::from_millis(1000 << k);
//!     assert!(*delay >= base.mul_f64(0.75) && *delay <= base.mul_f64(1.25));
//! }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod delays;
mod policy;

#[cfg(feature = "tokio")]
mod retry;

#[cfg(feature = "tower")]
mod tower_policy;

#[cfg(feature = "backoff")]
mod backoff_compat;

pub use delays::{Delays, RandomSource, Rng};
pub use policy::{
    Backoff, BackoffBuilder, DEFAULT_INITIAL_DELAY, DEFAULT_MAX_DELAY, DEFAULT_RETRIES,
    InvalidBackoff, Jitter,
};

#[cfg(feature = "tokio")]
pub use retry::{
    AllTransient, Classification, Classify, GiveUp, Retried, Retry, RetryError, retry,
};

#[cfg(feature = "tower")]
pub use tower_policy::{RetryOnError, RetryPolicy, ShouldRetry, TokenBucket};
