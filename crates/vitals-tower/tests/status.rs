//! StatusPage against a real registry (in-process): the data as JSON and HTML, who sees
//! outputs, badges, and live events pushed by the registry.
use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;
use vitals_core::{Backoff, Check, CheckError, CheckOptions, Details, Health, Probe, async_trait};
use vitals_tower::{ClientAddr, DetailsPolicy, StatusBody, StatusPage};

struct Switch {
    name: &'static str,
    up: Arc<AtomicBool>,
}

#[async_trait]
impl Check for Switch {
    fn name(&self) -> &str {
        self.name
    }
    async fn check(&self) -> Result<Details, CheckError> {
        if self.up.load(Ordering::SeqCst) {
            Ok(Details::new())
        } else {
            Err(CheckError::new(
                "connection refused to redis://:pw-planted-9@cache:6379 <b>",
            ))
        }
    }
}

fn registry() -> (Health, Arc<AtomicBool>) {
    let up = Arc::new(AtomicBool::new(true));
    // A TTL of zero: each `run` runs the checks again.
    let health = Health::builder()
        .backoff(Backoff::none())
        .ttl(std::time::Duration::ZERO)
        .register(Switch {
            name: "db<1>",
            up: up.clone(),
        })
        .register_with(
            Switch {
                name: "cache",
                up: Arc::new(AtomicBool::new(true)),
            },
            CheckOptions::new().non_critical(),
        )
        .build();
    (health, up)
}

async fn get(
    page: &StatusPage,
    path: &str,
    from: [u8; 4],
    accept: &str,
) -> (StatusCode, http::HeaderMap, StatusBody) {
    let mut request = Request::get(path)
        .header(header::ACCEPT, accept)
        .body(())
        .unwrap();
    request
        .extensions_mut()
        .insert(ClientAddr(SocketAddr::from((from, 40_000))));
    let response = page.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body)
}

