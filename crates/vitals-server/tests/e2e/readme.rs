//! The README's sample outputs are what the server prints, so they cannot drift.
use crate::common;

use std::{net::TcpListener, time::Duration};

use common::{http, poll_until, server_binary, start_server};
use vitals_testkit::MongoServer;

/// The lines the README shows after the command line starting with `command`.
fn readme_output(command: &str) -> String {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let mut lines = readme.lines().skip_while(|l| !l.starts_with(command));
    assert!(
        lines.next().is_some(),
        "README.md has no `{command}` sample"
    );
    let mut out = String::new();
    for line in lines.take_while(|l| !l.starts_with("$ ") && !l.starts_with("```")) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Polls `path` as text until `done` holds for the body (a result for every check, no run in
/// progress), or panics after 30 s.
async fn text_when(addr: std::net::SocketAddr, path: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let res = http(addr, "GET", path, &[("accept", "text/plain")]).await;
        if done(&res.body) {
            return res.body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never settled: {}",
            res.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every check has a result and no run is in progress (the line a user reads between runs).
fn settled(body: &str) -> bool {
    !body.contains("no result yet") && !body.contains("(running: ") && !body.contains("(retrying: ")
}

/// The README's recipe with the defaults a user has: jongodb for MongoDB, nothing listening
/// for Redis (a free port here, shown as the README's 6390).
#[tokio::test]
async fn the_verbose_readiness_sample_is_what_a_configured_server_prints() {
    let mongo = MongoServer::start();
    let refused = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let redis = format!("redis://{refused}");
    let (mut child, addr, _log) =
        start_server(&[("MONGO_URI", &mongo.uri()), ("REDIS_URI", &redis)]).await;
    let body = text_when(addr, "/readyz?verbose", settled).await;
    let printed = body.replace(&refused.to_string(), "127.0.0.1:6390");
    assert_eq!(
        readme_output("$ curl -s 'localhost:5000/readyz?verbose'"),
        printed,
        "README.md's /readyz?verbose sample is out of date"
    );
    child.kill().await.unwrap();
}

/// The README's claims about a refused MongoDB, with the defaults: the first result comes
/// after 4 attempts and the delays between them (~7 s), not after 4 server selection timeouts
/// (4 × 30 s); at info the log says it once, not once per run.
#[tokio::test]
async fn a_refused_mongodb_is_reported_after_four_quick_attempts_and_logged_once() {
    let refused = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let uri = format!("mongodb://{refused}");
    let (mut child, addr, mut log) = start_server(&[("MONGO_URI", &uri)]).await;
    let first = poll_until(addr, "/readyz/mongo?verbose", "the first result", |_, j| {
        j["checks"]["mongo"][0]["source"] == "background"
    })
    .await;
    let result = &first["checks"]["mongo"][0];
    assert_eq!(result["attempts"], 4, "{result}");
    let run_ms = result["observedValue"].as_u64().unwrap();
    let selection_ms = vitals_mongodb::DEFAULT_SERVER_SELECTION_TIMEOUT.as_millis() as u64;
    assert!(
        run_ms < selection_ms,
        "the run took {run_ms} ms: an attempt waited out the {selection_ms} ms selection timeout"
    );
    let body = text_when(addr, "/readyz/mongo?verbose", settled).await;
    assert_eq!(
        readme_output("$ curl -s 'localhost:5000/readyz/mongo?verbose'"),
        body.replace(&refused.to_string(), "127.0.0.1:27999"),
        "README.md's refused MongoDB sample is out of date"
    );

    // A second run with the same outcome says nothing at info.
    let time = result["time"].clone();
    poll_until(addr, "/readyz/mongo?verbose", "a second run", |_, j| {
        j["checks"]["mongo"][0]["time"] != time
    })
    .await;
    child.kill().await.unwrap();
    let mut lines = Vec::new();
    while let Ok(line) = log.try_recv() {
        lines.push(line);
    }
    let after_start: Vec<&String> = lines
        .iter()
        .skip_while(|l| !l.contains("listening on"))
        .skip(1)
        .collect();
    assert_eq!(after_start.len(), 1, "{after_start:#?}");
    assert!(
        after_start[0].contains(" WARN ")
            && after_start[0].contains("check status changed")
            && after_start[0].contains("connection refused"),
        "{}",
        after_start[0]
    );
}

/// What `curl -i` prints for `GET /`: the status line, the headers as sent, a blank line and
/// the body (curl keeps the connection open, so neither side adds `connection: close`). The
/// `date` header's value is the one thing that changes; the README shows it as `…`.
async fn curl_i(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost:5000\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let response = loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer within 10 s")
            .unwrap();
        assert!(n > 0, "the server closed the connection early");
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .expect("a content-length")
                .parse()
                .unwrap();
            if body.len() >= length {
                break text;
            }
        }
    };
    let mut out = String::new();
    for line in response.split("\r\n") {
        let line = match line.split_once(": ") {
            Some(("date", _)) => "date: …".to_owned(),
            _ => line.to_owned(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn the_curl_i_sample_is_what_the_server_answers() {
    let (mut child, addr, _log) = start_server(&[]).await;
    let printed = curl_i(addr, "/").await;
    assert_eq!(
        readme_output("$ curl -i localhost:5000/"),
        printed,
        "README.md's curl -i sample is out of date"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_configuration_error_sample_is_what_the_server_prints() {
    let out = tokio::process::Command::new(server_binary())
        .env_clear()
        .env("HEALTH_CHECK_RETRIES", "abc")
        .env("PORT", "x")
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        readme_output("$ HEALTH_CHECK_RETRIES=abc PORT=x vitals-server"),
        String::from_utf8_lossy(&out.stderr),
        "README.md's configuration error sample is out of date"
    );
}

/// The README's configuration table is the one `vitals-env` renders from the variables it reads.
#[test]
fn the_configuration_table_is_vitals_envs() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let start = "<!-- configuration table: vitals_env::markdown_table -->\n";
    let shown = readme
        .split_once(start)
        .and_then(|(_, rest)| rest.split_once("<!-- end -->"))
        .map(|(table, _)| table)
        .expect("README.md has the configuration table markers");
    let table = vitals_env::markdown_table();
    assert_eq!(
        shown, table,
        "README.md's configuration table is out of date; it should read:\n{table}"
    );
}
