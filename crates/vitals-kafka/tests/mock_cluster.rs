//! The check against librdkafka's mock cluster (the broker side of the reference C client,
//! speaking the Kafka protocol on loopback ports): up, refused, a topic missing, a partition
//! without a leader, brokers going down and coming back, and TLS through stunnel.
#![allow(missing_docs)]

use rdkafka::mocking::MockCluster;
use vitals_core::{Check, CheckError, Details};
use vitals_kafka::KafkaCheck;
use vitals_testkit::{TlsTerminator, free_port};

fn cluster(
    brokers: i32,
) -> (
    MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    Vec<String>,
) {
    let cluster = MockCluster::new(brokers).expect("librdkafka's mock cluster starts");
    let bootstrap = cluster
        .bootstrap_servers()
        .split(',')
        .map(str::to_owned)
        .collect();
    (cluster, bootstrap)
}

async fn run(check: &KafkaCheck) -> Result<Details, CheckError> {
    check.check().await
}

fn said(result: &Result<Details, CheckError>) -> String {
    match result {
        Ok(details) => format!("passed: {details:?}"),
        Err(error) => error.message().to_owned(),
    }
}

#[tokio::test]
async fn a_cluster_with_its_topics_passes_and_a_missing_topic_fails_for_good() {
    let (cluster, bootstrap) = cluster(3);
    cluster.create_topic("orders", 3, 3).unwrap();
    let check = KafkaCheck::builder(&bootstrap)
        .topics(["orders"])
        .build()
        .unwrap();
    let details = run(&check)
        .await
        .unwrap_or_else(|e| panic!("{}", e.message()));
    let shown = format!("{details:?}");
    assert!(
        shown.contains("\"brokers\": \"3\"") || shown.contains("brokers"),
        "{shown}"
    );
    assert_eq!(details.warning_message(), None, "{shown}");

    let missing = KafkaCheck::builder(&bootstrap)
        .topics(["orders", "gone"])
        .build()
        .unwrap();
    let result = run(&missing).await;
    assert_eq!(said(&result), "topic gone does not exist");
    assert!(
        result.unwrap_err().is_permanent(),
        "a missing topic is not retried"
    );
}

#[tokio::test]
async fn a_partition_without_a_leader_fails_naming_it() {
    let (cluster, bootstrap) = cluster(3);
    cluster.create_topic("orders", 3, 3).unwrap();
    cluster.partition_leader("orders", 1, None).unwrap();
    let check = KafkaCheck::builder(&bootstrap)
        .topics(["orders"])
        .build()
        .unwrap();
    assert_eq!(
        said(&run(&check).await),
        "topic orders has no leader for partition 1: writes and reads to it fail"
    );
}

#[tokio::test]
async fn nothing_listening_is_refused_in_words() {
    let closed = format!("127.0.0.1:{}", free_port(60_000));
    let check = KafkaCheck::builder([closed.as_str()]).build().unwrap();
    let message = said(&run(&check).await);
    assert!(
        message.starts_with(&format!(
            "connect to {closed}: connection refused: nothing listens at that address"
        )),
        "{message}"
    );
}

#[tokio::test]
async fn brokers_going_down_are_passed_over_until_none_answers_then_it_recovers() {
    let (cluster, bootstrap) = cluster(3);
    cluster.create_topic("orders", 1, 3).unwrap();
    let check = KafkaCheck::builder(&bootstrap)
        .topics(["orders"])
        .timeout(std::time::Duration::from_secs(2))
        .build()
        .unwrap();
    assert!(run(&check).await.is_ok());

    // The first bootstrap broker goes: the next one answers.
    cluster.broker_down(1).unwrap();
    let details = run(&check)
        .await
        .unwrap_or_else(|e| panic!("{}", e.message()));
    let shown = format!("{details:?}");
    assert!(
        !shown.contains(&bootstrap[0]),
        "answered by another broker: {shown}"
    );

    // Every broker goes: each is named with why.
    cluster.broker_down(-1).unwrap();
    let message = said(&run(&check).await);
    for broker in &bootstrap {
        assert!(
            message.contains(broker.as_str()),
            "{broker} named: {message}"
        );
    }
    assert!(!message.starts_with("passed"), "{message}");

    // They come back: it passes again.
    cluster.broker_up(-1).unwrap();
    let result = run(&check).await;
    assert!(result.is_ok(), "{}", said(&result));
}

#[tokio::test]
async fn tls_is_verified_against_the_given_roots() {
    let (cluster, bootstrap) = cluster(1);
    cluster.create_topic("orders", 1, 1).unwrap();
    let upstream: std::net::SocketAddr = bootstrap[0].parse().unwrap();
    let tls = TlsTerminator::start(upstream);
    let address = format!("localhost:{}", tls.addr().port());

    let trusted = KafkaCheck::builder([address.as_str()])
        .topics(["orders"])
        .root_certificates_file(tls.ca().ca_path())
        .build()
        .unwrap();
    let result = run(&trusted).await;
    assert!(result.is_ok(), "{}", said(&result));

    // The system's roots do not know the test CA.
    let untrusted = KafkaCheck::builder([address.as_str()])
        .tls()
        .build()
        .unwrap();
    let message = said(&run(&untrusted).await);
    assert!(
        message.starts_with(&format!(
            "TLS handshake with {address}: TLS certificate rejected"
        )),
        "{message}"
    );

    // Plain Kafka to a TLS port: said, not a hang or garbage.
    let plain = KafkaCheck::builder([address.as_str()])
        .timeout(std::time::Duration::from_secs(2))
        .build()
        .unwrap();
    let message = said(&run(&plain).await);
    assert!(
        message.starts_with(&format!("ApiVersions on {address}:")),
        "{message}"
    );
}