async fn text(body: StatusBody) -> String {
    String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

const LOOPBACK: [u8; 4] = [127, 0, 0, 1];
const REMOTE: [u8; 4] = [10, 1, 2, 3];

#[tokio::test]
async fn json_has_every_check_and_outputs_only_for_trusted_callers() {
    let (health, up) = registry();
    health.run(Probe::All).await;
    up.store(false, Ordering::SeqCst);
    health.run(Probe::All).await;
    let page = StatusPage::new(health);

    let (status, headers, body) = get(&page, "/status", LOOPBACK, "application/json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let json: serde_json::Value = serde_json::from_str(&text(body).await).unwrap();
    assert_eq!(json["status"], "fail");
    let db = &json["checks"][0];
    assert_eq!(
        (db["name"].as_str(), db["status"].as_str()),
        (Some("db<1>"), Some("fail"))
    );
    assert_eq!(db["runs"].as_array().unwrap().len(), 2);
    assert_eq!(db["uptime"]["1h"], 0.5);
    let error = db["last_error"].as_str().unwrap();
    assert!(error.starts_with("connection refused"), "{error}");
    assert!(!error.contains("pw-planted-9"), "scrubbed: {error}");
    assert_eq!(json["checks"][1]["critical"], false);

    let (_, _, body) = get(&page, "/status", REMOTE, "application/json").await;
    let remote = text(body).await;
    assert!(
        !remote.contains("last_error") && !remote.contains("connection refused"),
        "{remote}"
    );
    assert!(
        remote.contains("\"status\":\"fail\""),
        "statuses still: {remote}"
    );

    let never = page.clone().details(DetailsPolicy::Never);
    assert_eq!(
        get(&never, "/status", LOOPBACK, "text/html").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&never, "/status/events", LOOPBACK, "*/*").await.0,
        StatusCode::NOT_FOUND
    );
    // Badges are terse: they stay.
    assert_eq!(
        get(&never, "/status/badge.svg", REMOTE, "*/*").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn html_names_only_its_own_files_under_a_strict_csp_and_escapes_names() {
    let (health, up) = registry();
    up.store(false, Ordering::SeqCst);
    health.run(Probe::All).await;
    let page = StatusPage::new(health);
    let (status, headers, body) = get(&page, "/status", LOOPBACK, "text/html").await;
    assert_eq!(status, StatusCode::OK);
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(
        csp.contains("style-src 'self'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "no inline code: {csp}");
    let html = text(body).await;
    assert!(html.starts_with("<!doctype html>"));
    // No inline code for the CSP to refuse: the stylesheet and script are files of their own.
    assert!(
        !html.contains("<style") && !html.contains("<script>"),
        "{html}"
    );
    assert!(html.contains("<link rel=\"stylesheet\" href=\"/status/page.css\">"));
    assert!(html.contains("<script src=\"/status/page.js\" defer></script>"));
    let (status, headers, body) = get(&page, "/status/page.css", LOOPBACK, "text/css").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
    let css = text(body).await;
    // The badge's colour for a failure is the page's.
    let (_, _, badge) = get(&page, "/status/badge.svg", LOOPBACK, "*/*").await;
    let badge = text(badge).await;
    let fail = css
        .split("--fail:")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    assert!(
        badge.contains(&format!("fill=\"{fail}\"")),
        "{fail} in {badge}"
    );
    let (status, headers, body) = get(&page, "/status/page.js", LOOPBACK, "*/*").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert!(text(body).await.contains("EventSource"));
    assert!(
        html.contains("data-check=\"db&lt;1&gt;\" data-status=\"fail\""),
        "{html}"
    );
    assert!(html.contains("data-check=\"cache\" data-status=\"pass\""));
    // The error row escapes the output, which is scrubbed.
    assert!(html.contains("&lt;b&gt;") && !html.contains("<b>") && !html.contains("pw-planted-9"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no other origin"
    );
    let (_, _, body) = get(&page, "/status", REMOTE, "text/html").await;
    assert!(!text(body).await.contains("connection refused"));
}

#[tokio::test]
async fn badges_are_svg_with_the_status_or_uptime() {
    let (health, up) = registry();
    health.run(Probe::All).await;
    let page = StatusPage::new(health.clone());
    let (status, headers, body) = get(&page, "/status/badge.svg", REMOTE, "*/*").await;
    assert_eq!(
        (status, &headers[header::CONTENT_TYPE]),
        (
            StatusCode::OK,
            &"image/svg+xml".parse::<http::HeaderValue>().unwrap()
        )
    );
    let svg = text(body).await;
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"") && svg.ends_with("</svg>")
    );
    assert!(svg.contains("aria-label=\"status: pass\""), "{svg}");

    up.store(false, Ordering::SeqCst);
    health.run(Probe::All).await;
    let (_, _, body) = get(&page, "/status/badge/cache.svg", REMOTE, "*/*").await;
    assert!(text(body).await.contains("aria-label=\"cache: pass\""));
    let (_, _, body) = get(&page, "/status/badge.svg", REMOTE, "*/*").await;
    assert!(text(body).await.contains("aria-label=\"status: fail\""));
    let (status, _, _) = get(&page, "/status/badge/nope.svg", REMOTE, "*/*").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, _, body) = get(&page, "/status/badge/cache.svg?uptime=24h", REMOTE, "*/*").await;
    assert!(
        text(body)
            .await
            .contains("aria-label=\"cache uptime 24h: 100.00 %\"")
    );
}

#[tokio::test]
async fn events_start_with_the_state_and_follow_each_status_change() {
    let (health, up) = registry();
    health.run(Probe::All).await;
    let page = StatusPage::new(health.clone());
    let (status, headers, mut body) =
        get(&page, "/status/events", LOOPBACK, "text/event-stream").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/event-stream");
    // Each event is `event: status`, one `data:` line of the page's JSON, a blank line.
    let status_of = |bytes: bytes::Bytes| {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let data = text
            .strip_prefix("event: status\ndata: ")
            .and_then(|t| t.strip_suffix("\n\n"))
            .unwrap_or_else(|| panic!("not one event: {text:?}"));
        let json: serde_json::Value = serde_json::from_str(data).unwrap();
        json["status"].as_str().unwrap().to_owned()
    };
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(status_of(first), "pass");

    // A run that changes no status sends nothing; the next event is the change.
    health.run(Probe::All).await;
    up.store(false, Ordering::SeqCst);
    health.run(Probe::All).await;
    let next = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(status_of(next), "fail");

    // Draining ends the stream, so a graceful shutdown is not held open by viewers.
    health.drain();
    let mut rest = Vec::new();
    while let Some(frame) = body.frame().await {
        rest.push(frame.unwrap());
    }
    assert!(rest.len() <= 1, "at most the draining state, then the end");
}

#[tokio::test]
async fn the_pages_own_events_carry_its_redrawn_parts() {
    let (health, up) = registry();
    health.run(Probe::All).await;
    let page = StatusPage::new(health.clone());
    let data = |bytes: bytes::Bytes| -> serde_json::Value {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let data = text
            .strip_prefix("event: status\ndata: ")
            .and_then(|t| t.strip_suffix("\n\n"))
            .unwrap_or_else(|| panic!("not one event: {text:?}"));
        serde_json::from_str(data).unwrap()
    };
    // Other consumers get the JSON alone.
    let (_, _, mut plain) = get(&page, "/status/events", LOOPBACK, "text/event-stream").await;
    let first = data(plain.frame().await.unwrap().unwrap().into_data().unwrap());
    assert!(first.get("page").is_none(), "{first}");

    let (_, _, mut body) = get(&page, "/status/events?page", LOOPBACK, "text/event-stream").await;
    let first = data(body.frame().await.unwrap().unwrap().into_data().unwrap());
    assert_eq!(first["page"]["title"], "pass · status");
    up.store(false, Ordering::SeqCst);
    health.run(Probe::All).await;
    let next = data(body.frame().await.unwrap().unwrap().into_data().unwrap());
    // The parts are what the page itself shows now: the same rows, the same header.
    let (_, _, html) = get(&page, "/status", LOOPBACK, "text/html").await;
    let html = text(html).await;
    assert_eq!(next["page"]["title"], "fail · status");
    let rows = next["page"]["rows"].as_str().unwrap();
    assert!(
        rows.contains("data-check=\"db&lt;1&gt;\" data-status=\"fail\""),
        "{rows}"
    );
    // The same rows as the page, in the same order (their "since" times may differ by the
    // milliseconds between the two renderings).
    let row_heads = |html: &str| -> Vec<String> {
        html.split("<tr id=")
            .skip(1)
            .map(|row| row[..row.find('>').unwrap()].to_owned())
            .collect()
    };
    assert_eq!(row_heads(rows), row_heads(&html));
    assert_eq!(row_heads(rows).len(), 2, "{rows}");
    let summary = next["page"]["summary"].as_str().unwrap();
    assert!(summary.starts_with("<header id=\"summary\">"), "{summary}");
}

#[tokio::test]
async fn event_streams_beyond_the_budget_are_refused_in_words_until_one_closes() {
    let (health, _up) = registry();
    health.run(Probe::All).await;
    let page = StatusPage::new(health).max_event_streams(2);
    let first = get(&page, "/status/events", LOOPBACK, "text/event-stream").await;
    let second = get(&page, "/status/events", LOOPBACK, "text/event-stream").await;
    assert_eq!((first.0, second.0), (StatusCode::OK, StatusCode::OK));

    let (status, headers, body) = get(&page, "/status/events", LOOPBACK, "text/event-stream").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::RETRY_AFTER], "30");
    let text = String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(text.contains("as many live viewers as it allows"), "{text}");
    // The page itself still loads.
    let (status, ..) = get(&page, "/status", LOOPBACK, "text/html").await;
    assert_eq!(status, StatusCode::OK);

    // A viewer leaves: its place is given back.
    drop(first);
    let (status, ..) = get(&page, "/status/events", LOOPBACK, "text/event-stream").await;
    assert_eq!(status, StatusCode::OK);
}
