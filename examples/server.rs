//! The main job: a service on port 5000 whose probes tell the truth about its dependencies,
//! configured by the deployment guide's environment variables.
//!
//! ```text
//! cargo run --example server
//! curl -i localhost:5000/            # every check, as the guide's probes use it
//! curl -s 'localhost:5000/readyz?verbose'
//! grpc-health-probe -addr localhost:5000 -service readyz   # grpc.health.v1 on the same port
//! ```
//!
//! Variables (all validated at startup; a bad value exits with an error naming it):
//!
//! | variable | default | |
//! |---|---|---|
//! | `PORT` | 5000 | listen port (0 picks a free one) |
//! | `HEALTH_CHECK_RETRIES` | 3 | retries after a failed attempt |
//! | `HEALTH_CHECK_RETRY_DELAY_MS` | 1000 | first retry delay, doubling with jitter |
//! | `HEALTH_CHECK_MAX_RETRY_DELAY_MS` | 10000 | cap on any delay |
//! | `SKIP_HEALTH_CHECKS` | | `all` or `mongo,redis,storage,custom_code` |
//! | `MONGO_URI` | | `mongodb://` or `mongodb+srv://` connection string: adds the `mongo` check |
//! | `MONGO_SERVER_SELECTION_TIMEOUT_MS` | 30000 | driver server selection timeout |
//! | `REDIS_URI` | | `redis://`, `rediss://` or `redis-cluster://` URL: adds the `redis` check |
//! | `REDIS_CONNECT_TIMEOUT_MS` | 10000 | Redis connect timeout |
//! | `REDIS_COMMAND_TIMEOUT_MS` | 5000 | vitals' own: bound of the check's Redis commands, apart from connecting |
//! | `REDIS_DISABLE_TLS_VERIFICATION` | false | accept ElastiCache's self-signed certificates |
//! | `TMP_STORAGE_BUCKET`, `CONNECTORS_STORAGE_BUCKET`, `STATIC_STORAGE_BUCKET` | | S3 buckets: adds the `storage` check (default AWS credential chain, IAM roles included) |
//! | `STORAGE_DEEP_CHECK` | false | also check the tmp bucket's expiration rule and the static bucket's GET CORS rule (drift warns) |
//! | `S3_FORCE_PATH_STYLE` | (true with a custom `AWS_ENDPOINT_URL`) | path-style S3 addressing |
//! | `CUSTOM_CODE_RUNNER_URI` | | the custom-code runner's URL: adds the `custom_code` check |
//! | `HEALTH_CHECK_INTERVAL_MS` | 5000 | vitals' own: how often checks run in the background; `0` runs them on demand instead |
//! | `HEALTH_CHECK_CACHE_TTL_MS` | 1000 | vitals' own: on demand, how long a result is reused (one run per check per TTL however many probes arrive) |
//! | `HEALTH_CHECK_TIMEOUT_MS` | derived | vitals' own: the budget of one check run, retries included; unset, every attempt fits (see the README's timing rule) |
//! | `HEALTH_CHECK_METRICS` | true | vitals' own: serve Prometheus metrics at `/metrics` (`false` turns them off) |
//! | `SHUTDOWN_DELAY_MS` | 5000 | after SIGTERM, keep serving this long with readiness failing, so load balancers stop sending before the listener closes |
//!
//! Redis is registered non-critical: the guide says it "is only used as a cache … and can be
//! safely restarted or cleared", so a Redis outage makes probes `warn` (still 200) instead of
//! taking every pod out of service.
//!
//! Each attempt is bounded by the driver's own timeout (so its error is reported), each run
//! holds every attempt and delay unless `HEALTH_CHECK_TIMEOUT_MS` says otherwise (then one
//! startup warning says how many attempts fit), and a probe never waits longer than 250 ms.
//!
//! Checks run in the background, so a kubelet probe with `timeoutSeconds: 1` is answered at
//! once from the latest result even while retries take seconds.

use std::{net::SocketAddr, process::ExitCode, sync::Arc, time::Duration};

use axum::{Router, routing::get};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower::Layer as _;
use tracing_subscriber::EnvFilter;
use vitals::{
    Check, CheckOptions, EnvError, Health, HealthConfig, Probe,
    config::{env_bool, env_millis, env_millis_or_zero, lookup_env},
    retry::parse_whole_number,
    tower::HealthLayer,
};
use vitals_tonic::GrpcHealth;

