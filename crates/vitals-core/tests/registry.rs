//! The registry's behaviour on tokio's paused clock: no test here sleeps for real.
use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::Duration,
};

use tokio::time::Instant;
use vitals_core::{
    Backoff, Check, CheckError, CheckOptions, CheckStatus, Details, Health, Jitter, Probe, Probes,
    Provenance, ReportOptions, Skip, Status, async_trait,
};

type Behaviour =
    dyn Fn(u32) -> Pin<Box<dyn Future<Output = Result<Details, CheckError>> + Send>> + Send + Sync;

/// A check whose behaviour is a closure of the call number; counts its calls.
struct Scripted {
    name: String,
    component: String,
    calls: Arc<AtomicU32>,
    behaviour: Box<Behaviour>,
    secrets: Vec<String>,
    driver_timeout: Option<Duration>,
}

impl Scripted {
    fn new<F, Fut>(name: &str, behaviour: F) -> (Self, Arc<AtomicU32>)
    where
        F: Fn(u32) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Details, CheckError>> + Send + 'static,
    {
        let calls = Arc::new(AtomicU32::new(0));
        let check = Scripted {
            name: name.to_owned(),
            component: name.to_owned(),
            calls: calls.clone(),
            behaviour: Box::new(move |n| Box::pin(behaviour(n))),
            secrets: Vec::new(),
            driver_timeout: None,
        };
        (check, calls)
    }

    fn component(mut self, component: &str) -> Self {
        self.component = component.to_owned();
        self
    }

    /// Declares the driver's own bound of an attempt, as the probe crates do.
    fn driver_timeout(mut self, timeout: Duration) -> Self {
        self.driver_timeout = Some(timeout);
        self
    }
}

#[async_trait]
impl Check for Scripted {
    fn name(&self) -> &str {
        &self.name
    }
    fn component(&self) -> &str {
        &self.component
    }
    fn secrets(&self) -> Vec<String> {
        self.secrets.clone()
    }
    fn attempt_timeout(&self) -> Option<Duration> {
        self.driver_timeout
    }
    async fn check(&self) -> Result<Details, CheckError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        (self.behaviour)(n).await
    }
}

fn ok() -> Result<Details, CheckError> {
    Ok(Details::new())
}

fn no_retries() -> CheckOptions {
    CheckOptions::new().backoff(Backoff::none())
}

