//! GrpcHealthCheck against tonic-health's own server (plain and TLS), the fault proxy, and a
//! server stopped and started again.
use std::{net::SocketAddr, time::Duration};

use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic_health::{ServingStatus, server::HealthReporter};
use vitals_core::Check;
use vitals_grpc::GrpcHealthCheck;
use vitals_testkit::{Fault, FaultProxy, TestCa, free_port};

/// tonic-health's server on `addr` (a free port when 0), with TLS when `tls` is given.
async fn serve(addr: SocketAddr, tls: Option<&TestCa>) -> (SocketAddr, HealthReporter, Stop) {
    let (reporter, service) = tonic_health::server::health_reporter();
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut builder = Server::builder();
    if let Some(ca) = tls {
        builder = builder
            .tls_config(
                ServerTlsConfig::new().identity(Identity::from_pem(&ca.cert_pem, &ca.key_pem)),
            )
            .unwrap();
    }
    let router = builder.add_service(service);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        router
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (addr, reporter, Stop(Some(stop), task))
}

/// Stops the server (its connections are told to go away) when called or dropped.
struct Stop(
    Option<tokio::sync::oneshot::Sender<()>>,
    tokio::task::JoinHandle<()>,
);

impl Stop {
    async fn now(mut self) {
        if let Some(stop) = self.0.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.1).await;
    }
}

impl Drop for Stop {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            let _ = stop.send(());
        }
    }
}

fn check(url: String, service: &str) -> GrpcHealthCheck {
    GrpcHealthCheck::builder(url)
        .service(service)
        .request_timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

#[tokio::test]
async fn serving_passes_and_not_serving_or_unknown_fail_in_words() {
    let (addr, reporter, _task) = serve("127.0.0.1:0".parse().unwrap(), None).await;
    reporter
        .set_service_status("payments", ServingStatus::Serving)
        .await;
    let url = format!("http://{addr}");
    let details = check(url.clone(), "").check().await.unwrap();
    assert_eq!(details.fields()["status"], "SERVING");
    check(url.clone(), "payments").check().await.unwrap();

    reporter
        .set_service_status("payments", ServingStatus::NotServing)
        .await;
    let error = check(url.clone(), "payments").check().await.unwrap_err();
    assert_eq!(
        error.message(),
        format!("http://{addr} reports service \"payments\" NOT_SERVING")
    );
    let error = check(url.clone(), "ledger").check().await.unwrap_err();
    assert_eq!(
        error.message(),
        format!("Check on http://{addr}: service \"ledger\" is unknown to the server (NOT_FOUND)")
    );
}

#[tokio::test]
async fn a_refused_server_fails_at_once_and_a_restarted_one_passes_again() {
    let port = free_port(60_000);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let check = check(format!("http://{addr}"), "");
    let error = check.check().await.unwrap_err();
    assert!(
        error.message().starts_with(&format!(
            "Check on http://{addr} (Unavailable): connection refused: nothing listens at that address ("
        )),
        "{}",
        error.message()
    );
    let (_, _reporter, server) = serve(addr, None).await;
    check.check().await.unwrap();
    server.now().await;
    let error = check.check().await.unwrap_err();
    assert!(
        error.message().contains("connection refused"),
        "{}",
        error.message()
    );
    let (_, _reporter, _task) = serve(addr, None).await;
    check.check().await.unwrap();
}

#[tokio::test]
async fn a_blackholed_server_fails_within_the_timeouts() {
    let proxy = FaultProxy::start("127.0.0.1:9".parse().unwrap()).await;
    proxy.set(Fault::Blackhole);
    let check = GrpcHealthCheck::builder(format!("http://{}", proxy.addr()))
        .connect_timeout(Duration::from_millis(300))
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = check.check().await.unwrap_err();
    assert_eq!(
        error.message(),
        format!(
            "Check on http://{}: no answer within 300 ms (the request timeout)",
            proxy.addr()
        )
    );
}

#[tokio::test]
async fn tls_passes_with_the_ca_and_fails_without_it() {
    let ca = TestCa::new();
    let (addr, _reporter, _task) = serve("127.0.0.1:0".parse().unwrap(), Some(&ca)).await;
    let url = format!("https://localhost:{}", addr.port());
    GrpcHealthCheck::builder(url.clone())
        .root_certificates_pem(ca.ca_pem.clone())
        .build()
        .unwrap()
        .check()
        .await
        .unwrap();
    let error = check(url, "").check().await.unwrap_err();
    assert!(
        error.message().contains("TLS certificate rejected"),
        "{}",
        error.message()
    );
}

#[test]
fn bad_urls_are_refused_in_words() {
    let error = GrpcHealthCheck::builder("grpc://x:1")
        .build()
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "invalid gRPC URL \"grpc://x:1\": unsupported scheme; expected http://host:port or https://host:port"
    );
}
