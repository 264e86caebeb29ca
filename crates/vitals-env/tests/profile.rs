//! The profile: component lists, checks and their criticality, booleans and durations, the
//! table's defaults agreeing with the behaviour and the probe crates.
use std::time::Duration;

use vitals_core::{CheckStatus, Probe};
use vitals_env::{EnvConfig, EnvError, VARIABLES, variables};

fn config(vars: &[(&str, &str)]) -> Result<EnvConfig, EnvError> {
    EnvConfig::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .map_err(|errors| errors.first().clone())
}

#[test]
fn skip_lists_parse_with_whitespace_and_case() {
    let skip = config(&[("SKIP_HEALTH_CHECKS", " Mongo ,redis ")])
        .unwrap()
        .skip;
    assert!(skip.contains("mongo") && skip.contains("redis") && !skip.contains("storage"));
    assert!(
        config(&[("SKIP_HEALTH_CHECKS", "all")])
            .unwrap()
            .skip
            .contains("anything")
    );
    assert!(
        config(&[("SKIP_HEALTH_CHECKS", "")])
            .unwrap()
            .skip
            .is_empty()
    );
    let skip = config(&[("SKIP_HEALTH_CHECKS", "storage,custom_code")])
        .unwrap()
        .skip;
    assert_eq!(skip.to_string(), "custom_code,storage");
}

#[test]
fn unknown_or_empty_component_items_are_errors_listing_the_valid_names() {
    for variable in ["SKIP_HEALTH_CHECKS", "NON_CRITICAL_HEALTH_CHECKS"] {
        for bad in ["mongodb", "mongo,,redis", "mongo;redis", "s3"] {
            let err = config(&[(variable, bad)]).unwrap_err();
            assert_eq!(err.variable(), variable);
            let msg = err.to_string();
            assert!(msg.starts_with(&format!("{variable}=")), "{msg}");
            assert!(msg.contains("mongo, redis, storage, custom_code"), "{msg}");
        }
    }
}

#[test]
fn redis_is_non_critical_by_default_and_the_list_is_a_setting() {
    assert_eq!(config(&[]).unwrap().non_critical.to_string(), "redis");
    let none = config(&[("NON_CRITICAL_HEALTH_CHECKS", "none")]).unwrap();
    assert!(none.non_critical.is_empty());
    let both = config(&[("NON_CRITICAL_HEALTH_CHECKS", "redis, storage")]).unwrap();
    assert!(both.non_critical.contains("storage") && !both.non_critical.contains("mongo"));
}

/// A Redis that refuses: `warn` (still serving) while Redis is non-critical, `fail` once the
/// setting makes it critical. Runs the real check against a port nothing listens on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_critical_components_warn_and_critical_ones_fail() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let uri = format!("redis://127.0.0.1:{port}");
    for (list, expected) in [("redis", CheckStatus::Warn), ("none", CheckStatus::Fail)] {
        let config = config(&[
            ("REDIS_URI", &uri),
            ("HEALTH_CHECK_RETRIES", "0"),
            ("HEALTH_CHECK_INTERVAL_MS", "0"),
            ("NON_CRITICAL_HEALTH_CHECKS", list),
        ])
        .unwrap();
        let health = config.health_builder().build();
        let report = health.run(Probe::Readiness).await;
        assert_eq!(report.check("redis").unwrap().status, expected, "{list}");
    }
}

#[test]
fn checks_are_added_by_their_variables() {
    let config = config(&[
        ("MONGO_URI", "mongodb://app:pw@db:27017/app"),
        ("REDIS_URI", "redis://:pw@cache:6379"),
        ("TMP_STORAGE_BUCKET", "app-tmp"),
        ("STATIC_STORAGE_BUCKET", " app-static "),
        ("CUSTOM_CODE_RUNNER_URI", "http://runner:8080/health"),
    ])
    .unwrap();
    let names: Vec<&str> = config.check_names().collect();
    assert_eq!(names, ["mongo", "storage", "custom_code", "redis"]);
    assert_eq!(self::config(&[]).unwrap().check_names().count(), 0);
}

