//! `vitals-server` as a process: serves the probes, rejects bad configuration.
use crate::common;

use std::{net::SocketAddr, time::Duration};

use common::{http, output_within, poll_until, server_binary};
use tokio::process::Child;

async fn start(
    env: &[(&str, &str)],
) -> (
    Child,
    SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    common::start_server(env).await
}

#[tokio::test]
async fn serves_the_root_and_probe_paths_with_nothing_configured() {
    let (mut child, addr, mut log) = start(&[]).await;
    for path in ["/", "/livez", "/readyz", "/startupz", "/healthz"] {
        let res = http(addr, "GET", path, &[]).await;
        assert_eq!(res.status, 200, "{path}: {res:?}");
        assert_eq!(res.body, r#"{"status":"pass"}"#, "{path}");
    }
    let hello = http(addr, "GET", "/hello", &[]).await;
    assert_eq!((hello.status, hello.body.as_str()), (200, "hello\n"));
    assert_eq!(http(addr, "GET", "/nope", &[]).await.status, 404);

    let mut seen = Vec::new();
    while let Ok(line) = log.try_recv() {
        seen.push(line);
    }
    assert!(
        seen.iter()
            .any(|l| l.contains("no backend checks configured")),
        "{seen:#?}"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn sigterm_fails_readiness_at_once_finishes_in_flight_requests_and_exits() {
    let (mut child, addr, mut log) = start(&[("SHUTDOWN_DELAY_MS", "1500")]).await;
    assert_eq!(http(addr, "GET", "/readyz", &[]).await.status, 200);

    // A request in flight across the shutdown: wait until the handler has started it.
    let in_flight =
        tokio::spawn(async move { http(addr, "GET", "/hello?delay_ms=2500", &[]).await });
    common::wait_for_log(&mut log, "hello: working").await;

    common::sigterm(&child);
    common::wait_for_log(&mut log, "readiness fails now").await;
    let ready = http(addr, "GET", "/readyz", &[]).await;
    assert_eq!(
        ready.status, 503,
        "readiness fails at once during the drain delay"
    );
    assert_eq!(
        http(addr, "GET", "/livez", &[]).await.status,
        200,
        "liveness is unaffected"
    );
    // Every surface says what /readyz says: the status page (JSON and HTML), its badge and
    // its live events, and gRPC Check of the server.
    let page = http(addr, "GET", "/status", &[("accept", "application/json")]).await;
    let page: serde_json::Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(page["status"], "fail", "{page}");
    assert_eq!(page["output"], "draining: the service is shutting down");
    let html = http(addr, "GET", "/status", &[("accept", "text/html")])
        .await
        .body;
    assert!(html.contains("<title>fail · status</title>"), "{html}");
    assert!(html.contains("draining: the service is shutting down"));
    let badge = http(addr, "GET", "/status/badge.svg", &[]).await.body;
    assert!(badge.contains(">fail<"), "{badge}");
    let mut grpc = vitals_testkit::grpc::client(addr).await;
    assert_eq!(
        vitals_testkit::grpc::status(&mut grpc, "").await.unwrap(),
        tonic_health::pb::health_check_response::ServingStatus::NotServing
    );
    drop(grpc);

    let finished = in_flight.await.unwrap();
    assert_eq!((finished.status, finished.body.as_str()), (200, "hello\n"));
    let exit = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn bad_configuration_exits_non_zero_naming_the_variable() {
    let cases = [
        ("HEALTH_CHECK_RETRIES", "abc"),
        ("HEALTH_CHECK_RETRY_DELAY_MS", "-1"),
        ("HEALTH_CHECK_MAX_RETRY_DELAY_MS", "1.5"),
        ("SKIP_HEALTH_CHECKS", "mongodb"),
        ("PORT", "99999"),
        ("HEALTH_CHECK_INTERVAL_MS", ""),
        ("REDIS_CONNECT_TIMEOUT_MS", "ten"),
        ("REDIS_DISABLE_TLS_VERIFICATION", "maybe"),
        ("MONGO_SERVER_SELECTION_TIMEOUT_MS", "-5"),
        ("TMP_STORAGE_BUCKET", "Tmp_Bucket"),
        ("STORAGE_DEEP_CHECK", "2"),
        ("SHUTDOWN_DELAY_MS", "-1"),
        ("CUSTOM_CODE_RUNNER_URI", "runner:8080"),
    ];
    for (var, value) in cases {
        let mut cmd = tokio::process::Command::new(server_binary());
        cmd.env_clear()
            .env(var, value)
            .env("PORT", if var == "PORT" { value } else { "0" });
        let out = output_within(&mut cmd, Duration::from_secs(30)).await;
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("{var}={value:?} is invalid: expected")),
            "{var}={value}: {stderr}"
        );
    }
}

#[tokio::test]
async fn redis_uri_adds_a_non_critical_redis_check_that_follows_the_server() {
    let mut redis = vitals_testkit::RedisServer::start();
    let (mut child, addr, _log) = start(&[
        ("REDIS_URI", &redis.url()),
        ("REDIS_CONNECT_TIMEOUT_MS", "1000"),
        ("HEALTH_CHECK_RETRIES", "0"),
        ("HEALTH_CHECK_INTERVAL_MS", "100"),
    ])
    .await;
    let status = |json: &serde_json::Value| json["checks"]["redis"][0]["status"].clone();
    let up = poll_until(addr, "/?verbose", "redis pass", |code, j| {
        code == 200 && status(j) == "pass"
    })
    .await;
    assert_eq!(up["checks"]["redis"][0]["componentId"], "redis");
    assert!(
        up["checks"]["redis"][0]["details"]["version"]
            .as_str()
            .unwrap()
            .starts_with('7')
    );

    redis.stop();
    // The first run after the kill may see the dead connection time out; the next connects
    // afresh and is refused. Either way the probe warns and still answers 200.
    let down = poll_until(addr, "/?verbose", "redis warn, refused", |code, j| {
        code == 200
            && status(j) == "warn"
            && j["checks"]["redis"][0]["output"]
                .as_str()
                .unwrap()
                .contains("connection refused")
    })
    .await;
    assert_eq!(down["status"], "warn");

    redis.restart();
    poll_until(addr, "/?verbose", "redis pass again", |code, j| {
        code == 200 && status(j) == "pass"
    })
    .await;
    child.kill().await.unwrap();
}

#[tokio::test]
async fn skip_health_checks_reports_redis_as_skipped() {
    let (mut child, addr, mut log) = start(&[
        ("REDIS_URI", "redis://:hunter2-pw@127.0.0.1:1"),
        ("SKIP_HEALTH_CHECKS", " redis "),
    ])
    .await;
    let res = http(addr, "GET", "/?verbose", &[]).await;
    assert_eq!(res.status, 200);
    let json: serde_json::Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(json["checks"]["redis"][0]["status"], "skipped");
    assert_eq!(
        json["checks"]["redis"][0]["output"],
        "skipped by SKIP_HEALTH_CHECKS=redis"
    );
    let mut lines = Vec::new();
    while let Ok(line) = log.try_recv() {
        lines.push(line);
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("skipped by SKIP_HEALTH_CHECKS")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().all(|l| !l.contains("hunter2-pw")),
        "{lines:#?}"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn mongo_uri_adds_a_critical_mongo_check() {
    let mut mongo = vitals_testkit::MongoServer::start();
    // The test server has no authentication, so this URI carries no password; the crate's own
    // tests cover password scrubbing.
    let uri = mongo.uri();
    let (mut child, addr, _log) = start(&[
        ("MONGO_URI", &uri),
        ("MONGO_SERVER_SELECTION_TIMEOUT_MS", "1000"),
        ("HEALTH_CHECK_RETRIES", "0"),
        ("HEALTH_CHECK_INTERVAL_MS", "100"),
    ])
    .await;
    let status = |json: &serde_json::Value| json["checks"]["mongo"][0]["status"].clone();
    poll_until(addr, "/readyz?verbose", "mongo pass", |code, j| {
        code == 200 && status(j) == "pass"
    })
    .await;
    mongo.stop();
    let down = poll_until(addr, "/readyz?verbose", "mongo fail", |code, j| {
        code == 503 && status(j) == "fail"
    })
    .await;
    assert_eq!(down["status"], "fail");
    child.kill().await.unwrap();
}

/// The AWS variables that keep the default credential chain on loopback: no instance metadata,
/// no profile files, a region, and the S3 server as the endpoint.
fn aws_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_CONFIG_FILE", "/nonexistent/vitals/config".to_owned()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/vitals/credentials".to_owned(),
        ),
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("TMP_STORAGE_BUCKET", "test-integration-app-tmp".to_owned()),
        (
            "CONNECTORS_STORAGE_BUCKET",
            "test-integration-app-connectors".to_owned(),
        ),
        (
            "STATIC_STORAGE_BUCKET",
            "test-integration-app-static".to_owned(),
        ),
        ("HEALTH_CHECK_RETRIES", "0".to_owned()),
        ("HEALTH_CHECK_INTERVAL_MS", "100".to_owned()),
    ]
}

fn s3_with_buckets() -> vitals_testkit::S3Server {
    let s3 = vitals_testkit::S3Server::start();
    for bucket in [
        "test-integration-app-tmp",
        "test-integration-app-connectors",
        "test-integration-app-static",
    ] {
        s3.create_bucket(bucket);
    }
    s3
}

#[tokio::test]
async fn storage_passes_with_credentials_only_from_the_container_role_endpoint() {
    let s3 = s3_with_buckets();
    let role = vitals_testkit::CredentialsEndpoint::start(
        vitals_testkit::S3_ACCESS_KEY,
        vitals_testkit::S3_SECRET_KEY,
    )
    .await;
    let mut env = aws_env(&s3.endpoint());
    env.push(("AWS_CONTAINER_CREDENTIALS_FULL_URI", role.url()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (mut child, addr, _log) = start(&env).await;
    let storage = |j: &serde_json::Value| j["checks"]["storage"][0].clone();
    let up = poll_until(addr, "/?verbose", "storage pass", |code, j| {
        code == 200 && storage(j)["status"] == "pass"
    })
    .await;
    assert_eq!(storage(&up)["componentId"], "storage");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn storage_without_any_credentials_fails_and_says_so() {
    let s3 = s3_with_buckets();
    let env = aws_env(&s3.endpoint());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (mut child, addr, _log) = start(&env).await;
    // Before its first run the check is pending (and fails readiness); wait for a real result.
    let down = poll_until(addr, "/?verbose", "storage fail", |code, j| {
        code == 503 && j["checks"]["storage"][0]["source"] == "background"
    })
    .await;
    assert_eq!(down["checks"]["storage"][0]["status"], "fail");
    let output = down["checks"]["storage"][0]["output"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(output.contains("no AWS credentials found"), "{output}");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_custom_code_runner_is_checked() {
    // The runner stand-in is another instance of this server: its /livez answers 200.
    let (mut runner, runner_addr, _runner_log) = start(&[]).await;
    let runner_uri = format!("http://{runner_addr}/livez");
    let (mut child, addr, _log) = start(&[
        ("CUSTOM_CODE_RUNNER_URI", runner_uri.as_str()),
        ("HEALTH_CHECK_RETRIES", "0"),
        ("HEALTH_CHECK_INTERVAL_MS", "100"),
    ])
    .await;
    let status = |j: &serde_json::Value| j["checks"]["custom_code"][0]["status"].clone();
    poll_until(addr, "/?verbose", "custom_code pass", |code, j| {
        code == 200 && status(j) == "pass"
    })
    .await;
    runner.kill().await.unwrap();
    poll_until(addr, "/?verbose", "custom_code fail", |code, j| {
        code == 503
            && status(j) == "fail"
            && j["checks"]["custom_code"][0]["source"] == "background"
    })
    .await;
    child.kill().await.unwrap();
}

/// What every surface says of one probe now: its HTTP answer (code and status), the status
/// page's JSON, gRPC `Check` (serving or not), and the `vitals_probe_status` gauge.
#[derive(Debug, PartialEq)]
struct Said {
    http: (u16, String),
    page: String,
    grpc_serving: bool,
    gauge: String,
}

/// What `probe` (`startupz`, `livez`, `readyz`) is said to be on every surface, read once each.
async fn said(addr: SocketAddr, probe: &str) -> Said {
    let answer = http(addr, "GET", &format!("/{probe}"), &[]).await;
    let status: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    let page = http(addr, "GET", "/status", &[("accept", "application/json")]).await;
    let page: serde_json::Value = serde_json::from_str(&page.body).unwrap();
    let mut grpc = vitals_testkit::grpc::client(addr).await;
    let grpc_serving = vitals_testkit::grpc::status(&mut grpc, probe)
        .await
        .unwrap()
        == tonic_health::pb::health_check_response::ServingStatus::Serving;
    let metrics = http(addr, "GET", "/metrics", &[]).await.body;
    let line = format!("vitals_probe_status{{probe=\"{probe}\"}} ");
    let gauge = metrics
        .lines()
        .find_map(|l| l.strip_prefix(line.as_str()))
        .unwrap_or_else(|| panic!("no {line} in {metrics}"));
    Said {
        http: (answer.status, status["status"].as_str().unwrap().to_owned()),
        page: page["probes"][probe].as_str().unwrap().to_owned(),
        grpc_serving,
        gauge: match gauge {
            "2" => "pass",
            "1" => "warn",
            "0" => "fail",
            other => panic!("gauge {other}"),
        }
        .to_owned(),
    }
}

/// What every surface should say of a probe whose answer is `status`.
fn agreeing(status: &str) -> Said {
    Said {
        http: (if status == "fail" { 503 } else { 200 }, status.to_owned()),
        page: status.to_owned(),
        grpc_serving: status != "fail",
        gauge: status.to_owned(),
    }
}

/// The overall status on the page and its badge (readiness's).
async fn page_and_badge(addr: SocketAddr) -> (String, String) {
    let page = http(addr, "GET", "/status", &[("accept", "application/json")]).await;
    let page: serde_json::Value = serde_json::from_str(&page.body).unwrap();
    let badge = http(addr, "GET", "/status/badge.svg", &[]).await.body;
    let badge = ["pass", "warn", "fail"]
        .into_iter()
        .find(|s| badge.contains(&format!(">{s}<")))
        .unwrap_or("none");
    (
        page["status"].as_str().unwrap().to_owned(),
        badge.to_owned(),
    )
}

/// One answer to "what is the status of this probe now": in each state (pass, warn, fail with
/// startup not yet latched, startup latched and readiness failing, skipped, draining) every
/// surface says, for each probe, what its HTTP path says, and that is what the state means.
#[tokio::test]
async fn every_surface_says_what_each_probe_says_in_each_state() {
    // Nothing listens at this address: Redis is refused at once.
    let refused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let refused = format!("redis://{refused}");
    let redis = vitals_testkit::RedisServer::start();
    let live = redis.url();
    let mut redis = Some(redis);
    let fast = [
        ("HEALTH_CHECK_RETRIES", "0"),
        ("HEALTH_CHECK_INTERVAL_MS", "200"),
        ("REDIS_CONNECT_TIMEOUT_MS", "500"),
        ("SHUTDOWN_DELAY_MS", "30000"),
    ];
    enum Then {
        Nothing,
        StopRedis,
        Sigterm,
    }
    struct State<'a> {
        name: &'a str,
        env: Vec<(&'a str, &'a str)>,
        /// What readiness says once the state is set up, before `then`.
        ready_first: &'a str,
        then: Then,
        /// What startupz, livez and readyz say in the state.
        expected: [&'a str; 3],
    }
    let critical = ("NON_CRITICAL_HEALTH_CHECKS", "none");
    let states = [
        State {
            name: "pass",
            env: vec![],
            ready_first: "pass",
            then: Then::Nothing,
            expected: ["pass", "pass", "pass"],
        },
        State {
            // Warn serves, so startup latches.
            name: "warn",
            env: vec![("REDIS_URI", &refused)],
            ready_first: "warn",
            then: Then::Nothing,
            expected: ["pass", "pass", "warn"],
        },
        State {
            name: "fail, startup not latched",
            env: vec![("REDIS_URI", &refused), critical],
            ready_first: "fail",
            then: Then::Nothing,
            expected: ["fail", "pass", "fail"],
        },
        State {
            name: "startup latched, then readiness fails",
            env: vec![("REDIS_URI", &live), critical],
            ready_first: "pass",
            then: Then::StopRedis,
            expected: ["pass", "pass", "fail"],
        },
        State {
            name: "skipped",
            env: vec![
                ("REDIS_URI", &refused),
                critical,
                ("SKIP_HEALTH_CHECKS", "redis"),
            ],
            ready_first: "pass",
            then: Then::Nothing,
            expected: ["pass", "pass", "pass"],
        },
        State {
            name: "draining",
            env: vec![],
            ready_first: "pass",
            then: Then::Sigterm,
            expected: ["pass", "pass", "fail"],
        },
    ];
    for state in states {
        let env: Vec<(&str, &str)> = fast.iter().copied().chain(state.env).collect();
        let (mut child, addr, _log) = start(&env).await;
        // The first background result decides the state.
        poll_until(addr, "/readyz", state.name, |_, json| {
            json["status"] == state.ready_first
        })
        .await;
        match state.then {
            Then::Nothing => {}
            Then::StopRedis => {
                redis.take().unwrap().stop();
                poll_until(addr, "/readyz", state.name, |_, json| {
                    json["status"] == "fail"
                })
                .await;
            }
            Then::Sigterm => {
                common::sigterm(&child);
                poll_until(addr, "/readyz", state.name, |_, json| {
                    json["status"] == "fail"
                })
                .await;
            }
        }
        for (probe, expected) in ["startupz", "livez", "readyz"]
            .into_iter()
            .zip(state.expected)
        {
            assert_eq!(
                said(addr, probe).await,
                agreeing(expected),
                "{}: {probe}",
                state.name
            );
        }
        let readiness = state.expected[2].to_owned();
        assert_eq!(
            page_and_badge(addr).await,
            (readiness.clone(), readiness),
            "{}: the page's overall status and its badge",
            state.name
        );
        child.kill().await.unwrap();
    }
}
