use std::{collections::BTreeMap, fmt, time::Duration};

use async_trait::async_trait;

use crate::CheckSettings;

/// One dependency check, e.g. a `PING` to Redis.
///
/// A check only checks: it never sleeps, retries or times itself out. The [`Health`](crate::Health)
/// registry bounds every attempt, retries with backoff and catches panics for all checks alike.
///
/// ```
/// use vitals_core::{async_trait, Check, CheckError, Details};
///
/// struct DiskSpace;
///
/// #[async_trait]
/// impl Check for DiskSpace {
///     fn name(&self) -> &str { "disk" }
///     async fn check(&self) -> Result<Details, CheckError> {
///         let free_gib = 42;
///         if free_gib < 1 {
///             return Err(CheckError::new("less than 1 GiB free"));
///         }
///         Ok(Details::new().with("free_gib", free_gib))
///     }
/// }
/// ```
#[async_trait]
pub trait Check: Send + Sync + 'static {
    /// A unique name within a registry; it appears in reports and probe paths (`/readyz/NAME`).
    fn name(&self) -> &str;

    /// The component this check belongs to (`mongo`, `redis`, `storage`, `custom_code`, or
    /// your own): what a [`Skip`](crate::Skip) list names. Defaults to the name.
    fn component(&self) -> &str {
        self.name()
    }

    /// Strings that must never appear in any output (passwords, keys, tokens). The registry
    /// scrubs them from every message and detail, on top of the patterns it always removes.
    fn secrets(&self) -> Vec<String> {
        Vec::new()
    }

    /// The longest one attempt can take by the driver's own timeouts (connect, server
    /// selection, command), if the check sets them. The registry cuts an attempt only a little
    /// after this, so the driver's own error is what a report shows; see [`crate::timing`].
    fn attempt_timeout(&self) -> Option<Duration> {
        None
    }

    /// Runs the check once.
    async fn check(&self) -> Result<Details, CheckError>;
}

/// A check that keeps its name, component, secrets and attempt-timeout override in
/// [`CheckSettings`], as every probe crate's does: it says only what differs — its settings,
/// its driver's own bound of an attempt, and the attempt itself — and is a [`Check`] through
/// the blanket implementation, which reads the rest from the settings.
///
/// ```
/// use std::time::Duration;
/// use vitals_core::{async_trait, Check, CheckError, CheckSettings, Details, SettingsCheck};
///
/// struct Ping {
///     settings: CheckSettings,
/// }
///
/// #[async_trait]
/// impl SettingsCheck for Ping {
///     fn settings(&self) -> &CheckSettings {
///         &self.settings
///     }
///     fn driver_timeout(&self) -> Option<Duration> {
///         Some(Duration::from_secs(5))
///     }
///     async fn attempt(&self) -> Result<Details, CheckError> {
///         Ok(Details::new())
///     }
/// }
///
/// let ping = Ping { settings: CheckSettings::new("ping", "network") };
/// assert_eq!((ping.name(), ping.component()), ("ping", "network"));
/// assert_eq!(ping.attempt_timeout(), Some(Duration::from_secs(5)));
/// ```
#[async_trait]
pub trait SettingsCheck: Send + Sync + 'static {
    /// Where the name, component, secrets and attempt-timeout override live.
    fn settings(&self) -> &CheckSettings;

    /// The longest one attempt can take by the driver's own timeouts (what
    /// [`Check::attempt_timeout`] is when the settings do not override it).
    fn driver_timeout(&self) -> Option<Duration> {
        None
    }

    /// One attempt ([`Check::check`]).
    async fn attempt(&self) -> Result<Details, CheckError>;
}

#[async_trait]
impl<T: SettingsCheck> Check for T {
    fn name(&self) -> &str {
        self.settings().name()
    }

    fn component(&self) -> &str {
        self.settings().component()
    }

    fn secrets(&self) -> Vec<String> {
        self.settings().secrets().to_vec()
    }

    fn attempt_timeout(&self) -> Option<Duration> {
        self.settings().attempt_timeout_or(self.driver_timeout())
    }

    async fn check(&self) -> Result<Details, CheckError> {
        self.attempt().await
    }
}

/// What a check observed: small key/value facts (server version, latency, topology) and an
/// optional warning that makes a passing check report `warn`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Details {
    pub(crate) fields: BTreeMap<String, String>,
    pub(crate) warning: Option<String>,
}

impl Details {
    /// No details.
    #[must_use]
    pub fn new() -> Self {
        Details::default()
    }

    /// Adds a fact.
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl fmt::Display) -> Self {
        self.fields.insert(key.into(), value.to_string());
        self
    }

    /// Marks the result degraded: the check passes, but reports `warn` with this message.
    #[must_use]
    pub fn warning(mut self, message: impl Into<String>) -> Self {
        self.warning = Some(message.into());
        self
    }

    /// The facts, sorted by key.
    pub fn fields(&self) -> &BTreeMap<String, String> {
        &self.fields
    }

    /// The warning, if the result is degraded.
    pub fn warning_message(&self) -> Option<&str> {
        self.warning.as_deref()
    }

    pub(crate) fn map_strings(mut self, f: impl Fn(&str) -> String) -> Self {
        for value in self.fields.values_mut() {
            *value = f(value);
        }
        self.warning = self.warning.map(|w| f(&w));
        self
    }
}

/// Why a check failed.
///
/// Any `std::error::Error` converts into it (the message includes the error's sources), so a
/// check can use `?`. A [permanent](CheckError::permanent) error is not retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckError {
    message: String,
    permanent: bool,
    details: Details,
}

impl CheckError {
    /// A transient failure: the registry retries it.
    pub fn new(message: impl Into<String>) -> Self {
        CheckError {
            message: message.into(),
            permanent: false,
            details: Details::default(),
        }
    }

    /// A failure that retrying cannot fix (bad configuration, missing resource).
    pub fn permanent(message: impl Into<String>) -> Self {
        CheckError {
            permanent: true,
            ..CheckError::new(message)
        }
    }

    /// A failure from an error value, with its chain of sources: `outer: inner: root`.
    pub fn from_error(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(inner) = source {
            let text = inner.to_string();
            // Many errors repeat their source in their own message; don't say it twice.
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = inner.source();
        }
        CheckError::new(message)
    }

    /// Attaches details observed before the failure.
    #[must_use]
    pub fn with_details(mut self, details: Details) -> Self {
        self.details = details;
        self
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether retrying is pointless.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }

    /// Details attached to the failure.
    pub fn details(&self) -> &Details {
        &self.details
    }

    pub(crate) fn into_parts(self) -> (String, Details) {
        (self.message, self.details)
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error + 'static> From<E> for CheckError {
    fn from(error: E) -> Self {
        CheckError::from_error(&error)
    }
}