#[test]
fn a_bad_uri_or_bucket_names_its_variable_and_hides_the_password() {
    let err = config(&[("REDIS_URI", "http://:hunter2@cache:6379")]).unwrap_err();
    assert_eq!(err.variable(), "REDIS_URI");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let err = config(&[("MONGO_URI", "mongo://u:hunter2@db")]).unwrap_err();
    assert_eq!(err.variable(), "MONGO_URI");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let err = config(&[
        ("TMP_STORAGE_BUCKET", "ok-bucket"),
        ("STATIC_STORAGE_BUCKET", "Bad_Name"),
    ])
    .unwrap_err();
    assert_eq!(err.variable(), "STATIC_STORAGE_BUCKET");
    assert!(
        err.to_string().contains("an S3 bucket name: 3 to 63"),
        "{err}"
    );
    let err = config(&[("CUSTOM_CODE_RUNNER_URI", "ftp://runner")]).unwrap_err();
    assert_eq!(err.variable(), "CUSTOM_CODE_RUNNER_URI");
}

/// One start says everything there is to fix: every invalid variable, in reading order, each
/// on its own line; the valid ones between them are still read.
#[test]
fn every_invalid_variable_is_reported_at_once() {
    let vars = [
        ("PORT", "x"),
        ("HEALTH_CHECK_RETRIES", "abc"),
        ("HEALTH_CHECK_RETRY_DELAY_MS", "500"),
        ("REDIS_URI", "redis://:hunter2@cache:99999"),
        ("STORAGE_DEEP_CHECK", "maybe"),
    ];
    let errors = EnvConfig::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap_err();
    let named: Vec<&str> = errors.iter().map(|e| e.variable()).collect();
    assert_eq!(
        named,
        [
            "PORT",
            "HEALTH_CHECK_RETRIES",
            "STORAGE_DEEP_CHECK",
            "REDIS_URI"
        ]
    );
    let text = errors.to_string();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(
        text.lines().all(|l| l.contains(" is invalid: expected ")),
        "{text}"
    );
    assert!(
        text.contains("invalid port number") && !text.contains("hunter2"),
        "{text}"
    );
}

#[test]
fn millis_and_bools_validate() {
    let c = config(&[
        ("HEALTH_CHECK_INTERVAL_MS", "0"),
        ("SHUTDOWN_DELAY_MS", "0"),
    ])
    .unwrap();
    assert_eq!(c.interval, None, "0 means on demand");
    assert_eq!(c.shutdown_delay, Duration::ZERO);
    assert_eq!(
        config(&[("HEALTH_CHECK_CACHE_TTL_MS", "60000")])
            .unwrap()
            .cache_ttl,
        Duration::from_secs(60)
    );
    let err = config(&[("HEALTH_CHECK_CACHE_TTL_MS", "0")]).unwrap_err();
    assert!(err.to_string().contains("from 1 to 86400000"), "{err}");
    let err = config(&[("HEALTH_CHECK_TIMEOUT_MS", "1.5")]).unwrap_err();
    assert!(
        err.to_string().contains("HEALTH_CHECK_TIMEOUT_MS=\"1.5\""),
        "{err}"
    );
    assert!(
        !config(&[("HEALTH_CHECK_METRICS", " OFF ")])
            .unwrap()
            .metrics
    );
    let err = config(&[("STORAGE_DEEP_CHECK", "maybe")]).unwrap_err();
    assert!(err.to_string().contains("true or false"), "{err}");
    let err = config(&[("PORT", "65536")]).unwrap_err();
    assert!(
        err.to_string().contains("a port number from 0 to 65535"),
        "{err}"
    );
}

