//! Helpers for end-to-end tests that run the built binaries and examples as processes: an
//! HTTP/1.1 client that reports what came back, starting a server or an example and reading
//! its address from its log, the drain's SIGTERM, polling, and the pinned outside tools
//! (Python, kubectl's Kustomize, checkov). vitals-server's tests and the repository's root
//! tests share them.

use std::{net::SocketAddr, path::PathBuf, process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    process::{Child, Command},
    sync::mpsc::UnboundedReceiver,
};

/// Runs `command` to its end, within `limit`: what it printed and how it exited. A process
/// still running after `limit` (serving instead of exiting) fails the test.
pub async fn output_within(command: &mut Command, limit: Duration) -> std::process::Output {
    tokio::time::timeout(limit, command.output())
        .await
        .unwrap_or_else(|_| panic!("{command:?} did not exit within {limit:?}"))
        .expect("the process starts")
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers, in order, as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: String,
}

impl HttpResponse {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request over a fresh connection (`Connection: close`) and reads the response.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> HttpResponse {
    let mut stream = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect(addr),
    )
    .await
    .expect("connect timed out")
    .expect("connect");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .expect("response timed out")
        .unwrap();
    parse(&String::from_utf8_lossy(&raw))
}

fn parse(raw: &str) -> HttpResponse {
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .expect("a complete response head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// A program cargo built in this test's profile: `target/<profile>/<relative>` (the test
/// itself runs from `target/<profile>/deps/`).
fn built(relative: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(relative);
    assert!(
        path.exists(),
        "{relative} is not built at {}: scripts/test builds every binary and example first",
        path.display()
    );
    path
}

/// The path of a built example.
pub fn example(name: &str) -> PathBuf {
    built(&format!("examples/{name}"))
}

/// The `vitals-server` binary (for vitals-server's own tests, cargo builds it first).
pub fn server_binary() -> PathBuf {
    built("vitals-server")
}

/// The repository's root (README, deploy/).
pub fn root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").exists())
        .expect("the workspace root holds Cargo.lock")
        .to_path_buf()
}

/// Starts an example with a clean environment plus `env` and `PORT=0`, and returns it with the
/// address it logged (`listening on …`) and a channel of its log lines.
pub async fn start_example(
    name: &str,
    env: &[(&str, &str)],
) -> (Child, SocketAddr, UnboundedReceiver<String>) {
    spawn_example(Command::new(example(name)), name, env).await
}

/// Starts `vitals-server` as [`start_example`] starts an example.
pub async fn start_server(env: &[(&str, &str)]) -> (Child, SocketAddr, UnboundedReceiver<String>) {
    spawn_example(Command::new(server_binary()), "vitals-server", env).await
}

/// `vitals-server` inside a network namespace of its own (`unshare --net`): nothing but a
/// downed loopback, so a DNS lookup fails at once without sending a packet anywhere. Only its
/// log can be read from outside.
pub async fn start_server_without_network(
    env: &[(&str, &str)],
) -> (Child, SocketAddr, UnboundedReceiver<String>) {
    let mut cmd = Command::new("unshare");
    cmd.arg("--net").arg("--").arg(server_binary());
    spawn_example(cmd, "vitals-server", env).await
}

/// Like [`start_example`], for a command that runs the example (`ip netns exec …`).
pub async fn spawn_example(
    mut cmd: Command,
    name: &str,
    env: &[(&str, &str)],
) -> (Child, SocketAddr, UnboundedReceiver<String>) {
    cmd.env_clear()
        .env("PORT", "0")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn the example");
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
        panic!("{name} exited before listening");
    })
    .await
    .expect("the example did not start listening within 30 s");
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(line);
        }
    });
    (child, addr, rx)
}

/// Waits until a log line contains `needle`, or panics after 20 s.
pub async fn wait_for_log(log: &mut UnboundedReceiver<String>, needle: &str) -> String {
    tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = log.recv().await {
            if line.contains(needle) {
                return line;
            }
        }
        panic!("log ended without {needle:?}");
    })
    .await
    .unwrap_or_else(|_| panic!("no log line with {needle:?} within 20 s"))
}

/// Sends SIGTERM to a running example.
pub fn sigterm(child: &Child) {
    let pid = child.id().expect("the example is running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success(), "kill -TERM {pid}");
}

/// Polls `path` until `accept` holds for the parsed JSON body, or panics after 20 s.
pub async fn poll_until(
    addr: SocketAddr,
    path: &str,
    what: &str,
    accept: impl Fn(u16, &serde_json::Value) -> bool,
) -> serde_json::Value {
    poll_until_within(addr, path, what, Duration::from_secs(20), accept).await
}

/// [`poll_until`] with a deadline of `limit` (what waits on other processes, such as a
/// Prometheus scrape and reading, needs longer).
pub async fn poll_until_within(
    addr: SocketAddr,
    path: &str,
    what: &str,
    limit: Duration,
    accept: impl Fn(u16, &serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let res = http(addr, "GET", path, &[]).await;
        let json: serde_json::Value = serde_json::from_str(&res.body).unwrap_or_else(|e| {
            panic!(
                "{path} answered {}: not JSON ({e}): {}",
                res.status, res.body
            )
        });
        if accept(res.status, &json) {
            return json;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never saw {what}; last: {} {json}",
            res.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls the verbose readiness text (`/readyz?verbose`, `text/plain`) until the line of the
/// check called `check` satisfies `ready`, and returns it; panics after 200 polls 100 ms apart.
pub async fn verbose_line(addr: SocketAddr, check: &str, ready: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..200 {
        let text = http(addr, "GET", "/readyz?verbose", &[("accept", "text/plain")]).await;
        if let Some(line) = text.body.lines().find(|l| l.contains(check)) {
            last = line.to_owned();
            if ready(line) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the {check} line never matched; last: {last}");
}

/// Runs the test virtualenv's Python (`scripts/install-test-deps`) in the repository root.
pub fn python(args: &[&str]) -> std::process::Output {
    std::process::Command::new("vitals-test-python")
        .args(args)
        .current_dir(root())
        .output()
        .expect("vitals-test-python (scripts/install-test-deps installs it)")
}

/// Renders a Kustomize folder (relative to the repository root) offline with the pinned kubectl
/// (`scripts/install-test-deps`), as `kubectl apply -k` would before sending it.
pub fn kustomize(dir: &str) -> String {
    let out = std::process::Command::new("vitals-test-kubectl")
        .args(["kustomize", dir])
        .current_dir(root())
        .output()
        .expect("vitals-test-kubectl (scripts/install-test-deps installs it)");
    assert!(
        out.status.success(),
        "kubectl kustomize {dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// checkov over `dir` with the configuration file `config` (both relative to the repository
/// root, `dir` may be absolute): no failed check, and every skipped check has a comment with
/// its reason right above it.
pub fn checkov(dir: &str, config: &str) {
    let out = python(&[
        "-m",
        "checkov.main",
        "-d",
        dir,
        "--config-file",
        config,
        "--compact",
        "--quiet",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("Failed checks: 0"),
        "checkov {dir}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(root().join(config)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("- CKV") {
            let reason = lines[..i]
                .iter()
                .rev()
                .take_while(|l| {
                    l.trim_start().starts_with('#') || l.trim_start().starts_with("- CKV")
                })
                .any(|l| l.trim_start().starts_with('#'));
            assert!(
                reason,
                "{config}: {line} is skipped without a reason above it"
            );
        }
    }
}
