//! NatsCheck against the machine's NATS (JetStream on), own nats-server instances (password,
//! TLS, no JetStream, stopped and restarted) and the fault proxy.
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use vitals_core::{Backoff, Check, CheckOptions, CheckStatus, Health, Probe};
use vitals_nats::NatsCheck;
use vitals_testkit::{CapturedLogs, Fault, FaultProxy, NatsServer, free_port};

/// The machine's shared server, with JetStream.
const SHARED: &str = "nats://127.0.0.1:4222";

fn check(url: &str) -> NatsCheck {
    NatsCheck::builder(url)
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_round_trip_and_jetstream_pass_with_the_servers_facts() {
    let check = NatsCheck::builder(SHARED).jetstream(true).build().unwrap();
    let details = check.check().await.unwrap();
    assert!(
        details.fields()["version"].starts_with(char::is_numeric),
        "{details:?}"
    );
    assert!(details.fields().contains_key("round_trip_ms"));
    assert!(details.fields().contains_key("jetstream_streams"));
    // The connection is kept after a pass: the second attempt uses it.
    check.check().await.unwrap();
}

#[tokio::test]
async fn the_applications_client_is_checked_as_it_is() {
    let client = vitals_nats::async_nats::connect(SHARED).await.unwrap();
    let details = NatsCheck::builder_for_client(client)
        .build()
        .unwrap()
        .check()
        .await
        .unwrap();
    assert_eq!(details.fields()["endpoint"], "127.0.0.1:4222");
}

#[tokio::test]
async fn jetstream_off_fails_in_words() {
    let server = NatsServer::start();
    check(&server.url()).check().await.unwrap();
    let error = NatsCheck::builder(server.url())
        .jetstream(true)
        .request_timeout(Duration::from_millis(500))
        .build()
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert!(
        error.message().starts_with(&format!(
            "JetStream on {} (the server does not offer JetStream): ",
            server.addr()
        )),
        "{}",
        error.message()
    );
}

#[tokio::test]
async fn a_refused_server_fails_at_once() {
    let port = free_port(60_000);
    let started = Instant::now();
    let error = check(&format!("nats://127.0.0.1:{port}"))
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
async fn a_blackholed_server_fails_at_the_connect_timeout() {
    let proxy = FaultProxy::start(SocketAddr::from(([127, 0, 0, 1], 4222))).await;
    proxy.set(Fault::Blackhole);
    let check = NatsCheck::builder(format!("nats://{}", proxy.addr()))
        .connect_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = check.check().await.unwrap_err();
    assert!(
        error
            .message()
            .starts_with(&format!("connect to {}: ", proxy.addr()))
            && error.message().contains("timed out"),
        "{}",
        error.message()
    );
    proxy.set(Fault::Pass);
    check.check().await.unwrap();
}

#[tokio::test]
async fn a_stopped_then_restarted_server_fails_then_passes_again() {
    let mut server = NatsServer::start();
    let check = check(&server.url());
    check.check().await.unwrap();
    server.stop();
    assert!(check.check().await.is_err());
    let refused = check.check().await.unwrap_err();
    assert!(
        refused.message().contains("connection refused"),
        "{}",
        refused.message()
    );
    server.restart();
    check.check().await.unwrap();
}

#[tokio::test]
async fn wrong_credentials_fail_in_words_and_no_password_appears_anywhere() {
    let server = NatsServer::builder()
        .password("right-nats-password-8d")
        .start();
    let wrong = server
        .url()
        .replace("right-nats-password-8d", "planted-nats-password-4c");
    let (logs, _guard) = CapturedLogs::install();
    let health = Health::builder()
        .register_with(check(&wrong), CheckOptions::new().backoff(Backoff::none()))
        .build();
    let report = health.run(Probe::All).await;
    let entry = &report.checks[0];
    assert_eq!(entry.status, CheckStatus::Fail);
    let output = entry.output.as_deref().unwrap();
    assert!(
        output.starts_with(&format!(
            "connect to {}: authentication failed: check the credentials (",
            server.addr()
        )),
        "{output}"
    );
    for out in [
        report.to_health_json(true),
        report.to_text(true),
        format!("{report:?}"),
        format!("{:?}", NatsCheck::builder(&wrong)),
        logs.text(),
    ] {
        assert!(
            !out.contains("planted-nats-password-4c"),
            "password leaked: {out}"
        );
        assert!(
            !out.contains("right-nats-password-8d"),
            "password leaked: {out}"
        );
    }
    check(&server.url()).check().await.unwrap();
}

#[tokio::test]
async fn tls_passes_with_the_ca_and_fails_without_it() {
    let server = NatsServer::builder().tls().start();
    let ca = server.ca().unwrap();
    NatsCheck::builder(server.url())
        .root_certificates_file(ca.ca_path())
        .build()
        .unwrap()
        .check()
        .await
        .unwrap();
    let error = check(&server.url()).check().await.unwrap_err();
    assert!(
        error.message().contains("TLS certificate rejected"),
        "{}",
        error.message()
    );
}
