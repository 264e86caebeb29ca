//! Criterion benchmarks, each against a baseline measured in the same run:
//!
//! - `passthrough`: a non-probe request through `HealthLayer` vs the bare inner service vs the
//!   same service behind one trivial tower-http layer, and behind tower-http's layer for
//!   answering some requests itself, asked the same question about the path.
//! - `passthrough in hyper`: the same request through hyper's HTTP/1 server connection (in
//!   process, over an in-memory pipe): what the layer costs where it runs.
//! - `probe`: a terse `/readyz` answered from a fresh cache vs a `service_fn` returning a
//!   static 200 with the same headers.
//!   The same cached probe with metrics recorded into a Prometheus recorder.
//! - `fanout`: 50 instant checks on a stale cache vs spawning and joining 50 empty tasks.
//! - `timing`: 50 checks of 100 ms each vs one 100 ms sleep; the same with one of them
//!   hung (cut at its 300 ms attempt timeout), answered as a probe (within 250 ms) and waited
//!   for in full.
use std::{convert::Infallible, hint::black_box, time::Duration};

use criterion::{
    BatchSize, BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use hyper::body::Incoming;
use tower::{Layer, service_fn};
use tower_http::map_response_body::MapResponseBodyLayer;
use vitals_bench::{
    HyperConnection, Sleepy, app, app_full, app_full_any, get, path_answering_peer, registry,
    serve, static_200, warm,
};
use vitals_core::{Backoff, CheckOptions, Health, Probe, ReportOptions, Status};
use vitals_tower::HealthLayer;

/// One pass-through request (`/orders/42`) through `service`, as a benchmark of `group`.
fn bench_passthrough<S>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, mut service: S)
where
    S: tower::Service<http::Request<()>>,
{
    group.bench_function(name, |b| {
        b.iter_batched(
            || get("/orders/42"),
            |req| black_box(serve(&mut service, req)),
            BatchSize::SmallInput,
        )
    });
}

fn passthrough(c: &mut Criterion) {
    let mut group = c.benchmark_group("passthrough");
    let health = || registry(1, Duration::from_secs(3600));
    bench_passthrough(&mut group, "bare service_fn", service_fn(app));
    bench_passthrough(
        &mut group,
        "HealthLayer",
        HealthLayer::new(health()).layer(service_fn(app)),
    );
    let no_routes = HealthLayer::new(health())
        .without_route("/livez")
        .without_route("/readyz")
        .without_route("/startupz")
        .without_route("/healthz");
    bench_passthrough(
        &mut group,
        "HealthLayer, no routes",
        no_routes.layer(service_fn(app)),
    );
    bench_passthrough(
        &mut group,
        "tower-http MapResponseBody",
        MapResponseBodyLayer::new(|body| body).layer(service_fn(app)),
    );
    // An inner body that can hold bytes (axum's, tonic's, `Full<Bytes>`): the same-body mode
    // hands the inner response on as it is.
    bench_passthrough(&mut group, "Full: bare service_fn", service_fn(app_full));
    bench_passthrough(
        &mut group,
        "Full: HealthLayer",
        HealthLayer::new(health()).layer(service_fn(app_full)),
    );
    bench_passthrough(
        &mut group,
        "Full: HealthLayer::same_body",
        HealthLayer::new(health())
            .same_body()
            .layer(service_fn(app_full)),
    );
    bench_passthrough(
        &mut group,
        "Full: tower-http MapResponseBody",
        MapResponseBodyLayer::new(|body| body).layer(service_fn(app_full)),
    );
    // The peer doing the same job: tower-http's layer for answering some requests itself,
    // asked the same first question (the path's second byte).
    bench_passthrough(
        &mut group,
        "Full: tower-http ValidateRequestHeader by path",
        path_answering_peer().layer(service_fn(app_full)),
    );
    group.finish();
}

/// One pass-through request through hyper's HTTP/1 server connection to `service` (in this
/// process, over an in-memory pipe), as a benchmark of `group`.
fn bench_in_hyper<S, B>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    service: S,
) where
    S: tower::Service<http::Request<Incoming>, Response = http::Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let mut connection = runtime.block_on(async { HyperConnection::start(service, "/orders/42") });
    group.bench_function(name, |b| b.iter(|| runtime.block_on(connection.get())));
    runtime.block_on(connection.close());
}

