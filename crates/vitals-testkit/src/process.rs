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
    // Ports handed out by the OS may exceed `below`; try a range of our own instead.
    let seed = std::process::id() as u64 ^ Instant::now().elapsed().as_nanos() as u64;
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

/// Waits until `addr` accepts TCP connections, the child is still running, or 20 s pass.
pub fn wait_for_port(addr: SocketAddr, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening on {addr}: {status}");
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} did not listen on {addr} within 20 s");
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
