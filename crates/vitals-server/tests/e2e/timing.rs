//! The engine's timing model through the server process, against real backends:
//! a caller's deadline never changes a shared result, timeouts add up, probes never wait on a
//! slow backend, a check never sticks to a broken client.
use crate::common;

use std::{net::SocketAddr, time::Duration};

use common::{http, poll_until, start_server};
use tokio::time::Instant;
use vitals_testkit::{Fault, FaultProxy, MongoServer, RedisServer};

/// A loopback port nothing listens on.
fn refused_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

fn drain(log: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> Vec<String> {
    let mut lines = Vec::new();
    while let Ok(line) = log.try_recv() {
        lines.push(line);
    }
    lines
}

/// Observation 1: after the cache expired, one `GET /readyz?timeout=1ms` made every later
/// plain probe answer 503 "timed out after 1ms" until the TTL ended, and logged pass→fail.
#[tokio::test]
async fn a_caller_with_a_1ms_deadline_never_fails_the_probe_for_anyone_else() {
    let mongo = MongoServer::start();
    let (mut child, addr, mut log) = start_server(&[
        ("MONGO_URI", &mongo.uri()),
        ("MONGO_SERVER_SELECTION_TIMEOUT_MS", "2000"),
        ("HEALTH_CHECK_INTERVAL_MS", "0"),
        ("HEALTH_CHECK_CACHE_TTL_MS", "200"),
    ])
    .await;
    poll_until(addr, "/readyz?verbose", "mongo pass", |code, _| code == 200).await;
    for round in 0..5 {
        // Let the cache expire, so the next request is the one that starts a run.
        tokio::time::sleep(Duration::from_millis(250)).await;
        let first = http(addr, "GET", "/readyz?timeout=1ms", &[]).await;
        assert_eq!(first.status, 200, "round {round}: {first:?}");
        let callers: Vec<_> = (0..20)
            .map(|i| {
                let path = if i % 2 == 0 {
                    "/readyz?timeout=1ms&verbose"
                } else {
                    "/readyz?verbose"
                };
                tokio::spawn(async move { http(addr, "GET", path, &[]).await })
            })
            .collect();
        for caller in callers {
            let res = caller.await.unwrap();
            assert_eq!(res.status, 200, "round {round}: {res:?}");
            assert!(!res.body.contains("timed out"), "{res:?}");
        }
    }
    let lines = drain(&mut log);
    let changes: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("check status changed"))
        .collect();
    assert_eq!(changes.len(), 1, "only the first result: {changes:#?}");
    assert!(changes[0].contains("to=\"pass\"") || changes[0].contains("to=pass"));
    child.kill().await.unwrap();
}

/// Observation 2: with the connect timeout above the run budget, an attempt was cut before the
/// check could replace its stale client, and Redis never recovered after a restart.
#[tokio::test]
async fn redis_recovers_after_a_restart_when_its_connect_timeout_exceeds_the_budget() {
    let mut redis = RedisServer::start();
    let (mut child, addr, mut log) = start_server(&[
        ("REDIS_URI", &redis.url()),
        ("REDIS_CONNECT_TIMEOUT_MS", "3000"),
        ("HEALTH_CHECK_TIMEOUT_MS", "1500"),
        ("HEALTH_CHECK_RETRIES", "0"),
        ("HEALTH_CHECK_INTERVAL_MS", "100"),
    ])
    .await;
    // The budget cannot hold one attempt of connect + command timeout: said once at startup.
    let warning = common::wait_for_log(&mut log, "HEALTH_CHECK_TIMEOUT_MS is too short").await;
    assert!(
        warning.contains("redis: 0 of 1 attempts fit")
            && warning.contains("REDIS_CONNECT_TIMEOUT_MS"),
        "{warning}"
    );
    let status = |j: &serde_json::Value| j["checks"]["redis"][0]["status"].clone();
    poll_until(addr, "/?verbose", "redis pass", |_, j| status(j) == "pass").await;
    for cycle in 0..2 {
        redis.stop();
        poll_until(addr, "/?verbose", "redis warn", |code, j| {
            code == 200 && status(j) == "warn"
        })
        .await;
        redis.restart();
        let up = poll_until(addr, "/?verbose", "redis pass after restart", |_, j| {
            status(j) == "pass"
        })
        .await;
        assert_eq!(up["status"], "pass", "cycle {cycle}");
    }
    child.kill().await.unwrap();
}

/// Observation 3: with `MONGO_SERVER_SELECTION_TIMEOUT_MS` equal to the run budget every fault
/// read "timed out" after one attempt. Now, with the budget derived, every retry happens and
/// the driver's own reason is reported.
#[tokio::test]
async fn mongo_faults_report_the_drivers_reason_after_every_retry() {
    let tls = MongoServer::start_tls();
    let cases = [
        (
            format!("mongodb://{}/?directConnection=true", refused_addr()),
            "connection refused",
        ),
        (tls.uri(), "TLS certificate rejected"),
    ];
    for (uri, reason) in &cases {
        let (mut child, addr, _log) = start_server(&[
            ("MONGO_URI", uri.as_str()),
            ("MONGO_SERVER_SELECTION_TIMEOUT_MS", "1000"),
            ("HEALTH_CHECK_RETRIES", "2"),
            ("HEALTH_CHECK_RETRY_DELAY_MS", "100"),
            ("HEALTH_CHECK_INTERVAL_MS", "100"),
        ])
        .await;
        let mongo = |j: &serde_json::Value| j["checks"]["mongo"][0].clone();
        let down = poll_until(addr, "/readyz?verbose", reason, |code, j| {
            code == 503 && mongo(j)["source"] == "background"
        })
        .await;
        let output = mongo(&down)["output"].as_str().unwrap().to_owned();
        assert!(output.contains(*reason), "{output}");
        assert!(!output.contains("timed out after"), "{output}");
        assert_eq!(mongo(&down)["attempts"], 3, "{down}");
        child.kill().await.unwrap();
    }
}