#[tokio::test(start_paused = true)]
async fn default_retries_wait_about_one_two_four_seconds() {
    let times = Arc::new(Mutex::new(Vec::new()));
    let t = times.clone();
    let (check, calls) = Scripted::new("db", move |_| {
        t.lock().unwrap().push(Instant::now());
        async { Err(CheckError::new("connection refused")) }
    });
    let health = Health::builder()
        .run_budget(Duration::from_secs(30))
        .register(check)
        .build();
    let report = health.run(Probe::Readiness).await;
    assert_eq!(report.status, Status::Fail);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(report.checks[0].attempts, 4);
    let times = times.lock().unwrap();
    for (pair, base) in times.windows(2).zip([1.0, 2.0, 4.0]) {
        let gap = (pair[1] - pair[0]).as_secs_f64();
        assert!(
            (gap - base).abs() <= base * 0.25 + 1e-3,
            "gap {gap} s, expected ~{base} s"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_hanging_check_is_cut_at_its_timeout() {
    let (check, _) = Scripted::new("hang", |_| std::future::pending());
    let health = Health::builder()
        .register_with(check, no_retries().run_budget(Duration::from_secs(2)))
        .build();
    let start = Instant::now();
    let report = health.run(Probe::Readiness).await;
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    let entry = &report.checks[0];
    assert_eq!(entry.status, CheckStatus::Fail);
    assert_eq!(entry.output.as_deref(), Some("timed out after 2s"));
}

#[tokio::test(start_paused = true)]
async fn retries_share_the_budget_and_each_attempt_is_bounded() {
    // Attempts hang; each is cut at 1 s, sleeps of ~1 s and ~2 s follow; the 5 s budget ends
    // the run before a third sleep could start.
    let (check, calls) = Scripted::new("hang", |_| std::future::pending());
    let backoff = Backoff::builder()
        .retries(10)
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let health = Health::builder()
        .register_with(
            check,
            CheckOptions::new()
                .run_budget(Duration::from_secs(5))
                .attempt_timeout(Duration::from_secs(1))
                .backoff(backoff),
        )
        .build();
    let start = Instant::now();
    let report = health.run(Probe::Readiness).await;
    // t=0..1 attempt, sleep 1 s, t=2..3 attempt; a 2 s sleep would end at the 5 s budget,
    // leaving a third attempt no time, so the run stops at 3 s.
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(report.checks[0].attempts, 2);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        report.checks[0].output.as_deref(),
        Some("timed out after 1s")
    );
}

#[tokio::test(start_paused = true)]
async fn fifty_slow_checks_run_concurrently() {
    let mut builder = Health::builder();
    for i in 0..50 {
        let (check, _) = Scripted::new(&format!("c{i}"), |_| async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            ok()
        });
        builder = builder.register(check);
    }
    let health = builder.build();
    let start = Instant::now();
    let report = health.run(Probe::Readiness).await;
    assert_eq!(report.status, Status::Pass);
    assert_eq!(report.checks.len(), 50);
    assert!(
        start.elapsed() < Duration::from_millis(150),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_thousand_probes_on_a_stale_cache_run_each_check_once() {
    let slow = |_| async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        ok()
    };
    let (a, a_calls) = Scripted::new("a", slow);
    let (b, b_calls) = Scripted::new("b", slow);
    let health = Health::builder()
        .ttl(Duration::from_secs(1))
        .register(a)
        .register(b)
        .build();

    for round in 1..=2 {
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let health = health.clone();
                tokio::spawn(async move { health.run(Probe::Readiness).await.status })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), Status::Pass);
        }
        assert_eq!(a_calls.load(Ordering::SeqCst), round);
        assert_eq!(b_calls.load(Ordering::SeqCst), round);
        // Within the TTL the cache answers without running anything.
        let cached = health.run(Probe::Readiness).await;
        assert_eq!(cached.checks[0].provenance, Provenance::Cached);
        assert_eq!(a_calls.load(Ordering::SeqCst), round);
        tokio::time::advance(Duration::from_millis(1001)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_caller_does_not_cancel_the_shared_run() {
    let (check, calls) = Scripted::new("slow", |_| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        ok()
    });
    let health = Health::builder().register(check).build();
    let h = health.clone();
    let first = tokio::spawn(async move { h.run(Probe::Readiness).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    first.abort();
    let report = health.run(Probe::Readiness).await;
    assert_eq!(report.status, Status::Pass);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_check_is_a_failed_check() {
    let (bad, _) = Scripted::new("bad", |_| async { panic!("index out of bounds") });
    let (good, _) = Scripted::new("good", |_| async { ok() });
    let health = Health::builder()
        .register_with(bad, no_retries())
        .register(good)
        .build();
    let report = health.run(Probe::Readiness).await;
    assert_eq!(report.status, Status::Fail);
    let bad = report.check("bad").unwrap();
    assert_eq!(bad.status, CheckStatus::Fail);
    assert_eq!(
        bad.output.as_deref(),
        Some("check panicked: index out of bounds")
    );
    assert_eq!(report.check("good").unwrap().status, CheckStatus::Pass);
    // The registry still works afterwards.
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(
        health
            .run(Probe::Readiness)
            .await
            .check("good")
            .unwrap()
            .status,
        CheckStatus::Pass
    );
}

#[tokio::test(start_paused = true)]
async fn drain_fails_readiness_at_once_without_running_checks() {
    let (check, calls) = Scripted::new("db", |_| async { ok() });
    let health = Health::builder().register(check).build();
    assert_eq!(health.run(Probe::Readiness).await.status, Status::Pass);
    tokio::time::advance(Duration::from_secs(5)).await;
    health.drain();
    let start = Instant::now();
    let report = health.run(Probe::Readiness).await;
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(report.status, Status::Fail);
    assert!(report.output.as_deref().unwrap().contains("draining"));
    assert_eq!(report.checks[0].provenance, Provenance::Draining);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Liveness is unaffected: the process is fine, it is just leaving.
    assert_eq!(health.run(Probe::Liveness).await.status, Status::Pass);
    // The latest report (status pages, badges) says what the probe says.
    let latest = health.latest(Probe::Readiness);
    assert_eq!(
        (latest.status, latest.output, latest.checks[0].provenance),
        (
            report.status,
            Some("draining: the service is shutting down".to_owned()),
            Provenance::Draining
        )
    );
    assert_eq!(health.latest(Probe::Liveness).status, Status::Pass);
}

#[tokio::test(start_paused = true)]
async fn startup_fails_until_the_first_pass_then_latches() {
    let up = Arc::new(AtomicBool::new(false));
    let u = up.clone();
    let (check, calls) = Scripted::new("db", move |_| {
        let up = u.load(Ordering::SeqCst);
        async move {
            if up {
                ok()
            } else {
                Err(CheckError::new("dns not ready"))
            }
        }
    });
    let health = Health::builder()
        .register_with(check, no_retries())
        .ttl(Duration::ZERO)
        .build();
    assert_eq!(health.run(Probe::Startup).await.status, Status::Fail);
    assert!(!health.is_started());
    up.store(true, Ordering::SeqCst);
    assert_eq!(health.run(Probe::Startup).await.status, Status::Pass);
    assert!(health.is_started());
    up.store(false, Ordering::SeqCst);
    let calls_before = calls.load(Ordering::SeqCst);
    let latched = health.run(Probe::Startup).await;
    assert_eq!(latched.status, Status::Pass);
    assert_eq!(latched.checks[0].provenance, Provenance::Latched);
    assert_eq!(calls.load(Ordering::SeqCst), calls_before);
    // Readiness still tells the truth.
    assert_eq!(health.run(Probe::Readiness).await.status, Status::Fail);
}

#[tokio::test(start_paused = true)]
async fn non_critical_failures_warn_and_damping_delays_fail() {
    let (cache, _) = Scripted::new("cache", |_| async { Err(CheckError::new("refused")) });
    let (db, _) = Scripted::new("db", |_| async { Err(CheckError::new("refused")) });
    let health = Health::builder()
        .ttl(Duration::ZERO)
        .register_with(cache, no_retries().non_critical())
        .register_with(db, no_retries().failure_threshold(3))
        .build();
    let statuses = |r: &vitals_core::Report| {
        (
            r.status,
            r.check("cache").unwrap().status,
            r.check("db").unwrap().status,
        )
    };
    let r1 = health.run(Probe::Readiness).await;
    assert_eq!(
        statuses(&r1),
        (Status::Warn, CheckStatus::Warn, CheckStatus::Warn)
    );
    assert_eq!(
        r1.check("db").unwrap().output.as_deref(),
        Some("refused (failure 1 of 3 before fail)")
    );
    let r2 = health.run(Probe::Readiness).await;
    assert_eq!(
        statuses(&r2),
        (Status::Warn, CheckStatus::Warn, CheckStatus::Warn)
    );
    let r3 = health.run(Probe::Readiness).await;
    assert_eq!(
        statuses(&r3),
        (Status::Fail, CheckStatus::Warn, CheckStatus::Fail)
    );
    assert_eq!(r3.check("db").unwrap().consecutive_failures, 3);
}

#[tokio::test(start_paused = true)]
async fn skipped_checks_are_reported_as_skipped_and_never_run() {
    let (mongo, mongo_calls) = Scripted::new("mongo", |_| async { Err(CheckError::new("down")) });
    let (redis, _) = Scripted::new("cache", |_| async { ok() });
    let health = Health::builder()
        .skip(Skip::none().component("mongo").because("the batch profile"))
        .register(mongo)
        .register(redis.component("redis"))
        .build();
    let report = health.run(Probe::Readiness).await;
    assert_eq!(report.status, Status::Pass);
    let mongo = report.check("mongo").unwrap();
    assert_eq!(mongo.status, CheckStatus::Skipped);
    assert_eq!(
        mongo.output.as_deref(),
        Some("skipped by the batch profile")
    );
    assert_eq!(mongo_calls.load(Ordering::SeqCst), 0);
    assert!(
        report
            .to_health_json(true)
            .contains(r#""status":"skipped""#)
    );
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_not_retried() {
    let (check, calls) = Scripted::new("s3", |_| async {
        Err(CheckError::permanent("no such bucket"))
    });
    let health = Health::builder().register(check).build();
    let report = health.run(Probe::Readiness).await;
    assert_eq!(
        (report.checks[0].attempts, calls.load(Ordering::SeqCst)),
        (1, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn background_checks_run_on_their_interval_and_probes_only_read() {
    let (check, calls) = Scripted::new("db", |n| async move {
        if n % 2 == 1 {
            ok()
        } else {
            Err(CheckError::new("flap"))
        }
    });
    let health = Health::builder()
        .register_with(check, no_retries().interval(Duration::from_secs(10)))
        .build();
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    for _ in 0..5 {
        let report = health.run(Probe::Readiness).await;
        assert_eq!(report.checks[0].provenance, Provenance::Background);
        assert_eq!(report.status, Status::Pass);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(health.run(Probe::Readiness).await.status, Status::Fail);
    // Dropping the registry stops the loop.
    drop(health);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn liveness_excludes_dependencies_by_default_and_membership_is_configurable() {
    let (db, _) = Scripted::new("db", |_| async { Err(CheckError::new("down")) });
    let (deadlock, _) = Scripted::new("deadlock", |_| async { ok() });
    let health = Health::builder()
        .register_with(db, no_retries())
        .register_with(deadlock, no_retries().probes(Probes::NONE.liveness(true)))
        .build();
    let live = health.run(Probe::Liveness).await;
    assert_eq!(live.status, Status::Pass);
    assert_eq!(live.checks.len(), 1);
    assert_eq!(health.run(Probe::All).await.checks.len(), 2);
    let ready = health
        .report(Probe::Readiness, &ReportOptions::new().exclude("db"))
        .await;
    assert!(ready.checks.is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_caller_deadline_bounds_only_its_own_wait() {
    let (check, calls) = Scripted::new("slow", |_| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        ok()
    });
    let health = Health::builder().register(check).build();
    let start = Instant::now();
    let report = health
        .report(
            Probe::Readiness,
            &ReportOptions::new()
                .wait_for_runs()
                .wait_at_most(Duration::from_millis(800)),
        )
        .await;
    assert_eq!(start.elapsed(), Duration::from_millis(800));
    // No result yet: pending, which counts against a critical check.
    assert_eq!(report.status, Status::Fail);
    assert_eq!(report.checks[0].provenance, Provenance::Pending);
    assert_eq!(report.checks[0].output.as_deref(), Some("no result yet"));
    // The run went on with its own budget and is what the next caller sees.
    let report = health.run(Probe::Readiness).await;
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(report.status, Status::Pass);
    assert_eq!(report.checks[0].provenance, Provenance::Fresh);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// Once found: one caller with a 1 ms deadline made every later caller see
/// "failed: timed out after 1ms" until the TTL ended, and fired a pass→fail hook.
#[tokio::test(start_paused = true)]
async fn a_caller_with_a_tiny_deadline_never_poisons_the_shared_result() {
    for background in [false, true] {
        let (check, calls) = Scripted::new("mongo", |_| async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            ok()
        });
        let changes = Arc::new(Mutex::new(Vec::new()));
        let c = changes.clone();
        let mut builder = Health::builder()
            .ttl(Duration::from_secs(5))
            .register(check)
            .on_status_change(move |change| c.lock().unwrap().push(change.to));
        if background {
            builder = builder.interval(Duration::from_secs(5));
        }
        let health = builder.build();
        if background {
            // The first background run ends at 20 ms (tokio's paused clock).
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        assert_eq!(health.run(Probe::Readiness).await.status, Status::Pass);
        tokio::time::advance(Duration::from_millis(5001)).await;

        // Many concurrent callers with mixed deadlines on an expired cache.
        let tasks: Vec<_> = (0..200u64)
            .map(|i| {
                let health = health.clone();
                tokio::spawn(async move {
                    let options = match i % 4 {
                        0 => ReportOptions::new().wait_at_most(Duration::from_millis(1)),
                        1 => ReportOptions::new().wait_at_most(Duration::from_millis(10 + i)),
                        2 => ReportOptions::new(),
                        _ => ReportOptions::new().wait_for_runs(),
                    };
                    health.report(Probe::Readiness, &options).await
                })
            })
            .collect();
        for task in tasks {
            let report = task.await.unwrap();
            assert_eq!(report.status, Status::Pass, "background={background}");
            let entry = &report.checks[0];
            assert_eq!(entry.status, CheckStatus::Pass);
            assert_eq!(entry.consecutive_failures, 0);
            if entry.provenance == Provenance::Refreshing {
                // The latest result, with its age.
                assert!(entry.age >= Duration::from_secs(5), "{:?}", entry.age);
            }
        }
        // Plain callers afterwards: still pass, from a real run, no failure counted.
        let report = health.run(Probe::Readiness).await;
        assert_eq!(report.status, Status::Pass);
        assert_eq!(report.checks[0].consecutive_failures, 0);
        assert_eq!(
            *changes.lock().unwrap(),
            [CheckStatus::Pass],
            "no hook but the first"
        );
        // One run for the first result and one after the expiry, whoever asked.
        assert_eq!(calls.load(Ordering::SeqCst), 2, "background={background}");
    }
}

/// Once found: with a blackholed backend every probe after the TTL waited for
/// the whole budget. Now a probe answers within `answer_within` from the latest result and
/// shows the run in progress.
#[tokio::test(start_paused = true)]
async fn probes_answer_within_the_bound_while_a_run_hangs_and_show_its_progress() {
    let (check, _) = Scripted::new("redis", |n| async move {
        if n == 1 {
            return ok();
        }
        if n == 2 {
            return Err(CheckError::new("connection refused"));
        }
        std::future::pending().await
    });
    let health = Health::builder()
        .ttl(Duration::from_secs(1))
        .attempt_timeout(Duration::from_secs(3))
        .backoff(Backoff::builder().jitter(Jitter::None).build().unwrap())
        .register(check)
        .build();
    assert_eq!(health.run(Probe::Readiness).await.status, Status::Pass);
    tokio::time::advance(Duration::from_millis(1001)).await;

    let start = Instant::now();
    let report = health.report(Probe::Readiness, &ReportOptions::new()).await;
    assert_eq!(start.elapsed(), Duration::from_millis(250));
    let entry = &report.checks[0];
    assert_eq!(entry.provenance, Provenance::Refreshing);
    assert_eq!(entry.status, CheckStatus::Pass);
    // The first attempt failed at once; the second starts after ~1 s.
    assert_eq!(
        entry.progress.as_ref().map(ToString::to_string).as_deref(),
        Some("running: attempt 1 of 4, last error: connection refused")
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    let start = Instant::now();
    let report = health.report(Probe::Readiness, &ReportOptions::new()).await;
    assert_eq!(start.elapsed(), Duration::from_millis(250));
    let text = report.to_text(true);
    assert!(
        text.contains("[+]redis ok (retrying: attempt 2 of 4, last error: connection refused)"),
        "{text}"
    );
    assert!(
        report
            .to_health_json(true)
            .contains(r#""progress":"retrying: attempt 2 of 4, last error: connection refused""#)
    );
}

#[tokio::test(start_paused = true)]
async fn a_result_older_than_its_max_age_counts_as_failed() {
    let (check, _) = Scripted::new("db", |n| async move {
        if n == 1 {
            ok()
        } else {
            std::future::pending().await
        }
    });
    let health = Health::builder()
        .ttl(Duration::from_secs(1))
        .max_age(Duration::from_secs(10))
        .register(check)
        .build();
    health.run(Probe::Readiness).await;
    tokio::time::advance(Duration::from_secs(9)).await;
    let report = health.report(Probe::Readiness, &ReportOptions::new()).await;
    assert_eq!(report.status, Status::Pass, "9 s old: still served");
    assert_eq!(report.checks[0].provenance, Provenance::Refreshing);
    tokio::time::advance(Duration::from_secs(2)).await;
    let report = health.report(Probe::Readiness, &ReportOptions::new()).await;
    assert_eq!(report.status, Status::Fail);
    assert_eq!(
        report.checks[0].output.as_deref(),
        Some("last result (pass) is 11s old (max 10s)")
    );
    assert_eq!(health.cached_status(Probe::Readiness), None);
}

/// Once found: a driver timeout equal to the budget left one attempt, reported
/// as a generic "timed out". Now the budget is derived from the driver's timeout so every
/// planned attempt fits, and the driver's own error is what the report shows.
#[tokio::test(start_paused = true)]
async fn the_driver_timeout_bounds_attempts_and_every_retry_fits() {
    let driver = Duration::from_secs(30);
    let times = Arc::new(Mutex::new(Vec::new()));
    let t = times.clone();
    let (check, calls) = Scripted::new("mongo", move |_| {
        t.lock().unwrap().push(Instant::now());
        async move {
            // A server that never answers: the driver gives up at its own timeout.
            tokio::time::sleep(driver).await;
            Err(CheckError::new(
                "ping: connection refused: nothing listens at that address",
            ))
        }
    });
    let health = Health::builder()
        .jitter_seed(7)
        .register(check.driver_timeout(driver))
        .build();
    let (_, _, timing) = health.timings().next().unwrap();
    assert_eq!(timing.attempt_timeout, Duration::from_secs(32));
    assert!(timing.fits());
    let start = Instant::now();
    let report = health.run(Probe::Readiness).await;
    let entry = &report.checks[0];
    assert_eq!(entry.attempts, 4);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(
        entry.output.as_deref(),
        Some("ping: connection refused: nothing listens at that address")
    );
    assert!(start.elapsed() <= timing.budget, "{:?}", start.elapsed());
    // Between attempts: ~1 s, ~2 s, ~4 s (±25 %) after each 30 s attempt.
    let times = times.lock().unwrap();
    for (k, pair) in times.windows(2).enumerate() {
        let gap = pair[1] - pair[0] - driver;
        let base = Duration::from_secs(1 << k);
        assert!(
            gap >= base.mul_f64(0.75) && gap <= base.mul_f64(1.25),
            "{gap:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_budget_too_short_for_the_retries_is_accepted_and_said() {
    let (check, _) = Scripted::new("mongo", |_| async { ok() });
    let health = Health::builder()
        .run_budget(Duration::from_secs(30))
        .register(check.driver_timeout(Duration::from_secs(30)))
        .build();
    let (name, component, timing) = health.timings().next().unwrap();
    assert_eq!((name, component), ("mongo", "mongo"));
    assert!(!timing.fits());
    assert_eq!((timing.attempts_that_fit, timing.planned_attempts), (0, 4));
    assert_eq!(
        timing.budget_needed(),
        Duration::from_millis(4 * 32_000 + 8_750)
    );
}

#[tokio::test(start_paused = true)]
async fn a_seeded_jitter_repeats_its_delays() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let times = Arc::new(Mutex::new(Vec::new()));
        let t = times.clone();
        let (check, _) = Scripted::new("flaky", move |_| {
            t.lock().unwrap().push(Instant::now());
            async { Err(CheckError::new("down")) }
        });
        let health = Health::builder().jitter_seed(42).register(check).build();
        let start = Instant::now();
        health.run(Probe::Readiness).await;
        let offsets: Vec<Duration> = times.lock().unwrap().iter().map(|t| *t - start).collect();
        runs.push(offsets);
    }
    assert_eq!(runs[0].len(), 4);
    assert_eq!(runs[0], runs[1]);
}

#[tokio::test(start_paused = true)]
async fn status_changes_reach_hooks_and_subscribers() {
    let up = Arc::new(AtomicBool::new(true));
    let u = up.clone();
    let (check, _) = Scripted::new("db", move |_| {
        let up = u.load(Ordering::SeqCst);
        async move {
            if up {
                ok()
            } else {
                Err(CheckError::new("down"))
            }
        }
    });
    let changes = Arc::new(Mutex::new(Vec::new()));
    let c = changes.clone();
    let health = Health::builder()
        .ttl(Duration::ZERO)
        .register_with(check, no_retries())
        .on_status_change(move |change| c.lock().unwrap().push((change.from, change.to)))
        .build();
    let mut reports = health.subscribe();
    health.run(Probe::Readiness).await;
    health.run(Probe::Readiness).await;
    up.store(false, Ordering::SeqCst);
    health.run(Probe::Readiness).await;
    assert_eq!(
        *changes.lock().unwrap(),
        [
            (None, CheckStatus::Pass),
            (Some(CheckStatus::Pass), CheckStatus::Fail)
        ]
    );
    assert!(reports.has_changed().unwrap());
    assert_eq!(reports.borrow_and_update().status, Status::Fail);
}

#[tokio::test(start_paused = true)]
async fn credentials_never_reach_reports() {
    let (mut check, _) = Scripted::new("mongo", |_| async {
        Err(CheckError::new(
            "auth failed for mongodb://app:hunter2-secret@db:27017 with key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        )
        .with_details(Details::new().with("uri", "mongodb://app:hunter2-secret@db:27017")))
    });
    check.secrets = vec!["s3cr3t-token".into()];
    let (runner, _) = Scripted::new("runner", |_| async {
        Err(CheckError::new("401 for token s3cr3t-token"))
    });
    let health = Health::builder()
        .register_with(check, no_retries())
        .register_with(runner, no_retries())
        .build();
    let report = health.run(Probe::All).await;
    let outputs = [
        report.to_health_json(true),
        report.to_text(true),
        format!("{report:?}"),
    ];
    for out in outputs {
        for secret in [
            "hunter2-secret",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "s3cr3t-token",
        ] {
            assert!(!out.contains(secret), "{secret} leaked in {out}");
        }
        assert!(out.contains("mongodb://app:***@db:27017"), "{out}");
    }
}

#[tokio::test(start_paused = true)]
async fn cached_status_answers_only_without_running_anything() {
    let (check, calls) = Scripted::new("db", |_| async { ok() });
    let health = Health::builder()
        .ttl(Duration::from_secs(1))
        .register(check)
        .build();
    assert_eq!(
        health.cached_status(Probe::Readiness),
        None,
        "nothing cached yet"
    );
    assert_eq!(health.run(Probe::Readiness).await.status, Status::Pass);
    assert_eq!(health.cached_status(Probe::Readiness), Some(Status::Pass));
    // Liveness has no checks: always answerable.
    assert_eq!(health.cached_status(Probe::Liveness), Some(Status::Pass));
    tokio::time::advance(Duration::from_millis(1001)).await;
    assert_eq!(
        health.cached_status(Probe::Readiness),
        None,
        "stale: a run is needed"
    );
    health.drain();
    assert_eq!(health.cached_status(Probe::Readiness), Some(Status::Fail));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn only_runs_and_reports_a_single_check() {
    let (a, a_calls) = Scripted::new("a", |_| async { ok() });
    let (b, b_calls) = Scripted::new("b", |_| async { Err(CheckError::new("down")) });
    let health = Health::builder()
        .register(a)
        .register_with(b, no_retries())
        .build();
    let report = health
        .report(Probe::All, &ReportOptions::new().only("a"))
        .await;
    assert_eq!((report.status, report.checks.len()), (Status::Pass, 1));
    assert_eq!(
        (
            a_calls.load(Ordering::SeqCst),
            b_calls.load(Ordering::SeqCst)
        ),
        (1, 0)
    );
    assert!(health.has_check("b") && !health.has_check("c"));
}

#[tokio::test(start_paused = true)]
async fn drained_resolves_once_drain_is_called() {
    let health = Health::builder().build();
    let waiter = tokio::spawn({
        let health = health.clone();
        async move { health.drained().await }
    });
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished());
    health.drain();
    tokio::time::timeout(Duration::from_secs(1), waiter)
        .await
        .unwrap()
        .unwrap();
}

/// Log lines written while the returned guard lives (this thread: a current-thread runtime).
fn capture_logs() -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || Sink(sink.clone()))
        .finish();
    (buffer, tracing::subscriber::set_default(subscriber))
}

#[tokio::test(start_paused = true)]
async fn each_run_is_a_span_with_its_outcome_and_each_attempt_a_child_span() {
    let (logs, _guard) = capture_logs();
    let (check, _) = Scripted::new("flaky", |n| async move {
        if n == 1 {
            Err(CheckError::new("connection refused"))
        } else {
            ok()
        }
    });
    let health = Health::builder()
        .backoff(Backoff::builder().jitter(Jitter::None).build().unwrap())
        .register(check.component("redis"))
        .build();
    health.run(Probe::Readiness).await;
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let passed = text
        .lines()
        .find(|l| l.contains("check passed"))
        .unwrap_or_else(|| panic!("{text}"));
    for field in [
        "vitals.check{",
        "check=flaky",
        "component=redis",
        "attempts=2",
        "outcome=\"pass\"",
        "duration_ms=1000",
    ] {
        assert!(passed.contains(field), "{field} missing in {passed}");
    }
    let retry = text
        .lines()
        .find(|l| l.contains("retrying after the backoff delay"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(retry.contains("delay_ms=1000"), "{retry}");
    assert!(retry.contains("attempt=2"), "{retry}");
    assert!(
        text.contains("vitals.attempt{attempt=1}"),
        "attempts are child spans: {text}"
    );
    // Nothing at info but the status change.
    let info: Vec<&str> = text.lines().filter(|l| l.contains(" INFO ")).collect();
    assert_eq!(info.len(), 1, "{info:#?}");
    assert!(info[0].contains("check status changed"), "{info:#?}");
}

/// At info and above, a failing check says so once when its status changes, not on every run:
/// three failed runs of a non-critical check and two passing ones give one warning (with the
/// error) and one recovery line.
#[tokio::test(start_paused = true)]
async fn logs_at_info_say_one_line_per_status_change_not_one_per_run() {
    let (logs, _guard) = capture_logs();
    let (check, calls) = Scripted::new("cache", |n| async move {
        if n <= 3 {
            Err(CheckError::new("connection refused"))
        } else {
            ok()
        }
    });
    let health = Health::builder()
        .register_with(check, no_retries().non_critical())
        .build();
    for _ in 0..5 {
        health.run(Probe::Readiness).await;
        tokio::time::advance(Duration::from_secs(60)).await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 5, "every run was a new one");
    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let loud: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" INFO ") || l.contains(" WARN ") || l.contains(" ERROR "))
        .collect();
    assert_eq!(loud.len(), 2, "{loud:#?}");
    assert!(
        loud[0].contains(" WARN ")
            && loud[0].contains("check status changed")
            && loud[0].contains("from=\"none\"")
            && loud[0].contains("to=\"warn\"")
            && loud[0].contains("connection refused"),
        "{}",
        loud[0]
    );
    assert!(
        loud[1].contains(" INFO ")
            && loud[1].contains("from=\"warn\"")
            && loud[1].contains("to=\"pass\""),
        "{}",
        loud[1]
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("check degraded"))
            .count(),
        3,
        "each run still logs at debug: {text}"
    );
}

/// `?verbose` says each error once: while a run retries after the same error as the result
/// shown, its progress says only the attempt; before the first result, the first run's error
/// is the output and the progress says only the attempt.
#[tokio::test(start_paused = true)]
async fn the_verbose_line_says_each_error_once() {
    let error = "connect: connection refused (os error 111)";
    let (check, _calls) = Scripted::new("db", move |_| async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Err(CheckError::new(error))
    });
    let health = Health::builder()
        .backoff(Backoff::builder().jitter(Jitter::None).build().unwrap())
        .register(check)
        .build();
    let peek = ReportOptions::new()
        .wait_for_runs()
        .wait_at_most(Duration::from_millis(1_500));
    // First run: attempt 1 fails at 100 ms, attempt 2 starts at 1.1 s.
    let text = health.report(Probe::Readiness, &peek).await.to_text(true);
    let line = text.lines().next().unwrap();
    assert_eq!(
        line,
        format!("[-]db failed: no result yet: {error} (retrying: attempt 2 of 4)")
    );
    // The first run ends with that error; in the next run's retries it is not said twice.
    let text = health.run(Probe::Readiness).await.to_text(true);
    assert_eq!(
        text.lines().next().unwrap(),
        format!("[-]db failed: {error}")
    );
    tokio::time::advance(Duration::from_secs(60)).await;
    let next = tokio::spawn({
        let health = health.clone();
        async move { health.run(Probe::Readiness).await }
    });
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let text = health.latest(Probe::Readiness).to_text(true);
    let line = text.lines().next().unwrap();
    assert_eq!(line.matches(error).count(), 1, "{line}");
    assert!(line.ends_with("(retrying: attempt 2 of 4)"), "{line}");
    next.abort();
}

/// A standing demand runs on-demand checks at their TTL with nobody probing, one task for
/// every holder; when the last holder lets go, runs stop.
#[tokio::test(start_paused = true)]
async fn demand_runs_on_demand_checks_at_their_ttl_until_released() {
    let (check, calls) = Scripted::new("db", |_| async { ok() });
    let health = Health::builder()
        .ttl(Duration::from_secs(1))
        .register_with(check, no_retries())
        .build();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "on demand: nothing runs unasked"
    );
    let first = health.demand();
    let second = health.demand();
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    let while_demanded = calls.load(Ordering::SeqCst);
    // One run per TTL for both holders together (the first at once): 11 in 10.5 s.
    assert_eq!(while_demanded, 11);
    drop(first);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 14, "one holder still demands");
    drop(second);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let released = calls.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        released,
        "no runs once released"
    );
}

#[tokio::test(start_paused = true)]
async fn a_shared_check_fails_open_only_while_a_fresh_reading_shows_every_replica_failing() {
    use vitals_core::{Fleet, FleetCheck, FleetReplica};
    let reading = |ups: &[bool]| {
        let replicas: Vec<FleetReplica> = ups
            .iter()
            .enumerate()
            .map(|(i, up)| {
                let status = if *up {
                    CheckStatus::Pass
                } else {
                    CheckStatus::Fail
                };
                FleetReplica::new(format!("replica-{i}"), Some(status), Some(*up))
            })
            .collect();
        vec![
            FleetCheck::new("mongo", replicas.clone()),
            FleetCheck::new("db", replicas),
        ]
    };
    let fleet = Fleet::new("test", Duration::from_secs(30));
    let (mongo, _) = Scripted::new("mongo", |_| async { Err(CheckError::new("refused")) });
    let (db, _) = Scripted::new("db", |_| async { Err(CheckError::new("refused")) });
    let health = Health::builder()
        .ttl(Duration::ZERO)
        .fleet(fleet.clone())
        .register_with(mongo, no_retries().shared())
        .register_with(db, no_retries())
        .build();
    let fail_open = || {
        health
            .history()
            .into_iter()
            .find(|c| c.name == "mongo")
            .unwrap()
            .fail_open
    };
    let run = || async {
        let report = health.run(Probe::Readiness).await;
        let mongo = report.check("mongo").unwrap().clone();
        (
            report.status,
            mongo.status,
            mongo.output.unwrap_or_default(),
        )
    };

    // Nothing read yet: fails closed.
    assert_eq!(run().await.1, CheckStatus::Fail);

    // Two of three replicas fail: this replica's problem, not the fleet's.
    fleet.read(reading(&[false, true, false]));
    assert_eq!(run().await.1, CheckStatus::Fail);

    // Every replica fails: the shared check warns and says why; the check that is not
    // shared still fails readiness.
    fleet.read(reading(&[false, false, false]));
    let (overall, status, output) = run().await;
    assert_eq!(status, CheckStatus::Warn);
    assert_eq!(
        output,
        "fail-open: the whole fleet (3 of 3 replicas) sees mongo failing, so readiness stays \
         ready: refused"
    );
    assert_eq!(overall, Status::Fail, "db is not shared");
    assert_eq!(fail_open(), Some(3));

    // The reading goes stale (the source stopped answering): fails closed again.
    fleet.failed("Prometheus did not answer");
    tokio::time::advance(Duration::from_secs(31)).await;
    assert_eq!(run().await.1, CheckStatus::Fail);
    assert_eq!(fail_open(), None);
}
