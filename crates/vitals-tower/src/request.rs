//! Parsing a probe request and deciding how it is answered.
use std::time::Duration;

use http::{
    HeaderMap, HeaderValue, Method, StatusCode,
    header::{ACCEPT, ALLOW},
    request::Parts,
};
use tower_service::Service;
use vitals_core::{Probe, ReportOptions};

use crate::{
    ResponseFuture, Shared,
    answer::{Format, plain, render},
};

/// The longest `?timeout=` accepted.
const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// What the query string asked for.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Query {
    pub(crate) verbose: bool,
    pub(crate) exclude: Vec<String>,
    pub(crate) timeout: Option<Duration>,
}

/// What a probe request asks: which probe, and (`/readyz/NAME`) which one check.
pub(crate) struct Target {
    pub(crate) probe: Probe,
    pub(crate) check: Option<String>,
}

pub(crate) fn answer<S: Service<Req>, Req, M>(
    target: Target,
    parts: Parts,
    shared: &Shared,
) -> ResponseFuture<S, Req, M> {
    let health = &shared.health;
    let probe = target.probe;
    let head = match parts.method {
        Method::GET => false,
        Method::HEAD => true,
        _ => {
            let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return ResponseFuture::ready(response);
        }
    };
    let query = match parse_query(parts.uri.query().unwrap_or("")) {
        Ok(query) => query,
        Err(message) => return ResponseFuture::ready(plain(StatusCode::BAD_REQUEST, &message)),
    };
    let format = negotiate(&parts.headers);
    // Details only for the callers the policy admits; the status code is everyone's.
    let verbose = (shared.verbose || query.verbose) && shared.details.allowed(&parts);
    // Terse and answerable from the cache: no report, no boxed future, static body bytes.
    if !verbose
        && query.exclude.is_empty()
        && target.check.is_none()
        && let Some(status) = health.cached_status(probe)
    {
        return ResponseFuture::terse(status, probe, format, head);
    }
    let mut options = ReportOptions::new();
    if let Some(check) = target.check {
        options = options.only(check);
    }
    for name in query.exclude {
        options = options.exclude(name);
    }
    if let Some(timeout) = query.timeout {
        options = options.wait_at_most(timeout);
    }
    let health = health.clone();
    ResponseFuture::later(Box::pin(async move {
        let report = health.report(probe, &options).await;
        render(&report, format, verbose, head)
    }))
}

/// `verbose` (bare, or `=true`/`1`/`false`/`0`), `exclude=NAME` (repeatable), `timeout=2s`.
/// Other parameters are ignored, as the Kubernetes apiserver does.
pub(crate) fn parse_query(query: &str) -> Result<Query, String> {
    let mut out = Query::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = match pair.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (pair, None),
        };
        match key {
            "verbose" => {
                out.verbose = match value.map(percent_decode).as_deref() {
                    None | Some("" | "true" | "1") => true,
                    Some("false" | "0") => false,
                    Some(other) => {
                        return Err(format!(
                            "invalid verbose={other:?}: expected no value, true, false, 1 or 0\n"
                        ));
                    }
                }
            }
            "exclude" => {
                let name = percent_decode(value.unwrap_or(""));
                if name.is_empty() {
                    return Err("invalid exclude: expected exclude=CHECK_NAME\n".to_owned());
                }
                out.exclude.push(name);
            }
            "timeout" => {
                let raw = percent_decode(value.unwrap_or(""));
                match humantime::parse_duration(raw.trim()) {
                    Ok(d) if !d.is_zero() && d <= MAX_TIMEOUT => out.timeout = Some(d),
                    _ => {
                        return Err(format!(
                            "invalid timeout={raw:?}: expected a duration from 1ms to 5m, such as 2s or 500ms\n"
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Picks the body format from `Accept`: the supported type with the highest `q`, the first
/// listed on ties; health+json when nothing listed is supported.
pub(crate) fn negotiate(headers: &HeaderMap) -> Format {
    let mut best: Option<(f32, Format)> = None;
    for value in headers.get_all(ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut params = range.split(';');
            let media = params.next().unwrap_or("").trim();
            let q = params
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let is = |name: &str| media.eq_ignore_ascii_case(name);
            let format =
                if is("application/health+json") || is("application/json") || is("application/*") {
                    Format::HealthJson
                } else if is("text/plain") || is("text/*") {
                    Format::Text
                } else {
                    continue;
                };
            if q > 0.0 && best.is_none_or(|(best_q, _)| q > best_q) {
                best = Some((q, format));
            }
        }
    }
    best.map_or(Format::HealthJson, |(_, format)| format)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Format {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_str(value).unwrap());
        negotiate(&headers)
    }

    #[test]
    fn accept_picks_the_preferred_supported_format() {
        assert_eq!(negotiate(&HeaderMap::new()), Format::HealthJson);
        assert_eq!(accept("text/plain"), Format::Text);
        assert_eq!(
            accept("text/html, text/plain;q=0.9, application/json;q=0.5"),
            Format::Text
        );
        assert_eq!(
            accept("text/plain;q=0.1, application/health+json"),
            Format::HealthJson
        );
        assert_eq!(accept("image/png"), Format::HealthJson);
        assert_eq!(accept("*/*"), Format::HealthJson);
        assert_eq!(accept("text/plain;q=0"), Format::HealthJson);
    }

    #[test]
    fn queries_parse_and_junk_is_rejected() {
        let q = parse_query("verbose&exclude=redis&exclude=mon%67o&timeout=1500ms&x=y").unwrap();
        assert_eq!(
            q,
            Query {
                verbose: true,
                exclude: vec!["redis".into(), "mongo".into()],
                timeout: Some(Duration::from_millis(1500)),
            }
        );
        assert!(!parse_query("verbose=false").unwrap().verbose);
        for bad in [
            "timeout=abc",
            "timeout=0s",
            "timeout=1h",
            "verbose=maybe",
            "exclude=",
        ] {
            let err = parse_query(bad).unwrap_err();
            assert!(err.starts_with("invalid "), "{bad}: {err}");
        }
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%e2%9c%93"), "✓");
    }

    mod fuzz {
        use proptest::prelude::*;

        use super::super::*;

        fn encode(s: &str) -> String {
            s.bytes().map(|b| format!("%{b:02X}")).collect()
        }

        proptest! {
            #[test]
            fn any_query_parses_or_is_refused_without_panicking(query in ".{0,200}") {
                let _ = parse_query(&query);
            }

            #[test]
            fn percent_encoded_exclude_names_round_trip(name in "\\PC{1,40}") {
                let q = parse_query(&format!("exclude={}", encode(&name))).unwrap();
                prop_assert_eq!(q.exclude, vec![name]);
            }

            #[test]
            fn any_accept_header_negotiates_without_panicking(value in "[ -~]{0,200}") {
                let mut headers = HeaderMap::new();
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(ACCEPT, v);
                }
                let _ = negotiate(&headers);
            }
        }
    }
}