/// Everything read from the environment, validated.
struct Settings {
    port: u16,
    health: HealthConfig,
    /// `None`: on demand, with `ttl`.
    interval: Option<Duration>,
    ttl: Duration,
    /// `None`: derived per check so that every planned attempt fits.
    timeout: Option<Duration>,
    shutdown_delay: Duration,
    metrics: bool,
}

fn settings() -> Result<Settings, EnvError> {
    let mut env = lookup_env;
    let port = match lookup_env("PORT") {
        None => 5000,
        Some(raw) => parse_whole_number("PORT", &raw, 0..=u16::MAX.into(), "a port number")? as u16,
    };
    let interval =
        env_millis_or_zero(&mut env, "HEALTH_CHECK_INTERVAL_MS", Duration::from_secs(5))?;
    Ok(Settings {
        port,
        health: HealthConfig::from_env()?,
        interval: (!interval.is_zero()).then_some(interval),
        ttl: env_millis(
            &mut env,
            "HEALTH_CHECK_CACHE_TTL_MS",
            Duration::from_secs(1),
        )?,
        timeout: match lookup_env("HEALTH_CHECK_TIMEOUT_MS") {
            None => None,
            Some(_) => Some(env_millis(
                &mut env,
                "HEALTH_CHECK_TIMEOUT_MS",
                Duration::ZERO,
            )?),
        },
        shutdown_delay: env_millis_or_zero(&mut env, "SHUTDOWN_DELAY_MS", Duration::from_secs(5))?,
        metrics: env_bool(&mut env, "HEALTH_CHECK_METRICS", true)?,
    })
}

/// A check and how to run it.
type Registration = (Arc<dyn Check>, CheckOptions);

/// The dependency checks the environment configures. Probe crates add theirs here.
fn checks() -> Result<Vec<Registration>, EnvError> {
    let mut checks: Vec<Registration> = Vec::new();
    if let Some(mongo) = vitals_mongodb::MongoCheck::from_env()? {
        checks.push((Arc::new(mongo), CheckOptions::new()));
    }
    if let Some(storage) = vitals_s3::BucketCheck::from_env()? {
        checks.push((Arc::new(storage), CheckOptions::new()));
    }
    if let Some(runner) = vitals_http::HttpCheck::from_env()? {
        checks.push((Arc::new(runner), CheckOptions::new()));
    }
    if let Some(redis) = vitals_redis::RedisCheck::from_env()? {
        checks.push((Arc::new(redis), CheckOptions::new().non_critical()));
    }
    Ok(checks)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let (settings, checks) = match settings().and_then(|s| Ok((s, checks()?))) {
        Ok(ok) => ok,
        Err(err) => {
            eprintln!("configuration error: {err}");
            return ExitCode::from(2);
        }
    };

    // The recorder first: the registry registers its metric handles when it is built.
    let metrics = settings.metrics.then(prometheus);
    // Status changes are logged once, by the registry ("check status changed").
    let mut builder = Health::builder().config(&settings.health).ttl(settings.ttl);
    if !settings.health.skip.is_empty() {
        tracing::warn!(
            "SKIP_HEALTH_CHECKS={}: these checks are reported as skipped, not run",
            settings.health.skip
        );
    }
    if checks.is_empty() {
        tracing::info!(
            "no backend checks configured (set MONGO_URI, REDIS_URI, the *_STORAGE_BUCKET \
             variables or CUSTOM_CODE_RUNNER_URI); probes report pass"
        );
    }
    if let Some(interval) = settings.interval {
        builder = builder.background(interval);
    }
    if let Some(budget) = settings.timeout {
        builder = builder.timeout(budget);
    }
    for (check, options) in checks {
        let component = check.component().to_owned();
        if settings.health.skip.skips(&component) {
            tracing::warn!(check = check.name(), %component, skip = %settings.health.skip,
                "check skipped by SKIP_HEALTH_CHECKS");
        } else {
            tracing::info!(check = check.name(), %component, "check configured");
        }
        builder = builder.check_arc(check, options);
    }
    let backoff = settings.health.backoff;
    tracing::info!(
        retries = backoff.retries(),
        retry_delay_ms = backoff.initial_delay().as_millis() as u64,
        max_retry_delay_ms = backoff.max_delay().as_millis() as u64,
        mode = if settings.interval.is_some() {
            "background"
        } else {
            "on demand"
        },
        interval_ms = settings.interval.map_or(0, |i| i.as_millis() as u64),
        cache_ttl_ms = settings.ttl.as_millis() as u64,
        "health checks ready"
    );
    let health = builder.build();
    warn_about_timing(&health, settings.health.backoff.retries());

    // The layer wraps the whole application, so probes are answered before any routing.
    // grpc.health.v1 (Check, Watch, List) is served on the same port from the same registry,
    // for Kubernetes' native gRPC probes; gRPC requests pass the layer untouched.
    let grpc_health = GrpcHealth::new(health.clone()).into_service();
    let mut router = Router::new()
        .route("/hello", get(hello))
        .route_service("/grpc.health.v1.Health/{*method}", grpc_health);
    if let Some(handle) = metrics {
        let health = health.clone();
        router = router.route(
            "/metrics",
            get(move || async move {
                health.record_result_ages();
                handle.run_upkeep();
                (
                    [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                    handle.render(),
                )
            }),
        );
    }
    let app = HealthLayer::new(health.clone())
        .route("/", Probe::All)
        .layer(router);

    let addr = SocketAddr::from(([0, 0, 0, 0], settings.port));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("cannot listen on {addr}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let local = listener
        .local_addr()
        .expect("a bound listener has an address");
    tracing::info!("listening on {local}");

    // hyper-util serves HTTP/1.1 and HTTP/2; GracefulShutdown lets in-flight requests finish.
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal(health, settings.shutdown_delay));
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!("accept failed: {err}");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let connection = auto::Builder::new(TokioExecutor::new())
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!("connection ended: {err}");
            }
        });
    }
    drop(listener);
    match tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => {
            eprintln!("in-flight requests did not finish within 30 s");
            ExitCode::FAILURE
        }
    }
}

