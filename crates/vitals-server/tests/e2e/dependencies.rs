//! The checks of vitals' own variables through the server, against the machine's PostgreSQL,
//! RabbitMQ and NATS, a TLS endpoint with a test certificate and a disk path: each under its
//! component (skippable, non-critical when asked), with the guide's retry defaults; a planted
//! database password in no body, metric or log line.
use crate::common;

use std::time::Duration;

use common::{http, start_server};
use time::OffsetDateTime;
use vitals_testkit::{TestCa, TlsServer};

const PLANTED: &str = "planted-db-password-0e7";

async fn verbose(addr: std::net::SocketAddr) -> serde_json::Value {
    let res = http(addr, "GET", "/healthz?verbose", &[]).await;
    serde_json::from_str(&res.body).unwrap()
}

fn status<'a>(json: &'a serde_json::Value, check: &str) -> &'a str {
    json["checks"][check][0]["status"].as_str().unwrap_or("")
}

/// Whether the check has a result (not only "no result yet" while its first run goes on).
fn ran(json: &serde_json::Value, check: &str) -> bool {
    json["checks"][check][0]["source"]
        .as_str()
        .is_some_and(|source| source != "pending")
}

#[tokio::test]
async fn every_dependency_variable_adds_its_check_under_its_component() {
    let ca = TestCa::new();
    let now = OffsetDateTime::now_utc();
    let (cert, key) = ca.issue(
        &["localhost"],
        now - time::Duration::days(1),
        now + time::Duration::days(3) + time::Duration::hours(1),
    );
    let tls = TlsServer::start(&cert, &key).await;
    let certificate = format!("certificate:localhost:{}", tls.addr().port());
    let database_url = format!("postgres://postgres:{PLANTED}@127.0.0.1:5432/test");
    let endpoints = format!("localhost:{}", tls.addr().port());
    let ca_path = ca.ca_path().display().to_string();
    let env = [
        ("RUST_LOG", "debug"),
        // The machine's PostgreSQL trusts loopback: the planted password is sent, not needed.
        ("DATABASE_URL", database_url.as_str()),
        ("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
        ("NATS_URL", "nats://127.0.0.1:4222"),
        ("NATS_JETSTREAM", "true"),
        ("TLS_CERTIFICATE_ENDPOINTS", endpoints.as_str()),
        // rustls-native-certs reads the system's roots from SSL_CERT_FILE: the test CA.
        ("SSL_CERT_FILE", ca_path.as_str()),
        ("DISK_SPACE_PATH", "/"),
        ("DISK_SPACE_THRESHOLD_MB", "0"),
    ];
    let (mut server, addr, mut log) = start_server(&env).await;
    let names = ["database", "amqp", "nats", certificate.as_str(), "disk"];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let json = loop {
        let json = verbose(addr).await;
        if names.iter().all(|n| ran(&json, n)) {
            break json;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never saw every check: {json}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for name in ["database", "amqp", "nats", "disk"] {
        assert_eq!(status(&json, name), "pass", "{name}: {json}");
    }
    // Three days left: the certificate warns, readiness still answers 200.
    assert_eq!(status(&json, &certificate), "warn", "{json}");
    let output = json["checks"][certificate.as_str()][0]["output"]
        .as_str()
        .unwrap();
    assert!(output.contains("expires in 3 days"), "{output}");
    assert_eq!(
        json["checks"][certificate.as_str()][0]["componentId"].as_str(),
        Some("certificate"),
        "{json}"
    );
    assert_eq!(http(addr, "GET", "/readyz", &[]).await.status, 200);

    let metrics = http(addr, "GET", "/metrics", &[]).await.body;
    let mut seen = vec![json.to_string(), metrics];
    for path in [
        "/healthz?verbose",
        "/readyz?verbose",
        "/readyz/database?verbose",
    ] {
        seen.push(
            http(addr, "GET", path, &[("accept", "text/plain")])
                .await
                .body,
        );
    }
    server.kill().await.unwrap();
    let _ = server.wait().await;
    while let Ok(line) = log.try_recv() {
        seen.push(line);
    }
    for text in &seen {
        assert!(!text.contains(PLANTED), "the password leaked: {text}");
    }

    // Every new component is skippable by name.
    let skip = [
        ("SKIP_HEALTH_CHECKS", "database,amqp,nats,certificate,disk"),
        ("DATABASE_URL", database_url.as_str()),
        ("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
        ("NATS_URL", "nats://127.0.0.1:4222"),
        ("TLS_CERTIFICATE_ENDPOINTS", endpoints.as_str()),
        ("DISK_SPACE_PATH", "/"),
    ];
    let (mut server, addr, _log) = start_server(&skip).await;
    let json = verbose(addr).await;
    for name in names {
        assert_eq!(status(&json, name), "skipped", "{name}: {json}");
    }
    server.kill().await.unwrap();
}

#[tokio::test]
async fn a_refused_database_fails_readiness_unless_non_critical() {
    let refused = format!("postgres://postgres:{PLANTED}@127.0.0.1:9/test");
    for (non_critical, expected) in [("redis", 503), ("redis,database", 200)] {
        let env = [
            ("DATABASE_URL", refused.as_str()),
            ("NON_CRITICAL_HEALTH_CHECKS", non_critical),
            ("HEALTH_CHECK_RETRIES", "0"),
        ];
        let (mut server, addr, _log) = start_server(&env).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let json = verbose(addr).await;
            if ran(&json, "database") {
                let expected_status = if expected == 200 { "warn" } else { "fail" };
                assert_eq!(status(&json, "database"), expected_status, "{json}");
                let output = json["checks"]["database"][0]["output"].as_str().unwrap();
                assert!(
                    output.starts_with("connect to 127.0.0.1:9: connection refused"),
                    "{output}"
                );
                assert!(!output.contains(PLANTED));
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "no result: {json}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(http(addr, "GET", "/readyz", &[]).await.status, expected);
        server.kill().await.unwrap();
    }
}
