//! MongoCheck against a real wire-protocol server, stunnel and the fault proxy.
use std::time::{Duration, Instant};

use vitals_core::{Backoff, Check, CheckOptions, CheckStatus, Health, Probe};
use vitals_mongodb::MongoCheck;
use vitals_testkit::{CapturedLogs, Fault, FaultProxy, MongoServer};

fn check(uri: &str, selection_ms: u64) -> MongoCheck {
    MongoCheck::builder(uri)
        .server_selection_timeout(Duration::from_millis(selection_ms))
        .build()
        .unwrap()
}

#[tokio::test]
async fn healthy_plain_server_passes_with_details() {
    let server = MongoServer::start();
    let details = check(&server.uri(), 5_000).check().await.unwrap();
    assert_eq!(
        details.fields().get("topology").map(String::as_str),
        Some("standalone"),
        "{details:?}"
    );
}

#[tokio::test]
async fn tls_with_the_test_ca_trusted_passes() {
    let server = MongoServer::start_tls();
    let uri = format!(
        "{}&tlsCAFile={}",
        server.uri(),
        server.ca().unwrap().ca_path().display()
    );
    check(&uri, 5_000).check().await.unwrap();
}

#[tokio::test]
async fn tls_with_an_untrusted_certificate_fails_unless_invalid_certificates_are_allowed() {
    let server = MongoServer::start_tls();
    let err = check(&server.uri(), 2_000).check().await.unwrap_err();
    assert!(err.message().contains("certificate"), "{}", err.message());
    let insecure = format!("{}&tlsAllowInvalidCertificates=true", server.uri());
    check(&insecure, 5_000).check().await.unwrap();
}

#[tokio::test]
async fn refused_blackholed_and_delayed_servers_fail_by_the_timeout() {
    let server = MongoServer::start();
    let proxy = FaultProxy::start(server.addr()).await;
    let uri = format!(
        "mongodb://{}/?directConnection=true&connectTimeoutMS=500",
        proxy.addr()
    );
    for fault in [
        Fault::Reset,
        Fault::Blackhole,
        Fault::Delay(Duration::from_secs(30)),
    ] {
        proxy.set(fault);
        let started = Instant::now();
        let err = check(&uri, 1_000).check().await.unwrap_err();
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_secs(5),
            "{fault:?} never hangs: {elapsed:?}"
        );
        assert!(
            err.message().starts_with("ping: "),
            "{fault:?}: {}",
            err.message()
        );
    }

    let mut gone = MongoServer::start();
    let uri = gone.uri();
    gone.stop();
    let err = check(&uri, 1_000).check().await.unwrap_err();
    assert!(
        err.message().contains("connection refused"),
        "{}",
        err.message()
    );
}

/// A refused server fails the attempt as soon as the driver's monitor reports the refusal, with
/// the driver's own error, not after the whole server selection timeout (the guide's 30 s); a
/// blackholed one still waits it out (above).
#[tokio::test]
async fn a_refused_server_fails_at_once_not_after_the_selection_timeout() {
    let mut gone = MongoServer::start();
    let uri = gone.uri();
    gone.stop();
    let check = MongoCheck::builder(&uri).build().unwrap();
    let selection = vitals_mongodb::DEFAULT_SERVER_SELECTION_TIMEOUT;
    let err = tokio::time::timeout(selection, check.check())
        .await
        .expect("a refused server is reported before the selection timeout")
        .unwrap_err();
    let message = err.message();
    assert!(
        message.starts_with("ping: connection refused: nothing listens at that address (")
            && message.ends_with(": I/O error: Connection refused (os error 111))")
            && !message.contains("no server selected"),
        "{message}"
    );
}

