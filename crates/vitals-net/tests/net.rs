//! TcpCheck, DnsCheck and CertificateCheck against loopback servers, the fault proxy and
//! certificates the tests make.
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use vitals_core::{Backoff, Check, CheckOptions, CheckStatus, Health, Probe};
use vitals_net::{CertificateCheck, DnsCheck, TcpCheck};
use vitals_testkit::{
    Fault, FaultProxy, TestCa, TlsServer, free_port, inside_namespace_without_network,
};

#[tokio::test]
async fn tcp_passes_when_a_server_listens_and_says_where() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let check = TcpCheck::builder(format!("localhost:{}", addr.port()))
        .build()
        .unwrap();
    let details = check.check().await.unwrap();
    assert_eq!(details.fields()["address"], addr.to_string());
    assert_eq!(
        details.fields()["endpoint"],
        format!("localhost:{}", addr.port())
    );
}

#[tokio::test]
async fn tcp_refused_fails_at_once_in_words() {
    let port = free_port(60_000);
    let started = Instant::now();
    let error = TcpCheck::builder(format!("127.0.0.1:{port}"))
        .build()
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        error.message().starts_with(&format!(
            "connect to 127.0.0.1:{port} (127.0.0.1:{port}): connection refused: nothing listens at that address ("
        )),
        "{}",
        error.message()
    );
}

#[tokio::test]
async fn a_blackholed_tls_endpoint_fails_at_the_connect_timeout() {
    // The proxy accepts the TCP connection and never answers: the handshake waits out the
    // timeout, which the message names.
    let proxy = FaultProxy::start("127.0.0.1:9".parse().unwrap()).await;
    proxy.set(Fault::Blackhole);
    let error = CertificateCheck::builder(proxy.addr().to_string())
        .connect_timeout(Duration::from_millis(300))
        .build()
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert_eq!(
        error.message(),
        format!(
            "TLS handshake with {}: timed out after 300 ms (the connect timeout)",
            proxy.addr()
        )
    );
}

#[tokio::test]
async fn dns_resolves_localhost_with_its_addresses() {
    let details = DnsCheck::builder("localhost")
        .build()
        .unwrap()
        .check()
        .await
        .unwrap();
    assert!(
        details.fields()["addresses"].contains("127.0.0.1"),
        "{details:?}"
    );
}

#[test]
fn an_unresolvable_name_fails_as_a_dns_failure_for_dns_tcp_and_certificate() {
    if !inside_namespace_without_network(
        "an_unresolvable_name_fails_as_a_dns_failure_for_dns_tcp_and_certificate",
    ) {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let host = "no-such-host.invalid";
        let checks: Vec<Box<dyn Check>> = vec![
            Box::new(DnsCheck::builder(host).build().unwrap()),
            Box::new(TcpCheck::builder(format!("{host}:80")).build().unwrap()),
            Box::new(CertificateCheck::builder(host).build().unwrap()),
        ];
        for check in checks {
            let error = check.check().await.unwrap_err();
            assert!(
                error.message().starts_with(
                    "resolve no-such-host.invalid: DNS lookup failed: the host name does not resolve (yet) ("
                ),
                "{}: {}",
                check.name(),
                error.message()
            );
        }
    });
}

fn days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

/// A server presenting a certificate for `names`, valid from `from` to `to` days from now.
async fn serve(ca: &TestCa, names: &[&str], from: time::Duration, to: time::Duration) -> TlsServer {
    let now = OffsetDateTime::now_utc();
    let (cert, key) = ca.issue(names, now + from, now + to);
    TlsServer::start(&cert, &key).await
}

