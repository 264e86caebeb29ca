//! The status page's history in memory: the heap a registry holds per check once every ring
//! is full (100 runs with the longest output kept, 50 transitions, 30 days of hourly
//! roll-ups), measured with dhat for 50 checks. `cargo run --release -p vitals-bench --bin
//! history-memory`; the figure is in BENCHMARKS.md.
use std::sync::atomic::{AtomicU64, Ordering};

use vitals_core::{Backoff, Check, CheckError, Details, Health, Probe, async_trait, history};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

/// Alternates failing (with a long output) and passing, so runs and transitions both fill.
struct Flapping {
    name: String,
    runs: AtomicU64,
}

#[async_trait]
impl Check for Flapping {
    fn name(&self) -> &str {
        &self.name
    }
    async fn check(&self) -> Result<Details, CheckError> {
        if self.runs.fetch_add(1, Ordering::Relaxed).is_multiple_of(2) {
            Err(CheckError::new("x".repeat(1_000)))
        } else {
            Ok(Details::new())
        }
    }
}

fn registry(checks: usize) -> Health {
    let mut builder = Health::builder()
        .backoff(Backoff::none())
        .ttl(std::time::Duration::ZERO);
    for i in 0..checks {
        builder = builder.register(Flapping {
            name: format!("check-{i}"),
            runs: AtomicU64::new(0),
        });
    }
    builder.build()
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    const CHECKS: usize = 50;
    runtime.block_on(async {
        let before = dhat::HeapStats::get().curr_bytes;
        let empty = registry(CHECKS);
        let built = dhat::HeapStats::get().curr_bytes - before;
        drop(empty);

        let before = dhat::HeapStats::get().curr_bytes;
        let health = registry(CHECKS);
        for _ in 0..(2 * history::RECENT_RUNS) {
            health.run(Probe::All).await;
        }
        let full = dhat::HeapStats::get().curr_bytes - before;
        println!(
            "{CHECKS} checks: registry built {built} B ({} B per check); after {} runs each, \
             every ring full: {full} B ({} B per check); history fixed at {} runs, {} \
             transitions, {} hourly roll-ups, outputs cut at {} B",
            built / CHECKS,
            2 * history::RECENT_RUNS,
            full / CHECKS,
            history::RECENT_RUNS,
            history::TRANSITIONS_KEPT,
            history::HOURS_KEPT,
            history::OUTPUT_KEPT
        );
        drop(health);
    });
}