/// The table's defaults are the behaviour's: each is parsed by the variable's own parser, and
/// the probe crates' own defaults agree with the guide's.
#[test]
fn the_documented_defaults_are_the_defaults() {
    let c = config(&[]).unwrap();
    assert_eq!(c.port.to_string(), variables::PORT.default.to_string());
    assert_eq!(
        c.backoff.retries().to_string(),
        variables::RETRIES.default.to_string()
    );
    assert_eq!(
        c.backoff.initial_delay().as_millis().to_string(),
        variables::RETRY_DELAY.default.to_string()
    );
    assert_eq!(
        c.backoff.max_delay().as_millis().to_string(),
        variables::MAX_RETRY_DELAY.default.to_string()
    );
    assert_eq!(c.backoff, vitals_retry::Backoff::default());
    assert_eq!(
        c.interval.unwrap().as_millis().to_string(),
        variables::INTERVAL.default.to_string()
    );
    assert_eq!(
        c.cache_ttl.as_millis().to_string(),
        variables::CACHE_TTL.default.to_string()
    );
    assert_eq!(c.run_budget, None, "derived");
    assert_eq!(
        c.metrics.to_string(),
        variables::METRICS.default.to_string()
    );
    assert_eq!(
        c.shutdown_delay.as_millis().to_string(),
        variables::SHUTDOWN_DELAY.default.to_string()
    );
    let ms = |d: Duration| d.as_millis().to_string();
    assert_eq!(
        ms(vitals_mongodb::DEFAULT_SERVER_SELECTION_TIMEOUT),
        variables::MONGO_SERVER_SELECTION_TIMEOUT
            .default
            .to_string()
    );
    assert_eq!(
        ms(vitals_redis::DEFAULT_CONNECT_TIMEOUT),
        variables::REDIS_CONNECT_TIMEOUT.default.to_string()
    );
    assert_eq!(
        ms(vitals_redis::DEFAULT_COMMAND_TIMEOUT),
        variables::REDIS_COMMAND_TIMEOUT.default.to_string()
    );
}

#[test]
fn every_variable_is_listed_once() {
    let mut names: Vec<&str> = VARIABLES.iter().map(|v| v.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), VARIABLES.len());
}

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_environment_is_accepted_or_refused_by_name(
            values in proptest::collection::vec("\\PC{0,24}", VARIABLES.len()),
        ) {
            let vars: Vec<(&str, &str)> = VARIABLES
                .iter()
                .zip(&values)
                .map(|(v, value)| (v.name, value.as_str()))
                .collect();
            if let Err(err) = config(&vars) {
                prop_assert!(VARIABLES.iter().any(|v| v.name == err.variable()));
                prop_assert!(err.to_string().contains("is invalid: expected"));
            }
        }
    }
}

