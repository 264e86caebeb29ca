//! Configuration from the deployment guide's environment variables.
use std::{collections::BTreeSet, fmt, time::Duration};

use vitals_retry::{Backoff, EnvError, parse_whole_number};

/// The components `SKIP_HEALTH_CHECKS` knows, as the deployment guide names them.
pub const COMPONENTS: &[&str] = &["mongo", "redis", "storage", "custom_code"];

/// A check's configuration (a URL, a TLS setting, a name) that cannot be used. Probe crates
/// return it from their builders; the message never contains a credential.
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

/// Which components' checks are skipped (`SKIP_HEALTH_CHECKS`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Skip {
    all: bool,
    components: BTreeSet<String>,
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
        Skip {
            all: true,
            components: BTreeSet::new(),
        }
    }

    /// Also skips `component`.
    #[must_use]
    pub fn component(mut self, component: impl Into<String>) -> Self {
        self.components.insert(component.into());
        self
    }

    /// Whether checks of `component` are skipped.
    pub fn skips(&self, component: &str) -> bool {
        self.all || self.components.contains(component)
    }

    /// Whether everything is skipped.
    pub fn is_all(&self) -> bool {
        self.all
    }

    /// Whether nothing is skipped.
    pub fn is_empty(&self) -> bool {
        !self.all && self.components.is_empty()
    }

    /// Parses the variable's syntax: `all`, or a comma list of `mongo`, `redis`, `storage`,
    /// `custom_code` (whitespace and case tolerated; empty means nothing skipped).
    pub fn parse(variable: &str, value: &str) -> Result<Skip, EnvError> {
        let accepted = || {
            format!(
                "`all` or a comma-separated list of {}",
                COMPONENTS.join(", ")
            )
        };
        let mut skip = Skip::none();
        if value.trim().is_empty() {
            return Ok(skip);
        }
        for item in value.split(',') {
            let name = item.trim().to_ascii_lowercase();
            match name.as_str() {
                "all" => skip.all = true,
                n if COMPONENTS.contains(&n) => {
                    skip.components.insert(name);
                }
                "" => {
                    return Err(EnvError::new(
                        variable,
                        value,
                        format!("{} (found an empty item)", accepted()),
                    ));
                }
                other => {
                    return Err(EnvError::new(
                        variable,
                        value,
                        format!("{} (unknown name {other:?})", accepted()),
                    ));
                }
            }
        }
        Ok(skip)
    }
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.all {
            return f.write_str("all");
        }
        let names: Vec<&str> = self.components.iter().map(String::as_str).collect();
        f.write_str(&names.join(","))
    }
}

/// The registry settings the deployment guide's variables give.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthConfig {
    /// `HEALTH_CHECK_RETRIES`, `HEALTH_CHECK_RETRY_DELAY_MS`, `HEALTH_CHECK_MAX_RETRY_DELAY_MS`.
    pub backoff: Backoff,
    /// `SKIP_HEALTH_CHECKS`.
    pub skip: Skip,
}

impl HealthConfig {
    /// Reads and validates the variables from the process environment.
    pub fn from_env() -> Result<HealthConfig, EnvError> {
        HealthConfig::from_lookup(lookup_env)
    }

    /// Reads and validates the variables through `lookup`.
    ///
    /// ```
    /// use vitals_core::HealthConfig;
    ///
    /// let env = |name: &str| match name {
    ///     "SKIP_HEALTH_CHECKS" => Some("mongo, redis".to_owned()),
    ///     "HEALTH_CHECK_RETRIES" => Some("5".to_owned()),
    ///     _ => None,
    /// };
    /// let config = HealthConfig::from_lookup(env).unwrap();
    /// assert!(config.skip.skips("redis") && !config.skip.skips("storage"));
    /// assert_eq!(config.backoff.retries(), 5);
    ///
    /// let err = HealthConfig::from_lookup(|n| (n == "SKIP_HEALTH_CHECKS").then(|| "mongodb".into()))
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("mongo, redis, storage, custom_code"));
    /// ```
    pub fn from_lookup(mut lookup: impl FnMut(&str) -> Option<String>) -> Result<Self, EnvError> {
        let backoff = Backoff::from_lookup("HEALTH_CHECK", &mut lookup)?;
        let skip = match lookup("SKIP_HEALTH_CHECKS") {
            Some(value) => Skip::parse("SKIP_HEALTH_CHECKS", &value)?,
            None => Skip::none(),
        };
        Ok(HealthConfig { backoff, skip })
    }
}

/// Reads a variable from the process environment (non-UTF-8 decoded lossily, so the error
/// can still quote it).
pub fn lookup_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// Reads a duration in whole milliseconds, from 1 to one day; `default` when unset.
pub fn env_millis(
    lookup: &mut dyn FnMut(&str) -> Option<String>,
    variable: &str,
    default: Duration,
) -> Result<Duration, EnvError> {
    read_millis(lookup, variable, default, 1)
}

