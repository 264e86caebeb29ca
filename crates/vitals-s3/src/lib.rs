//! A [`vitals_core::Check`] for S3 buckets, built on aws-sdk-s3.
//!
//! [`BucketCheck`] sends `HeadBucket` to every bucket at once (what `s3:ListBucket` allows),
//! and in its deep mode reads a bucket's lifecycle and CORS rules (drift warns).
//!
//! ```no_run
//! use vitals_s3::BucketCheck;
//!
//! // Credentials from the default chain (IAM roles for service accounts included), with the
//! // deep check of the deployment guide's lifecycle and CORS rules.
//! let check = BucketCheck::builder(["prod-integration-app-tmp", "prod-integration-app-static"])
//!     .expect_expiration_rule("prod-integration-app-tmp")
//!     .expect_cors_get("prod-integration-app-static")
//!     .build()
//!     .expect("valid bucket names");
//! # let _ = check;
//! ```
//!
//! The builder has the vocabulary of every vitals probe crate: `builder(buckets)` or
//! `builder_for_client(&client, buckets)`, then `name`, `component`, `secret`,
//! `attempt_timeout` and `build()`. The deployment guide's bucket variables are read by
//! `vitals-env`.
#![forbid(unsafe_code)]

use std::{fmt, time::Duration};

use aws_sdk_s3::{
    Client,
    config::{retry::RetryConfig, timeout::TimeoutConfig},
    error::SdkError,
    types::ExpirationStatus,
};
use tokio::sync::OnceCell;
use vitals_core::{
    CheckError, CheckSettings, Details, InvalidConfig, SettingsCheck, async_trait, scrub,
};

pub use aws_sdk_s3;

/// The default bound of one S3 request (the SDK's operation timeout).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks that buckets exist and are reachable with `HeadBucket`.
pub struct BucketCheck {
    settings: CheckSettings,
    buckets: Vec<String>,
    source: Source,
    timeout: Duration,
    /// Buckets whose lifecycle must expire objects, after this many days if given.
    expiration_rules: Vec<(String, Option<i32>)>,
    cors_get: Vec<String>,
}

enum Source {
    Client(Client),
    DefaultChain {
        path_style: Option<bool>,
        client: OnceCell<Client>,
    },
}

impl fmt::Debug for BucketCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BucketCheck")
            .field("name", &self.settings.name())
            .field("buckets", &self.buckets)
            .finish_non_exhaustive()
    }
}

/// Builds a [`BucketCheck`].
#[must_use = "call .build() to get the check"]
pub struct BucketCheckBuilder {
    check: BucketCheck,
}

impl fmt::Debug for BucketCheckBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BucketCheckBuilder")
            .field("settings", &self.check.settings)
            .field("buckets", &self.check.buckets)
            .field("timeout", &self.check.timeout)
            .finish_non_exhaustive()
    }
}

impl BucketCheckBuilder {
    vitals_core::check_builder_methods! {
        settings: check.settings,
        name: "storage",
        component: "storage",
        attempt_timeout: "the request timeout for the `HeadBucket`s, sent together, plus one per deep-check request",
    }

