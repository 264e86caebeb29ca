//! The Kafka check through the server's variables, against librdkafka's mock cluster: every
//! surface shows it, a partition losing its leader fails readiness in words, and a SASL
//! password never appears.
use crate::common;

use common::{http, start_server, verbose_line};
use rdkafka::mocking::MockCluster;

#[tokio::test]
async fn the_kafka_check_shows_on_every_surface_and_a_leaderless_partition_fails() {
    let cluster = MockCluster::new(3).unwrap();
    cluster.create_topic("orders", 3, 3).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let (mut child, addr, _log) = start_server(&[
        ("KAFKA_BOOTSTRAP_SERVERS", &bootstrap),
        ("KAFKA_TOPICS", "orders"),
        ("HEALTH_CHECK_RETRIES", "0"),
        ("HEALTH_CHECK_INTERVAL_MS", "100"),
    ])
    .await;
    // A run may be in flight as the line is read ("… (running: attempt 1 of 1)").
    let line = verbose_line(addr, "kafka", |l| l.starts_with("[+]")).await;
    assert!(line.starts_with("[+]kafka ok"), "{line}");
    let listed = vitals_testkit::grpc::list(addr).await;
    assert_eq!(
        listed.statuses.get("kafka").map(|s| s.status),
        Some(1),
        "{listed:?}"
    );
    let metrics = http(addr, "GET", "/metrics", &[]).await.body;
    assert!(
        metrics.lines().any(|l| l.starts_with("vitals_healthcheck{")
            && l.contains("name=\"kafka\"")
            && l.ends_with(" 2")),
        "{metrics}"
    );
    let page: serde_json::Value =
        serde_json::from_str(&http(addr, "GET", "/status", &[]).await.body).unwrap();
    assert_eq!(page["checks"][0]["name"], "kafka", "{page}");

    cluster.partition_leader("orders", 2, None).unwrap();
    let line = verbose_line(addr, "kafka", |l| l.starts_with("[-]")).await;
    assert!(
        line.starts_with(
            "[-]kafka failed: topic orders has no leader for partition 2: writes and reads to it fail"
        ),
        "{line}"
    );
    assert_eq!(http(addr, "GET", "/readyz", &[]).await.status, 503);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn a_sasl_password_is_never_shown() {
    let cluster = MockCluster::new(1).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let (mut child, addr, mut log) = start_server(&[
        ("KAFKA_BOOTSTRAP_SERVERS", &bootstrap),
        ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
        ("KAFKA_SASL_USERNAME", "app"),
        ("KAFKA_SASL_PASSWORD", "planted-kafka-password-3f9a"),
        ("HEALTH_CHECK_RETRIES", "0"),
        ("HEALTH_CHECK_INTERVAL_MS", "100"),
    ])
    .await;
    // The mock cluster has no SASL: the handshake is refused, in words (before the first
    // result the line says there is none yet).
    let line = verbose_line(addr, "kafka", |l| l.contains("SaslHandshake on")).await;
    assert!(
        line.starts_with("[-]kafka failed: SaslHandshake on 127.0.0.1:"),
        "{line}"
    );
    let mut seen = line.clone();
    for path in ["/readyz?verbose", "/status", "/metrics"] {
        seen.push_str(&http(addr, "GET", path, &[]).await.body);
    }
    child.kill().await.unwrap();
    while let Ok(line) = log.try_recv() {
        seen.push_str(&line);
    }
    assert!(
        !seen.contains("planted-kafka-password-3f9a"),
        "the password leaked"
    );
}
