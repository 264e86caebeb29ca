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

/// Every variable that holds a value that cannot be used, in the order they are read: the
/// configuration is read to the end, so one start says everything there is to fix.
///
/// Displayed one error per line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvErrors {
    errors: Vec<EnvError>,
}

impl EnvErrors {
    pub(crate) fn new(errors: Vec<EnvError>) -> Self {
        assert!(!errors.is_empty(), "EnvErrors holds at least one error");
        EnvErrors { errors }
    }

    /// The first error read.
    pub fn first(&self) -> &EnvError {
        &self.errors[0]
    }

    /// Every error, in the order the variables are read.
    pub fn iter(&self) -> std::slice::Iter<'_, EnvError> {
        self.errors.iter()
    }

    /// How many variables are invalid (at least one).
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Always `false`: there is at least one error.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Prints every error to stderr, one `configuration error: …` line each, and exits with
    /// status 2 (a usage error, as clap's `Error::exit` does): what `vitals-server` and the
    /// examples do when the environment is wrong, before anything has started.
    pub fn exit(&self) -> ! {
        for error in self {
            eprintln!("configuration error: {error}");
        }
        std::process::exit(2)
    }
}

impl<'a> IntoIterator for &'a EnvErrors {
    type Item = &'a EnvError;
    type IntoIter = std::slice::Iter<'a, EnvError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

impl fmt::Display for EnvErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for EnvErrors {}