    /// How long one S3 request may take, credentials included (the SDK's operation timeout;
    /// default 10 s). Its own "timeout" error is what a report shows.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.check.timeout = timeout;
        self
    }

    /// Path-style addressing (`endpoint/bucket`) for S3-compatible stores. By default it is
    /// used exactly when a custom endpoint is configured. Applies to the default chain only.
    pub fn force_path_style(mut self, path_style: bool) -> Self {
        if let Source::DefaultChain { path_style: p, .. } = &mut self.check.source {
            *p = Some(path_style);
        }
        self
    }

    /// Deep check: `bucket` must have an enabled lifecycle rule with an expiration. Drift
    /// reports `warn`.
    pub fn expect_expiration_rule(mut self, bucket: impl Into<String>) -> Self {
        self.check.expiration_rules.push((bucket.into(), None));
        self
    }

    /// Deep check: `bucket` must have an enabled lifecycle rule expiring objects after exactly
    /// `days` days (the guide's 7-day cleanup of the tmp bucket). Drift reports `warn`.
    pub fn expect_expiration_after(mut self, bucket: impl Into<String>, days: i32) -> Self {
        self.check
            .expiration_rules
            .push((bucket.into(), Some(days)));
        self
    }

    /// Deep check: `bucket` must have a CORS rule allowing `GET` (the guide's static bucket).
    /// Drift reports `warn`.
    pub fn expect_cors_get(mut self, bucket: impl Into<String>) -> Self {
        self.check.cors_get.push(bucket.into());
        self
    }

    /// Validates the bucket names against S3's naming rules (no request is made yet).
    pub fn build(self) -> Result<BucketCheck, InvalidConfig> {
        let mut check = self.check;
        // The application's client, tuned once for the check (no SDK retries, the timeout).
        if let Source::Client(client) = &check.source {
            let tuned = Client::from_conf(check.tuned(client.config().to_builder()).build());
            check.source = Source::Client(tuned);
        }
        if check.buckets.is_empty() {
            return Err(InvalidConfig::new(
                "no bucket to check: expected at least one",
            ));
        }
        for bucket in check
            .buckets
            .iter()
            .chain(check.expiration_rules.iter().map(|(bucket, _)| bucket))
            .chain(&check.cors_get)
        {
            check_bucket_name(bucket).map_err(|why| {
                InvalidConfig::new(format!("invalid bucket name {:?}: {why}", scrub(bucket)))
            })?;
        }
        Ok(check)
    }
}

impl BucketCheck {
    /// A builder for a check of `buckets` with a client from the default credential chain
    /// (environment, web identity / IRSA, ECS, EC2 roles) and the environment's region and
    /// endpoint, created at the first check.
    pub fn builder(buckets: impl IntoIterator<Item = impl Into<String>>) -> BucketCheckBuilder {
        BucketCheck::builder_from(
            Source::DefaultChain {
                path_style: None,
                client: OnceCell::new(),
            },
            buckets,
        )
    }

    /// A builder for a check of `buckets` with the application's client (its retries are
    /// turned off and its timeout set for the check's copy).
    pub fn builder_for_client(
        client: &Client,
        buckets: impl IntoIterator<Item = impl Into<String>>,
    ) -> BucketCheckBuilder {
        BucketCheck::builder_from(Source::Client(client.clone()), buckets)
    }

    fn builder_from(
        source: Source,
        buckets: impl IntoIterator<Item = impl Into<String>>,
    ) -> BucketCheckBuilder {
        BucketCheckBuilder {
            check: BucketCheck {
                settings: CheckSettings::new("storage", "storage"),
                buckets: buckets.into_iter().map(Into::into).collect(),
                source,
                timeout: DEFAULT_TIMEOUT,
                expiration_rules: Vec::new(),
                cors_get: Vec::new(),
            },
        }
    }

    /// The buckets checked.
    pub fn buckets(&self) -> &[String] {
        &self.buckets
    }

    /// The SDK settings every request of the check uses: no SDK retries (the registry
    /// retries), the request timeout.
    fn tuned(&self, builder: aws_sdk_s3::config::Builder) -> aws_sdk_s3::config::Builder {
        builder
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(self.timeout)
                    .build(),
            )
    }

    async fn client(&self) -> Client {
        match &self.source {
            Source::Client(client) => client.clone(),
            Source::DefaultChain { path_style, client } => client
                .get_or_init(|| async {
                    let shared =
                        aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                    let custom_endpoint = shared.endpoint_url().is_some();
                    let config = self
                        .tuned(aws_sdk_s3::config::Builder::from(&shared))
                        .force_path_style(path_style.unwrap_or(custom_endpoint))
                        .build();
                    Client::from_conf(config)
                })
                .await
                .clone(),
        }
    }
}

/// Checks `name` against S3's bucket naming rules (the general-purpose subset); the error says
/// the rule and what broke it.
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    check_bucket_rules(name).map_err(|why| {
        format!(
            "3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a \
             letter or digit ({why})"
        )
    })
}

