//! `vitals-probe`: exit 0 when a probe endpoint is serving, 1 otherwise, 2 on bad usage.
//!
//! ```text
//! vitals-probe http://127.0.0.1:5000/readyz [--timeout 2s]
//! vitals-probe grpc://127.0.0.1:50051 [--service NAME] [--timeout 2s]
//! ```
#![forbid(unsafe_code)]

use std::{process::ExitCode, time::Duration};

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

const USAGE: &str = "usage: vitals-probe (http://HOST:PORT/PATH | grpc://HOST:PORT [--service NAME]) [--timeout DURATION]";

/// What to probe.
#[derive(Debug, PartialEq)]
struct Args {
    target: String,
    service: String,
    timeout: Duration,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut target = None;
    let mut service = String::new();
    let mut timeout = Duration::from_secs(2);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--service" => service = args.next().ok_or("--service needs a NAME")?,
            "--timeout" => {
                let raw = args.next().ok_or("--timeout needs a DURATION such as 2s")?;
                timeout = humantime::parse_duration(&raw)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        format!(
                            "invalid --timeout {raw:?}: expected a duration such as 2s or 500ms"
                        )
                    })?;
            }
            "-h" | "--help" => return Err(String::new()),
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            other if target.is_none() => target = Some(other.to_owned()),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let target = target.ok_or("missing the URL to probe")?;
    if !(target.starts_with("http://") || target.starts_with("grpc://")) {
        return Err(format!(
            "unsupported URL {target:?}: expected http:// or grpc://"
        ));
    }
    if target.starts_with("http://") && !service.is_empty() {
        return Err("--service applies to grpc:// only".to_owned());
    }
    Ok(Args {
        target,
        service,
        timeout,
    })
}

async fn probe_http(url: &str) -> Result<(), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("invalid URL: {e}"))?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = client.get(uri).await.map_err(|e| {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(inner) = source {
            message = format!("{message}: {inner}");
            source = inner.source();
        }
        message
    })?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("answered {}", response.status()))
    }
}

async fn probe_grpc(url: &str, service: &str) -> Result<(), String> {
    let endpoint = format!("http://{}", url.trim_start_matches("grpc://"));
    let channel = tonic::transport::Endpoint::from_shared(endpoint)
        .map_err(|e| format!("invalid URL: {e}"))?
        .connect()
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let reply = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map_err(|status| format!("{:?}: {}", status.code(), status.message()))?;
    match ServingStatus::try_from(reply.into_inner().status) {
        Ok(ServingStatus::Serving) => Ok(()),
        Ok(other) => Err(format!("status {}", other.as_str_name())),
        Err(_) => Err("unknown status".to_owned()),
    }
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("vitals-probe: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("vitals-probe: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = runtime.block_on(async {
        let probe = async {
            if args.target.starts_with("grpc://") {
                probe_grpc(&args.target, &args.service).await
            } else {
                probe_http(&args.target).await
            }
        };
        match tokio::time::timeout(args.timeout, probe).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "no answer within {}",
                humantime::format_duration(args.timeout)
            )),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("vitals-probe: {} not serving: {reason}", args.target);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn arguments_parse_and_junk_is_refused() {
        assert_eq!(
            args(&[
                "grpc://127.0.0.1:50051",
                "--service",
                "redis",
                "--timeout",
                "500ms"
            ])
            .unwrap(),
            Args {
                target: "grpc://127.0.0.1:50051".into(),
                service: "redis".into(),
                timeout: Duration::from_millis(500)
            }
        );
        for bad in [
            &[][..],
            &["ftp://x"],
            &["http://x/readyz", "--service", "a"],
            &["http://x", "--timeout", "soon"],
            &["http://x", "--bogus"],
            &["http://x", "http://y"],
        ] {
            assert!(args(bad).is_err(), "{bad:?}");
        }
    }
}
