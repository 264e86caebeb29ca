//! Small helpers the probe crates' tests share: log capture, a fixed environment, a switchable
//! check.
use std::{
    io::Write,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use vitals_core::{Check, CheckError, Details, async_trait};

/// Every log line (at `TRACE` and above) written while the guard of [`CapturedLogs::install`]
/// lives, on this thread: use a current-thread runtime so spawned tasks log here too.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Installs a capturing subscriber as this thread's default.
    pub fn install() -> (CapturedLogs, tracing::subscriber::DefaultGuard) {
        let logs = CapturedLogs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    /// What was logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A check that passes or fails as its switch says.
#[derive(Debug)]
pub struct Toggle {
    name: String,
    up: Arc<AtomicBool>,
}

impl Toggle {
    /// A passing check called `name`, and its switch.
    pub fn new(name: &str) -> (Toggle, Arc<AtomicBool>) {
        let up = Arc::new(AtomicBool::new(true));
        let check = Toggle {
            name: name.to_owned(),
            up: up.clone(),
        };
        (check, up)
    }
}

#[async_trait]
impl Check for Toggle {
    fn name(&self) -> &str {
        &self.name
    }

    async fn check(&self) -> Result<Details, CheckError> {
        if self.up.load(Ordering::SeqCst) {
            Ok(Details::new())
        } else {
            Err(CheckError::new(format!("{} down", self.name)))
        }
    }
}