fn check_bucket_rules(name: &str) -> Result<(), &'static str> {
    if !(3..=63).contains(&name.len()) {
        return Err("wrong length");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err("invalid character");
    }
    let ends = [name.as_bytes()[0], name.as_bytes()[name.len() - 1]];
    if !ends
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err("must start and end with a letter or digit");
    }
    if name.contains("..") {
        return Err("two adjacent dots");
    }
    Ok(())
}

/// An error and its sources as text (`dispatch failure: io error: … Connection refused (os
/// error 111)`), without the `Debug` rendering the SDK's `DisplayErrorContext` appends.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    CheckError::from_error(error).message().to_owned()
}

/// Joins per-bucket failures, saying a reason shared by several buckets once:
/// `HeadBucket on buckets a, b: the S3 endpoint is unreachable (…)`.
fn join_failures(failures: &[(String, String)]) -> String {
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for (bucket, message) in failures {
        let shape = message.replace(&format!("bucket {bucket}"), "bucket {}");
        match groups.iter_mut().find(|(s, _)| *s == shape) {
            Some((_, buckets)) => buckets.push(bucket),
            None => groups.push((shape, vec![bucket])),
        }
    }
    groups
        .into_iter()
        .map(|(shape, buckets)| match buckets.as_slice() {
            [one] => shape.replace("bucket {}", &format!("bucket {one}")),
            many => shape.replace("bucket {}", &format!("buckets {}", many.join(", "))),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a failed request means for `bucket`, in words an operator acts on.
fn describe<E>(
    bucket: &str,
    action: &str,
    error: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> CheckError
where
    E: std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            match status {
                404 => CheckError::permanent(format!(
                    "bucket {bucket} does not exist (404 on {action})"
                )),
                403 => CheckError::new(format!(
                    "access denied to bucket {bucket} (403 on {action}): the credentials are invalid or the role lacks s3:ListBucket on arn:aws:s3:::{bucket}"
                )),
                301 | 307 | 400 => CheckError::new(format!(
                    "bucket {bucket} answered {status} to {action}: it is probably in another region than AWS_REGION"
                )),
                _ => CheckError::new(format!(
                    "{action} on bucket {bucket} failed with HTTP {status}: {}",
                    chain(error)
                )),
            }
        }
        _ => vitals_aws::describe_unsent(&format!("{action} on bucket {bucket}"), error),
    }
}

async fn head(client: Client, bucket: String) -> Result<(), CheckError> {
    client
        .head_bucket()
        .bucket(&bucket)
        .send()
        .await
        .map(drop)
        .map_err(|e| describe(&bucket, "HeadBucket", &e))
}

/// The deep check of one bucket: `None` when it conforms, else what drifted.
async fn drift_expiration(client: &Client, bucket: &str, days: Option<i32>) -> Option<String> {
    match client
        .get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => {
            let expiring: Vec<Option<i32>> = out
                .rules()
                .iter()
                .filter(|rule| rule.status() == &ExpirationStatus::Enabled)
                .filter_map(|rule| rule.expiration())
                .filter(|e| e.days().is_some() || e.date().is_some())
                .map(|e| e.days())
                .collect();
            match (days, expiring.as_slice()) {
                (_, []) => Some(format!(
                    "bucket {bucket} has no enabled lifecycle rule with an expiration"
                )),
                (Some(days), found) if !found.contains(&Some(days)) => {
                    let found: Vec<String> = found
                        .iter()
                        .map(|d| d.map_or("a date".to_owned(), |d| format!("{d} days")))
                        .collect();
                    Some(format!(
                        "bucket {bucket} expires objects after {}, expected {days} days",
                        found.join(" or ")
                    ))
                }
                _ => None,
            }
        }
        Err(e) if is_missing_configuration(&e) => Some(format!(
            "bucket {bucket} has no lifecycle configuration (expected an expiration rule)"
        )),
        Err(e) => Some(format!(
            "cannot read the lifecycle configuration of bucket {bucket}: {}",
            describe(bucket, "GetBucketLifecycleConfiguration", &e).message()
        )),
    }
}

