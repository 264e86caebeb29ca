//! The status page in a real browser: Debian's chromium, headless, driven by Playwright
//! (`tests/browser/status-page.js`). Every check has its row; a Redis that dies turns its row
//! to warn without a reload; no console error; no request leaves the page's origin; a
//! screenshot is written as an artifact and is not blank; the badge is an SVG document.
use crate::common;

use std::{path::PathBuf, process::Stdio, time::Duration};

use common::{root, server_binary, start_server};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use vitals_testkit::RedisServer;

/// Where test artifacts go: beside the build, `target/test-artifacts`.
fn artifacts() -> PathBuf {
    let dir = server_binary()
        .parent()
        .and_then(|debug| debug.parent())
        .map(|target| target.join("test-artifacts"))
        .expect("the server binary is inside the target directory");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn the_page_lists_every_check_and_follows_a_failure_live() {
    let mut redis = RedisServer::start();
    let redis_uri = redis.url();
    let env = [
        ("REDIS_URI", redis_uri.as_str()),
        ("REDIS_CONNECT_TIMEOUT_MS", "500"),
        ("DISK_SPACE_PATH", "/"),
        ("DISK_SPACE_THRESHOLD_MB", "0"),
        ("HEALTH_CHECK_RETRIES", "0"),
        ("HEALTH_CHECK_INTERVAL_MS", "200"),
    ];
    let (mut server, addr, _log) = start_server(&env).await;
    let screenshot = artifacts().join("status-page.png");
    let _ = std::fs::remove_file(&screenshot);
    let profile = tempfile::tempdir().unwrap();
    let mut browser = tokio::process::Command::new("node")
        .arg(root().join("crates/vitals-server/tests/browser/status-page.js"))
        .arg(format!("http://{addr}/status"))
        .arg(&screenshot)
        .arg(profile.path())
        .env("NODE_PATH", "/usr/local/lib/vitals-test-deps/node_modules")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node (scripts/install-test-deps installs Node.js, Chromium and playwright-core)");
    let mut lines = BufReader::new(browser.stdout.take().unwrap()).lines();
    let mut next = async || -> serde_json::Value {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the browser answers within a minute")
            .unwrap()
            .expect("the browser script printed a line");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    };

    let ready = next().await;
    assert_eq!(ready["ready"], true, "{ready}");
    let rows: Vec<(String, String)> = serde_json::from_value(ready["rows"].clone()).unwrap();
    let names: Vec<&str> = rows.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        ["redis", "disk"],
        "every configured check has its row"
    );

    // Redis dies: its row turns to warn (Redis is non-critical) without a reload.
    redis.stop();
    let mut stdin = browser.stdin.take().unwrap();
    stdin.write_all(b"go\n").await.unwrap();
    let verdict = next().await;
    assert_eq!(verdict["done"], true, "{verdict}");
    assert_eq!(verdict["consoleErrors"], serde_json::json!([]), "{verdict}");
    assert_eq!(verdict["foreign"], serde_json::json!([]), "{verdict}");
    assert_eq!(verdict["navigations"], 1, "no reload: {verdict}");
    // The event carried the new rows: the page was not fetched again (and the CSP, which
    // allows no inline code, raised no console error above).
    assert_eq!(verdict["refetches"], 0, "{verdict}");
    // Loopback is trusted: the Redis check's error is on the page, in the driver's words
    // (the kept connection closed or timed out, or a new one was refused: which one depends
    // on where the run was when Redis went).
    let error = verdict["error"].as_str().unwrap_or("");
    assert!(
        error.starts_with("PING failed: ") || error.starts_with("connect to 127.0.0.1:"),
        "{verdict}"
    );
    let (shot, blank) = (
        verdict["screenshotBytes"].as_u64().unwrap(),
        verdict["blankBytes"].as_u64().unwrap(),
    );
    assert!(
        shot > 3 * blank,
        "the screenshot is not blank: {shot} vs {blank} bytes"
    );
    assert_eq!(std::fs::metadata(&screenshot).unwrap().len(), shot);
    assert_eq!(verdict["svg"], "status: warn", "{verdict}");

    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(30), browser.wait())
        .await
        .expect("the browser script ends after its verdict")
        .unwrap();
    assert!(status.success());
    server.kill().await.unwrap();
}
