//! [`vitals_core::Check`]s for the AWS services a service reads besides S3 (vitals-s3): each
//! makes the cheapest read-only call that proves the application's own access, on the
//! application's own client or one from the default credential chain (IRSA included).
//!
//! | check | feature | call | IAM action | passes | warns | fails |
//! |---|---|---|---|---|---|---|
//! | `QueueCheck` | `sqs` | `GetQueueAttributes` (one attribute) | `sqs:GetQueueAttributes` (+ `sqs:GetQueueUrl` for a name) | the queue answers | more messages waiting than a threshold you set | missing, denied, throttled, unreachable |
//! | `TopicCheck` | `sns` | `GetTopicAttributes` | `sns:GetTopicAttributes` | the topic answers | | missing, denied, … |
//! | `TableCheck` | `dynamodb` | `DescribeTable` | `dynamodb:DescribeTable` | `ACTIVE` | `UPDATING` | `CREATING`, `DELETING`, archived, its KMS key inaccessible, missing, denied, … |
//! | `SecretCheck` | `secretsmanager` | `DescribeSecret` (never the value) | `secretsmanager:DescribeSecret` | the secret exists | rotation overdue (the last one probably failed) | scheduled for deletion (unreadable already), missing, denied, … |
//! | `KeyCheck` | `kms` | `DescribeKey` | `kms:DescribeKey` | `Enabled` | `Creating`, `Updating` | disabled, pending deletion or import, unavailable, missing, denied, … |
//!
//! Why these calls: Xabaril's Secrets Manager check reads the secret's value on every probe
//! (`GetSecretValue`: the secret travels for nothing, and each call is billed), its DynamoDB
//! check lists every table (`ListTables`: an action the application does not otherwise need,
//! and a page of names the probe does not use). Describing the one resource needs only the
//! read action an application's policy grants for it, returns its state, and sends no
//! secret.
//!
//! ```no_run
//! # #[cfg(feature = "dynamodb")] {
//! use vitals_aws::TableCheck;
//!
//! let check = TableCheck::builder(["orders"]).build().expect("a table name");
//! # let _ = check;
//! # }
//! ```
//!
//! Every builder has the vocabulary of the probe crates: `builder(resources)` (the default
//! chain, created at the first check) or `builder_for_client(&client, resources)` (the
//! application's client, its retries turned off and its timeout set for the check's copy),
//! then `name`, `component`, `secret`, `attempt_timeout`, `timeout` and `build()`. A failure
//! is told in words: the resource does not exist; access denied, naming the action the
//! policy lacks and the resource; throttled; the endpoint unreachable or no credentials.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Without a service's feature the crate has no check: the shared parts lie unused.
#![cfg_attr(
    not(any(
        feature = "sqs",
        feature = "sns",
        feature = "dynamodb",
        feature = "secretsmanager",
        feature = "kms"
    )),
    allow(dead_code, unused_macros, unused_imports)
)]

use std::time::Duration;

use vitals_core::{Cause, CheckError};

