use std::{
    net::{SocketAddr, TcpListener, TcpStream},
    path::PathBuf,
    process::Child,
    time::{Duration, Instant},
};

/// The path of `binary` on `PATH`, or a panic telling how to install it.
pub fn require_binary(binary: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(binary))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("`{binary}` is not installed: run scripts/install-test-deps (tests never skip a backend)")
        })
}

/// A loopback port that was free a moment ago, below `below` (Redis cluster nodes need
/// `port + 10000` free as well, so they ask for ports below 55536).
pub fn free_port(below: u16) -> u16 {
    // Ports handed out by the OS may exceed `below`; try a range of our own instead. Tests of
    // one process asking at once get different candidates (the counter), as processes do.
    static ASKED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let asked = ASKED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let seed = (std::process::id() as u64 ^ Instant::now().elapsed().as_nanos() as u64)
        .wrapping_add(asked.wrapping_mul(1_009));
    let mut candidate = 20_000 + (seed.wrapping_mul(2_654_435_761) % 20_000) as u16;
    for _ in 0..2_000 {
        candidate = if candidate + 7 >= below {
            20_000
        } else {
            candidate + 7
        };
        if TcpListener::bind(("127.0.0.1", candidate)).is_ok()
            && (below > 55_535 || TcpListener::bind(("127.0.0.1", candidate + 10_000)).is_ok())
        {
            return candidate;
        }
    }
    panic!("no free loopback port found below {below}");
}

/// Waits until `addr` accepts TCP connections while the child runs; panics after 20 s or if
/// the child exits.
pub fn wait_for_port(addr: SocketAddr, child: &mut Child, what: &str) {
    if let Err(message) = try_wait_for_port(addr, child, what) {
        panic!("{message}");
    }
}

/// Like [`wait_for_port`], returning the failure (a child that exited may have lost a race for
/// its port: the caller can retry on another).
pub(crate) fn try_wait_for_port(
    addr: SocketAddr,
    child: &mut Child,
    what: &str,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "{what} exited before listening on {addr}: {status}"
            ));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    stop(child);
    Err(format!("{what} did not listen on {addr} within 20 s"))
}

/// Starts a server on a fresh free port, retrying twice on another port if it could not
/// listen (another test may have taken the port between the check and the bind).
pub(crate) fn start_on_free_port<T>(
    below: u16,
    mut start: impl FnMut(u16) -> Result<T, String>,
) -> T {
    let mut last = String::new();
    for _ in 0..3 {
        match start(free_port(below)) {
            Ok(server) => return server,
            Err(message) => last = message,
        }
    }
    panic!("{last} (three ports tried)");
}

/// Kills and reaps a child process.
pub(crate) fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A fresh temporary directory.
pub(crate) fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("create a temporary directory")
}

/// The variable that marks the run of a test inside its namespaces.
const INSIDE_NAMESPACE: &str = "VITALS_TESTKIT_INSIDE_NAMESPACE";

/// For a test whose body must not reach any network (a DNS lookup that must fail without a
/// query leaving the machine): [`inside_new_namespaces`] with `unshare --net` (nothing but a
/// downed loopback).
///
/// ```no_run
/// #[test]
/// fn unresolvable() {
///     if !vitals_testkit::inside_namespace_without_network("unresolvable") {
///         return; // the body ran, and passed, in the namespace
///     }
///     // … resolve a name: it fails at once, nothing is sent
/// }
/// ```
pub fn inside_namespace_without_network(name: &str) -> bool {
    inside_new_namespaces(name, &["--net"])
}

/// Outside, runs the test `name` of this test binary again under `unshare` with `flags` (new
/// namespaces of its own: `--net`, `--mount`, …), asserts that it passed, and returns `false`;
/// inside that run, returns `true` so the test's body runs there. What the body changes (a
/// mount, a link) ends with its namespaces: the machine is left as it was.
pub fn inside_new_namespaces(name: &str, flags: &[&str]) -> bool {
    if std::env::var_os(INSIDE_NAMESPACE).is_some() {
        return true;
    }
    let output = std::process::Command::new(require_binary("unshare"))
        .args(flags)
        .arg("--")
        .arg(std::env::current_exe().expect("the test binary's path"))
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(INSIDE_NAMESPACE, "1")
        .output()
        .expect("run unshare");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && text.contains("1 passed"),
        "`{name}` inside new namespaces ({}) failed ({}):\n{text}",
        flags.join(" "),
        output.status
    );
    false
}
