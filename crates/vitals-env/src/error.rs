use std::fmt;

/// An environment variable holds a value that cannot be used.
///
/// The message names the variable, quotes the value and says what is accepted, e.g.
/// `HEALTH_CHECK_RETRIES="abc" is invalid: expected a whole number of retries from 0 to 1000`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvError {
    variable: String,
    value: String,
    expected: String,
}

impl EnvError {
    /// An error for `variable` holding `value` (already scrubbed of credentials), where
    /// `expected` says what is accepted.
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

    /// The value it held (lossily decoded if it was not UTF-8; credentials scrubbed).
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
