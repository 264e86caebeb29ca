use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use crate::{
    TestCa, TlsTerminator,
    process::{require_binary, start_on_free_port, stop, try_wait_for_port},
};

/// A MongoDB wire-compatible server (`jongodb`), optionally behind stunnel for TLS; killed on
/// drop. No authentication.
pub struct MongoServer {
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
    tls: Option<TlsTerminator>,
}

impl MongoServer {
    /// Starts a plain server on a free port.
    pub fn start() -> MongoServer {
        let mut server = MongoServer {
            binary: require_binary("jongodb"),
            port: 0,
            child: None,
            tls: None,
        };
        start_on_free_port(60_000, |port| {
            server.port = port;
            server.try_spawn()
        });
        server
    }

    /// Starts a server with stunnel in front (a certificate from a fresh [`TestCa`]).
    pub fn start_tls() -> MongoServer {
        let mut server = MongoServer::start();
        server.tls = Some(TlsTerminator::start(server.addr()));
        server
    }

    fn spawn(&mut self) {
        if let Err(message) = self.try_spawn() {
            panic!("{message}");
        }
    }

    fn try_spawn(&mut self) -> Result<(), String> {
        let mut child = Command::new(&self.binary)
            .arg("--host=127.0.0.1")
            .arg(format!("--port={}", self.port))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.binary.display()));
        // Ready when it prints JONGODB_URI=; keep draining its output afterwards.
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("JONGODB_URI=") {
                    let _ = ready_tx.send(());
                }
            }
        });
        if ready_rx.recv_timeout(Duration::from_secs(20)).is_err() {
            stop(&mut child);
            return Err(format!(
                "jongodb did not print JONGODB_URI= on port {} within 20 s",
                self.port
            ));
        }
        try_wait_for_port(self.addr(), &mut child, "jongodb")?;
        self.child = Some(child);
        Ok(())
    }

    /// The server's own (plain) address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The address clients use: stunnel's for a TLS server.
    pub fn client_addr(&self) -> SocketAddr {
        match &self.tls {
            Some(tunnel) => tunnel.addr(),
            None => self.addr(),
        }
    }

    /// A connection string: direct connection; for TLS, `tls=true` without a CA file (add
    /// `tlsCAFile=` from [`MongoServer::ca`] to trust it).
    pub fn uri(&self) -> String {
        let addr = self.client_addr();
        match &self.tls {
            Some(_) => format!("mongodb://{addr}/?directConnection=true&tls=true"),
            None => format!("mongodb://{addr}/?directConnection=true"),
        }
    }

    /// The TLS material, for a TLS server.
    pub fn ca(&self) -> Option<&TestCa> {
        self.tls.as_ref().map(TlsTerminator::ca)
    }

    /// Kills the server (stunnel, if any, keeps running and fails to forward).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop(&mut child);
        }
    }

    /// Starts the server again on the same port. jongodb binds without `SO_REUSEADDR`, so
    /// this fails while the port's old connections sit in `TIME_WAIT` (after the server closed
    /// them first); a test that needs a stable address across restarts puts a [`FaultProxy`]
    /// in front and moves its upstream.
    ///
    /// [`FaultProxy`]: crate::FaultProxy
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for MongoServer {
    fn drop(&mut self) {
        self.stop();
    }
}
