//! `vitals-server`: a service on port 5000 whose probes tell the truth about its dependencies,
//! configured by the deployment guide's environment variables.
//!
//! ```text
//! vitals-server                        # or: cargo run -p vitals-server
//! curl -i localhost:5000/              # every check, as the guide's probes use it
//! curl -s 'localhost:5000/readyz?verbose'
//! grpc-health-probe -addr localhost:5000 -service readyz   # grpc.health.v1 on the same port
//! ```
//!
//! Every variable (the guide's and vitals' own) is read, validated and documented by
//! `vitals-env` (`vitals_env::VARIABLES`; `--help` and the README's configuration table are
//! rendered from it). Invalid values exit with status 2 and one line each naming the variable,
//! the value and what is accepted. Redis is non-critical by default
//! (`NON_CRITICAL_HEALTH_CHECKS=redis`): the guide says it "is only used as a cache … and can
//! be safely restarted or cleared", so a Redis outage makes probes `warn` (still 200) instead
//! of taking every pod out of service.
//!
//! Each attempt is bounded by the driver's own timeout (so its error is reported), each run
//! holds every attempt and delay unless `HEALTH_CHECK_TIMEOUT_MS` says otherwise (then one
//! startup warning says how many attempts fit), and a probe never waits longer than 250 ms.
//! Checks run in the background, so a kubelet probe with `timeoutSeconds: 1` is answered at
//! once from the latest result even while retries take seconds.
#![forbid(unsafe_code)]

mod lint;
mod startup;

use std::{process::ExitCode, time::Duration};

use axum::{Router, routing::get};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower::Layer as _;
use tracing_subscriber::EnvFilter;
use vitals_core::Health;
use vitals_env::{EnvConfig, ListenError};
use vitals_tonic::GrpcHealth;

/// jemalloc, with a background thread purging freed pages, gives the memory a flood of
/// connections took back to the system within seconds of its end; glibc's allocator kept it
/// (87 MiB under a siege, still 70 MiB 15 s after it; with this, 16 MiB: BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// `--help`: what the server does and every variable it reads, from vitals-env's table.
fn help() -> String {
    let mut out = String::from(
        "vitals-server: health probes for the deployment guide's dependencies\n\n\
         Usage: vitals-server [--help | --version]\n\
         \x20      vitals-server lint [OPTIONS] PATH|-...   (check manifests: lint --help)\n\n\
         Configured by environment variables only (an invalid value stops the server with\n\
         exit status 2 and a line naming the variable):\n\n",
    );
    let width = vitals_env::VARIABLES
        .iter()
        .map(|v| v.name.len())
        .max()
        .unwrap_or(0);
    for v in vitals_env::VARIABLES {
        let default = match v.default {
            vitals_env::DefaultValue::None => String::new(),
            default => format!(" (default: {default})"),
        };
        out.push_str(&format!("  {:width$}  {}{default}\n", v.name, v.describe()));
    }
    out.push_str(
        "\nServes /livez, /readyz, /startupz, /healthz and / over HTTP, and grpc.health.v1 on\n\
         the same port; RUST_LOG sets the log level (default info).\n",
    );
    out
}

/// `Some(exit code)` when the command line asks for something other than serving.
fn arguments() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => None,
        ["lint", ..] => Some(lint::run(&args[1..])),
        ["--help" | "-h"] => {
            print!("{}", help());
            Some(ExitCode::SUCCESS)
        }
        ["--version" | "-V"] => {
            println!("vitals-server {}", env!("CARGO_PKG_VERSION"));
            Some(ExitCode::SUCCESS)
        }
        _ => {
            eprintln!(
                "unknown arguments {args:?}: the server takes no arguments but --help, \
                 --version and lint (it is configured by environment variables: see --help)"
            );
            Some(ExitCode::from(2))
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    if let Some(code) = arguments() {
        return code;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let config = EnvConfig::from_env().unwrap_or_else(|errors| errors.exit());
    // One thread purges freed pages on jemalloc's decay schedule (10 s), whether or not the
    // process allocates afterwards.
    if let Err(error) = tikv_jemalloc_ctl::max_background_threads::write(1)
        .and_then(|()| tikv_jemalloc_ctl::background_thread::write(true))
    {
        tracing::warn!(
            "memory freed after a flood is kept: jemalloc's background thread did not start ({error})"
        );
    }

    // The recorder first: the registry registers its metric handles when it is built.
    let metrics = config.metrics.then(prometheus);
    // Status changes are logged once, by the registry ("check status changed").
    // The fleet's view from Prometheus, read in the background (HEALTH_PROMETHEUS_URL).
    let mut builder = config.health_builder();
    if let Some(fleet) = config.spawn_fleet() {
        builder = builder.fleet(fleet);
    }
    let health = builder.build();
    startup::log_summary(&config, &health);

    // The layer wraps the whole application, so probes are answered before any routing.
    // grpc.health.v1 (Check, Watch, List) is served on the same port from the same registry,
    // for Kubernetes' native gRPC probes; gRPC requests pass the layer untouched.
    let grpc_health = GrpcHealth::new(health.clone())
        .max_watch_streams(config.max_watch_streams)
        .into_service();
    let mut router = Router::new()
        .route("/hello", get(hello))
        .route_service("/grpc.health.v1.Health/{*method}", grpc_health);
    if let Some(path) = &config.status_page {
        let page = startup::status_page(&config, health.clone(), path);
        router = router
            .route_service(path, page.clone())
            .route_service(&format!("{path}/{{*rest}}"), page);
    }
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
    // Details (`?verbose`) only for the callers HEALTH_CHECK_DETAILS admits: by default
    // loopback, which the connection's address (set by vitals-serve) tells.
    let app = startup::health_layer(&config, health.clone()).layer(router);

    let listener = vitals_serve::listen(config.listen_address, config.port)
        .unwrap_or_else(|failed| ListenError::new(failed.address, failed.error).exit());
    tracing::info!(
        shutdown_delay_ms = config.shutdown_delay.as_millis() as u64,
        drain_ms = vitals_env::IN_FLIGHT_DRAIN.as_millis() as u64,
        "on SIGTERM: readiness fails for shutdown_delay_ms, then in-flight requests get up to drain_ms"
    );

    // vitals-serve: HTTP/1.1 and HTTP/2 with every phase of a connection bounded, a connection
    // bound that sheds idle and stalled connections first, and accept errors backed off, so no
    // caller can make a probe from a new connection wait. Each request carries the client's
    // address (`ClientAddr`) for the details policy.
    let served = vitals_serve::serve(listener, app)
        .limits(config.serve.clone())
        .with_graceful_shutdown(shutdown_signal(health, config.shutdown_delay))
        .drain(vitals_env::IN_FLIGHT_DRAIN)
        .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(not_drained) => {
            eprintln!("{not_drained}");
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