/// The connection bounds and stream budgets: their defaults are the serving crates' own, and
/// each is validated with words naming the variable and what it accepts.
#[test]
fn connection_bounds_and_stream_budgets_validate() {
    let c = config(&[]).unwrap();
    assert_eq!(c.serve, vitals_serve::Limits::default());
    assert_eq!(c.max_event_streams, vitals_tower::DEFAULT_MAX_EVENT_STREAMS);
    assert_eq!(c.max_watch_streams, vitals_tonic::DEFAULT_MAX_WATCH_STREAMS);

    let c = config(&[
        ("HEALTH_HEADER_READ_TIMEOUT_MS", "2500"),
        ("HEALTH_IDLE_TIMEOUT_MS", "1000"),
        ("HEALTH_SEND_TIMEOUT_MS", "3000"),
        ("HEALTH_HTTP2_KEEPALIVE_MS", "4000"),
        ("HEALTH_HTTP2_MAX_STREAMS", "10"),
        ("HEALTH_MAX_HEADER_BYTES", "8192"),
        ("HEALTH_MAX_CONNECTIONS", " 300 "),
        ("HEALTH_MAX_EVENT_STREAMS", "0"),
        ("HEALTH_MAX_WATCH_STREAMS", "5"),
    ])
    .unwrap();
    assert_eq!(c.serve.header_read_timeout, Duration::from_millis(2500));
    assert_eq!(c.serve.idle_timeout, Duration::from_secs(1));
    assert_eq!(c.serve.send_timeout, Duration::from_secs(3));
    assert_eq!(c.serve.http2_keep_alive, Duration::from_secs(4));
    assert_eq!(c.serve.http2_max_streams, 10);
    assert_eq!(c.serve.max_header_bytes, 8192);
    assert_eq!(
        c.serve.max_connections,
        vitals_serve::MaxConnections::Fixed(300)
    );
    assert_eq!((c.max_event_streams, c.max_watch_streams), (0, 5));
    assert_eq!(
        config(&[("HEALTH_MAX_CONNECTIONS", "AUTO")])
            .unwrap()
            .serve
            .max_connections,
        vitals_serve::MaxConnections::Auto
    );

    for (variable, junk, accepted) in [
        ("HEALTH_HEADER_READ_TIMEOUT_MS", "0", "from 1 to 86400000"),
        (
            "HEALTH_IDLE_TIMEOUT_MS",
            "1s",
            "whole number of milliseconds",
        ),
        (
            "HEALTH_SEND_TIMEOUT_MS",
            "-1",
            "whole number of milliseconds",
        ),
        (
            "HEALTH_HTTP2_KEEPALIVE_MS",
            "",
            "whole number of milliseconds",
        ),
        ("HEALTH_HTTP2_MAX_STREAMS", "0", "streams from 1 to 10000"),
        (
            "HEALTH_MAX_HEADER_BYTES",
            "4096",
            "bytes from 8192 to 1048576",
        ),
        ("HEALTH_MAX_CONNECTIONS", "0", "`auto`, or a whole number"),
        (
            "HEALTH_MAX_CONNECTIONS",
            "unlimited",
            "`auto`, or a whole number",
        ),
        ("HEALTH_MAX_CONNECTIONS", "+5", "`auto`, or a whole number"),
        (
            "HEALTH_MAX_EVENT_STREAMS",
            "many",
            "streams from 0 to 1000000",
        ),
        (
            "HEALTH_MAX_WATCH_STREAMS",
            "1e3",
            "streams from 0 to 1000000",
        ),
    ] {
        let err = config(&[(variable, junk)]).unwrap_err();
        let text = err.to_string();
        assert_eq!(err.variable(), variable, "{text}");
        assert!(text.contains(&format!("{variable}=\"{junk}\"")), "{text}");
        assert!(text.contains(accepted), "{variable}: {text}");
    }
}

/// Every stand-in (what a linter plans a Secret's variable with) is a value vitals-env
/// accepts and that adds a check: the stand-ins live beside the variables they stand for.
#[test]
fn every_stand_in_is_accepted_and_adds_a_check() {
    // A stand-in that completes a check rather than adding one (a password from a Secret)
    // is tried with the rest of its check, as a manifest sets them.
    let companions = |variable: &str| -> Vec<(&str, &str)> {
        match variable {
            "KAFKA_SASL_PASSWORD" => vec![
                ("KAFKA_BOOTSTRAP_SERVERS", "b-1.msk.example:9096"),
                ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
                ("KAFKA_SASL_USERNAME", "app"),
            ],
            _ => Vec::new(),
        }
    };
    for variable in VARIABLES.iter().filter(|v| v.stand_in.is_some()) {
        let value = variable.stand_in.unwrap();
        let others = companions(variable.name);
        let config = EnvConfig::from_lookup(|name| {
            if name == variable.name {
                return Some(value.to_owned());
            }
            others
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap_or_else(|e| panic!("{}={value}: {e}", variable.name));
        assert_eq!(config.checks().len(), 1, "{}={value}", variable.name);
    }
}

#[test]
fn a_refinement_without_its_check_is_refused_not_ignored() {
    for (name, value) in [
        ("KAFKA_TOPICS", "orders"),
        ("KAFKA_SASL_PASSWORD", "planted-orphan-pw"),
        ("SQS_MAX_MESSAGES", "100"),
    ] {
        let errors = EnvConfig::from_lookup(|n| (n == name).then(|| value.to_owned()))
            .err()
            .unwrap_or_else(|| panic!("{name} alone was accepted"));
        let text = errors.to_string();
        assert_eq!(errors.first().variable(), name, "{text}");
        assert!(text.contains("set as well"), "{text}");
        assert!(!text.contains("planted-orphan-pw"), "{text}");
    }
}
