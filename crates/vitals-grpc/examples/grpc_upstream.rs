//! Checks an upstream gRPC server's `grpc.health.v1` (`http://…`, `https://…`) once, with the deployment guide's retries, and prints the
//! report as Kubernetes' verbose text:
//!
//! ```text
//! cargo run -p vitals-grpc --example grpc_upstream -- http://127.0.0.1:50051
//! ```
//!
//! Exit status 0 when the check passes (or warns), 1 when it fails, 2 for a target it cannot
//! read.
use std::process::ExitCode;

use vitals_core::{Health, Probe};
use vitals_grpc::GrpcHealthCheck;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let target = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:50051".to_owned());
    let check = match GrpcHealthCheck::builder(target).build() {
        Ok(check) => check,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    let report = Health::builder()
        .register(check)
        .build()
        .run(Probe::Readiness)
        .await;
    print!("{}", report.to_text(true));
    if report.status.is_serving() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
