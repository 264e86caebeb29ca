//! Criterion benchmarks, each against a baseline measured in the same run:
//!
//! - `passthrough`: a non-probe request through `HealthLayer` vs the bare inner service vs the
//!   same service behind one trivial tower-http layer.
//! - `probe`: a terse `/readyz` answered from a fresh cache vs a `service_fn` returning a
//!   static 200 with the same headers.
//! - `fanout`: 50 instant checks on a stale cache vs spawning and joining 50 empty tasks.
use std::{hint::black_box, time::Duration};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tower::{Layer, service_fn};
use tower_http::map_response_body::MapResponseBodyLayer;
use vitals_bench::{app, get, registry, serve, static_200, warm};
use vitals_core::Probe;
use vitals_tower::HealthLayer;

fn passthrough(c: &mut Criterion) {
    let mut group = c.benchmark_group("passthrough");
    let mut bare = service_fn(app);
    let mut layered =
        HealthLayer::new(registry(1, Duration::from_secs(3600))).layer(service_fn(app));
    let mut tower_http = MapResponseBodyLayer::new(|body| body).layer(service_fn(app));
    group.bench_function("bare service_fn", |b| {
        b.iter_batched(
            || get("/orders/42"),
            |req| black_box(serve(&mut bare, req)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("HealthLayer", |b| {
        b.iter_batched(
            || get("/orders/42"),
            |req| black_box(serve(&mut layered, req)),
            BatchSize::SmallInput,
        )
    });
    let mut no_routes = HealthLayer::new(registry(1, Duration::from_secs(3600)))
        .without_route("/livez")
        .without_route("/readyz")
        .without_route("/startupz")
        .without_route("/healthz")
        .layer(service_fn(app));
    group.bench_function("HealthLayer, no routes", |b| {
        b.iter_batched(
            || get("/orders/42"),
            |req| black_box(serve(&mut no_routes, req)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("tower-http MapResponseBody", |b| {
        b.iter_batched(
            || get("/orders/42"),
            |req| black_box(serve(&mut tower_http, req)),
            BatchSize::SmallInput,
        )
    });
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
        b.iter(|| black_box(runtime.block_on(health.check(Probe::Readiness)).status))
    });
    group.finish();
}

criterion_group!(benches, passthrough, probe, fanout);
criterion_main!(benches);