/// The default bound of one request (the SDK's operation timeout).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes a check type, its builder and the plumbing every service shares; the service's
/// module writes `probe` (one request for one resource) and `validate` (one resource name).
macro_rules! aws_check {
    (
        $(#[$doc:meta])*
        check: $Check:ident,
        builder: $Builder:ident,
        sdk: $sdk:ident,
        resources: $resources:literal,
        name: $name:literal,
        extra { $($field:ident: $ty:ty = $default:expr),* $(,)? }
    ) => {
        $(#[$doc])*
        pub struct $Check {
            settings: ::vitals_core::CheckSettings,
            resources: Vec<String>,
            source: crate::Source<$sdk::Client>,
            timeout: ::std::time::Duration,
            $($field: $ty,)*
        }

        impl ::std::fmt::Debug for $Check {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($Check))
                    .field("name", &self.settings.name())
                    .field($resources, &self.resources)
                    .finish_non_exhaustive()
            }
        }

        #[doc = concat!("Builds a [`", stringify!($Check), "`].")]
        #[must_use = "call .build() to get the check"]
        pub struct $Builder {
            check: $Check,
        }

        impl ::std::fmt::Debug for $Builder {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($Builder))
                    .field("settings", &self.check.settings)
                    .field($resources, &self.check.resources)
                    .field("timeout", &self.check.timeout)
                    .finish_non_exhaustive()
            }
        }

        impl $Builder {
            ::vitals_core::check_builder_methods! {
                settings: check.settings,
                name: $name,
                component: $name,
                attempt_timeout: "the request timeout for each resource, one after the other",
            }

            /// How long one request may take, credentials included (the SDK's operation
            /// timeout; default 10 s). Its own "timeout" error is what a report shows.
            pub fn timeout(mut self, timeout: ::std::time::Duration) -> Self {
                self.check.timeout = timeout;
                self
            }

            /// Validates the names (no request is made yet).
            pub fn build(self) -> Result<$Check, ::vitals_core::InvalidConfig> {
                let mut check = self.check;
                if check.resources.is_empty() {
                    return Err(::vitals_core::InvalidConfig::new(concat!(
                        "no ", $resources, " to check: expected at least one"
                    )));
                }
                for resource in &check.resources {
                    $Check::validate(resource).map_err(|why| {
                        ::vitals_core::InvalidConfig::new(format!(
                            "{:?}: {why}",
                            ::vitals_core::scrub(resource)
                        ))
                    })?;
                }
                // The application's client, tuned once for the check.
                if let crate::Source::Client(client) = &check.source {
                    let tuned = $sdk::Client::from_conf(
                        check.tuned(client.config().to_builder()).build(),
                    );
                    check.source = crate::Source::Client(tuned);
                }
                Ok(check)
            }
        }

        impl $Check {
            #[doc = concat!(
                "A builder for a check of `", $resources, "` with a client from the default \
                 credential chain (environment, web identity / IRSA, ECS, EC2 roles) and the \
                 environment's region and endpoint, created at the first check."
            )]
            pub fn builder(resources: impl IntoIterator<Item = impl Into<String>>) -> $Builder {
                $Check::builder_from(crate::Source::DefaultChain(Default::default()), resources)
            }

            #[doc = concat!(
                "A builder for a check of `", $resources, "` with the application's client \
                 (its retries are turned off and its timeout set for the check's copy)."
            )]
            pub fn builder_for_client(
                client: &$sdk::Client,
                resources: impl IntoIterator<Item = impl Into<String>>,
            ) -> $Builder {
                $Check::builder_from(crate::Source::Client(client.clone()), resources)
            }

            fn builder_from(
                source: crate::Source<$sdk::Client>,
                resources: impl IntoIterator<Item = impl Into<String>>,
            ) -> $Builder {
                $Builder {
                    check: $Check {
                        settings: ::vitals_core::CheckSettings::new($name, $name),
                        resources: resources.into_iter().map(Into::into).collect(),
                        source,
                        timeout: crate::DEFAULT_TIMEOUT,
                        $($field: $default,)*
                    },
                }
            }

            #[doc = concat!("The ", $resources, " checked.")]
            pub fn resources(&self) -> &[String] {
                &self.resources
            }

            /// No SDK retries (the registry retries), the request timeout.
            fn tuned(&self, builder: $sdk::config::Builder) -> $sdk::config::Builder {
                builder
                    .retry_config($sdk::config::retry::RetryConfig::disabled())
                    .timeout_config(
                        $sdk::config::timeout::TimeoutConfig::builder()
                            .operation_timeout(self.timeout)
                            .build(),
                    )
            }

            async fn client(&self) -> $sdk::Client {
                match &self.source {
                    crate::Source::Client(client) => client.clone(),
                    crate::Source::DefaultChain(cell) => cell
                        .get_or_init(|| async {
                            let shared = ::aws_config::load_defaults(
                                ::aws_config::BehaviorVersion::latest(),
                            )
                            .await;
                            $sdk::Client::from_conf(
                                self.tuned($sdk::config::Builder::from(&shared)).build(),
                            )
                        })
                        .await
                        .clone(),
                }
            }
        }

        #[::vitals_core::async_trait]
        impl ::vitals_core::SettingsCheck for $Check {
            fn settings(&self) -> &::vitals_core::CheckSettings {
                &self.settings
            }

            fn driver_timeout(&self) -> Option<::std::time::Duration> {
                // One request per resource, one after the other (two for a queue named, not
                // addressed, the first time).
                Some(self.timeout * self.resources.len() as u32)
            }

            async fn attempt(&self) -> Result<::vitals_core::Details, ::vitals_core::CheckError> {
                let client = self.client().await;
                let mut seen = Vec::with_capacity(self.resources.len());
                for resource in &self.resources {
                    seen.push((resource.as_str(), self.probe(&client, resource).await));
                }
                let region = client.config().region().map(|r| r.as_ref().to_owned());
                crate::summarize($resources, region, seen)
            }
        }
    };
}

#[cfg(feature = "dynamodb")]
mod dynamodb;
#[cfg(feature = "kms")]
mod kms;
#[cfg(feature = "secretsmanager")]
mod secretsmanager;
#[cfg(feature = "sns")]
mod sns;
#[cfg(feature = "sqs")]
mod sqs;

#[cfg(feature = "dynamodb")]
pub use {
    aws_sdk_dynamodb,
    dynamodb::{TableCheck, TableCheckBuilder},
};
#[cfg(feature = "kms")]
pub use {
    aws_sdk_kms,
    kms::{KeyCheck, KeyCheckBuilder},
};
#[cfg(feature = "secretsmanager")]
pub use {
    aws_sdk_secretsmanager,
    secretsmanager::{SecretCheck, SecretCheckBuilder},
};
#[cfg(feature = "sns")]
pub use {
    aws_sdk_sns,
    sns::{TopicCheck, TopicCheckBuilder},
};
#[cfg(feature = "sqs")]
pub use {
    aws_sdk_sqs,
    sqs::{QueueCheck, QueueCheckBuilder},
};

/// Where a check's client comes from.
enum Source<C> {
    /// The application's, tuned for the check.
    Client(C),
    /// The default chain's, created at the first check.
    DefaultChain(tokio::sync::OnceCell<C>),
}

