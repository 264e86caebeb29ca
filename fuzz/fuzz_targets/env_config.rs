//! The environment profile and scrubbing: any values are accepted or refused with an error
//! naming the variable, never a panic; scrubbing any text never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vitals_core::Scrubber;
use vitals_env::{EnvConfig, VARIABLES};

fuzz_target!(|values: Vec<Option<String>>| {
    let lookup = |name: &str| {
        VARIABLES
            .iter()
            .position(|v| v.name == name)
            .and_then(|i| values.get(i).cloned().flatten())
    };
    if let Err(errors) = EnvConfig::from_lookup(lookup) {
        for err in &errors {
            assert!(VARIABLES.iter().any(|v| v.name == err.variable()));
            assert!(err.to_string().contains("is invalid: expected"));
        }
    }
    for value in values.iter().flatten() {
        let _ = Scrubber::new().secret(value.clone()).scrub(value);
    }
});