/// The process-wide Prometheus recorder, with histogram buckets for check durations (from
/// a fast PING to a run of retries against a blackholed backend).
fn prometheus() -> PrometheusHandle {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(vitals_core::metrics::names::CHECK_DURATION.to_owned()),
            &[
                0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
            ],
        )
        .expect("the bucket list is not empty")
        .install_recorder()
        .expect("no other metrics recorder is installed")
}

/// Logs each check's timing, and warns once when `HEALTH_CHECK_TIMEOUT_MS` cannot hold every
/// attempt that `HEALTH_CHECK_RETRIES` plans.
fn warn_about_timing(health: &Health, retries: u32) {
    let ms = |d: Duration| d.as_millis() as u64;
    let mut short = Vec::new();
    for (check, component, timing) in health.timings() {
        tracing::info!(
            check,
            attempt_timeout_ms = ms(timing.attempt_timeout),
            budget_ms = ms(timing.budget),
            attempts = timing.planned_attempts,
            max_age_ms = ms(timing.max_age),
            "check timing"
        );
        if !timing.fits() {
            let driver = match component {
                "mongo" => " (MONGO_SERVER_SELECTION_TIMEOUT_MS + 5 s for the ping)",
                "redis" => " (REDIS_CONNECT_TIMEOUT_MS + REDIS_COMMAND_TIMEOUT_MS)",
                _ => "",
            };
            short.push(format!(
                "{check}: {} of {} attempts fit, each up to {} ms{driver}, needs {} ms",
                timing.attempts_that_fit,
                timing.planned_attempts,
                ms(timing.attempt_timeout),
                ms(timing.budget_needed()),
            ));
        }
    }
    if !short.is_empty() {
        tracing::warn!(
            "HEALTH_CHECK_TIMEOUT_MS is too short for HEALTH_CHECK_RETRIES={retries}: {}; \
             raise it or unset it to derive it",
            short.join("; ")
        );
    }
}

/// The application's own endpoint: `GET /hello[?delay_ms=N]` answers after `N` ms of "work".
async fn hello(uri: axum::http::Uri) -> &'static str {
    let delay = uri
        .query()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("delay_ms=")))
        .and_then(|ms| ms.parse::<u64>().ok())
        .unwrap_or(0)
        .min(60_000);
    if delay > 0 {
        tracing::info!(delay_ms = delay, "hello: working");
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    "hello\n"
}

/// Waits for SIGTERM or Ctrl-C; then readiness fails at once, the server keeps serving for
/// `delay` (so load balancers see the failing probe and stop sending), and only then stops
/// accepting and finishes in-flight requests.
async fn shutdown_signal(health: Health, delay: Duration) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    health.drain();
    tracing::info!(
        delay_ms = delay.as_millis() as u64,
        "shutting down: readiness fails now; the listener closes after the delay"
    );
    tokio::time::sleep(delay).await;
    tracing::info!("closing the listener; finishing in-flight requests");
}
