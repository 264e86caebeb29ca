//! The retry schedule from `HEALTH_CHECK_RETRIES`, `HEALTH_CHECK_RETRY_DELAY_MS` and
//! `HEALTH_CHECK_MAX_RETRY_DELAY_MS`.
use std::time::Duration;

use vitals_env::{EnvConfig, EnvError};
use vitals_retry::Backoff;

fn parse(vars: &[(&str, &str)]) -> Result<Backoff, EnvError> {
    EnvConfig::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .map_err(|errors| errors.first().clone())
    .map(|config| config.backoff)
}

#[test]
fn unset_variables_give_the_guide_defaults() {
    let b = parse(&[]).unwrap();
    assert_eq!(b.retries(), 3);
    assert_eq!(b.initial_delay(), Duration::from_millis(1000));
    assert_eq!(b.max_delay(), Duration::from_millis(10_000));
}

#[test]
fn the_guides_eks_values_are_read() {
    let b = parse(&[
        ("HEALTH_CHECK_RETRIES", "5"),
        ("HEALTH_CHECK_RETRY_DELAY_MS", "2000"),
        ("HEALTH_CHECK_MAX_RETRY_DELAY_MS", " 30000 "),
    ])
    .unwrap();
    assert_eq!(b.retries(), 5);
    assert_eq!(b.initial_delay(), Duration::from_secs(2));
    assert_eq!(b.max_delay(), Duration::from_secs(30));
}

#[test]
fn junk_is_an_error_naming_variable_value_and_what_is_accepted() {
    let junk = [
        "abc",
        "-1",
        "1.5",
        "",
        "  ",
        "99999999999999999999999",
        "+3",
        "1e3",
        "0x10",
    ];
    for var in [
        "HEALTH_CHECK_RETRIES",
        "HEALTH_CHECK_RETRY_DELAY_MS",
        "HEALTH_CHECK_MAX_RETRY_DELAY_MS",
    ] {
        for value in junk {
            let err = parse(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable(), var);
            assert_eq!(err.value(), value);
            let msg = err.to_string();
            assert!(msg.contains(var) && msg.contains("a whole number"), "{msg}");
            assert!(msg.contains(&format!("{value:?}")), "{msg}");
        }
    }
}

#[test]
fn out_of_range_values_are_errors() {
    let err = parse(&[("HEALTH_CHECK_RETRIES", "1001")]).unwrap_err();
    assert!(err.to_string().contains("from 0 to 1000"), "{err}");
    let err = parse(&[("HEALTH_CHECK_RETRY_DELAY_MS", "86400001")]).unwrap_err();
    assert_eq!(err.variable(), "HEALTH_CHECK_RETRY_DELAY_MS");
}

#[test]
fn a_maximum_below_the_initial_delay_is_an_error() {
    let err = parse(&[
        ("HEALTH_CHECK_RETRY_DELAY_MS", "5000"),
        ("HEALTH_CHECK_MAX_RETRY_DELAY_MS", "2000"),
    ])
    .unwrap_err();
    assert_eq!(err.variable(), "HEALTH_CHECK_MAX_RETRY_DELAY_MS");
    assert_eq!(err.value(), "2000");
    assert!(
        err.to_string()
            .contains("HEALTH_CHECK_RETRY_DELAY_MS (5000)"),
        "{err}"
    );

    // Only the initial delay set, above the default maximum: blame the variable that was set.
    let err = parse(&[("HEALTH_CHECK_RETRY_DELAY_MS", "20000")]).unwrap_err();
    assert_eq!(err.variable(), "HEALTH_CHECK_RETRY_DELAY_MS");
}
