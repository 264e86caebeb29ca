//! The fleet from a real Prometheus (Debian's, scraping every second): three servers share
//! a MongoDB (jongodb) but for one, which sees a refused port. The page of any one shows all
//! three; a shared check fails open only when every replica sees it fail; a restarted server
//! keeps the fleet's history; with Prometheus gone the page says so, answers from memory, and
//! fail-open falls back to fail-closed.
use crate::common;

use std::{net::SocketAddr, process::Stdio, time::Duration};

use common::{http, root, start_server};
use serde_json::Value;
use tokio::process::Child;
use vitals_testkit::{MongoServer, PrometheusServer, free_port};

/// Polls `path` until `accept` holds, for up to 60 s (a scrape, a reading and a run each take
/// up to a second).
async fn wait_until(
    addr: SocketAddr,
    path: &str,
    what: &str,
    accept: impl Fn(u16, &Value) -> bool,
) -> Value {
    common::poll_until_within(addr, path, what, Duration::from_secs(60), accept).await
}

fn fleet_mongo(page: &Value) -> &Value {
    &page["fleet"]["checks"]["mongo"]
}

/// The mongo check's status and output in a verbose probe answer (health+json).
fn readyz_mongo(json: &Value) -> (String, String) {
    let check = &json["checks"]["mongo"][0];
    (
        check["status"].as_str().unwrap_or("").to_owned(),
        check["output"].as_str().unwrap_or("").to_owned(),
    )
}

