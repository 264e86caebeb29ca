//! Rendering a probe's answer: status code, headers and body bytes.
use bytes::Bytes;
use http::{
    HeaderValue, Response, StatusCode,
    header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE},
};
use vitals_core::{Probe, Report, Status};

pub(crate) const HEALTH_JSON: &str = "application/health+json";
pub(crate) const TEXT: &str = "text/plain; charset=utf-8";

/// The body format a client asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    HealthJson,
    Text,
}

pub(crate) fn render(
    report: &Report,
    format: Format,
    verbose: bool,
    head: bool,
) -> Response<Bytes> {
    let (body, content_type) = match format {
        Format::HealthJson => (report.to_health_json(verbose), HEALTH_JSON),
        Format::Text => (report.to_text(verbose), TEXT),
    };
    status_answer(report.status, content_type, Bytes::from(body), head)
}

/// A terse answer from static bytes.
pub(crate) fn terse(status: Status, probe: Probe, format: Format, head: bool) -> Response<Bytes> {
    let (body, content_type): (&'static str, _) = match (format, status) {
        (Format::HealthJson, Status::Pass) => (r#"{"status":"pass"}"#, HEALTH_JSON),
        (Format::HealthJson, Status::Warn) => (r#"{"status":"warn"}"#, HEALTH_JSON),
        (Format::HealthJson, Status::Fail) => (r#"{"status":"fail"}"#, HEALTH_JSON),
        (Format::Text, s) if s.is_serving() => ("ok\n", TEXT),
        (Format::Text, _) => (probe.failed_line(), TEXT),
    };
    status_answer(
        status,
        content_type,
        Bytes::from_static(body.as_bytes()),
        head,
    )
}

/// A probe answer: 200 when serving, 503 otherwise; for `HEAD` the length without the body.
fn status_answer(
    status: Status,
    content_type: &'static str,
    body: Bytes,
    head: bool,
) -> Response<Bytes> {
    let length = body.len();
    let code = if status.is_serving() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut response = respond(code, content_type, if head { Bytes::new() } else { body });
    response
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(length));
    response
}

pub(crate) fn plain(status: StatusCode, message: &str) -> Response<Bytes> {
    respond(status, TEXT, Bytes::copy_from_slice(message.as_bytes()))
}

/// A response of the layer's own, never cached by intermediaries.
fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Bytes> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
