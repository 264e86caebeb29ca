//! AmqpCheck against the machine's RabbitMQ, directly, through the fault proxy (refused,
//! blackholed, severed and back) and through stunnel for TLS.
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use vitals_amqp::{
    AmqpCheck,
    lapin::{Connection, ConnectionProperties, options::QueueDeclareOptions, types::FieldTable},
};
use vitals_core::{Backoff, Check, CheckOptions, CheckStatus, Health, Probe};
use vitals_testkit::{CapturedLogs, Fault, FaultProxy, TlsTerminator, free_port};

const RABBITMQ: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

fn rabbitmq() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5672))
}

fn check(url: &str) -> AmqpCheck {
    AmqpCheck::builder(url)
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

#[tokio::test]
async fn connection_and_channel_open_and_the_connection_is_kept() {
    let check = check(RABBITMQ);
    let details = check.check().await.unwrap();
    assert_eq!(details.fields()["endpoint"], "127.0.0.1:5672");
    assert!(details.fields().contains_key("frame_max"));
    check.check().await.unwrap();
}

#[tokio::test]
async fn a_queue_is_declared_passively_and_a_missing_one_fails() {
    // A queue of the test's own, deleted after the test and expiring in a minute regardless.
    let name = format!("vitals-test-{}", std::process::id());
    let setup = Connection::connect(RABBITMQ, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = setup.create_channel().await.unwrap();
    let mut arguments = FieldTable::default();
    arguments.insert("x-expires".into(), 60_000.into());
    channel
        .queue_declare(
            name.as_str().into(),
            QueueDeclareOptions::default(),
            arguments,
        )
        .await
        .unwrap();

    let details = AmqpCheck::builder(RABBITMQ)
        .queue(&name)
        .build()
        .unwrap()
        .check()
        .await
        .unwrap();
    assert_eq!(details.fields()["queue_messages"], "0");
    assert_eq!(details.fields()["queue_consumers"], "0");

    let error = AmqpCheck::builder(RABBITMQ)
        .queue("vitals-no-such-queue")
        .build()
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert_eq!(
        error.message(),
        "queue \"vitals-no-such-queue\" does not exist on 127.0.0.1:5672 (a passive declare answered NOT_FOUND)"
    );
    let _ = channel
        .queue_delete(name.as_str().into(), Default::default())
        .await;
}

#[tokio::test]
async fn the_applications_connection_is_checked_with_a_channel() {
    let connection = Connection::connect(RABBITMQ, ConnectionProperties::default())
        .await
        .unwrap();
    AmqpCheck::builder_for_connection(connection.into())
        .build()
        .unwrap()
        .check()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_refused_broker_fails_at_once() {
    let port = free_port(60_000);
    let started = Instant::now();
    let error = check(&format!("amqp://guest:guest@127.0.0.1:{port}"))
        .check()
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        error.message().starts_with(&format!(
            "connect to 127.0.0.1:{port}: connection refused: nothing listens at that address ("
        )),
        "{}",
        error.message()
    );
}

#[tokio::test]
async fn a_blackholed_broker_fails_at_the_connect_timeout() {
    let proxy = FaultProxy::start(rabbitmq()).await;
    proxy.set(Fault::Blackhole);
    let check = AmqpCheck::builder(format!("amqp://guest:guest@{}", proxy.addr()))
        .connect_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    assert_eq!(
        check.check().await.unwrap_err().message(),
        format!(
            "connect to {}: timed out after 300 ms (the connect timeout)",
            proxy.addr()
        )
    );
}

#[tokio::test]
async fn a_broker_that_goes_away_fails_then_passes_when_it_is_back() {
    let proxy = FaultProxy::start(rabbitmq()).await;
    let check = check(&format!("amqp://guest:guest@{}", proxy.addr()));
    check.check().await.unwrap();
    // The broker dies: its connections close and new ones are reset.
    proxy.set(Fault::Reset);
    proxy.sever();
    assert!(check.check().await.is_err());
    assert!(check.check().await.is_err());
    // Back: the next attempt connects afresh.
    proxy.set(Fault::Pass);
    check.check().await.unwrap();
}

#[tokio::test]
async fn wrong_credentials_fail_in_words_and_no_password_appears_anywhere() {
    let planted = "planted-amqp-password-6b";
    let (logs, _guard) = CapturedLogs::install();
    let health = Health::builder()
        .register_with(
            check(&format!("amqp://guest:{planted}@127.0.0.1:5672")),
            CheckOptions::new().backoff(Backoff::none()),
        )
        .build();
    let report = health.run(Probe::All).await;
    let entry = &report.checks[0];
    assert_eq!(entry.status, CheckStatus::Fail);
    let output = entry.output.as_deref().unwrap();
    assert!(
        output.starts_with(
            "connect to 127.0.0.1:5672: authentication failed: check the credentials ("
        ),
        "{output}"
    );
    for out in [
        report.to_health_json(true),
        report.to_text(true),
        format!("{report:?}"),
        format!(
            "{:?}",
            AmqpCheck::builder(format!("amqp://guest:{planted}@h"))
        ),
        logs.text(),
    ] {
        assert!(!out.contains(planted), "password leaked: {out}");
    }
}

#[tokio::test]
async fn tls_passes_with_the_ca_and_fails_without_it() {
    let tls = TlsTerminator::start(rabbitmq());
    let url = format!("amqps://guest:guest@localhost:{}", tls.addr().port());
    AmqpCheck::builder(&url)
        .root_certificates_pem(tls.ca().ca_pem.clone())
        .build()
        .unwrap()
        .check()
        .await
        .unwrap();
    let error = check(&url).check().await.unwrap_err();
    assert!(
        error.message().contains("TLS certificate rejected"),
        "{}",
        error.message()
    );
}