async fn start(prometheus: &PrometheusServer, mongo_uri: &str) -> (Child, SocketAddr) {
    let url = prometheus.url();
    let (child, addr, _log) = start_server(&[
        ("MONGO_URI", mongo_uri),
        ("MONGO_SERVER_SELECTION_TIMEOUT_MS", "300"),
        ("HEALTH_CHECK_RETRIES", "0"),
        ("HEALTH_CHECK_INTERVAL_MS", "300"),
        ("HEALTH_PROMETHEUS_URL", &url),
        ("HEALTH_PROMETHEUS_SELECTOR", r#"job="vitals""#),
        ("HEALTH_PROMETHEUS_INTERVAL_MS", "500"),
        ("HEALTH_SHARED_CHECKS", "mongo"),
    ])
    .await;
    (child, addr)
}

/// The page's fleet column in Chromium, once `check`'s row shows it.
async fn fleet_in_browser(addr: SocketAddr, check: &str) -> Value {
    let profile = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new("node")
        .arg(root().join("crates/vitals-server/tests/browser/fleet-rows.js"))
        .arg(format!("http://{addr}/status"))
        .arg(profile.path())
        .arg(check)
        .env("NODE_PATH", "/usr/local/lib/vitals-test-deps/node_modules")
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .output()
        .await
        .expect("node (scripts/install-test-deps installs Node.js, Chromium and playwright-core)");
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[tokio::test]
async fn three_replicas_on_one_prometheus_see_the_fleet_and_fail_open_together() {
    let mut mongo = MongoServer::start();
    let mut prometheus = PrometheusServer::start();
    let refused = format!("mongodb://127.0.0.1:{}/", free_port(60_000));
    let (mut a, a_addr) = start(&prometheus, &mongo.uri()).await;
    let (mut b, b_addr) = start(&prometheus, &mongo.uri()).await;
    let (mut c, c_addr) = start(&prometheus, &refused).await;
    prometheus.set_targets(&[a_addr, b_addr, c_addr]);

    // Only C sees MongoDB fail: its own problem. The page of A shows all three.
    let page = wait_until(a_addr, "/status", "the fleet: 2 pass, 1 fail", |_, page| {
        fleet_mongo(page)["pass"] == 2 && fleet_mongo(page)["fail"] == 1
    })
    .await;
    let replicas: Vec<(String, String)> = fleet_mongo(&page)["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut expected = vec![
        (a_addr.to_string(), "pass".to_owned()),
        (b_addr.to_string(), "pass".to_owned()),
        (c_addr.to_string(), "fail".to_owned()),
    ];
    expected.sort();
    assert_eq!(replicas, expected, "{page}");
    assert_eq!(page["fleet"]["fresh"], true, "{page}");
    assert_eq!(page["fleet"]["problem"], Value::Null, "{page}");
    let c_ready = http(c_addr, "GET", "/readyz?verbose", &[]).await;
    assert_eq!(c_ready.status, 503, "C alone fails: {}", c_ready.body);
    let (status, output) = readyz_mongo(&serde_json::from_str(&c_ready.body).unwrap());
    assert_eq!(status, "fail");
    assert!(!output.contains("fail-open"), "{output}");
    assert_eq!(http(a_addr, "GET", "/readyz", &[]).await.status, 200);

    // The same, in a browser: the fleet column of the mongo row.
    let seen = fleet_in_browser(b_addr, "mongo").await;
    let fleet = &seen["fleet"];
    assert_eq!(seen["consoleErrors"], serde_json::json!([]), "{seen}");
    assert_eq!(
        (fleet["pass"].as_u64(), fleet["fail"].as_u64()),
        (Some(2), Some(1)),
        "{seen}"
    );
    assert_eq!(fleet["replicas"].as_array().unwrap().len(), 3, "{seen}");
    assert_eq!(fleet["visible"], true, "{seen}");
    // One replica has failed from the start: the fleet's timeline says "some failing".
    assert_eq!(
        fleet["timeline"].as_array().unwrap().last().unwrap(),
        "warn",
        "{seen}"
    );
    assert!(
        fleet["header"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h == "fleet"),
        "{seen}"
    );
    assert!(
        fleet["line"]
            .as_str()
            .unwrap_or("")
            .starts_with("Fleet: 3 replicas"),
        "{seen}"
    );

    // MongoDB goes: every replica sees it fail, so each fails open and stays ready.
    mongo.stop();
    for addr in [a_addr, b_addr, c_addr] {
        let json = wait_until(addr, "/readyz?verbose", "fail-open", |status, json| {
            status == 200 && readyz_mongo(json).0 == "warn"
        })
        .await;
        let (_, output) = readyz_mongo(&json);
        assert!(
            output.starts_with("fail-open: the whole fleet (3 of 3 replicas) sees mongo failing"),
            "{addr}: {output}"
        );
    }
    let metrics = http(a_addr, "GET", "/metrics", &[]).await.body;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("vitals_healthcheck_fail_open{") && l.ends_with(" 1")),
        "{metrics}"
    );
    let page = http(a_addr, "GET", "/status", &[]).await;
    let page: Value = serde_json::from_str(&page.body).unwrap();
    let check = page["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "mongo")
        .unwrap();
    assert_eq!(check["fail_open"]["replicas"], 3, "{page}");

    // A restarts (a rollout): its memory starts empty, the fleet's history does not.
    a.kill().await.unwrap();
    let (mut a2, a2_addr) = start(&prometheus, &mongo.uri()).await;
    prometheus.set_targets(&[a2_addr, b_addr, c_addr]);
    let page = wait_until(a2_addr, "/status", "the fleet's uptime", |_, page| {
        let fleet = fleet_mongo(page)["uptime"]["1h"].as_f64();
        let own = page["checks"][0]["uptime"]["1h"].as_f64();
        fleet.is_some_and(|u| u > 0.0 && u < 1.0) && own == Some(0.0)
    })
    .await;
    let fleet_uptime = fleet_mongo(&page)["uptime"]["1h"].as_f64().unwrap();
    // The restarted replica's passes are in Prometheus, not in its memory.
    assert!(fleet_uptime > 0.1, "{page}");
    // So is the fleet's timeline: some replicas failing (C alone), then all of them.
    let timeline: Vec<&str> = fleet_mongo(&page)["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| change["status"].as_str().unwrap())
        .collect();
    assert!(
        timeline.ends_with(&["warn", "fail"]),
        "{timeline:?}: {page}"
    );

    // Prometheus goes: the page says so and answers from memory; without a fresh reading,
    // the shared check fails closed again.
    prometheus.stop();
    let page = wait_until(
        a2_addr,
        "/status",
        "the reading's problem",
        |status, page| {
            status == 200 && page["fleet"]["problem"].is_string() && page["fleet"]["fresh"] == false
        },
    )
    .await;
    let problem = page["fleet"]["problem"].as_str().unwrap();
    assert!(
        problem.starts_with(&format!("Prometheus at {}", prometheus.url())),
        "{problem}"
    );
    assert_eq!(page["checks"][0]["name"], "mongo", "{page}");
    let json = wait_until(a2_addr, "/readyz?verbose", "fail-closed", |status, json| {
        status == 503 && readyz_mongo(json).0 == "fail"
    })
    .await;
    assert!(!readyz_mongo(&json).1.contains("fail-open"), "{json}");

    for child in [&mut a2, &mut b, &mut c] {
        child.kill().await.unwrap();
    }
}
