//! Why listening on the configured port failed, in words naming the variables to change.
use std::{error::Error, fmt, io, net::SocketAddr};

use crate::variables as var;

/// Listening on `PORT` (and `LISTEN_ADDRESS`) failed: what the server, and every example that
/// listens where the variables say, prints before it exits.
///
/// ```
/// use std::net::{SocketAddr, TcpListener};
/// use vitals_env::ListenError;
///
/// let taken = TcpListener::bind("127.0.0.1:0").unwrap();
/// let address: SocketAddr = taken.local_addr().unwrap();
/// let error = ListenError::new(address, TcpListener::bind(address).unwrap_err());
/// assert_eq!(
///     error.to_string(),
///     format!(
///         "cannot listen on {address} (PORT={}): address already in use; another process \
///          listens on that port: choose another with PORT",
///         address.port()
///     )
/// );
/// ```
#[derive(Debug)]
pub struct ListenError {
    address: SocketAddr,
    source: io::Error,
}

impl ListenError {
    /// Listening on `address` failed with `source`.
    pub fn new(address: SocketAddr, source: io::Error) -> Self {
        ListenError { address, source }
    }

    /// The address that could not be listened on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Prints the error to stderr and exits with status 1: what `vitals-server` and the
    /// examples do when they cannot listen.
    pub fn exit(&self) -> ! {
        eprintln!("{self}");
        std::process::exit(1)
    }
}

impl fmt::Display for ListenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (port, address) = (var::PORT.name, var::LISTEN_ADDRESS.name);
        write!(
            f,
            "cannot listen on {} ({port}={}): {}; ",
            self.address,
            self.address.port(),
            io_words(&self.source)
        )?;
        match self.source.kind() {
            io::ErrorKind::AddrInUse => write!(
                f,
                "another process listens on that port: choose another with {port}"
            ),
            io::ErrorKind::PermissionDenied => write!(
                f,
                "ports below 1024 need privileges: choose a port above 1023 with {port}"
            ),
            io::ErrorKind::AddrNotAvailable => write!(
                f,
                "no interface of this machine has that address: check {address}"
            ),
            _ => write!(f, "check {port} and {address}"),
        }
    }
}

impl Error for ListenError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

/// An I/O error in words, without the OS's error number.
fn io_words(err: &io::Error) -> String {
    let text = err.to_string();
    let mut words = text.split(" (os error").next().unwrap_or(&text).to_owned();
    if let Some(first) = words.get(..1) {
        words.replace_range(..1, &first.to_lowercase());
    }
    words
}
