//! The README's sample outputs are what the server prints, so they cannot drift.
mod common;

use std::{net::TcpListener, time::Duration};

use common::{example, http, poll_until, start_example};
use vitals_testkit::MongoServer;

/// The lines the README shows after the command line starting with `command`.
fn readme_output(command: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
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

#[tokio::test]
async fn the_verbose_readiness_sample_is_what_a_configured_server_prints() {
    let mongo = MongoServer::start();
    // Redis refuses (a cache: it warns), MongoDB answers.
    let refused = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let redis = format!("redis://{refused}");
    let (mut child, addr, _log) = start_example(
        "server",
        &[
            ("MONGO_URI", &mongo.uri()),
            ("REDIS_URI", &redis),
            ("HEALTH_CHECK_RETRIES", "0"),
            ("HEALTH_CHECK_INTERVAL_MS", "100"),
        ],
    )
    .await;
    poll_until(addr, "/readyz?verbose", "both results", |_, j| {
        ["mongo", "redis"]
            .iter()
            .all(|c| j["checks"][c][0]["source"] == "background")
    })
    .await;
    let text = http(addr, "GET", "/readyz?verbose", &[("accept", "text/plain")]).await;
    // The README's Redis listens where Redis usually does.
    let printed = text.body.replace(&refused.to_string(), "127.0.0.1:6379");
    assert_eq!(
        readme_output("$ curl -s 'localhost:5000/readyz?verbose'"),
        printed,
        "README.md's /readyz?verbose sample is out of date"
    );
    child.kill().await.unwrap();
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
    let (mut child, addr, _log) = start_example("server", &[]).await;
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
    let out = tokio::process::Command::new(example("server"))
        .env_clear()
        .env("HEALTH_CHECK_RETRIES", "abc")
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        readme_output("$ HEALTH_CHECK_RETRIES=abc cargo run --example server"),
        String::from_utf8_lossy(&out.stderr),
        "README.md's configuration error sample is out of date"
    );
}

/// The README's configuration table is the one `vitals-env` renders from the variables it reads.
#[test]
fn the_configuration_table_is_vitals_envs() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
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
