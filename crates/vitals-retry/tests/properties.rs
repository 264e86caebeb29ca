//! Property tests of the delay schedule.
use std::time::Duration;

use proptest::prelude::*;
use vitals_retry::{Backoff, Jitter};

fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
        (0.0f64..=1.0).prop_map(Jitter::Proportional),
    ]
}

fn backoff() -> impl Strategy<Value = Backoff> {
    (0u64..5_000, 1.0f64..4.0, 0u64..60_000, 0u32..40, jitter()).prop_map(
        |(initial, multiplier, extra, retries, jitter)| {
            Backoff::builder()
                .initial_delay(Duration::from_millis(initial))
                .multiplier(multiplier)
                .max_delay(Duration::from_millis(initial + extra))
                .retries(retries)
                .jitter(jitter)
                .build()
                .unwrap()
        },
    )
}

proptest! {
    #[test]
    fn every_delay_is_at_most_the_maximum(b in backoff(), seed in any::<u64>()) {
        for d in b.delays_seeded(seed) {
            prop_assert!(d <= b.max_delay(), "{d:?} > {:?}", b.max_delay());
        }
    }

    #[test]
    fn the_count_equals_the_retries(b in backoff(), seed in any::<u64>()) {
        let delays = b.delays_seeded(seed);
        prop_assert_eq!(delays.len(), b.retries() as usize);
        prop_assert_eq!(delays.count(), b.retries() as usize);
    }

    #[test]
    fn defaults_stay_within_a_quarter_of_the_doubling_base(seed in any::<u64>(), retries in 1u32..20) {
        let b = Backoff::builder().retries(retries).build().unwrap();
        for (i, d) in b.delays_seeded(seed).enumerate() {
            let k = i as u32 + 1;
            let base_ms = (1000u64 << (k - 1).min(20)).min(10_000) as f64;
            let ms = d.as_secs_f64() * 1000.0;
            prop_assert!(ms >= base_ms * 0.75 - 1e-6 && ms <= base_ms * 1.25 + 1e-6,
                "retry {k}: {ms} ms not within 25% of {base_ms} ms");
        }
    }

    #[test]
    fn full_and_equal_stay_within_their_bounds(b in backoff(), seed in any::<u64>()) {
        for jitter in [Jitter::Full, Jitter::Equal] {
            let b = Backoff::builder()
                .initial_delay(b.initial_delay()).multiplier(b.multiplier())
                .max_delay(b.max_delay()).retries(b.retries()).jitter(jitter)
                .build().unwrap();
            for (k, d) in b.delays_seeded(seed).enumerate() {
                let base = b.base_delay(k as u32);
                let low = if jitter == Jitter::Full { Duration::ZERO } else { base / 2 };
                // 1 µs of slack for float rounding at the edges.
                prop_assert!(d + Duration::from_micros(1) >= low && d <= base + Duration::from_micros(1),
                    "{jitter:?} retry {k}: {d:?} outside [{low:?}, {base:?}]");
            }
        }
    }

    #[test]
    fn decorrelated_stays_between_initial_and_three_times_previous(b in backoff(), seed in any::<u64>()) {
        let b = Backoff::builder()
            .initial_delay(b.initial_delay()).max_delay(b.max_delay())
            .retries(b.retries()).jitter(Jitter::Decorrelated).build().unwrap();
        let mut previous = b.initial_delay();
        for d in b.delays_seeded(seed) {
            let high = (previous * 3).min(b.max_delay());
            prop_assert!(d + Duration::from_micros(1) >= b.initial_delay().min(b.max_delay()));
            prop_assert!(d <= high + Duration::from_micros(1), "{d:?} > {high:?}");
            previous = d;
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_delays(b in backoff(), seed in any::<u64>()) {
        let one: Vec<_> = b.delays_seeded(seed).collect();
        let two: Vec<_> = b.delays_seeded(seed).collect();
        prop_assert_eq!(one, two);
    }
}

#[test]
fn no_jitter_doubles_then_caps() {
    let b = Backoff::builder()
        .retries(6)
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let ms: Vec<u128> = b.delays().map(|d| d.as_millis()).collect();
    assert_eq!(ms, [1000, 2000, 4000, 8000, 10_000, 10_000]);
}

#[test]
fn proportional_jitter_at_the_cap_never_exceeds_it() {
    // An injected source at the top of its range: +25 % of 10 s would be 12.5 s.
    let b = Backoff::builder().retries(8).build().unwrap();
    let delays: Vec<Duration> = b.delays_with(|| 0.999_999_9).collect();
    assert_eq!(delays[7], Duration::from_secs(10));
    assert!(delays[0] > Duration::from_millis(1249));
}

#[test]
fn huge_exponents_saturate_at_the_maximum() {
    let b = Backoff::builder()
        .multiplier(1000.0)
        .retries(500)
        .jitter(Jitter::None)
        .build()
        .unwrap();
    assert_eq!(b.delays().last(), Some(Duration::from_secs(10)));
}

#[test]
fn builder_rejects_invalid_parameters() {
    let cases = [
        Backoff::builder().multiplier(0.5).build(),
        Backoff::builder().multiplier(f64::NAN).build(),
        Backoff::builder()
            .initial_delay(Duration::from_secs(5))
            .max_delay(Duration::from_secs(1))
            .build(),
        Backoff::builder().jitter(Jitter::Proportional(1.5)).build(),
    ];
    for case in cases {
        let err = case.unwrap_err().to_string();
        assert!(err.contains("expected"), "{err}");
    }
}

#[test]
fn reset_starts_the_schedule_again() {
    let b = Backoff::builder()
        .retries(2)
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let mut delays = b.delays();
    assert_eq!(delays.by_ref().count(), 2);
    assert_eq!(delays.next(), None);
    delays.reset();
    assert_eq!(delays.next(), Some(Duration::from_secs(1)));
}
