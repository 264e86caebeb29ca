//! Own PostgreSQL and MariaDB instances for tests that stop, restart or reconfigure a server
//! (password authentication, TLS): a fresh data directory in a temporary directory, a free
//! loopback port, stopped and removed on drop. The machine's shared servers stay untouched.
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::{
    TestCa,
    process::{require_binary, start_on_free_port, stop, temp_dir, try_wait_for_port},
};

/// The password of the tests' own database user (`vitals`).
pub const SQL_PASSWORD: &str = "planted-sql-password-7c1f";

/// Runs `command` to completion, panicking with its output when it fails.
fn run(command: &mut Command, what: &str) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Asks a server to shut down (`signal`) and reaps it, killing it after 10 s.
fn shut_down(child: &mut Child, signal: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    stop(child);
}

/// PostgreSQL's server binaries from Debian's packages (the newest major version installed).
fn postgres_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| dir.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.retain(|bin| bin.join("initdb").is_file());
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!("PostgreSQL's server binaries are not installed under /usr/lib/postgresql (Debian's postgresql package)")
    })
}

/// A PostgreSQL server of the tests' own: user `vitals` with [`SQL_PASSWORD`] (SCRAM), TLS
/// offered with a certificate from a fresh [`TestCa`] (plain connections accepted too).
/// PostgreSQL refuses to run as root, so it runs as the `postgres` user (`setpriv`).
pub struct PostgresServer {
    bin: PathBuf,
    port: u16,
    ca: TestCa,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PostgresServer {
    /// Creates a data directory and starts the server on a free loopback port.
    pub fn start() -> PostgresServer {
        let bin = postgres_bin();
        let setpriv = require_binary("setpriv");
        let dir = temp_dir("vitals-postgres-");
        let ca = TestCa::new();
        std::fs::write(dir.path().join("pw"), SQL_PASSWORD).unwrap();
        std::fs::copy(ca.cert_path(), dir.path().join("server.pem")).unwrap();
        std::fs::copy(ca.key_path(), dir.path().join("server.key")).unwrap();
        run(
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path()),
            "chown the data directory to postgres",
        );
        run(
            Command::new("chmod")
                .arg("0600")
                .arg(dir.path().join("server.key")),
            "chmod the key",
        );
        run(
            as_postgres(&setpriv, &bin.join("initdb"))
                .arg("-D")
                .arg(dir.path().join("data"))
                .args([
                    "-U",
                    "vitals",
                    "--auth=scram-sha-256",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ])
                .arg(format!("--pwfile={}", dir.path().join("pw").display())),
            "initdb",
        );
        let mut server = PostgresServer {
            bin,
            port: 0,
            ca,
            dir,
            child: None,
        };
        start_on_free_port(60_000, |port| {
            server.port = port;
            server.try_spawn()
        });
        server
    }

    fn try_spawn(&mut self) -> Result<(), String> {
        let dir = self.dir.path();
        let mut child = as_postgres(&require_binary("setpriv"), &self.bin.join("postgres"))
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "ssl=on",
            ])
            .arg("-c")
            .arg(format!(
                "ssl_cert_file={}",
                dir.join("server.pem").display()
            ))
            .arg("-c")
            .arg(format!("ssl_key_file={}", dir.join("server.key").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start postgres");
        try_wait_for_port(self.addr(), &mut child, "postgres")?;
        // Listening is not ready: until recovery ends, PostgreSQL answers "starting up".
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                break;
            }
            if Instant::now() > deadline {
                stop(&mut child);
                return Err("postgres did not become ready within 20 s".to_owned());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
        Ok(())
    }

    /// `postgres://vitals:<password>@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!(
            "postgres://vitals:{SQL_PASSWORD}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The CA that signed the server's certificate.
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// Stops the server (fast shutdown: open connections are closed).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            shut_down(&mut child, "INT");
        }
    }

    /// Starts the stopped server again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(message) = self.try_spawn() {
            panic!("{message}");
        }
    }
}

fn as_postgres(setpriv: &Path, program: &Path) -> Command {
    let mut command = Command::new(setpriv);
    command
        .args([
            "--reuid=postgres",
            "--regid=postgres",
            "--clear-groups",
            "--",
        ])
        .arg(program);
    command
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for PostgresServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresServer")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// A MariaDB server of the tests' own: user `vitals` with [`SQL_PASSWORD`], TLS offered with
/// a certificate from a fresh [`TestCa`].
pub struct MariaDbServer {
    port: u16,
    ca: TestCa,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl MariaDbServer {
    /// Creates a data directory, starts the server on a free loopback port and adds the user.
    pub fn start() -> MariaDbServer {
        let dir = temp_dir("vitals-mariadb-");
        run(
            Command::new(require_binary("mariadb-install-db"))
                .arg("--no-defaults")
                .arg(format!("--datadir={}", dir.path().join("data").display()))
                .args([
                    "--user=root",
                    "--auth-root-authentication-method=socket",
                    "--skip-test-db",
                ]),
            "mariadb-install-db",
        );
        let mut server = MariaDbServer {
            port: 0,
            ca: TestCa::new(),
            dir,
            child: None,
        };
        start_on_free_port(60_000, |port| {
            server.port = port;
            server.try_spawn()
        });
        let create = format!(
            "CREATE USER 'vitals'@'localhost' IDENTIFIED BY '{SQL_PASSWORD}';\
             CREATE USER 'vitals'@'127.0.0.1' IDENTIFIED BY '{SQL_PASSWORD}';"
        );
        run(
            Command::new(require_binary("mariadb"))
                .arg("--no-defaults")
                .arg(format!("--socket={}", server.socket().display()))
                .args(["-u", "root", "-e", &create]),
            "create the vitals user",
        );
        server
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("mariadb.sock")
    }

    fn try_spawn(&mut self) -> Result<(), String> {
        let dir = self.dir.path();
        let mut child = Command::new(require_binary("mariadbd"))
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.join("data").display()))
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!("--pid-file={}", dir.join("mariadb.pid").display()))
            .arg(format!("--port={}", self.port))
            .args([
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=16M",
            ])
            .arg(format!("--ssl-cert={}", self.ca.cert_path().display()))
            .arg(format!("--ssl-key={}", self.ca.key_path().display()))
            .arg(format!("--ssl-ca={}", self.ca.ca_path().display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        try_wait_for_port(self.addr(), &mut child, "mariadbd")?;
        self.child = Some(child);
        Ok(())
    }

    /// `mysql://vitals:<password>@127.0.0.1:<port>` (no database).
    pub fn url(&self) -> String {
        format!("mysql://vitals:{SQL_PASSWORD}@127.0.0.1:{}", self.port)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The CA that signed the server's certificate.
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// Stops the server (SIGTERM: a clean shutdown).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            shut_down(&mut child, "TERM");
        }
    }

    /// Starts the stopped server again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(message) = self.try_spawn() {
            panic!("{message}");
        }
    }
}

impl Drop for MariaDbServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for MariaDbServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MariaDbServer")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}
