//! Reading one variable: its value from the lookup, or its documented default, through one
//! parser per kind. Parsing the default text with the same parser keeps the table and the
//! behaviour from drifting apart.
use std::{ops::RangeInclusive, time::Duration};

use vitals_core::{Components, scrub};

use crate::{EnvError, Variable, variables::DefaultValue};

/// The components `SKIP_HEALTH_CHECKS` and `NON_CRITICAL_HEALTH_CHECKS` accept: the
/// deployment guide's four, then those of vitals' own variables.
pub const COMPONENTS: [&str; 15] = [
    "mongo",
    "redis",
    "storage",
    "custom_code",
    "database",
    "amqp",
    "nats",
    "certificate",
    "disk",
    "sqs",
    "sns",
    "dynamodb",
    "secrets",
    "kms",
    "kafka",
];

/// The largest number of milliseconds accepted: one day.
const ONE_DAY_MS: u64 = 86_400_000;

/// Reads variables through a lookup.
/// A whole number: plain ASCII digits, surrounding whitespace tolerated (`-1`, `+1`, `1.5`,
/// `1e3`, `0x10` and empty are not).
pub(crate) fn whole(raw: &str) -> Option<u64> {
    let trimmed = raw.trim();
    let digits = !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit());
    trimmed.parse::<u64>().ok().filter(|_| digits)
}

pub(crate) struct Reader<L> {
    lookup: L,
}

impl<L: FnMut(&str) -> Option<String>> Reader<L> {
    pub(crate) fn new(lookup: L) -> Self {
        Reader { lookup }
    }

    /// The value as set (`None` when unset).
    pub(crate) fn raw(&mut self, variable: &Variable) -> Option<String> {
        self.raw_named(variable.name)
    }

    /// The values of the AWS SDK's secret variables that are set, for the AWS checks to
    /// scrub from their outputs.
    #[cfg_attr(
        not(any(
            feature = "s3",
            feature = "sqs",
            feature = "sns",
            feature = "dynamodb",
            feature = "secretsmanager",
            feature = "kms"
        )),
        allow(dead_code)
    )]
    pub(crate) fn aws_secrets(&mut self) -> Vec<String> {
        crate::variables::AWS_SECRET_VARIABLES
            .iter()
            .filter_map(|name| self.raw_named(name))
            .collect()
    }

    /// A variable that is not the profile's own (the AWS SDK's), read as set.
    pub(crate) fn raw_named(&mut self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    /// The value, or the documented default; `None` when neither.
    fn value_or_default(&mut self, variable: &Variable) -> Option<String> {
        self.raw(variable).or_else(|| match variable.default {
            DefaultValue::None | DefaultValue::Text("derived") => None,
            default => Some(default.to_string()),
        })
    }

    /// A whole number in `range`: plain ASCII digits, surrounding whitespace tolerated, so
    /// `-1`, `+1`, `1.5`, `1e3`, `0x10` and empty are refused alike.
    pub(crate) fn whole_number(
        &mut self,
        variable: &Variable,
        range: RangeInclusive<u64>,
        what: &str,
    ) -> Result<Option<u64>, EnvError> {
        let Some(raw) = self.value_or_default(variable) else {
            return Ok(None);
        };
        match whole(&raw) {
            Some(value) if range.contains(&value) => Ok(Some(value)),
            _ => Err(EnvError::new(
                variable.name,
                raw,
                format!("{what} from {} to {}", range.start(), range.end()),
            )),
        }
    }

    /// Whole milliseconds from `min` (0 where `0` means "off") to one day.
    pub(crate) fn millis(
        &mut self,
        variable: &Variable,
        min: u64,
    ) -> Result<Option<Duration>, EnvError> {
        Ok(self
            .whole_number(variable, min..=ONE_DAY_MS, "a whole number of milliseconds")?
            .map(Duration::from_millis))
    }

    /// `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` (any case).
    pub(crate) fn boolean(&mut self, variable: &Variable) -> Result<Option<bool>, EnvError> {
        let Some(raw) = self.value_or_default(variable) else {
            return Ok(None);
        };
        match crate::boolean(&raw) {
            Some(value) => Ok(Some(value)),
            None => Err(EnvError::new(
                variable.name,
                raw,
                "true or false (also 1/0, yes/no, on/off)",
            )),
        }
    }

    /// `all`, `none`, or a comma list of [`COMPONENTS`] (whitespace and case tolerated;
    /// empty means none).
    pub(crate) fn components(&mut self, variable: &Variable) -> Result<Components, EnvError> {
        let Some(raw) = self.value_or_default(variable) else {
            return Ok(Components::default());
        };
        let accepted = |why: String| {
            EnvError::new(
                variable.name,
                raw.clone(),
                format!(
                    "`all`, `none` or a comma-separated list of {} ({why})",
                    COMPONENTS.join(", ")
                ),
            )
        };
        let mut set = Components::none();
        if raw.trim().is_empty() || raw.trim().eq_ignore_ascii_case("none") {
            return Ok(set);
        }
        let mut all = false;
        for item in raw.split(',') {
            let name = item.trim().to_ascii_lowercase();
            match name.as_str() {
                "all" => all = true,
                n if COMPONENTS.contains(&n) => {
                    set = set.with(name);
                }
                "" => return Err(accepted("found an empty item".to_owned())),
                other => return Err(accepted(format!("unknown name {other:?}"))),
            }
        }
        Ok(if all { Components::all() } else { set })
    }

    /// A value `parse` accepts (given trimmed), or an error saying `what` is accepted; the
    /// default when unset. The value is never echoed for a secret (`what` says so).
    pub(crate) fn parsed<T>(
        &mut self,
        variable: &Variable,
        what: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, EnvError> {
        let Some(raw) = self.value_or_default(variable) else {
            return Ok(None);
        };
        match parse(raw.trim()) {
            Some(value) => Ok(Some(value)),
            None if variable.name.ends_with("_TOKEN") => {
                Err(EnvError::new(variable.name, "***", what))
            }
            None => Err(EnvError::new(variable.name, raw, what)),
        }
    }

    /// A check's URL or name: trimmed, handed to `build`, whose error becomes one naming the
    /// variable (its value scrubbed of credentials).
    #[allow(dead_code, reason = "a build without any backend builds no check")]
    pub(crate) fn built<T, E: std::fmt::Display>(
        &mut self,
        variable: &Variable,
        what: &str,
        build: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, EnvError> {
        let Some(raw) = self.raw(variable) else {
            return Ok(None);
        };
        build(raw.trim())
            .map(Some)
            .map_err(|e| EnvError::new(variable.name, scrub(&raw), format!("{what} ({e})")))
    }
}