/// Observation 4: with a blackholed backend every on-demand probe after the TTL waited for the
/// whole budget. Now each probe answers within the registry's bound (250 ms) while the run,
/// with all its attempts, goes on; the run's own attempts each end by the driver's timeout.
#[tokio::test]
async fn probes_never_wait_for_a_blackholed_backend() {
    let mongo = MongoServer::start();
    let proxy = FaultProxy::start(mongo.addr()).await;
    proxy.set(Fault::Blackhole);
    let uri = format!(
        "mongodb://{}/?directConnection=true&connectTimeoutMS=300",
        proxy.addr()
    );
    let (mut child, addr, _log) = start_server(&[
        ("MONGO_URI", &uri),
        ("MONGO_SERVER_SELECTION_TIMEOUT_MS", "600"),
        ("HEALTH_CHECK_RETRIES", "2"),
        ("HEALTH_CHECK_RETRY_DELAY_MS", "200"),
        ("HEALTH_CHECK_INTERVAL_MS", "0"),
        ("HEALTH_CHECK_CACHE_TTL_MS", "100"),
    ])
    .await;
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut progress_seen = false;
    let result = loop {
        let sent = Instant::now();
        let res = http(addr, "GET", "/readyz?verbose", &[]).await;
        slowest = slowest.max(sent.elapsed());
        let json: serde_json::Value = serde_json::from_str(&res.body).unwrap();
        let mongo = json["checks"]["mongo"][0].clone();
        progress_seen |= mongo["progress"]
            .as_str()
            .is_some_and(|p| p.contains("of 3"));
        if mongo["source"] == "fresh" || mongo["attempts"].as_u64().unwrap_or(0) > 0 {
            break mongo;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{json}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Kubelet's default timeoutSeconds is 1 s; the registry's bound is 250 ms.
    assert!(slowest < Duration::from_secs(1), "a probe took {slowest:?}");
    assert!(progress_seen, "?verbose never showed the run in progress");
    assert_eq!(result["attempts"], 3, "{result}");
    assert_eq!(result["status"], "fail", "{result}");
    child.kill().await.unwrap();
}

/// Seconds as the README writes them: `37 s`, `156.75 s`.
fn seconds(ms: u64) -> String {
    let text = format!("{:.2}", ms as f64 / 1000.0);
    format!("{} s", text.trim_end_matches('0').trim_end_matches('.'))
}

/// The README's worked example of the timing rule is the server's own startup log under the
/// guide's defaults, so the two cannot drift.
#[tokio::test]
async fn the_readmes_timing_table_is_what_the_server_logs_under_the_guides_defaults() {
    let nowhere = refused_addr();
    let mongo = format!("mongodb://{nowhere}/?directConnection=true");
    let redis = format!("redis://{nowhere}");
    let runner = format!("http://{nowhere}/health");
    let endpoint = format!("http://{nowhere}");
    let (mut child, _addr, mut log) = start_server(&[
        ("MONGO_URI", &mongo),
        ("REDIS_URI", &redis),
        ("CUSTOM_CODE_RUNNER_URI", &runner),
        ("TMP_STORAGE_BUCKET", "test-integration-app-tmp"),
        (
            "CONNECTORS_STORAGE_BUCKET",
            "test-integration-app-connectors",
        ),
        ("STATIC_STORAGE_BUCKET", "test-integration-app-static"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL", &endpoint),
    ])
    .await;
    common::wait_for_log(&mut log, "health checks ready").await;
    child.kill().await.unwrap();
    let field = |line: &str, key: &str| -> u64 {
        let rest = line.split(&format!(" {key}=")).nth(1).unwrap();
        rest.split(' ').next().unwrap().parse().unwrap()
    };
    let mut rows = vec![
        "| check | one attempt is cut at | run budget (every attempt and delay) | a result counts as failed after |".to_owned(),
        "|---|---|---|---|".to_owned(),
    ];
    for line in drain(&mut log)
        .iter()
        .filter(|l| l.contains("check timing"))
    {
        let check = line
            .split(" check=")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .trim_matches('"');
        assert_eq!(field(line, "attempts"), 4, "{line}");
        rows.push(format!(
            "| `{check}` | {} | {} | {} |",
            seconds(field(line, "attempt_timeout_ms")),
            seconds(field(line, "budget_ms")),
            seconds(field(line, "max_age_ms")),
        ));
    }
    assert_eq!(rows.len(), 6, "{rows:#?}");
    let table = rows.join("\n");
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let start = "<!-- timing table: crates/vitals-server/tests/e2e/timing.rs -->\n";
    let documented = readme
        .split(start)
        .nth(1)
        .and_then(|rest| rest.split("\n<!-- end -->").next())
        .expect("README.md has the timing table markers");
    assert_eq!(
        documented, table,
        "README.md's timing table is out of date; it should read:\n{table}"
    );
}
