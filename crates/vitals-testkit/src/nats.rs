//! An own `nats-server` for tests that stop, restart or reconfigure it (a password, TLS, no
//! JetStream); the machine's shared server stays untouched.
use std::{
    net::SocketAddr,
    process::{Child, Command, Stdio},
};

use crate::{
    TestCa,
    process::{require_binary, start_on_free_port, stop, temp_dir, try_wait_for_port},
};

/// Builds a [`NatsServer`].
#[derive(Debug, Default)]
#[must_use]
pub struct NatsServerBuilder {
    password: Option<String>,
    tls: bool,
    jetstream: bool,
}

impl NatsServerBuilder {
    /// Require user `vitals` with this password.
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_owned());
        self
    }

    /// Require TLS, with a certificate from a fresh [`TestCa`].
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Enable JetStream (storage in the server's temporary directory).
    pub fn jetstream(mut self) -> Self {
        self.jetstream = true;
        self
    }

    /// Starts the server on a free loopback port and waits until it listens.
    pub fn start(self) -> NatsServer {
        let mut server = NatsServer {
            port: 0,
            password: self.password,
            ca: self.tls.then(TestCa::new),
            jetstream: self.jetstream,
            dir: temp_dir("vitals-nats-"),
            child: None,
        };
        start_on_free_port(60_000, |port| {
            server.port = port;
            server.try_spawn()
        });
        server
    }
}

/// A `nats-server` child process on loopback, killed on drop.
pub struct NatsServer {
    port: u16,
    password: Option<String>,
    ca: Option<TestCa>,
    jetstream: bool,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl NatsServer {
    /// A plain server without authentication or JetStream.
    pub fn start() -> NatsServer {
        NatsServer::builder().start()
    }

    /// A builder for a server with a password, TLS or JetStream.
    pub fn builder() -> NatsServerBuilder {
        NatsServerBuilder::default()
    }

    fn try_spawn(&mut self) -> Result<(), String> {
        let mut command = Command::new(require_binary("nats-server"));
        command.args(["-a", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(password) = &self.password {
            command.args(["--user", "vitals", "--pass", password]);
        }
        if let Some(ca) = &self.ca {
            command
                .arg("--tls")
                .arg("--tlscert")
                .arg(ca.cert_path())
                .arg("--tlskey")
                .arg(ca.key_path());
        }
        if self.jetstream {
            command.arg("-js").arg("-sd").arg(self.dir.path());
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        try_wait_for_port(self.addr(), &mut child, "nats-server")?;
        self.child = Some(child);
        Ok(())
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `nats://[vitals:<password>@]127.0.0.1:<port>` (`tls://` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.ca.is_some() { "tls" } else { "nats" };
        match &self.password {
            Some(password) => format!("{scheme}://vitals:{password}@127.0.0.1:{}", self.port),
            None => format!("{scheme}://127.0.0.1:{}", self.port),
        }
    }

    /// The CA of its certificate, with TLS.
    pub fn ca(&self) -> Option<&TestCa> {
        self.ca.as_ref()
    }

    /// Kills the server.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop(&mut child);
        }
    }

    /// Starts the stopped server again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(message) = self.try_spawn() {
            panic!("{message}");
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for NatsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsServer")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}
