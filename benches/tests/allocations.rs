//! Heap allocations counted by dhat's allocator: a pass-through request adds none, and a cached
//! terse probe allocates no more than a static 200 with the same headers, metrics recorded or
//! not.
use std::time::Duration;

use tower::{Layer, service_fn};
use vitals_bench::{app, get, registry, serve, static_200, warm};
use vitals_tower::HealthLayer;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Heap blocks allocated while `f` runs.
fn blocks<T>(f: impl FnOnce() -> T) -> u64 {
    let before = dhat::HeapStats::get().total_blocks;
    let out = f();
    let after = dhat::HeapStats::get().total_blocks;
    drop(out);
    after - before
}

// One test function: dhat counts process-wide, so measurements must not run concurrently.
#[test]
fn pass_through_adds_no_allocation_and_a_cached_probe_no_more_than_a_static_200() {
    let _profiler = dhat::Profiler::builder().testing().build();

    let health = registry(3, Duration::from_secs(3600));
    warm(&health);
    let mut bare = service_fn(app);
    let mut layered = HealthLayer::new(health.clone()).layer(service_fn(app));
    let mut baseline = service_fn(static_200);

    // Warm both paths once (first-use lazies), then measure with requests built beforehand.
    let _ = serve(&mut layered, get("/x"));
    let _ = serve(&mut layered, get("/readyz"));

    let (r1, r2) = (get("/orders/42"), get("/orders/42"));
    let bare_blocks = blocks(|| serve(&mut bare, r1));
    let layered_blocks = blocks(|| serve(&mut layered, r2));
    assert_eq!(
        layered_blocks, bare_blocks,
        "pass-through must add no allocation"
    );

    let (r1, r2) = (get("/readyz"), get("/readyz"));
    let static_blocks = blocks(|| serve(&mut baseline, r1));
    let probe_blocks = blocks(|| serve(&mut layered, r2));
    eprintln!(
        "allocations: pass-through {layered_blocks} (bare {bare_blocks}); cached probe {probe_blocks} (static 200 {static_blocks})"
    );
    let verbose = get("/readyz?verbose");
    let verbose_blocks = blocks(|| serve(&mut layered, verbose).is_ok());
    eprintln!("allocations: verbose probe (report built) {verbose_blocks}");
    assert!(
        probe_blocks <= static_blocks,
        "cached terse probe: {probe_blocks} allocations, static 200: {static_blocks}"
    );
    // The probe really answered from the cache (a run would have allocated a report).
    assert!(
        health
            .cached_status(vitals_core::Probe::Readiness)
            .is_some()
    );

    // With metrics recorded (a Prometheus recorder; handles registered at build), a cached
    // probe still allocates no more than the static answer: counting is an atomic increment.
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let measured =
        metrics::with_local_recorder(&recorder, || registry(3, Duration::from_secs(3600)));
    warm(&measured);
    let mut layered = HealthLayer::new(measured).layer(service_fn(app));
    let _ = serve(&mut layered, get("/readyz"));
    let request = get("/readyz");
    let metered_blocks = blocks(|| serve(&mut layered, request));
    eprintln!("allocations: cached probe with metrics recorded {metered_blocks}");
    assert!(
        metered_blocks <= static_blocks,
        "cached terse probe with metrics: {metered_blocks} allocations, static 200: {static_blocks}"
    );
    // Counted: the warm-up run's report and the two probes.
    let counted = recorder.handle().render();
    assert!(
        counted.contains(r#"vitals_probe_requests_total{probe="readyz",status="pass"} 3"#),
        "{counted}"
    );
}
