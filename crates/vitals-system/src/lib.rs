//! [`vitals_core::Check`]s of the machine a service runs on.
//!
//! [`DiskSpaceCheck`] reads the free space of the file system that holds a path (`statvfs`:
//! the blocks an unprivileged process may still use) and warns below a threshold (default
//! [`DEFAULT_THRESHOLD`], as Spring Boot's `diskSpace` indicator), or fails below an optional
//! second one.
//!
//! ```
//! use vitals_system::DiskSpaceCheck;
//!
//! let disk = DiskSpaceCheck::builder("/var/lib/app")
//!     .warn_below(1024 * 1024 * 1024) // 1 GiB
//!     .fail_below(100 * 1024 * 1024)  // 100 MiB
//!     .build()
//!     .unwrap();
//! # let _ = disk;
//! ```
//!
//! The builder has the vocabulary of every vitals probe crate: `builder(path)`, then `name`,
//! `component`, `secret`, `attempt_timeout` and `build()`.
#![forbid(unsafe_code)]

use std::{fmt, path::PathBuf, time::Duration};

use vitals_core::{CheckError, CheckSettings, Details, InvalidConfig, SettingsCheck, async_trait};

/// Warn below this many free bytes, by default: 10 MiB, Spring Boot's `diskSpace` threshold.
pub const DEFAULT_THRESHOLD: u64 = 10 * 1024 * 1024;

/// How long reading the file system may take (a hung network mount must not hang the check).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Checks the free space of the file system holding a path.
pub struct DiskSpaceCheck {
    settings: CheckSettings,
    path: PathBuf,
    warn_below: u64,
    fail_below: Option<u64>,
}

impl fmt::Debug for DiskSpaceCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskSpaceCheck")
            .field("name", &self.settings.name())
            .field("path", &self.path)
            .field("warn_below", &self.warn_below)
            .field("fail_below", &self.fail_below)
            .finish_non_exhaustive()
    }
}

/// Builds a [`DiskSpaceCheck`].
#[derive(Debug)]
#[must_use = "call .build() to get the check"]
pub struct DiskSpaceCheckBuilder {
    path: PathBuf,
    settings: CheckSettings,
    warn_below: u64,
    fail_below: Option<u64>,
}

impl DiskSpaceCheck {
    /// A builder for a check of the file system that holds `path`.
    pub fn builder(path: impl Into<PathBuf>) -> DiskSpaceCheckBuilder {
        DiskSpaceCheckBuilder {
            path: path.into(),
            settings: CheckSettings::new("disk", "disk"),
            warn_below: DEFAULT_THRESHOLD,
            fail_below: None,
        }
    }
}

impl DiskSpaceCheckBuilder {
    vitals_core::check_builder_methods! {
        settings: settings,
        name: "disk",
        component: "disk",
        attempt_timeout: "2 s: a hung network mount fails the check",
    }

    /// Warn when fewer bytes than this are free (default 10 MiB).
    pub fn warn_below(mut self, bytes: u64) -> Self {
        self.warn_below = bytes;
        self
    }

    /// Fail when fewer bytes than this are free (default: never, only warn).
    pub fn fail_below(mut self, bytes: u64) -> Self {
        self.fail_below = Some(bytes);
        self
    }

    /// Checks the thresholds (the path is read at each attempt: it may appear later, a
    /// volume mounted after start).
    pub fn build(self) -> Result<DiskSpaceCheck, InvalidConfig> {
        if self.path.as_os_str().is_empty() {
            return Err(InvalidConfig::new("the disk space check needs a path"));
        }
        if let Some(fail) = self.fail_below
            && fail > self.warn_below
        {
            return Err(InvalidConfig::new(format!(
                "the failing threshold ({}) is above the warning threshold ({}): it would fail \
                 before it warns",
                bytes(fail),
                bytes(self.warn_below)
            )));
        }
        Ok(DiskSpaceCheck {
            settings: self.settings,
            path: self.path,
            warn_below: self.warn_below,
            fail_below: self.fail_below,
        })
    }
}

/// Bytes in binary units, one decimal (`9.5 MiB`).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[async_trait]
impl SettingsCheck for DiskSpaceCheck {
    fn settings(&self) -> &CheckSettings {
        &self.settings
    }

    fn driver_timeout(&self) -> Option<Duration> {
        Some(DEFAULT_TIMEOUT)
    }

    async fn attempt(&self) -> Result<Details, CheckError> {
        let path = self.path.clone();
        // statvfs blocks (on a network mount, for long): off the runtime's worker threads.
        let stat = tokio::task::spawn_blocking(move || rustix::fs::statvfs(&path))
            .await
            .map_err(|e| CheckError::new(format!("reading the file system failed: {e}")))?
            .map_err(|e| {
                CheckError::new(format!(
                    "cannot read the file system of {}: {}",
                    self.path.display(),
                    std::io::Error::from(e)
                ))
            })?;
        let free = stat.f_bavail.saturating_mul(stat.f_frsize);
        let total = stat.f_blocks.saturating_mul(stat.f_frsize);
        let percent = if total == 0 {
            0.0
        } else {
            free as f64 * 100.0 / total as f64
        };
        let details = Details::new()
            .with("path", self.path.display())
            .with("free_bytes", free)
            .with("total_bytes", total)
            .with("free", format!("{} ({percent:.1} %)", bytes(free)));
        let below = |threshold: u64| {
            format!(
                "only {} free on {} ({percent:.1} % of {}), below {}",
                bytes(free),
                self.path.display(),
                bytes(total),
                bytes(threshold)
            )
        };
        match self.fail_below {
            Some(threshold) if free < threshold => {
                Err(CheckError::new(below(threshold)).with_details(details))
            }
            _ if free < self.warn_below => Ok(details.clone().warning(below(self.warn_below))),
            _ => Ok(details),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bytes;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(10 * 1024 * 1024), "10.0 MiB");
        assert_eq!(bytes(1536 * 1024 * 1024), "1.5 GiB");
    }
}
