//! The server's `/metrics`, read with the official Prometheus client's text parser, while a
//! real redis-server goes down and comes back; the README's alert rule names real metrics.
use crate::common;

use std::{io::Write, net::SocketAddr, process::Stdio, time::Duration};

use common::{http, start_server};
use vitals_testkit::RedisServer;

/// One sample of a scrape.
#[derive(Debug, serde::Deserialize)]
struct Sample {
    name: String,
    labels: std::collections::BTreeMap<String, String>,
    value: f64,
}

/// Scrapes `/metrics` and parses it with `prometheus_client.parser` (pinned in
/// scripts/test-requirements.txt).
async fn scrape(addr: SocketAddr) -> (String, Vec<Sample>) {
    let res = http(addr, "GET", "/metrics", &[]).await;
    assert_eq!(res.status, 200, "{res:?}");
    let content_type = res.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let mut parser =
        std::process::Command::new(vitals_testkit::require_binary("vitals-test-python"))
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/e2e/support/prometheus_samples.py"
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
    parser
        .stdin
        .take()
        .unwrap()
        .write_all(res.body.as_bytes())
        .unwrap();
    let out = parser.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser rejected the scrape: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        res.body
    );
    let samples = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (res.body, samples)
}

/// The value of the sample called `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

async fn until(addr: SocketAddr, what: &str, accept: impl Fn(&[Sample]) -> bool) -> Vec<Sample> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, samples) = scrape(addr).await;
        if accept(&samples) {
            return samples;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never saw {what}: {samples:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const REDIS: &[(&str, &str)] = &[("name", "redis"), ("component", "redis")];

#[tokio::test]
async fn metrics_follow_a_real_redis_down_and_up_and_carry_no_secret() {
    let password = "planted-Redis-pw-7731";
    let mut redis = RedisServer::builder().password(password).start();
    let (mut child, addr, _log) = start_server(&[
        ("REDIS_URI", &redis.url()),
        ("REDIS_CONNECT_TIMEOUT_MS", "500"),
        ("HEALTH_CHECK_RETRIES", "1"),
        ("HEALTH_CHECK_RETRY_DELAY_MS", "50"),
        ("HEALTH_CHECK_INTERVAL_MS", "100"),
    ])
    .await;
    assert!(
        redis.url().contains(password),
        "the URI carries the password"
    );
    let gauge = "vitals_healthcheck";
    let runs = "vitals_healthchecks_total";
    let up = until(addr, "redis passing", |s| {
        value(s, gauge, REDIS) == Some(2.0)
    })
    .await;
    assert_eq!(
        value(&up, gauge, &[("name", "redis"), ("critical", "false")]),
        Some(2.0)
    );
    let passes = value(&up, runs, &[("name", "redis"), ("status", "pass")]).unwrap();
    assert!(passes >= 1.0);

    // A probe answer is counted by probe and status.
    let before = value(&up, "vitals_probe_requests_total", &[("probe", "readyz")]).unwrap_or(0.0);
    assert_eq!(http(addr, "GET", "/readyz", &[]).await.status, 200);
    let (_, after) = scrape(addr).await;
    let readyz_pass = [("probe", "readyz"), ("status", "pass")];
    assert!(value(&after, "vitals_probe_requests_total", &readyz_pass).unwrap() >= before + 1.0);

    redis.stop();
    // Redis is non-critical: failing, it warns (1).
    let down = until(addr, "redis warning", |s| {
        value(s, gauge, REDIS) == Some(1.0)
    })
    .await;
    // One series per status, 1 for the latest: what a fleet query sums across replicas.
    let state = |status: &str| {
        value(
            &down,
            "vitals_healthcheck_status",
            &[("name", "redis"), ("status", status)],
        )
    };
    assert_eq!(
        (state("pass"), state("warn"), state("fail")),
        (Some(0.0), Some(1.0), Some(0.0))
    );
    let warns = value(&down, runs, &[("name", "redis"), ("status", "warn")]).unwrap();
    assert!(warns >= 1.0);
    // Each failed run made 2 attempts (a retry): attempts outgrow runs.
    let attempts = value(&down, "vitals_healthcheck_attempts_total", REDIS).unwrap();
    let all_runs = passes_and_warns(&down);
    assert!(
        attempts > all_runs,
        "attempts {attempts} vs runs {all_runs}"
    );
    // The duration histogram counts every run and has buckets.
    let count = value(&down, "vitals_healthcheck_duration_seconds_count", REDIS).unwrap();
    assert_eq!(count, all_runs);
    assert!(
        down.iter()
            .any(|s| s.name == "vitals_healthcheck_duration_seconds_bucket"
                && s.labels.get("le").map(String::as_str) == Some("+Inf"))
    );
    let age = value(&down, "vitals_healthcheck_result_age_seconds", REDIS).unwrap();
    assert!((0.0..5.0).contains(&age), "{age}");

    redis.restart();
    until(addr, "redis passing again", |s| {
        value(s, gauge, REDIS) == Some(2.0)
    })
    .await;

    let (text, samples) = scrape(addr).await;
    assert!(
        !text.contains(password),
        "the password leaked into /metrics"
    );
    for sample in &samples {
        for value in sample.labels.values() {
            assert!(!value.contains("://"), "a URL as a label value: {sample:?}");
        }
    }
    child.kill().await.unwrap();
}

fn passes_and_warns(samples: &[Sample]) -> f64 {
    ["pass", "warn", "fail"]
        .iter()
        .filter_map(|status| {
            value(
                samples,
                "vitals_healthchecks_total",
                &[("name", "redis"), ("status", status)],
            )
        })
        .sum()
}

#[tokio::test]
async fn health_check_metrics_false_turns_the_endpoint_off() {
    let (mut child, addr, _log) = start_server(&[("HEALTH_CHECK_METRICS", "false")]).await;
    assert_eq!(http(addr, "GET", "/metrics", &[]).await.status, 404);
    child.kill().await.unwrap();
}

/// The README's alert rule uses metric names the server really exports.
#[tokio::test]
async fn the_readmes_alert_rule_names_exported_metrics() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let rule = readme
        .split("<!-- alert rule: crates/vitals-server/tests/e2e/metrics.rs -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- end -->").next())
        .expect("README.md has the alert rule markers");
    let names: Vec<&str> = rule
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("vitals_"))
        .collect();
    assert!(!names.is_empty(), "{rule}");
    let redis = RedisServer::start();
    let (mut child, addr, _log) = start_server(&[
        ("REDIS_URI", &redis.url()),
        ("HEALTH_CHECK_INTERVAL_MS", "100"),
    ])
    .await;
    let samples = until(addr, "a first result", |s| {
        value(s, "vitals_healthcheck", REDIS).is_some()
    })
    .await;
    for name in names {
        assert!(
            samples.iter().any(|s| s.name == name),
            "the alert rule names {name}, which /metrics does not export"
        );
    }
    child.kill().await.unwrap();
}
