use std::{
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::{
    TestCa,
    process::{require_binary, start_on_free_port, stop, temp_dir, try_wait_for_port},
};

/// Builds a [`RedisServer`].
#[derive(Default)]
#[must_use]
pub struct RedisServerBuilder {
    tls: bool,
    password: Option<String>,
    cluster: bool,
    port: Option<u16>,
}

impl RedisServerBuilder {
    /// Serve TLS only, with a certificate from a fresh [`TestCa`].
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Require this password (`requirepass`).
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_owned());
        self
    }

    /// Start as a cluster node (`--cluster-enabled yes`).
    pub fn cluster_node(mut self) -> Self {
        self.cluster = true;
        self
    }

    /// Listen on this port instead of a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(self) -> RedisServer {
        let binary = require_binary("redis-server");
        let ca = self.tls.then(TestCa::new);
        let mut server = RedisServer {
            binary,
            port: self.port.unwrap_or(0),
            password: self.password,
            cluster: self.cluster,
            ca,
            dir: temp_dir("vitals-redis-"),
            child: None,
        };
        match self.port {
            Some(_) => server.spawn(),
            None => {
                let below = if self.cluster { 55_000 } else { 60_000 };
                start_on_free_port(below, |port| {
                    server.port = port;
                    server.try_spawn()
                });
            }
        }
        server
    }
}

/// A `redis-server` child process, killed on drop.
pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    password: Option<String>,
    cluster: bool,
    ca: Option<TestCa>,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// A plain server with no password.
    pub fn start() -> RedisServer {
        RedisServer::builder().start()
    }

    /// A builder for TLS, password or cluster mode.
    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    fn spawn(&mut self) {
        if let Err(message) = self.try_spawn() {
            panic!("{message}");
        }
    }

    fn try_spawn(&mut self) -> Result<(), String> {
        let mut cmd = Command::new(&self.binary);
        cmd.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        match &self.ca {
            Some(ca) => {
                cmd.args(["--port", "0", "--tls-port", &self.port.to_string()])
                    .arg("--tls-cert-file")
                    .arg(ca.cert_path())
                    .arg("--tls-key-file")
                    .arg(ca.key_path())
                    .arg("--tls-ca-cert-file")
                    .arg(ca.ca_path())
                    .args(["--tls-auth-clients", "no"]);
            }
            None => {
                cmd.args(["--port", &self.port.to_string()]);
            }
        }
        if let Some(password) = &self.password {
            cmd.args(["--requirepass", password]);
        }
        if self.cluster {
            cmd.args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
                .arg("--cluster-config-file")
                .arg(self.dir.path().join("nodes.conf"));
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.binary.display()));
        try_wait_for_port(self.addr(), &mut child, "redis-server")?;
        self.child = Some(child);
        Ok(())
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for the server: `redis://` or `rediss://`, with the password when one is set.
    pub fn url(&self) -> String {
        let scheme = if self.ca.is_some() { "rediss" } else { "redis" };
        match &self.password {
            Some(password) => format!("{scheme}://:{password}@127.0.0.1:{}", self.port),
            None => format!("{scheme}://127.0.0.1:{}", self.port),
        }
    }

    /// The TLS material, for a TLS server.
    pub fn ca(&self) -> Option<&TestCa> {
        self.ca.as_ref()
    }

    /// Kills the server (the port stops answering).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop(&mut child);
        }
    }

    /// Starts the server again on the same port (and the same certificate).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Runs `redis-cli` against this server and returns its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut cmd = Command::new(require_binary("redis-cli"));
        cmd.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(ca) = &self.ca {
            cmd.arg("--tls").arg("--cacert").arg(ca.ca_path());
        }
        if let Some(password) = &self.password {
            cmd.env("REDISCLI_AUTH", password);
        }
        let out = cmd.args(args).output().expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Three cluster nodes with every slot assigned (`--cluster-replicas 0`).
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three nodes, creates the cluster and waits for `cluster_state:ok`.
    pub fn start() -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| RedisServer::builder().cluster_node().start())
            .collect();
        let mut create = Command::new(require_binary("redis-cli"));
        create.arg("--cluster").arg("create");
        for node in &nodes {
            create.arg(node.addr().to_string());
        }
        let out = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        for node in &nodes {
            while !node.cli(&["cluster", "info"]).contains("cluster_state:ok") {
                assert!(
                    Instant::now() < deadline,
                    "cluster did not reach cluster_state:ok"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        RedisCluster { nodes }
    }

    /// The nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// A URL fred reads as a cluster: `redis-cluster://first?node=second&node=third`.
    pub fn url(&self) -> String {
        let mut url = format!("redis-cluster://{}", self.nodes[0].addr());
        for (i, node) in self.nodes.iter().enumerate().skip(1) {
            url.push(if i == 1 { '?' } else { '&' });
            url.push_str(&format!("node={}", node.addr()));
        }
        url
    }
}
