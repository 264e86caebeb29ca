//! What a check's builder and the registry's skip list hold; no environment variables here
//! (the deployment guide's variables are `vitals-env`'s).
use std::{collections::BTreeSet, fmt, time::Duration};

/// A check's configuration (a URL, a TLS setting, a name) that cannot be used. Probe crates
/// return it from their builders; the message speaks of the builder's input and never
/// contains a credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidConfig(String);

impl InvalidConfig {
    /// An error with this message (already free of credentials).
    pub fn new(message: impl Into<String>) -> Self {
        InvalidConfig(message.into())
    }
}

impl fmt::Display for InvalidConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidConfig {}

/// A set of components: every one, or those named. Displayed as `all`, `none`, or the names
/// joined by commas, as the deployment guide's variables spell them.
///
/// ```
/// use vitals_core::Components;
///
/// let set = Components::none().with("redis").with("mongo");
/// assert!(set.contains("redis") && !set.contains("storage"));
/// assert_eq!(set.to_string(), "mongo,redis");
/// assert_eq!(Components::none().to_string(), "none");
/// assert_eq!(Components::all().to_string(), "all");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Components {
    all: bool,
    names: BTreeSet<String>,
}

impl Components {
    /// The empty set.
    #[must_use]
    pub fn none() -> Self {
        Components::default()
    }

    /// Every component, named or not.
    #[must_use]
    pub fn all() -> Self {
        Components {
            all: true,
            names: BTreeSet::new(),
        }
    }

    /// Also `component`.
    #[must_use]
    pub fn with(mut self, component: impl Into<String>) -> Self {
        self.names.insert(component.into());
        self
    }

    /// Whether `component` is in the set.
    pub fn contains(&self, component: &str) -> bool {
        self.all || self.names.contains(component)
    }

    /// Whether the set is every component.
    pub fn is_all(&self) -> bool {
        self.all
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        !self.all && self.names.is_empty()
    }

    /// The named components (empty when the set is `all`).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }
}

impl fmt::Display for Components {
    /// `all`, `none`, or the components joined by commas.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.all {
            return f.write_str("all");
        }
        if self.names.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = self.names().collect();
        f.write_str(&names.join(","))
    }
}

/// Which components' checks are reported as skipped instead of run, and why.
///
/// ```
/// use vitals_core::{Components, Skip};
///
/// let skip = Skip::none().component("mongo").because("the nightly job has no database");
/// assert!(skip.skips("mongo") && !skip.skips("redis"));
/// assert_eq!(skip.reason(), "the nightly job has no database");
/// assert_eq!(Skip::of(Components::none().with("redis")).to_string(), "redis");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Skip {
    components: Components,
    reason: Option<String>,
}

impl Skip {
    /// Nothing skipped.
    #[must_use]
    pub fn none() -> Self {
        Skip::default()
    }

    /// Every check skipped.
    #[must_use]
    pub fn all() -> Self {
        Skip::of(Components::all())
    }

    /// The checks of `components` skipped.
    #[must_use]
    pub fn of(components: Components) -> Self {
        Skip {
            components,
            reason: None,
        }
    }

    /// Also skips `component`.
    #[must_use]
    pub fn component(mut self, component: impl Into<String>) -> Self {
        self.components = self.components.with(component);
        self
    }

    /// Why: a skipped check's report says `skipped by {reason}` (default `configuration`).
    #[must_use]
    pub fn because(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Whether checks of `component` are skipped.
    pub fn skips(&self, component: &str) -> bool {
        self.components.contains(component)
    }

    /// The components skipped.
    pub fn components(&self) -> &Components {
        &self.components
    }

    /// Whether everything is skipped.
    pub fn is_all(&self) -> bool {
        self.components.is_all()
    }

    /// Whether nothing is skipped.
    pub fn is_empty(&self) -> bool {
        self.components.is_empty()
    }

    /// Why checks are skipped.
    pub fn reason(&self) -> &str {
        self.reason.as_deref().unwrap_or("configuration")
    }
}

impl fmt::Display for Skip {
    /// The components skipped, as [`Components`] displays them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.components.fmt(f)
    }
}

