//! The two gRPC health servers `scripts/bench-grpc` compares, in the same process shape (a
//! tonic `Server` with one health service on loopback):
//!
//! - `grpc-peers tonic-health PORT`: tonic-health's own server (`health_reporter`), `""` and
//!   `cache` set to SERVING;
//! - `grpc-peers vitals PORT`: vitals-tonic's `GrpcHealth` over a registry with one background
//!   check called `cache` that passes (results always fresh: the fast path).
use std::{net::SocketAddr, time::Duration};

use vitals_core::{CheckError, CheckOptions, Details, Health, async_trait};

/// A check that passes at once.
struct Cache;

#[async_trait]
impl vitals_core::Check for Cache {
    fn name(&self) -> &str {
        "cache"
    }
    async fn check(&self) -> Result<Details, CheckError> {
        Ok(Details::new())
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(kind), Some(port)) = (args.next(), args.next()) else {
        eprintln!("usage: grpc-peers tonic-health|vitals PORT");
        std::process::exit(2);
    };
    let port: u16 = port.parse().expect("PORT is a port number");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut server = tonic::transport::Server::builder();
    match kind.as_str() {
        "tonic-health" => {
            let (reporter, service) = tonic_health::server::health_reporter();
            for name in ["", "cache"] {
                reporter
                    .set_service_status(name, tonic_health::ServingStatus::Serving)
                    .await;
            }
            server.add_service(service).serve(addr).await.unwrap();
        }
        "vitals" => {
            let health = Health::builder()
                .register_with(
                    Cache,
                    CheckOptions::new().interval(Duration::from_secs(3600)),
                )
                .build();
            let service = vitals_tonic::GrpcHealth::new(health).into_service();
            server.add_service(service).serve(addr).await.unwrap();
        }
        other => {
            eprintln!("unknown peer {other:?}: expected tonic-health or vitals");
            std::process::exit(2);
        }
    }
}