/// What one resource showed: facts for the details, and a warning.
#[derive(Default)]
struct Seen {
    facts: Vec<(String, String)>,
    warning: Option<String>,
}

/// One report for every resource: the failures, said together (permanent only when each is),
/// else the facts and the warnings.
fn summarize(
    what: &str,
    region: Option<String>,
    seen: Vec<(&str, Result<Seen, CheckError>)>,
) -> Result<vitals_core::Details, CheckError> {
    let mut failures = Vec::new();
    let mut permanent = true;
    let mut details = vitals_core::Details::new()
        .with(
            what,
            seen.iter().map(|(r, _)| *r).collect::<Vec<_>>().join(","),
        )
        .with("region", region.unwrap_or_else(|| "unset".to_owned()));
    let mut warnings = Vec::new();
    for (_, result) in seen {
        match result {
            Ok(seen) => {
                for (key, value) in seen.facts {
                    details = details.with(key, value);
                }
                warnings.extend(seen.warning);
            }
            Err(error) => {
                permanent &= error.is_permanent();
                failures.push(error.message().to_owned());
            }
        }
    }
    if !failures.is_empty() {
        let message = failures.join("; ");
        return Err(if permanent {
            CheckError::permanent(message)
        } else {
            CheckError::new(message)
        });
    }
    if !warnings.is_empty() {
        details = details.warning(warnings.join("; "));
    }
    Ok(details)
}

/// An error and its sources as text, without the `Debug` the SDK's context appends.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    CheckError::from_error(error).message().to_owned()
}

/// The error codes AWS services answer when a resource does not exist.
const NOT_FOUND: [&str; 6] = [
    "ResourceNotFoundException",
    "NotFoundException",
    "NotFound",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "NoSuchEntity",
];

/// The error codes of a refused signature or identity, and of a missing permission.
const DENIED: [&str; 8] = [
    "AccessDeniedException",
    "AccessDenied",
    "AuthorizationError",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "ExpiredTokenException",
];

/// The error codes of throttling.
const THROTTLED: [&str; 6] = [
    "ThrottlingException",
    "Throttling",
    "RequestThrottled",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
];

/// What a failed `action` (`sqs:GetQueueAttributes`) on `resource` means, in words an operator
/// acts on: from the service's error code when it answered, else from the transport.
fn describe<E>(
    action: &str,
    what: &str,
    resource: &str,
    error: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::http::Response,
    >,
) -> CheckError
where
    E: std::error::Error + aws_smithy_types::error::metadata::ProvideErrorMetadata + 'static,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    let operation = action.split_once(':').map_or(action, |(_, op)| op);
    match error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            let status = service.raw().status().as_u16();
            // An answer the SDK could not read an error code from: its HTTP status decides.
            let code = err.code().unwrap_or(match status {
                403 => "AccessDenied",
                404 => "NotFound",
                429 => "Throttling",
                _ => "an unnamed error",
            });
            let said = err
                .message()
                .map(|m| format!(": {}", vitals_core::scrub(m)))
                .unwrap_or_default();
            if NOT_FOUND.contains(&code) {
                CheckError::permanent(format!(
                    "{what} {resource} does not exist ({code} on {operation}{said})"
                ))
            } else if DENIED.contains(&code) && code.starts_with("Access") {
                CheckError::new(format!(
                    "access denied to {what} {resource} ({code} on {operation}): the role lacks \
                     {action} on it{said}"
                ))
            } else if DENIED.contains(&code) {
                CheckError::new(format!(
                    "the credentials were refused for {what} {resource} ({code} on \
                     {operation}): they are invalid, expired or for another account{said}"
                ))
            } else if THROTTLED.contains(&code) {
                CheckError::new(format!(
                    "{operation} on {what} {resource} was throttled ({code}): the account's \
                     request rate for it is exhausted{said}"
                ))
            } else {
                CheckError::new(format!(
                    "{operation} on {what} {resource} failed: {code} (HTTP {status}){said}"
                ))
            }
        }
        _ => describe_unsent(&format!("{operation} on {what} {resource}"), error),
    }
}

/// A request to an AWS service that got no answer from it (no credentials, unreachable,
/// timed out), in words: `{context}: {why} ({the SDK's error and its sources})`. Shared by
/// every AWS check, vitals-s3's included.
pub fn describe_unsent(context: &str, error: &(dyn std::error::Error + 'static)) -> CheckError {
    let text = chain(error);
    let lower = text.to_ascii_lowercase();
    let hint = if lower.contains("credential") || lower.contains("identity") {
        "no AWS credentials found: give the pod/task/instance an IAM role (or set \
         AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
    } else {
        Cause::recognise(&text).map_or("the request could not be sent", Cause::phrase)
    };
    Cause::describe(context, Some(hint), &text)
}

/// An AWS timestamp as RFC 3339 seconds.
#[cfg_attr(
    not(any(feature = "secretsmanager", feature = "kms")),
    allow(dead_code)
)]
fn rfc3339(at: &aws_smithy_types::DateTime) -> String {
    at.fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| at.secs().to_string())
}
