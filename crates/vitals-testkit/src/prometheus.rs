use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::process::{require_binary, start_on_free_port, stop, temp_dir, try_wait_for_port};

/// Debian's Prometheus server on a loopback port, scraping every second the targets
/// [`PrometheusServer::set_targets`] names (a file-based service discovery file, re-read
/// within a second), with its data in a temporary directory; killed on drop.
pub struct PrometheusServer {
    child: Option<Child>,
    port: u16,
    targets: PathBuf,
    dir: tempfile::TempDir,
}

impl PrometheusServer {
    /// Starts Prometheus with no targets yet.
    pub fn start() -> PrometheusServer {
        let dir = temp_dir("vitals-prometheus-");
        let targets = dir.path().join("targets.json");
        std::fs::write(&targets, "[]").expect("write the targets file");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: vitals\n    file_sd_configs:\n      - files: ['{}']\n        refresh_interval: 1s\n",
                targets.display()
            ),
        )
        .expect("write the Prometheus configuration");
        let mut server = PrometheusServer {
            child: None,
            port: 0,
            targets,
            dir,
        };
        start_on_free_port(60_000, |port| {
            server.port = port;
            server.try_spawn(&config)
        });
        server
    }

    fn try_spawn(&mut self, config: &std::path::Path) -> Result<(), String> {
        let mut child = Command::new(require_binary("prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                self.dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start prometheus: {e}"));
        try_wait_for_port(self.addr(), &mut child, "prometheus")?;
        self.child = Some(child);
        // Listening comes before ready (the TSDB opens): wait for /-/ready.
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let ready = self.get("/-/ready");
            if ready.is_some_and(|r| r.lines().next().is_some_and(|l| l.contains(" 200 "))) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("prometheus did not become ready within 20 s".to_owned())
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Its URL, for `HEALTH_PROMETHEUS_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Scrapes exactly `targets` from now on (each `/metrics`, every second).
    pub fn set_targets(&self, targets: &[SocketAddr]) {
        let list: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
        let json = format!("[{{\"targets\": [{}]}}]", list.join(", "));
        // Written whole, then renamed, so Prometheus never reads half a file.
        let next = self.targets.with_extension("next");
        std::fs::write(&next, json).expect("write the targets file");
        std::fs::rename(&next, &self.targets).expect("replace the targets file");
    }

    /// Stops it (as a crash would: no goodbye to anyone).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop(&mut child);
        }
    }

    /// An instant query's JSON answer, through the HTTP API.
    pub fn query(&self, query: &str) -> serde_json::Value {
        let encoded: String = query
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let response = self
            .get(&format!("/api/v1/query?query={encoded}"))
            .expect("Prometheus answers");
        let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"))
    }

    /// A plain HTTP/1.0 GET (so the answer is never chunked), the whole answer as text.
    fn get(&self, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect_timeout(&self.addr(), Duration::from_secs(1)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n",
            self.addr()
        )
        .ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        Some(answer)
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        self.stop();
    }
}
