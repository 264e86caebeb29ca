//! The fault proxy as a process, for load scripts:
//! `fault-proxy --upstream 127.0.0.1:6379 [--listen 127.0.0.1:0] [--fault pass|blackhole|reset|delay=MS]`.
//! Prints `listening on ADDR` and runs until killed.
#![forbid(unsafe_code)]

use std::{net::SocketAddr, process::ExitCode, time::Duration};

use vitals_testkit::{Fault, FaultProxy};

fn parse() -> Result<(SocketAddr, SocketAddr, Fault), String> {
    let mut listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut upstream = None;
    let mut fault = Fault::Pass;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--listen" => {
                listen = value
                    .parse()
                    .map_err(|e| format!("--listen {value:?}: {e}"))?
            }
            "--upstream" => {
                upstream = Some(
                    value
                        .parse()
                        .map_err(|e| format!("--upstream {value:?}: {e}"))?,
                )
            }
            "--fault" => {
                fault = match value.as_str() {
                    "pass" => Fault::Pass,
                    "blackhole" => Fault::Blackhole,
                    "reset" => Fault::Reset,
                    other => match other.strip_prefix("delay=").and_then(|ms| ms.parse().ok()) {
                        Some(ms) => Fault::Delay(Duration::from_millis(ms)),
                        None => {
                            return Err(format!(
                                "--fault {other:?}: expected pass, blackhole, reset or delay=MS"
                            ));
                        }
                    },
                }
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok((listen, upstream.ok_or("--upstream is required")?, fault))
}

fn main() -> ExitCode {
    let (listen, upstream, fault) = match parse() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("fault-proxy: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let proxy = FaultProxy::start_on(listen, upstream).await;
        proxy.set(fault);
        eprintln!("listening on {}", proxy.addr());
        std::future::pending::<()>().await;
    });
    ExitCode::SUCCESS
}
