//! SqlCheck against the machine's PostgreSQL and MariaDB, own instances (password, TLS,
//! stop and restart) and the fault proxy.
use std::{
    net::SocketAddr,
    process::Command,
    time::{Duration, Instant},
};

use vitals_core::{Backoff, Check, CheckOptions, CheckStatus, Health, Probe};
use vitals_sql::sqlx::{self, mysql::MySqlPoolOptions, postgres::PgPoolOptions};
use vitals_sql::{SqlCheck, SqlTls};
use vitals_testkit::{
    CapturedLogs, Fault, FaultProxy, MariaDbServer, PostgresServer, SQL_PASSWORD, free_port,
};

/// The machine's shared servers (trust authentication; root with an empty password).
const SHARED_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
const SHARED_MARIADB: &str = "mysql://root@127.0.0.1:3306/test";

fn shared(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn check(url: &str) -> SqlCheck {
    SqlCheck::builder(url)
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

#[tokio::test]
async fn postgres_passes_with_its_version() {
    let details = check(SHARED_POSTGRES).check().await.unwrap();
    assert!(
        details.fields()["version"].starts_with(char::is_numeric),
        "{details:?}"
    );
    assert_eq!(details.fields()["endpoint"], "127.0.0.1:5432");
}

#[tokio::test]
async fn mariadb_passes_with_its_version_under_both_schemes() {
    for url in [SHARED_MARIADB, "mariadb://root@127.0.0.1:3306/test"] {
        let details = check(url).check().await.unwrap();
        assert!(
            details.fields()["version"].contains("MariaDB"),
            "{details:?}"
        );
    }
}

#[tokio::test]
async fn a_refused_server_fails_at_once_with_the_drivers_words() {
    let port = free_port(60_000);
    for url in [
        format!("postgres://postgres@127.0.0.1:{port}/test"),
        format!("mysql://root@127.0.0.1:{port}/test"),
    ] {
        let started = Instant::now();
        let error = SqlCheck::builder(&url)
            .build()
            .unwrap()
            .check()
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2), "{url}");
        assert!(
            error.message().starts_with(&format!(
                "connect to 127.0.0.1:{port}: connection refused: nothing listens at that address ("
            )),
            "{}",
            error.message()
        );
    }
}

#[tokio::test]
async fn a_blackholed_server_fails_at_the_connect_timeout() {
    for upstream in [shared(5432), shared(3306)] {
        let proxy = FaultProxy::start(upstream).await;
        proxy.set(Fault::Blackhole);
        let scheme = if upstream.port() == 5432 {
            "postgres://postgres"
        } else {
            "mysql://root"
        };
        let check = SqlCheck::builder(format!("{scheme}@{}/test", proxy.addr()))
            .connect_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        assert_eq!(check.attempt_timeout(), Some(Duration::from_millis(5_300)));
        let error = check.check().await.unwrap_err();
        assert_eq!(
            error.message(),
            format!(
                "connect to {}: timed out after 300 ms (the connect timeout)",
                proxy.addr()
            )
        );
        // The proxy passes again: the next attempt connects afresh and passes.
        proxy.set(Fault::Pass);
        check.check().await.unwrap();
    }
}

#[tokio::test]
async fn wrong_credentials_fail_in_words_and_no_password_appears_anywhere() {
    let planted = "planted-wrong-password-31ab";
    let (logs, _guard) = CapturedLogs::install();
    let health = Health::builder()
        .register_with(
            check(&format!("mysql://root:{planted}@127.0.0.1:3306/test")),
            CheckOptions::new().backoff(Backoff::none()),
        )
        .build();
    let report = health.run(Probe::All).await;
    let entry = &report.checks[0];
    assert_eq!(entry.status, CheckStatus::Fail);
    let output = entry.output.as_deref().unwrap();
    assert!(
        output.starts_with(
            "connect to 127.0.0.1:3306: authentication failed: check the credentials ("
        ),
        "{output}"
    );
    assert!(output.contains("Access denied for user 'root'"), "{output}");
    for out in [
        report.to_health_json(true),
        report.to_text(true),
        format!("{report:?}"),
        format!("{:?}", check(&format!("mysql://root:{planted}@h/db"))),
        logs.text(),
    ] {
        assert!(!out.contains(planted), "password leaked: {out}");
    }
}

#[tokio::test]
async fn own_postgres_password_tls_stop_and_restart() {
    let mut server = PostgresServer::start();
    // The right password over plain TCP, then with TLS verified against the test CA.
    let passed = check(&server.url()).check().await.unwrap();
    assert!(passed.fields()["version"].starts_with(char::is_numeric));
    let verified = SqlCheck::builder(server.url())
        .tls(SqlTls::VerifyFull)
        .root_certificates_file(server.ca().ca_path())
        .build()
        .unwrap();
    verified.check().await.unwrap();
    // Verification against the system's roots rejects the test CA, in words.
    let unverified = SqlCheck::builder(server.url())
        .tls(SqlTls::VerifyFull)
        .build()
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert!(
        unverified.message().contains("TLS certificate rejected"),
        "{}",
        unverified.message()
    );
    // A wrong password: PostgreSQL's own words, no password.
    let wrong = server.url().replace(SQL_PASSWORD, "not-the-password-5e2");
    let error = check(&wrong).check().await.unwrap_err();
    assert!(
        error.message().contains(
            "authentication failed: check the credentials (error returned from database: password authentication failed for user \"vitals\""
        ),
        "{}",
        error.message()
    );
    assert!(!error.message().contains("not-the-password-5e2"));

    // Stopped: the kept connection fails; restarted: the next attempt reconnects and passes.
    server.stop();
    let down = verified.check().await.unwrap_err();
    assert!(!down.message().is_empty());
    let refused = verified.check().await.unwrap_err();
    assert!(
        refused.message().contains("connection refused"),
        "{}",
        refused.message()
    );
    server.restart();
    verified.check().await.unwrap();
}