/// S3 answers 404 `NoSuchLifecycleConfiguration` / `NoSuchCORSConfiguration` for a bucket that
/// has none: drift, not an error reading it.
fn is_missing_configuration<E>(
    error: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    matches!(error, SdkError::ServiceError(service) if service.raw().status().as_u16() == 404)
}

async fn drift_cors(client: &Client, bucket: &str) -> Option<String> {
    match client.get_bucket_cors().bucket(bucket).send().await {
        Ok(out) => {
            let allows_get = out.cors_rules().iter().any(|rule| {
                rule.allowed_methods()
                    .iter()
                    .any(|m| m.eq_ignore_ascii_case("GET"))
            });
            (!allows_get).then(|| format!("bucket {bucket} has no CORS rule allowing GET"))
        }
        Err(e) if is_missing_configuration(&e) => Some(format!(
            "bucket {bucket} has no CORS configuration (expected a rule allowing GET)"
        )),
        Err(e) => Some(format!(
            "cannot read the CORS configuration of bucket {bucket}: {}",
            describe(bucket, "GetBucketCors", &e).message()
        )),
    }
}

#[async_trait]
impl SettingsCheck for BucketCheck {
    fn settings(&self) -> &CheckSettings {
        &self.settings
    }

    fn driver_timeout(&self) -> Option<Duration> {
        // The HeadBuckets go together; each deep-check request follows on its own.
        let requests = 1 + self.expiration_rules.len() + self.cors_get.len();
        let driver = self.timeout * requests as u32;
        Some(driver)
    }

    async fn attempt(&self) -> Result<Details, CheckError> {
        let client = self.client().await;
        let tasks: Vec<_> = self
            .buckets
            .iter()
            .map(|bucket| {
                let task = tokio::spawn(head(client.clone(), bucket.clone()));
                (bucket, task)
            })
            .collect();
        let mut failures = Vec::new();
        let mut permanent = true;
        for (bucket, task) in tasks {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    permanent &= error.is_permanent();
                    failures.push((bucket.clone(), error.message().to_owned()));
                }
                Err(join) => {
                    permanent = false;
                    failures.push((bucket.clone(), format!("HeadBucket task failed: {join}")));
                }
            }
        }
        if !failures.is_empty() {
            let message = join_failures(&failures);
            return Err(if permanent {
                CheckError::permanent(message)
            } else {
                CheckError::new(message)
            });
        }
        let mut details = Details::new().with("buckets", self.buckets.join(",")).with(
            "region",
            client.config().region().map_or("unset", |r| r.as_ref()),
        );
        let mut drift = Vec::new();
        for (bucket, days) in &self.expiration_rules {
            drift.extend(drift_expiration(&client, bucket, *days).await);
        }
        for bucket in &self.cors_get {
            drift.extend(drift_cors(&client, bucket).await);
        }
        if !drift.is_empty() {
            details = details.warning(drift.join("; "));
        }
        Ok(details)
    }
}

#[cfg(test)]
mod tests {
    use super::{check_bucket_rules, join_failures};

    #[test]
    fn a_reason_shared_by_several_buckets_is_said_once() {
        let failure = |bucket: &str, why: &str| {
            (
                bucket.to_owned(),
                format!("HeadBucket on bucket {bucket}: {why}"),
            )
        };
        assert_eq!(
            join_failures(&[
                failure("a-tmp", "unreachable"),
                failure("a-static", "unreachable"),
                failure("a-conn", "denied"),
            ]),
            "HeadBucket on buckets a-tmp, a-static: unreachable; HeadBucket on bucket a-conn: denied"
        );
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["prod-integration-app-tmp", "abc", "a.b-c1"] {
            assert_eq!(check_bucket_rules(ok), Ok(()), "{ok}");
        }
        for bad in [
            "ab",
            "Prod",
            "-abc",
            "abc-",
            "a..b",
            "has space",
            &"a".repeat(64),
        ] {
            assert!(check_bucket_rules(bad).is_err(), "{bad}");
        }
    }
}