#[tokio::test]
async fn a_killed_then_restarted_server_fails_then_passes_again() {
    // The application's address stays the proxy's while the server dies and comes back
    // (jongodb cannot rebind its old port while that port's connections sit in TIME_WAIT).
    let mut server = MongoServer::start();
    let proxy = FaultProxy::start(server.addr()).await;
    let check = check(
        &format!("mongodb://{}/?directConnection=true", proxy.addr()),
        1_000,
    );
    check.check().await.unwrap();
    server.stop();
    let err = check.check().await.unwrap_err();
    assert!(err.message().starts_with("ping: "), "{}", err.message());
    let again = MongoServer::start();
    proxy.set_upstream(again.addr());
    check.check().await.unwrap();
    drop(server);
}

#[tokio::test]
async fn the_uri_password_appears_in_no_report_or_log() {
    let server = MongoServer::start();
    let (logs, _guard) = CapturedLogs::install();

    // One deployment that answers (the password is sent in the auth handshake) and one that is down.
    let down = MongoServer::start();
    let down_uri = format!(
        "mongodb://app:s3cret-Mongo-pw@{}/?directConnection=true",
        down.addr()
    );
    drop(down);
    let up_uri = format!(
        "mongodb://app:s3cret-Mongo-pw@{}/?directConnection=true",
        server.addr()
    );
    let health = Health::builder()
        .register_with(
            check(&up_uri, 1_000),
            CheckOptions::new().backoff(Backoff::none()),
        )
        .register_with(
            MongoCheck::builder(&down_uri)
                .server_selection_timeout(Duration::from_millis(1_000))
                .name("mongo-down")
                .build()
                .unwrap(),
            CheckOptions::new().backoff(Backoff::none()),
        )
        .build();
    let report = health.run(Probe::All).await;
    assert_eq!(
        report.check("mongo-down").unwrap().status,
        CheckStatus::Fail
    );
    let logs = logs.text();
    for out in [
        report.to_health_json(true),
        report.to_text(true),
        format!("{report:?}"),
        logs,
    ] {
        assert!(!out.contains("s3cret-Mongo-pw"), "password leaked: {out}");
    }
}

#[test]
fn a_bad_connection_string_is_refused_without_echoing_the_password() {
    let err = MongoCheck::builder("mysql://root:pw-secret-2@db")
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("invalid MongoDB connection string"),
        "{err}"
    );
    assert!(!err.to_string().contains("pw-secret-2"), "{err}");
    let check = MongoCheck::builder("mongodb://u:p@db1,db2/app?replicaSet=rs0")
        .attempt_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    assert_eq!(check.attempt_timeout(), Some(Duration::from_secs(3)));
}

/// DocumentDB behind a DNS alias (here: the wire-compatible test server, with the override
/// on): probed with `hello`, reported as `engine: documentdb`, and `warn` with the guide's
/// caveat, plus the retryable-writes note unless the URI turns them off.
#[tokio::test]
async fn documentdb_warns_with_the_guides_caveat() {
    let server = MongoServer::start();
    let check = MongoCheck::builder(server.uri())
        .documentdb(true)
        .build()
        .unwrap();
    let details = check.check().await.unwrap();
    assert_eq!(details.fields()["engine"], "documentdb");
    let warning = details.warning_message().unwrap();
    assert!(
        warning.contains("not fully MongoDB-compatible"),
        "{warning}"
    );
    assert!(warning.contains("retryWrites=false"), "{warning}");

    let without_retries = format!("{}&retryWrites=false", server.uri());
    let check = MongoCheck::builder(without_retries)
        .documentdb(true)
        .build()
        .unwrap();
    let health = Health::builder().register(check).build();
    let report = health.run(Probe::Readiness).await;
    let entry = report.check("mongo").unwrap();
    assert_eq!(entry.status, CheckStatus::Warn);
    assert!(!entry.output.as_deref().unwrap().contains("retryWrites"));
    // Plain MongoDB says so, and passes.
    let details = check_plain(&server).await;
    assert_eq!(details.fields()["engine"], "mongodb");
    assert!(details.warning_message().is_none());
}

async fn check_plain(server: &MongoServer) -> vitals_core::Details {
    MongoCheck::builder(server.uri())
        .build()
        .unwrap()
        .check()
        .await
        .unwrap()
}
