//! The async retry helper and the tower policy, on tokio's paused clock.
use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use tokio::time::Instant;
use vitals_retry::{Backoff, Classification, GiveUp, Jitter, Retry, retry};

fn exact(retries: u32) -> Backoff {
    Backoff::builder()
        .retries(retries)
        .jitter(Jitter::None)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn sleeps_one_two_four_seconds_between_attempts() {
    let start = Instant::now();
    let mut seen = Vec::new();
    let err = Retry::new(exact(3))
        .run(|_| {
            seen.push(start.elapsed());
            async { Err::<(), _>("down") }
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.attempts, err.reason, err.error),
        (4, GiveUp::Exhausted, "down")
    );
    let secs: Vec<u64> = seen.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [0, 1, 3, 7]);
}

#[tokio::test(start_paused = true)]
async fn default_jitter_reads_about_one_two_four_seconds() {
    let start = Instant::now();
    let mut seen = Vec::new();
    let _ = Retry::new(Backoff::default())
        .rng(vitals_retry::Rng::seeded(42))
        .run(|_| {
            seen.push(start.elapsed());
            async { Err::<(), _>(()) }
        })
        .await;
    let gaps: Vec<f64> = seen
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    assert_eq!(gaps.len(), 3);
    for (gap, base) in gaps.iter().zip([1.0, 2.0, 4.0]) {
        assert!((gap - base).abs() <= base * 0.25 + 1e-3, "{gap} vs ~{base}");
    }
}

#[tokio::test(start_paused = true)]
async fn success_reports_the_attempts_it_took() {
    let out = retry(exact(5), |attempt| async move {
        if attempt < 3 { Err("flaky") } else { Ok("up") }
    })
    .await
    .unwrap();
    assert_eq!((out.value, out.attempts), ("up", 3));
}

#[tokio::test(start_paused = true)]
async fn a_permanent_error_stops_at_once() {
    let start = Instant::now();
    let err = Retry::new(exact(5))
        .classify(|e: &&str| {
            if *e == "denied" {
                Classification::Permanent
            } else {
                Classification::Transient
            }
        })
        .run(|_| async { Err::<(), _>("denied") })
        .await
        .unwrap_err();
    assert_eq!((err.attempts, err.reason), (1, GiveUp::Permanent));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn never_sleeps_past_the_deadline() {
    let start = Instant::now();
    let deadline = start + Duration::from_millis(3500);
    let err = Retry::new(exact(10))
        .deadline(deadline)
        .run(|_| async { Err::<(), _>(()) })
        .await
        .unwrap_err();
    // Attempts at 0 s, 1 s, 3 s; the next would start at 7 s > 3.5 s, so no sleep begins.
    assert_eq!((err.attempts, err.reason), (3, GiveUp::Deadline));
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn zero_retries_make_one_attempt() {
    let calls = AtomicU32::new(0);
    let err = retry(Backoff::none(), |_| {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Err::<(), _>(()) }
    })
    .await
    .unwrap_err();
    assert_eq!((err.attempts, calls.load(Ordering::SeqCst)), (1, 1));
}

#[cfg(feature = "tower")]
mod tower_policy {
    use super::*;
    use tower::{Service, ServiceExt, retry::RetryLayer, retry::budget::Budget};
    use vitals_retry::{RetryPolicy, TokenBucket};

    fn failing_until(
        n: u32,
        calls: Arc<AtomicU32>,
    ) -> impl Service<
        u32,
        Response = u32,
        Error = &'static str,
        Future = std::future::Ready<Result<u32, &'static str>>,
    > + Clone {
        tower::service_fn(move |req: u32| {
            let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
            std::future::ready(if call >= n {
                Ok(req)
            } else {
                Err("unavailable")
            })
        })
    }

    #[tokio::test(start_paused = true)]
    async fn retries_with_backoff_per_request() {
        let calls = Arc::new(AtomicU32::new(0));
        let svc = tower::ServiceBuilder::new()
            .layer(RetryLayer::new(RetryPolicy::new(exact(3))))
            .service(failing_until(3, calls.clone()));
        let start = Instant::now();
        assert_eq!(svc.clone().oneshot(7).await, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(start.elapsed(), Duration::from_secs(3)); // 1 s + 2 s

        // A new request starts its own count: it is retried from the first delay again.
        calls.store(0, Ordering::SeqCst);
        let start = Instant::now();
        assert_eq!(svc.oneshot(8).await, Ok(8));
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_retries() {
        let calls = Arc::new(AtomicU32::new(0));
        let svc = tower::ServiceBuilder::new()
            .layer(RetryLayer::new(RetryPolicy::new(exact(2))))
            .service(failing_until(u32::MAX, calls.clone()));
        assert_eq!(svc.oneshot(1).await, Err("unavailable"));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_budget_stops_retries() {
        let calls = Arc::new(AtomicU32::new(0));
        // Room for exactly two retries.
        let policy = RetryPolicy::new(exact(5)).budget(TokenBucket::new(10, 5, 1));
        let svc = tower::ServiceBuilder::new()
            .layer(RetryLayer::new(policy))
            .service(failing_until(u32::MAX, calls.clone()));
        assert_eq!(svc.oneshot(1).await, Err("unavailable"));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn token_bucket_refunds_up_to_capacity() {
        let bucket = TokenBucket::new(10, 5, 1);
        assert!(bucket.withdraw() && bucket.withdraw());
        assert!(!bucket.withdraw());
        for _ in 0..20 {
            bucket.deposit();
        }
        assert_eq!(bucket.available(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn a_predicate_can_retry_ok_responses() {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let svc = tower::service_fn(move |_: u32| {
            let n = c.fetch_add(1, Ordering::SeqCst) + 1;
            std::future::ready(Ok::<u32, &'static str>(if n < 2 { 503 } else { 200 }))
        });
        let policy = RetryPolicy::new(exact(3))
            .retry_if(|r: &Result<u32, &str>| matches!(r, Ok(503) | Err(_)));
        let svc = tower::ServiceBuilder::new()
            .layer(RetryLayer::new(policy))
            .service(svc);
        assert_eq!(svc.oneshot(0).await, Ok(200));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}

#[cfg(feature = "backoff")]
#[test]
fn implements_the_backoff_crates_trait() {
    use backoff::backoff::Backoff as _;
    let mut delays = exact(2).delays();
    assert_eq!(delays.next_backoff(), Some(Duration::from_secs(1)));
    assert_eq!(delays.next_backoff(), Some(Duration::from_secs(2)));
    assert_eq!(delays.next_backoff(), None);
    delays.reset();
    assert_eq!(delays.next_backoff(), Some(Duration::from_secs(1)));
}
