use std::{env, fmt, ops::RangeInclusive, time::Duration};

use crate::Backoff;

/// The largest delay accepted from the environment: one day, in milliseconds.
const MAX_DELAY_MS: u64 = 86_400_000;
/// What a delay variable holds.
const MILLISECONDS: &str = "a whole number of milliseconds";
/// The largest retry count accepted from the environment.
const MAX_RETRIES: u32 = 1_000;

/// An environment variable holds a value that cannot be used.
///
/// The message names the variable, quotes the value and says what is accepted, e.g.
/// `HEALTH_CHECK_RETRIES="abc" is invalid: expected a whole number from 0 to 1000`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvError {
    variable: String,
    value: String,
    expected: String,
}

impl EnvError {
    /// An error for `variable` holding `value`, where `expected` says what is accepted.
    pub fn new(
        variable: impl Into<String>,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        EnvError {
            variable: variable.into(),
            value: value.into(),
            expected: expected.into(),
        }
    }

    /// The variable's name.
    pub fn variable(&self) -> &str {
        &self.variable
    }

    /// The value it held (lossily decoded if it was not UTF-8).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// What the variable accepts.
    pub fn expected(&self) -> &str {
        &self.expected
    }
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}={:?} is invalid: expected {}",
            self.variable, self.value, self.expected
        )
    }
}

impl std::error::Error for EnvError {}

/// Parses a whole number in `range` from an environment variable's value: plain ASCII digits
/// (surrounding whitespace tolerated), so `-1`, `+1`, `1.5`, `1e3`, `0x10` and empty are refused
/// alike. The error says `expected {what} from {min} to {max}`, e.g. `what` = "a whole number of
/// milliseconds".
pub fn parse_whole_number(
    variable: &str,
    raw: &str,
    range: RangeInclusive<u64>,
    what: &str,
) -> Result<u64, EnvError> {
    let trimmed = raw.trim();
    let digits = !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit());
    match trimmed.parse::<u64>() {
        Ok(value) if digits && range.contains(&value) => Ok(value),
        _ => Err(EnvError::new(
            variable,
            raw,
            format!("{what} from {} to {}", range.start(), range.end()),
        )),
    }
}

impl Backoff {
    /// Reads a schedule from `{prefix}_RETRIES`, `{prefix}_RETRY_DELAY_MS` and
    /// `{prefix}_MAX_RETRY_DELAY_MS`; unset variables keep the defaults (3, 1000, 10000).
    ///
    /// With the prefix `HEALTH_CHECK` these are the deployment guide's variables. Junk values
    /// (`abc`, `-1`, `1.5`, empty, overflow) and a maximum below the initial delay are errors
    /// naming the variable, the value and what is accepted. Only the delays and the retry count
    /// come from the environment; the jitter and multiplier are the defaults.
    pub fn from_env(prefix: &str) -> Result<Backoff, EnvError> {
        Backoff::from_lookup(prefix, |name| {
            env::var_os(name).map(|v| v.to_string_lossy().into_owned())
        })
    }

    /// Like [`Backoff::from_env`], reading variables through `lookup` instead of the process
    /// environment (for tests, or a config map).
    ///
    /// ```
    /// use std::time::Duration;
    /// use vitals_retry::Backoff;
    ///
    /// let env = [("HEALTH_CHECK_RETRIES", "5"), ("HEALTH_CHECK_RETRY_DELAY_MS", "2000")];
    /// let lookup = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
    /// let backoff = Backoff::from_lookup("HEALTH_CHECK", lookup).unwrap();
    /// assert_eq!(backoff.retries(), 5);
    /// assert_eq!(backoff.initial_delay(), Duration::from_secs(2));
    ///
    /// let bad = [("HEALTH_CHECK_RETRIES", "abc")];
    /// let lookup = |name: &str| bad.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
    /// let err = Backoff::from_lookup("HEALTH_CHECK", lookup).unwrap_err();
    /// assert_eq!(err.variable(), "HEALTH_CHECK_RETRIES");
    /// ```
    pub fn from_lookup(
        prefix: &str,
        mut lookup: impl FnMut(&str) -> Option<String>,
    ) -> Result<Backoff, EnvError> {
        let retries_var = format!("{prefix}_RETRIES");
        let delay_var = format!("{prefix}_RETRY_DELAY_MS");
        let max_var = format!("{prefix}_MAX_RETRY_DELAY_MS");
        let mut backoff = Backoff::default();

        if let Some(raw) = lookup(&retries_var) {
            backoff.retries = parse_whole_number(
                &retries_var,
                &raw,
                0..=MAX_RETRIES.into(),
                "a whole number of retries",
            )? as u32;
        }
        if let Some(raw) = lookup(&delay_var) {
            backoff.initial = Duration::from_millis(parse_whole_number(
                &delay_var,
                &raw,
                0..=MAX_DELAY_MS,
                MILLISECONDS,
            )?);
        }
        let max_raw = lookup(&max_var);
        if let Some(raw) = &max_raw {
            backoff.max_delay = Duration::from_millis(parse_whole_number(
                &max_var,
                raw,
                0..=MAX_DELAY_MS,
                MILLISECONDS,
            )?);
        }
        if backoff.max_delay < backoff.initial {
            let initial_ms = backoff.initial.as_millis();
            return Err(match max_raw {
                Some(raw) => EnvError::new(
                    max_var,
                    raw,
                    format!("milliseconds at least {delay_var} ({initial_ms})"),
                ),
                // The max was left at its default; the initial delay is what is too large.
                None => EnvError::new(
                    delay_var,
                    initial_ms.to_string(),
                    format!(
                        "milliseconds at most {max_var} ({}, its default); raise {max_var} too",
                        backoff.max_delay.as_millis()
                    ),
                ),
            });
        }
        Ok(backoff)
    }
}
