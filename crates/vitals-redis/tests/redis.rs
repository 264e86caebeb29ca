//! RedisCheck against real redis-server processes and the fault proxy.
use std::time::{Duration, Instant};

use vitals_core::{Backoff, Check, CheckOptions, CheckStatus, Health, Probe};
use vitals_redis::RedisCheck;
use vitals_testkit::{CapturedLogs, Fault, FaultProxy, RedisCluster, RedisServer};

fn check(url: &str, timeout_ms: u64) -> RedisCheck {
    RedisCheck::builder(url)
        .connect_timeout(Duration::from_millis(timeout_ms))
        .build()
        .unwrap()
}

#[tokio::test]
async fn healthy_plain_server_passes_with_its_version() {
    let server = RedisServer::start();
    let details = check(&server.url(), 5_000).check().await.unwrap();
    assert_eq!(details.fields()["ping"], "PONG");
    assert!(details.fields()["version"].starts_with('7'), "{details:?}");
    assert_eq!(details.fields()["endpoint"], server.addr().to_string());
}

#[tokio::test]
async fn tls_with_verification_off_passes() {
    let server = RedisServer::builder().tls().start();
    assert!(server.url().starts_with("rediss://"));
    let check = RedisCheck::builder(server.url())
        .accept_invalid_certs(true)
        .build()
        .unwrap();
    check.check().await.unwrap();
}

#[tokio::test]
async fn tls_with_verification_on_rejects_a_self_signed_certificate() {
    let server = RedisServer::builder().tls().start();
    let err = check(&server.url(), 5_000).check().await.unwrap_err();
    let message = err.message();
    assert!(message.contains("accept invalid certificates"), "{message}");
    // The driver's reason as words, not its Rust Debug text.
    assert!(
        message.ends_with("(invalid certificate: unknown issuer)"),
        "{message}"
    );
}

#[tokio::test]
async fn tls_with_the_ca_trusted_passes_verification() {
    let server = RedisServer::builder().tls().start();
    let check = RedisCheck::builder(server.url())
        .root_certificates_pem(server.ca().unwrap().ca_pem.clone())
        .build()
        .unwrap();
    check.check().await.unwrap();
}

#[tokio::test]
async fn a_cluster_passes_with_its_state() {
    let cluster = RedisCluster::start();
    let details = check(&cluster.url(), 5_000).check().await.unwrap();
    assert_eq!(details.fields()["cluster_state"], "ok");
    assert_eq!(details.fields()["cluster_known_nodes"], "3");
}