/// What every probe crate's check is given the same way: its name, its component, secrets to
/// scrub on top of those it finds itself, and an attempt timeout that overrides the one its
/// driver's timeouts give. Each probe crate's builder has the same four methods (`name`,
/// `component`, `secret`, `attempt_timeout`) and keeps them here, so its `Check` impl reads
/// them from one place.
///
/// ```
/// use std::time::Duration;
/// use vitals_core::CheckSettings;
///
/// let mut settings = CheckSettings::new("cache", "redis");
/// settings.add_secret("hunter2");
/// assert_eq!(settings.name(), "cache");
/// // No override: the driver's own bound stands.
/// let driver = Some(Duration::from_secs(15));
/// assert_eq!(settings.attempt_timeout_or(driver), driver);
/// settings.set_attempt_timeout(Duration::from_secs(2));
/// assert_eq!(settings.attempt_timeout_or(driver), Some(Duration::from_secs(2)));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CheckSettings {
    name: String,
    component: String,
    secrets: Vec<String>,
    attempt_timeout: Option<Duration>,
}

impl fmt::Debug for CheckSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckSettings")
            .field("name", &self.name)
            .field("component", &self.component)
            .field("secrets", &self.secrets.len())
            .field("attempt_timeout", &self.attempt_timeout)
            .finish()
    }
}

impl CheckSettings {
    /// A check called `name` in `component`, no extra secrets, no attempt-timeout override.
    pub fn new(name: impl Into<String>, component: impl Into<String>) -> Self {
        CheckSettings {
            name: name.into(),
            component: component.into(),
            secrets: Vec::new(),
            attempt_timeout: None,
        }
    }

    /// Renames the check.
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// Puts the check in another component.
    pub fn set_component(&mut self, component: impl Into<String>) {
        self.component = component.into();
    }

    /// Also scrubs `secret` from every output.
    pub fn add_secret(&mut self, secret: impl Into<String>) {
        let secret = secret.into();
        if !secret.is_empty() && !self.secrets.contains(&secret) {
            self.secrets.push(secret);
        }
    }

    /// Bounds one attempt, instead of what the driver's timeouts add up to.
    pub fn set_attempt_timeout(&mut self, timeout: Duration) {
        self.attempt_timeout = Some(timeout);
    }

    /// The check's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The check's component.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// The secrets added with [`add_secret`](Self::add_secret).
    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }

    /// The override if set, else `driver`: what the check's
    /// [`Check::attempt_timeout`](crate::Check::attempt_timeout) returns.
    pub fn attempt_timeout_or(&self, driver: Option<Duration>) -> Option<Duration> {
        self.attempt_timeout.or(driver)
    }
}

/// Writes, inside a probe crate's builder `impl` block, the builder methods every check
/// shares — `name`, `component`, `secret`, `attempt_timeout` — once, with one meaning; the
/// arguments say the crate's defaults, for the methods' docs. `settings` is the path from
/// `self` to the builder's [`CheckSettings`].
///
/// ```
/// use std::time::Duration;
/// use vitals_core::CheckSettings;
///
/// pub struct PingCheckBuilder {
///     settings: CheckSettings,
/// }
///
/// impl PingCheckBuilder {
///     vitals_core::check_builder_methods! {
///         settings: settings,
///         name: "ping",
///         component: "ping",
///         attempt_timeout: "the ping timeout",
///         scrubbed: "the URL's password",
///     }
/// }
///
/// let builder = PingCheckBuilder { settings: CheckSettings::new("ping", "ping") }
///     .name("edge-ping")
///     .attempt_timeout(Duration::from_secs(2));
/// assert_eq!(builder.settings.name(), "edge-ping");
/// ```
#[macro_export]
macro_rules! check_builder_methods {
    (
        settings: $($settings:ident).+,
        name: $name:literal,
        component: $component:literal,
        attempt_timeout: $attempt:literal
        $(, scrubbed: $scrubbed:literal)?
        $(,)?
    ) => {
        #[doc = concat!(
            "The check's name in reports, metrics and `/readyz/NAME` (default `", $name, "`)."
        )]
        #[must_use]
        pub fn name(mut self, name: impl Into<String>) -> Self {
            self.$($settings).+.set_name(name);
            self
        }

        #[doc = concat!(
            "The check's component, the word skip and non-critical lists name (default `",
            $component, "`)."
        )]
        #[must_use]
        pub fn component(mut self, component: impl Into<String>) -> Self {
            self.$($settings).+.set_component(component);
            self
        }

        #[doc = concat!(
            "Also scrubs `secret` from every output",
            $(" (", $scrubbed, " is scrubbed already)",)?
            "."
        )]
        #[must_use]
        pub fn secret(mut self, secret: impl Into<String>) -> Self {
            self.$($settings).+.add_secret(secret);
            self
        }

        #[doc = concat!(
            "Bounds one attempt (default: ", $attempt, "). The registry cuts an attempt a \
             grace after it, as for every check (see `vitals_core::timing`)."
        )]
        #[must_use]
        pub fn attempt_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.$($settings).+.set_attempt_timeout(timeout);
            self
        }
    };
}