fn certificate(server: &TlsServer, ca: &TestCa) -> CertificateCheck {
    CertificateCheck::builder(format!("localhost:{}", server.addr().port()))
        .root_certificates_pem(ca.ca_pem.clone())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_certificate_with_sixty_days_left_passes_with_its_facts() {
    let ca = TestCa::new();
    let server = serve(
        &ca,
        &["localhost"],
        days(-1),
        days(60) + time::Duration::hours(1),
    )
    .await;
    let details = certificate(&server, &ca).check().await.unwrap();
    assert_eq!(details.warning_message(), None);
    assert_eq!(details.fields()["days_left"], "60");
    assert_eq!(details.fields()["subject"], "CN=localhost");
    assert_eq!(details.fields()["issuer"], "CN=vitals test CA");
    assert_eq!(details.fields()["names"], "localhost");
}

#[tokio::test]
async fn a_certificate_expiring_in_three_days_warns_with_the_date() {
    let ca = TestCa::new();
    let server = serve(
        &ca,
        &["localhost"],
        days(-1),
        days(3) + time::Duration::hours(1),
    )
    .await;
    let check = certificate(&server, &ca);
    let details = check.check().await.unwrap();
    let warning = details.warning_message().unwrap();
    assert!(
        warning.starts_with(&format!(
            "the certificate of localhost:{} expires in 3 days, on ",
            server.addr().port()
        )),
        "{warning}"
    );
    assert!(
        warning.ends_with("(warning from 14 days ahead)"),
        "{warning}"
    );
    // Through a registry: warn, not fail; with warn_days(2), no warning.
    let health = Health::builder().register(check).build();
    let report = health.run(Probe::All).await;
    assert_eq!(report.checks[0].status, CheckStatus::Warn);
    let relaxed = CertificateCheck::builder(format!("localhost:{}", server.addr().port()))
        .root_certificates_pem(ca.ca_pem.clone())
        .warn_days(2)
        .build()
        .unwrap();
    assert_eq!(relaxed.check().await.unwrap().warning_message(), None);
}

#[tokio::test]
async fn an_expired_certificate_fails_and_is_not_retried() {
    let ca = TestCa::new();
    let server = serve(
        &ca,
        &["localhost"],
        days(-30),
        days(-2) - time::Duration::hours(1),
    )
    .await;
    let health = Health::builder()
        .register_with(
            certificate(&server, &ca),
            CheckOptions::new().backoff(Backoff::builder().retries(3).build().unwrap()),
        )
        .build();
    let report = health.run(Probe::All).await;
    let entry = &report.checks[0];
    assert_eq!(entry.status, CheckStatus::Fail);
    assert_eq!(entry.attempts, 1, "a certificate rule is not retried");
    let output = entry.output.as_deref().unwrap();
    assert!(
        output.starts_with(&format!(
            "the certificate of localhost:{} expired on ",
            server.addr().port()
        )),
        "{output}"
    );
    assert!(output.ends_with(", 3 days ago"), "{output}");
}

#[tokio::test]
async fn a_certificate_for_another_name_fails_naming_both() {
    let ca = TestCa::new();
    let server = serve(&ca, &["other.example", "10.1.2.3"], days(-1), days(60)).await;
    let error = certificate(&server, &ca).check().await.unwrap_err();
    assert_eq!(
        error.message(),
        format!(
            "the certificate of localhost:{} is not valid for localhost: it is issued for other.example, 10.1.2.3",
            server.addr().port()
        )
    );
    // With the name it is issued for (sent as SNI), it passes.
    CertificateCheck::builder(format!("127.0.0.1:{}", server.addr().port()))
        .server_name("other.example")
        .root_certificates_pem(ca.ca_pem.clone())
        .build()
        .unwrap()
        .check()
        .await
        .unwrap();
}

#[tokio::test]
async fn an_untrusted_certificate_fails_naming_its_issuer() {
    let ca = TestCa::new();
    let server = serve(
        &ca,
        &["localhost"],
        days(-1),
        days(60) - time::Duration::hours(1),
    )
    .await;
    let error = CertificateCheck::builder(format!("localhost:{}", server.addr().port()))
        .build()
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert_eq!(
        error.message(),
        format!(
            "the certificate of localhost:{} is not trusted: its issuer (CN=vitals test CA) is not a trusted CA",
            server.addr().port()
        )
    );
    // The facts are still reported.
    assert_eq!(error.details().fields()["days_left"], "59");
}

#[test]
fn bad_targets_are_refused_in_words() {
    let error = TcpCheck::builder("db.internal")
        .build()
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "invalid endpoint \"db.internal\": no port; expected host:port or [IPv6]:port"
    );
    let error = DnsCheck::builder("db.internal:53")
        .build()
        .unwrap_err()
        .to_string();
    assert!(error.contains("a name without a port"), "{error}");
}

/// Trust roots mean what they mean in every probe crate: a file as a PEM, added to the
/// system's; with `only_these_roots`, a chain from another CA is not trusted.
#[tokio::test]
async fn a_private_ca_from_a_file_verifies_and_only_these_roots_leaves_others_out() {
    let ca = TestCa::new();
    let server = serve(&ca, &["localhost"], days(-1), days(90)).await;
    let target = format!("localhost:{}", server.addr().port());
    let from_file = CertificateCheck::builder(&target)
        .root_certificates_file(ca.ca_path())
        .build()
        .unwrap();
    assert!(from_file.check().await.is_ok());

    let other = TestCa::new();
    let only_other = CertificateCheck::builder(&target)
        .root_certificates_pem(other.ca_pem.clone())
        .only_these_roots()
        .build()
        .unwrap();
    let error = only_other.check().await.unwrap_err().to_string();
    assert!(
        error.contains("not trusted") || error.contains("UnknownIssuer"),
        "{error}"
    );
}
