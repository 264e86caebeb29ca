//! Environment parsing and scrubbing: any values are accepted or refused with an error naming
//! the variable, never a panic; scrubbing any text never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vitals_core::{HealthConfig, Scrubber, Skip};

const NAMES: [&str; 4] = [
    "HEALTH_CHECK_RETRIES",
    "HEALTH_CHECK_RETRY_DELAY_MS",
    "HEALTH_CHECK_MAX_RETRY_DELAY_MS",
    "SKIP_HEALTH_CHECKS",
];

fuzz_target!(|values: [Option<String>; 4]| {
    let lookup = |name: &str| {
        NAMES
            .iter()
            .position(|n| *n == name)
            .and_then(|i| values[i].clone())
    };
    if let Err(err) = HealthConfig::from_lookup(lookup) {
        assert!(NAMES.contains(&err.variable()));
        assert!(err.to_string().contains("is invalid: expected"));
    }
    for value in values.iter().flatten() {
        let _ = Skip::parse("SKIP_HEALTH_CHECKS", value);
        let _ = Scrubber::new().secret(value.clone()).scrub(value);
    }
});