#[tokio::test]
async fn connection_refused_fails_well_within_the_timeout() {
    let mut server = RedisServer::start();
    let url = server.url();
    server.stop();
    let started = Instant::now();
    let err = check(&url, 10_000).check().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        err.message().contains("connection refused"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn a_blackhole_or_a_long_delay_fails_at_the_connect_timeout() {
    let server = RedisServer::start();
    let proxy = FaultProxy::start(server.addr()).await;
    let url = format!("redis://{}", proxy.addr());
    for fault in [Fault::Blackhole, Fault::Delay(Duration::from_secs(30))] {
        proxy.set(fault);
        let started = Instant::now();
        let err = check(&url, 700).check().await.unwrap_err();
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(650),
            "{fault:?}: {elapsed:?}"
        );
        assert!(
            elapsed < Duration::from_secs(5),
            "{fault:?}: never hangs, took {elapsed:?}"
        );
        assert!(
            err.message().contains("timed out"),
            "{fault:?}: {}",
            err.message()
        );
    }
    proxy.set(Fault::Reset);
    assert!(check(&url, 700).check().await.is_err());
    proxy.set(Fault::Pass);
    check(&url, 2_000).check().await.unwrap();
}

#[tokio::test]
async fn a_killed_then_restarted_server_fails_then_passes_again() {
    let mut server = RedisServer::start();
    let check = check(&server.url(), 2_000);
    check.check().await.unwrap();
    server.stop();
    assert!(check.check().await.is_err());
    server.restart();
    check.check().await.unwrap();
}

#[tokio::test]
async fn a_wrong_password_fails_and_no_password_appears_anywhere() {
    let server = RedisServer::builder()
        .password("right-horse-battery")
        .start();
    let wrong = format!("redis://:wrong-staple-9f3k@{}", server.addr());
    let (logs, _guard) = CapturedLogs::install();

    let health = Health::builder()
        .register_with(
            RedisCheck::builder(&wrong).build().unwrap(),
            CheckOptions::new().backoff(Backoff::none()),
        )
        .build();
    let report = health.run(Probe::All).await;
    let entry = &report.checks[0];
    assert_eq!(entry.status, CheckStatus::Fail);
    assert!(
        entry
            .output
            .as_deref()
            .unwrap()
            .contains("authentication failed"),
        "{entry:?}"
    );

    let logs = logs.text();
    assert!(
        logs.contains("check failed"),
        "the failure is logged: {logs}"
    );
    for out in [
        report.to_health_json(true),
        report.to_text(true),
        format!("{report:?}"),
        logs,
    ] {
        assert!(!out.contains("wrong-staple-9f3k"), "password leaked: {out}");
        assert!(
            !out.contains("right-horse-battery"),
            "password leaked: {out}"
        );
    }

    // The right password passes.
    let right = format!("redis://:right-horse-battery@{}", server.addr());
    RedisCheck::builder(right)
        .build()
        .unwrap()
        .check()
        .await
        .unwrap();
}

#[test]
fn a_bad_url_is_refused_without_echoing_the_password() {
    let err = RedisCheck::builder("http://:pw-secret-1@host")
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("expected a URL starting with redis://"),
        "{err}"
    );
    assert!(!err.to_string().contains("pw-secret-1"), "{err}");
    // The URL's faults in words, not the parser's Rust names (`InvalidPort`).
    let err = RedisCheck::builder("redis://:pw-secret-1@cache:99999")
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(": invalid port number; expected redis://"),
        "{err}"
    );
    assert!(
        !err.contains("InvalidPort") && !err.contains("pw-secret-1"),
        "{err}"
    );
    let check = RedisCheck::builder("rediss://:p@cache:6379")
        .accept_invalid_certs(true)
        .connect_timeout(Duration::from_secs(60))
        .name("cache")
        .build()
        .unwrap();
    assert_eq!((check.name(), check.component()), ("cache", "redis"));
}

/// The command timeout is its own bound, apart from the connect timeout; after a command that
/// timed out, the next attempt starts from a new connection.
#[tokio::test]
async fn a_stalled_server_fails_at_the_command_timeout_and_the_next_attempt_reconnects() {
    let server = RedisServer::start();
    let check = RedisCheck::builder(server.url())
        .connect_timeout(Duration::from_secs(5))
        .command_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    // The driver's own bounds, no grace of the crate's: the registry adds the one grace.
    assert_eq!(check.attempt_timeout(), Some(Duration::from_millis(5_300)));
    check.check().await.unwrap();
    let clients = || {
        server
            .cli(&["CLIENT", "LIST", "TYPE", "normal"])
            .lines()
            .filter(|l| !l.contains("cmd=client"))
            .count()
    };
    assert_eq!(clients(), 1, "the check keeps one connection");
    // Every client's commands wait for 2 s: PING cannot answer within 300 ms.
    server.cli(&["CLIENT", "PAUSE", "2000", "ALL"]);
    let started = Instant::now();
    let err = check.check().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // fred's own command timeout (set to the check's) answers first.
    assert!(err.message().contains("timed out"), "{}", err.message());
    server.cli(&["CLIENT", "UNPAUSE"]);
    check.check().await.unwrap();
    // The stalled connection was discarded and closed, not reused.
    let deadline = Instant::now() + Duration::from_secs(5);
    while clients() != 1 {
        assert!(
            Instant::now() < deadline,
            "the old connection was not closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
