//! `vitals-probe`: exit 0 when a probe endpoint is serving, 1 otherwise, 2 on bad usage.
//!
//! ```text
//! vitals-probe http://127.0.0.1:5000/readyz [--timeout 2s]
//! vitals-probe https://127.0.0.1:5443/readyz
//! vitals-probe grpc://127.0.0.1:50051 [--service NAME] [--timeout 2s]
//! ```
//!
//! It judges an answer as the kubelet's `httpGet` and `grpc` probes do, so an exec probe and a
//! native probe agree: any status from 200 to 399 is success; a redirect to the same host is
//! followed (at most 10), a redirect to another host counts as success without being followed;
//! `https://` does not verify the certificate (the kubelet's `scheme: HTTPS`); a gRPC probe
//! succeeds on `SERVING` only.
#![forbid(unsafe_code)]

use std::{process::ExitCode, time::Duration};

use bytes::Bytes;
use http::{
    Request, Uri,
    header::{ACCEPT, LOCATION, USER_AGENT},
};
use http_body_util::Empty;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

const USAGE: &str = "usage: vitals-probe (http://HOST:PORT/PATH | https://HOST:PORT/PATH | grpc://HOST:PORT [--service NAME]) [--timeout DURATION]

Exits 0 when the endpoint is serving, 1 when it is not (the reason on stderr), 2 on bad usage.
HTTP(S): a status from 200 to 399 is serving, as for the kubelet; redirects to the same host
are followed (at most 10), one to another host counts as serving; certificates are not
verified. gRPC: grpc.health.v1 Check of --service (default \"\"), SERVING only.
--timeout bounds the whole probe (default 2s).";

/// How many redirects the kubelet follows before it gives up.
const MAX_REDIRECTS: usize = 10;

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
            "-h" | "--help" => return Err(HELP.to_owned()),
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            other if target.is_none() => target = Some(other.to_owned()),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let target = target.ok_or("missing the URL to probe")?;
    let http = target.starts_with("http://") || target.starts_with("https://");
    if !(http || target.starts_with("grpc://")) {
        return Err(format!(
            "unsupported URL {target:?}: expected http://, https:// or grpc://"
        ));
    }
    if http && !service.is_empty() {
        return Err("--service applies to grpc:// only".to_owned());
    }
    Ok(Args {
        target,
        service,
        timeout,
    })
}

/// A `--help` request: not an error, the usage goes to stdout.
const HELP: &str = "\u{0}help";

/// An HTTP(S) probe judged as the kubelet judges one.
async fn probe_http(url: &str) -> Result<(), String> {
    let mut uri: Uri = url.parse().map_err(|e| format!("invalid URL: {e}"))?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        // As the kubelet's `scheme: HTTPS` probes: the certificate is not verified.
        .with_tls_config(vitals_tls::accept_any())
        .https_or_http()
        .enable_http1()
        .build();
    let client = Client::builder(TokioExecutor::new()).build::<_, Empty<Bytes>>(connector);
    for _ in 0..=MAX_REDIRECTS {
        let request = Request::get(uri.clone())
            .header(
                USER_AGENT,
                concat!("vitals-probe/", env!("CARGO_PKG_VERSION")),
            )
            .header(ACCEPT, "*/*")
            .body(Empty::new())
            .map_err(|e| format!("invalid URL: {e}"))?;
        let response = client.request(request).await.map_err(|e| {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(inner) = source {
                message = format!("{message}: {inner}");
                source = inner.source();
            }
            message
        })?;
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok());
        match (status.as_u16(), location) {
            (300..=399, Some(location)) => {
                let next = resolve(&uri, location)?;
                if next.host() != uri.host() {
                    // The kubelet does not follow it either, and calls the probe a success.
                    return Ok(());
                }
                uri = next;
            }
            (200..=399, _) => return Ok(()),
            _ => return Err(format!("answered {status}")),
        }
    }
    Err(format!("stopped after {MAX_REDIRECTS} redirects"))
}

/// A `Location` resolved against the URL that answered it: absolute, or a path on the same
/// host.
fn resolve(base: &Uri, location: &str) -> Result<Uri, String> {
    let invalid = |e: &dyn std::fmt::Display| format!("invalid redirect {location:?}: {e}");
    let parsed: Uri = location.parse().map_err(|e| invalid(&e))?;
    if parsed.scheme().is_some() {
        return Ok(parsed);
    }
    let path = if location.starts_with('/') {
        location.to_owned()
    } else {
        let dir = base.path().rsplit_once('/').map_or("", |(dir, _)| dir);
        format!("{dir}/{location}")
    };
    let mut parts = base.clone().into_parts();
    parts.path_and_query = Some(path.parse().map_err(|e| invalid(&e))?);
    Uri::from_parts(parts).map_err(|e| invalid(&e))
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
        Err(message) if message == HELP => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("vitals-probe: {message}");
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
        assert!(args(&["https://x/readyz"]).is_ok());
        assert_eq!(args(&["--help"]).unwrap_err(), HELP);
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

    #[test]
    fn redirects_resolve_against_the_url_that_answered() {
        let base: Uri = "http://127.0.0.1:5000/health/readyz?x=1".parse().unwrap();
        let at = |l: &str| resolve(&base, l).unwrap().to_string();
        assert_eq!(at("/livez"), "http://127.0.0.1:5000/livez");
        assert_eq!(at("ok"), "http://127.0.0.1:5000/health/ok");
        assert_eq!(at("https://other:1/x"), "https://other:1/x");
    }
}