/// Like [`env_millis`], where `0` is meaningful (no delay, or "off").
pub fn env_millis_or_zero(
    lookup: &mut dyn FnMut(&str) -> Option<String>,
    variable: &str,
    default: Duration,
) -> Result<Duration, EnvError> {
    read_millis(lookup, variable, default, 0)
}

fn read_millis(
    lookup: &mut dyn FnMut(&str) -> Option<String>,
    variable: &str,
    default: Duration,
    min: u64,
) -> Result<Duration, EnvError> {
    const ONE_DAY_MS: u64 = 86_400_000;
    match lookup(variable) {
        None => Ok(default),
        Some(raw) => parse_whole_number(
            variable,
            &raw,
            min..=ONE_DAY_MS,
            "a whole number of milliseconds",
        )
        .map(Duration::from_millis),
    }
}

/// Reads a boolean: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` (any case); `default`
/// when unset.
pub fn env_bool(
    lookup: &mut dyn FnMut(&str) -> Option<String>,
    variable: &str,
    default: bool,
) -> Result<bool, EnvError> {
    let Some(raw) = lookup(variable) else {
        return Ok(default);
    };
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(EnvError::new(
            variable,
            raw,
            "true or false (also 1/0, yes/no, on/off)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_lists_parse_with_whitespace_and_case() {
        let skip = Skip::parse("S", " Mongo ,redis ").unwrap();
        assert!(skip.skips("mongo") && skip.skips("redis") && !skip.skips("storage"));
        assert!(Skip::parse("S", "all").unwrap().skips("anything"));
        assert!(Skip::parse("S", "").unwrap().is_empty());
        assert_eq!(
            Skip::parse("S", "custom_code,storage").unwrap().to_string(),
            "custom_code,storage"
        );
    }

    #[test]
    fn unknown_or_empty_skip_items_are_errors_listing_the_valid_names() {
        for bad in ["mongodb", "mongo,,redis", "mongo;redis", "s3"] {
            let err = Skip::parse("SKIP_HEALTH_CHECKS", bad).unwrap_err();
            let msg = err.to_string();
            assert!(msg.starts_with("SKIP_HEALTH_CHECKS="), "{msg}");
            assert!(msg.contains("mongo, redis, storage, custom_code"), "{msg}");
        }
    }

    #[test]
    fn millis_and_bools_validate() {
        let mut env = |n: &str| match n {
            "A" => Some("60000".to_owned()),
            "B" => Some("0".to_owned()),
            "C" => Some("1.5".to_owned()),
            "T" => Some(" TRUE ".to_owned()),
            "F" => Some("maybe".to_owned()),
            _ => None,
        };
        assert_eq!(
            env_millis(&mut env, "A", Duration::ZERO).unwrap(),
            Duration::from_secs(60)
        );
        assert_eq!(
            env_millis(&mut env, "Z", Duration::from_secs(1)).unwrap(),
            Duration::from_secs(1)
        );
        assert!(env_millis(&mut env, "B", Duration::ZERO).is_err());
        assert!(
            env_millis(&mut env, "C", Duration::ZERO)
                .unwrap_err()
                .to_string()
                .contains("C=\"1.5\"")
        );
        assert!(env_bool(&mut env, "T", false).unwrap());
        assert!(!env_bool(&mut env, "Z", false).unwrap());
        assert!(
            env_bool(&mut env, "F", false)
                .unwrap_err()
                .to_string()
                .contains("true or false")
        );
    }

    mod fuzz {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            #[test]
            fn any_environment_is_accepted_or_refused_by_name(
                retries in "\\PC{0,24}",
                delay in "\\PC{0,24}",
                max in "\\PC{0,24}",
                skip in "\\PC{0,40}",
            ) {
                let env = |name: &str| match name {
                    "HEALTH_CHECK_RETRIES" => Some(retries.clone()),
                    "HEALTH_CHECK_RETRY_DELAY_MS" => Some(delay.clone()),
                    "HEALTH_CHECK_MAX_RETRY_DELAY_MS" => Some(max.clone()),
                    "SKIP_HEALTH_CHECKS" => Some(skip.clone()),
                    _ => None,
                };
                if let Err(err) = HealthConfig::from_lookup(env) {
                    let named = ["HEALTH_CHECK_RETRIES", "HEALTH_CHECK_RETRY_DELAY_MS",
                        "HEALTH_CHECK_MAX_RETRY_DELAY_MS", "SKIP_HEALTH_CHECKS"];
                    prop_assert!(named.contains(&err.variable()));
                    prop_assert!(err.to_string().contains("expected"));
                }
            }
        }
    }
}
