//! Planted secrets in every credential the server is configured with; every check driven into
//! success and failure; no secret in any response body (all paths, formats, verbosity) or any
//! log line, even at `trace`.
use crate::common;

use std::time::Duration;

use common::{http, start_server};
use vitals_testkit::{MongoServer, RedisServer, S3_ACCESS_KEY, S3_SECRET_KEY, S3Server};

const REDIS_PASSWORD: &str = "redis-Pa55-sEcReT-1";
const MONGO_PASSWORD: &str = "mongo-Pa55-sEcReT-2";
const RUNNER_TOKEN: &str = "runner-ToKeN-sEcReT-3";
const RUNNER_PASSWORD: &str = "runner-BaSiC-sEcReT-4";

/// Every form a secret could leak in: as is, percent-encoded, and inside Basic credentials.
fn forbidden() -> Vec<String> {
    let mut out: Vec<String> = [
        REDIS_PASSWORD,
        MONGO_PASSWORD,
        RUNNER_TOKEN,
        RUNNER_PASSWORD,
        S3_SECRET_KEY,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // base64("runner:runner-BaSiC-sEcReT-4"), the Authorization header the runner check sends.
    out.push("cnVubmVyOnJ1bm5lci1CYVNpQy1zRWNSZVQtNA".to_owned());
    out
}

const PATHS: &[&str] = &["/", "/livez", "/readyz", "/startupz", "/healthz"];

async fn bodies(addr: std::net::SocketAddr) -> Vec<String> {
    let mut out = Vec::new();
    for path in PATHS {
        for query in ["", "?verbose", "?verbose&exclude=nothing"] {
            for accept in ["application/health+json", "text/plain"] {
                let res = http(
                    addr,
                    "GET",
                    &format!("{path}{query}"),
                    &[("accept", accept)],
                )
                .await;
                out.push(format!(
                    "{path}{query} [{accept}] {}: {}",
                    res.status, res.body
                ));
            }
        }
    }
    out
}

async fn poll(addr: std::net::SocketAddr, what: &str, accept: impl Fn(&serde_json::Value) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let res = http(addr, "GET", "/?verbose", &[]).await;
        let json: serde_json::Value = serde_json::from_str(&res.body).unwrap();
        if accept(&json) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never saw {what}: {json}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn status<'a>(json: &'a serde_json::Value, check: &str) -> (&'a str, &'a str) {
    let entry = &json["checks"][check][0];
    (
        entry["status"].as_str().unwrap_or(""),
        entry["source"].as_str().unwrap_or(""),
    )
}

#[tokio::test]
async fn no_secret_reaches_a_body_or_a_log_line() {
    let mut redis = RedisServer::builder().password(REDIS_PASSWORD).start();
    let mut mongo = MongoServer::start();
    let mut s3 = S3Server::start();
    for bucket in ["secrets-tmp", "secrets-connectors", "secrets-static"] {
        s3.create_bucket(bucket);
    }
    let (mut runner, runner_addr, _runner_log) = start_server(&[]).await;

    let redis_uri = redis.url();
    assert!(redis_uri.contains(REDIS_PASSWORD));
    let mongo_uri = format!(
        "mongodb://app:{MONGO_PASSWORD}@{}/?directConnection=true",
        mongo.addr()
    );
    let runner_uri =
        format!("http://runner:{RUNNER_PASSWORD}@{runner_addr}/livez?token={RUNNER_TOKEN}");
    let endpoint = s3.endpoint();
    let env = [
        ("RUST_LOG", "trace"),
        ("REDIS_URI", redis_uri.as_str()),
        ("REDIS_CONNECT_TIMEOUT_MS", "1000"),
        ("MONGO_URI", mongo_uri.as_str()),
        ("MONGO_SERVER_SELECTION_TIMEOUT_MS", "1000"),
        ("CUSTOM_CODE_RUNNER_URI", runner_uri.as_str()),
        ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent/vitals"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/vitals"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("TMP_STORAGE_BUCKET", "secrets-tmp"),
        ("CONNECTORS_STORAGE_BUCKET", "secrets-connectors"),
        ("STATIC_STORAGE_BUCKET", "secrets-static"),
        ("HEALTH_CHECK_RETRIES", "0"),
        ("HEALTH_CHECK_INTERVAL_MS", "200"),
        ("SHUTDOWN_DELAY_MS", "0"),
    ];
    let (mut server, addr, mut log) = start_server(&env).await;

    // Success: Redis, S3 and the runner pass with their credentials (the test MongoDB server
    // has no authentication, so the Mongo check fails its handshake: a failure with a password).
    poll(addr, "redis, storage and custom_code passing", |j| {
        status(j, "redis").0 == "pass"
            && status(j, "storage").0 == "pass"
            && status(j, "custom_code").0 == "pass"
            && status(j, "mongo") == ("fail", "background")
    })
    .await;
    let mut seen = bodies(addr).await;

    // Failure: every backend goes away.
    redis.stop();
    mongo.stop();
    s3.stop();
    runner.kill().await.unwrap();
    poll(addr, "every check failing", |j| {
        ["redis", "storage", "custom_code", "mongo"]
            .iter()
            .all(|c| matches!(status(j, c), ("fail" | "warn", "background")))
            && status(j, "storage").0 == "fail"
            && status(j, "custom_code").0 == "fail"
    })
    .await;
    seen.extend(bodies(addr).await);

    server.kill().await.unwrap();
    let _ = server.wait().await;
    let mut logs = Vec::new();
    while let Ok(line) = log.try_recv() {
        logs.push(line);
    }
    // Also drain what arrived after the kill.
    while let Some(line) = tokio::time::timeout(Duration::from_millis(200), log.recv())
        .await
        .ok()
        .flatten()
    {
        logs.push(line);
    }
    assert!(
        logs.len() > 20,
        "trace logging captured: {} lines",
        logs.len()
    );
    assert!(
        logs.iter().any(|l| l.contains("check failed")),
        "failures are logged"
    );

    for secret in forbidden() {
        for body in &seen {
            assert!(!body.contains(&secret), "{secret} leaked in a body: {body}");
        }
        for line in &logs {
            assert!(
                !line.contains(&secret),
                "{secret} leaked in a log line: {line}"
            );
        }
    }
}