/// Pass-through where a layer runs in a server: the request's whole path through hyper.
fn passthrough_in_hyper(c: &mut Criterion) {
    let mut group = c.benchmark_group("passthrough in hyper");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let health = || registry(1, Duration::from_secs(3600));
    let app = service_fn(app_full_any::<Incoming>);
    bench_in_hyper(&mut group, &runtime, "bare service_fn", app);
    bench_in_hyper(
        &mut group,
        &runtime,
        "HealthLayer",
        HealthLayer::new(health()).layer(app),
    );
    bench_in_hyper(
        &mut group,
        &runtime,
        "HealthLayer::same_body",
        HealthLayer::new(health()).same_body().layer(app),
    );
    bench_in_hyper(
        &mut group,
        &runtime,
        "tower-http MapResponseBody",
        MapResponseBodyLayer::new(|body| body).layer(app),
    );
    bench_in_hyper(
        &mut group,
        &runtime,
        "tower-http ValidateRequestHeader by path",
        path_answering_peer().layer(app),
    );
    group.finish();
}

fn probe(c: &mut Criterion) {
    let mut group = c.benchmark_group("probe");
    let health = registry(3, Duration::from_secs(3600));
    warm(&health);
    let mut probe = HealthLayer::new(health).layer(service_fn(app));
    let mut baseline = service_fn(static_200);
    group.bench_function("static 200 service_fn", |b| {
        b.iter_batched(
            || get("/readyz"),
            |req| black_box(serve(&mut baseline, req)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("cached /readyz", |b| {
        b.iter_batched(
            || get("/readyz"),
            |req| black_box(serve(&mut probe, req)),
            BatchSize::SmallInput,
        )
    });
    // The same probe with metrics recorded by a Prometheus recorder (the handles are
    // registered at build, under the recorder).
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let health = metrics::with_local_recorder(&recorder, || registry(3, Duration::from_secs(3600)));
    warm(&health);
    let mut measured = HealthLayer::new(health).layer(service_fn(app));
    group.bench_function("cached /readyz, metrics recorded", |b| {
        b.iter_batched(
            || get("/readyz"),
            |req| black_box(serve(&mut measured, req)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("fanout");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let health = registry(50, Duration::ZERO);
    group.bench_function("spawn+join 50 empty tasks", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let tasks: Vec<_> = (0..50)
                    .map(|i| tokio::spawn(async move { black_box(i) }))
                    .collect();
                for task in tasks {
                    black_box(task.await.unwrap());
                }
            })
        })
    });
    group.bench_function("50 checks, stale cache", |b| {
        b.iter(|| black_box(runtime.block_on(health.run(Probe::Readiness)).status))
    });
    group.finish();
}

/// 50 checks of 100 ms each, the last hung when `hung`: no retries, attempts cut at 300 ms,
/// nothing cached.
fn slow_registry(hung: bool) -> Health {
    let mut builder = Health::builder()
        .ttl(Duration::ZERO)
        .backoff(Backoff::none())
        .attempt_timeout(Duration::from_millis(300));
    for i in 0..50 {
        let delay = (!(hung && i == 49)).then_some(Duration::from_millis(100));
        builder = builder.register_with(Sleepy(format!("check-{i}"), delay), CheckOptions::new());
    }
    builder.build()
}

fn timing(c: &mut Criterion) {
    let mut group = c.benchmark_group("timing");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    group.bench_function("one 100 ms sleep", |b| {
        b.iter(|| runtime.block_on(async { tokio::time::sleep(Duration::from_millis(100)).await }))
    });
    let all_slow = slow_registry(false);
    group.bench_function("50 checks of 100 ms", |b| {
        b.iter(|| {
            let report = runtime.block_on(all_slow.run(Probe::Readiness));
            assert_eq!(report.status, Status::Pass);
        })
    });
    let one_hung = slow_registry(true);
    group.bench_function("49 of 100 ms + 1 hung, as a probe", |b| {
        b.iter(|| {
            let report = runtime.block_on(one_hung.report(Probe::Readiness, &ReportOptions::new()));
            let fresh = report
                .checks
                .iter()
                .filter(|c| c.status.overall() == Some(Status::Pass));
            assert!(fresh.count() >= 49);
        })
    });
    group.bench_function("49 of 100 ms + 1 hung, waited for", |b| {
        b.iter(|| {
            let report = runtime.block_on(one_hung.run(Probe::Readiness));
            let hung = &report.checks[49];
            let output = hung.output.as_deref().unwrap_or_default();
            assert!(output.starts_with("timed out after 30"), "{output}");
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    passthrough,
    passthrough_in_hyper,
    probe,
    fanout,
    timing
);
criterion_main!(benches);
