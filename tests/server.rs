//! `examples/server.rs` as a process: serves the probes, rejects bad configuration.
mod common;

use std::{net::SocketAddr, process::Stdio, time::Duration};

use common::{example, http};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// Starts the server on a free port and returns it with its address (read from its log).
async fn start(
    env: &[(&str, &str)],
) -> (
    Child,
    SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let mut cmd = Command::new(example("server"));
    cmd.env_clear()
        .env("PORT", "0")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn the server example");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let _ = tx.send(line.clone());
            if let Some(addr) = line.split("listening on ").nth(1) {
                let port: u16 = addr.trim().rsplit(':').next().unwrap().parse().unwrap();
                return SocketAddr::from(([127, 0, 0, 1], port));
            }
        }
        panic!("server exited before listening");
    })
    .await
    .expect("server did not start listening within 30 s");
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(line);
        }
    });
    (child, addr, rx)
}

#[tokio::test]
async fn serves_the_root_and_probe_paths_with_nothing_configured() {
    let (mut child, addr, mut log) = start(&[]).await;
    for path in ["/", "/livez", "/readyz", "/startupz", "/healthz"] {
        let res = http(addr, "GET", path, &[]).await;
        assert_eq!(res.status, 200, "{path}: {res:?}");
        assert_eq!(res.body, r#"{"status":"pass"}"#, "{path}");
    }
    let hello = http(addr, "GET", "/hello", &[]).await;
    assert_eq!((hello.status, hello.body.as_str()), (200, "hello\n"));
    assert_eq!(http(addr, "GET", "/nope", &[]).await.status, 404);

    let mut seen = Vec::new();
    while let Ok(line) = log.try_recv() {
        seen.push(line);
    }
    assert!(
        seen.iter()
            .any(|l| l.contains("no backend checks configured")),
        "{seen:#?}"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn sigterm_drains_readiness_and_exits_cleanly() {
    let (mut child, addr, _log) = start(&[]).await;
    assert_eq!(http(addr, "GET", "/readyz", &[]).await.status, 200);
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn bad_configuration_exits_non_zero_naming_the_variable() {
    let cases = [
        ("HEALTH_CHECK_RETRIES", "abc"),
        ("HEALTH_CHECK_RETRY_DELAY_MS", "-1"),
        ("HEALTH_CHECK_MAX_RETRY_DELAY_MS", "1.5"),
        ("SKIP_HEALTH_CHECKS", "mongodb"),
        ("PORT", "99999"),
        ("HEALTH_CHECK_INTERVAL_MS", ""),
    ];
    for (var, value) in cases {
        let out = tokio::process::Command::new(example("server"))
            .env_clear()
            .env(var, value)
            .env("PORT", if var == "PORT" { value } else { "0" })
            .output();
        let out = tokio::time::timeout(Duration::from_secs(30), out)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("{var}={value:?} is invalid: expected")),
            "{var}={value}: {stderr}"
        );
    }
}