#[tokio::test]
async fn own_mariadb_tls_stop_and_restart() {
    let mut server = MariaDbServer::start();
    let verified = SqlCheck::builder(server.url())
        .tls(SqlTls::VerifyFull)
        .root_certificates_file(server.ca().ca_path())
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let details = verified.check().await.unwrap();
    assert!(details.fields()["version"].contains("MariaDB"));
    let unverified = SqlCheck::builder(server.url())
        .tls(SqlTls::VerifyFull)
        .build()
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert!(
        unverified.message().contains("TLS certificate rejected"),
        "{}",
        unverified.message()
    );
    server.stop();
    assert!(verified.check().await.is_err());
    server.restart();
    verified.check().await.unwrap();
}

#[tokio::test]
async fn the_applications_pool_passes_with_its_size() {
    let pool = PgPoolOptions::new()
        .max_connections(3)
        .connect(SHARED_POSTGRES)
        .await
        .unwrap();
    let details = SqlCheck::builder_for_pool(pool)
        .build()
        .unwrap()
        .check()
        .await
        .unwrap();
    assert_eq!(details.fields()["pool_max"], "3");
    let pool = MySqlPoolOptions::new()
        .max_connections(2)
        .connect(SHARED_MARIADB)
        .await
        .unwrap();
    let details = SqlCheck::builder_for_pool(pool)
        .build()
        .unwrap()
        .check()
        .await
        .unwrap();
    assert!(details.fields()["version"].contains("MariaDB"));
}

#[tokio::test]
async fn a_busy_pool_a_pool_that_cannot_connect_and_a_silent_server_read_differently() {
    // Every connection in use.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(SHARED_POSTGRES)
        .await
        .unwrap();
    let held = pool.acquire().await.unwrap();
    let check = SqlCheck::builder_for_pool(pool.clone())
        .acquire_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let busy = check.check().await.unwrap_err();
    assert_eq!(
        busy.message(),
        "the application's pool for 127.0.0.1:5432 handed out no connection within 200 ms \
         (1 open, 0 idle, at most 1): every connection is in use"
    );
    drop(held);
    check.check().await.unwrap();

    // A pool whose server went away: the driver's own reason.
    let port = free_port(60_000);
    let gone = PgPoolOptions::new()
        .max_connections(2)
        .connect_lazy(&format!("postgres://postgres@127.0.0.1:{port}/test"))
        .unwrap();
    let error = SqlCheck::builder_for_pool(gone)
        .acquire_timeout(Duration::from_millis(300))
        .build()
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert!(
        error.message().starts_with(&format!(
            "the application's pool for 127.0.0.1:{port} handed out no connection within 300 ms \
             (0 open, 0 idle, at most 2): connect to 127.0.0.1:{port}: connection refused"
        )),
        "{}",
        error.message()
    );
}

#[tokio::test]
async fn a_server_that_stops_answering_fails_at_the_query_timeout_or_the_pools_test() {
    // The own instance's backend serving the pool's one connection is paused with SIGSTOP.
    let server = PostgresServer::start();
    for test_before_acquire in [false, true] {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .test_before_acquire(test_before_acquire)
            .connect(&server.url())
            .await
            .unwrap();
        let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&pool)
            .await
            .unwrap();
        // The connection goes back to the pool in the background: wait until it is idle.
        while pool.num_idle() == 0 {
            tokio::task::yield_now().await;
        }
        let paused = Paused::new(backend);
        let check = SqlCheck::builder_for_pool(pool)
            .query_timeout(Duration::from_millis(300))
            .acquire_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let silent = check.check().await.unwrap_err();
        drop(paused);
        let expected = if test_before_acquire {
            format!(
                "the application's pool for {} handed out no connection within 300 ms (1 open, \
                 1 idle, at most 1): its idle connection did not answer the pool's test query: \
                 the server accepted the connection but does not answer",
                server.addr()
            )
        } else {
            format!(
                "query on {}: no answer within 300 ms (the query timeout): the server accepted \
                 the connection but does not answer",
                server.addr()
            )
        };
        assert_eq!(silent.message(), expected);
        // The connection that failed is not handed out again: the next attempt passes.
        check.check().await.unwrap();
    }
}

/// A process stopped with SIGSTOP until dropped (SIGCONT), even when an assertion fails.
struct Paused(i32);

impl Paused {
    fn new(pid: i32) -> Paused {
        signal("-STOP", pid);
        Paused(pid)
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        signal("-CONT", self.0);
    }
}

fn signal(name: &str, pid: i32) {
    assert!(
        Command::new("kill")
            .args([name, &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
}

/// sqlx adds a chain to its own roots and cannot leave them out: asking to is refused when
/// the check is built, in words, not ignored.
#[test]
fn only_these_roots_is_refused_at_build_in_words() {
    let ca = vitals_testkit::TestCa::new();
    let error = SqlCheck::builder("postgres://vitals@127.0.0.1:5432/test")
        .root_certificates_file(ca.ca_path())
        .only_these_roots()
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "only_these_roots is not available here: sqlx always trusts the system's roots as well"
    );
}
