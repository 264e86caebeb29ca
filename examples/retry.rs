//! vitals-retry on its own: retry a flaky async operation with the guide's backoff.
//!
//! `cargo run --example retry`: the guide's schedule (3 retries, ~1 s, ~2 s, ~4 s) at a tenth
//! of its delays.

use std::{
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use vitals::retry::{Backoff, Classification, Retry};

#[derive(Debug)]
enum FetchError {
    Timeout,
    Denied,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let backoff = Backoff::default();
    // Short delays so the example finishes quickly; the shape is the guide's 1 s, 2 s, 4 s.
    let backoff = Backoff::builder()
        .initial_delay(backoff.initial_delay() / 10)
        .max_delay(backoff.max_delay() / 10)
        .retries(backoff.retries())
        .build()
        .expect("scaled delays stay valid");

    let calls = AtomicU32::new(0);
    let started = tokio::time::Instant::now();
    let outcome = Retry::new(backoff)
        .classify(|e: &FetchError| match e {
            FetchError::Timeout => Classification::Transient,
            FetchError::Denied => Classification::Permanent,
        })
        .deadline(started + Duration::from_secs(5))
        .run(|attempt| {
            calls.fetch_add(1, Ordering::Relaxed);
            println!("attempt {attempt} at {:?}", started.elapsed());
            // Fails twice with a timeout, then succeeds.
            async move {
                if attempt < 3 {
                    Err(FetchError::Timeout)
                } else {
                    Ok("connected")
                }
            }
        })
        .await;
    match outcome {
        Ok(done) => println!("{} after {} attempts", done.value, done.attempts),
        Err(err) => println!(
            "gave up: {:?} after {} attempts ({:?})",
            err.error, err.attempts, err.reason
        ),
    }
    let _ = FetchError::Denied; // the permanent case, classified above
}
