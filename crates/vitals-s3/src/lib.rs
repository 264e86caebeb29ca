//! A [`vitals_core::Check`] for S3 buckets, built on aws-sdk-s3.
//!
//! ```no_run
//! use vitals_s3::BucketCheck;
//!
//! // The guide's buckets from TMP_STORAGE_BUCKET, CONNECTORS_STORAGE_BUCKET and
//! // STATIC_STORAGE_BUCKET, credentials from the default chain (IAM roles included).
//! let from_env = BucketCheck::from_env().expect("valid configuration");
//!
//! // Or explicitly, with the deep check of the guide's lifecycle and CORS rules.
//! let check = BucketCheck::from_default_chain(["prod-integration-app-tmp", "prod-integration-app-static"])
//!     .expect_expiration_rule("prod-integration-app-tmp")
//!     .expect_cors_get("prod-integration-app-static");
//! # let _ = (from_env, check);
//! ```
#![forbid(unsafe_code)]

use std::fmt;

use aws_sdk_s3::{Client, config::retry::RetryConfig, error::SdkError, types::ExpirationStatus};
use tokio::sync::OnceCell;
use vitals_core::{
    Check, CheckError, Details, EnvError, async_trait,
    config::{env_bool, lookup_env},
};

pub use aws_sdk_s3;

/// The deployment guide's bucket variables, in order.
pub const BUCKET_VARIABLES: [&str; 3] = [
    "TMP_STORAGE_BUCKET",
    "CONNECTORS_STORAGE_BUCKET",
    "STATIC_STORAGE_BUCKET",
];

/// Checks that buckets exist and are reachable with `HeadBucket`.
pub struct BucketCheck {
    name: String,
    buckets: Vec<String>,
    source: Source,
    expiration_rules: Vec<String>,
    cors_get: Vec<String>,
    secrets: Vec<String>,
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
            .field("name", &self.name)
            .field("buckets", &self.buckets)
            .finish_non_exhaustive()
    }
}

impl BucketCheck {
    /// Checks `buckets` with an existing client (its retries are turned off for the check).
    pub fn new(client: &Client, buckets: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let config = client
            .config()
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .build();
        BucketCheck::with_source(Source::Client(Client::from_conf(config)), buckets)
    }

    /// Checks `buckets` with a client from the default credential chain and the environment's
    /// region and endpoint, created at the first check.
    pub fn from_default_chain(buckets: impl IntoIterator<Item = impl Into<String>>) -> Self {
        BucketCheck::with_source(
            Source::DefaultChain {
                path_style: None,
                client: OnceCell::new(),
            },
            buckets,
        )
    }

    fn with_source(source: Source, buckets: impl IntoIterator<Item = impl Into<String>>) -> Self {
        BucketCheck {
            name: "storage".to_owned(),
            buckets: buckets.into_iter().map(Into::into).collect(),
            source,
            expiration_rules: Vec::new(),
            cors_get: Vec::new(),
            secrets: Vec::new(),
        }
    }

    /// Renames the check (default `storage`).
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Path-style addressing (`endpoint/bucket`) for S3-compatible stores. By default it is
    /// used exactly when a custom endpoint is configured. Applies to the default chain only.
    #[must_use]
    pub fn force_path_style(mut self, path_style: bool) -> Self {
        if let Source::DefaultChain { path_style: p, .. } = &mut self.source {
            *p = Some(path_style);
        }
        self
    }

    /// Deep check: `bucket` must have an enabled lifecycle rule with an expiration (the guide's
    /// 7-day cleanup of the tmp bucket). Drift reports `warn`.
    #[must_use]
    pub fn expect_expiration_rule(mut self, bucket: impl Into<String>) -> Self {
        self.expiration_rules.push(bucket.into());
        self
    }

    /// Deep check: `bucket` must have a CORS rule allowing `GET` (the guide's static bucket).
    /// Drift reports `warn`.
    #[must_use]
    pub fn expect_cors_get(mut self, bucket: impl Into<String>) -> Self {
        self.cors_get.push(bucket.into());
        self
    }

    /// Also scrubs `secret` from every output.
    #[must_use]
    pub fn with_secret(mut self, secret: impl Into<String>) -> Self {
        self.secrets.push(secret.into());
        self
    }

    /// The buckets checked.
    pub fn buckets(&self) -> &[String] {
        &self.buckets
    }

    /// Reads the guide's bucket variables (`TMP_STORAGE_BUCKET`, `CONNECTORS_STORAGE_BUCKET`,
    /// `STATIC_STORAGE_BUCKET`), `S3_FORCE_PATH_STYLE` and `STORAGE_DEEP_CHECK` (the tmp
    /// bucket's expiration and the static bucket's CORS); `Ok(None)` when no bucket is set.
    /// Bucket names are validated against S3's naming rules.
    pub fn from_env() -> Result<Option<BucketCheck>, EnvError> {
        BucketCheck::from_lookup(lookup_env)
    }

    /// Like [`BucketCheck::from_env`], reading through `lookup`.
    pub fn from_lookup(
        mut lookup: impl FnMut(&str) -> Option<String>,
    ) -> Result<Option<BucketCheck>, EnvError> {
        let mut named = Vec::new();
        for variable in BUCKET_VARIABLES {
            if let Some(raw) = lookup(variable) {
                let bucket = raw.trim().to_owned();
                if let Err(why) = validate_bucket_name(&bucket) {
                    return Err(EnvError::new(
                        variable,
                        raw,
                        format!(
                            "an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit ({why})"
                        ),
                    ));
                }
                named.push((variable, bucket));
            }
        }
        let deep = env_bool(&mut lookup, "STORAGE_DEEP_CHECK", false)?;
        let path_style = match lookup("S3_FORCE_PATH_STYLE") {
            Some(_) => Some(env_bool(&mut lookup, "S3_FORCE_PATH_STYLE", false)?),
            None => None,
        };
        if named.is_empty() {
            return Ok(None);
        }
        let mut check = BucketCheck::from_default_chain(named.iter().map(|(_, b)| b.clone()));
        if let Some(path_style) = path_style {
            check = check.force_path_style(path_style);
        }
        for variable in ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
            if let Some(secret) = lookup(variable) {
                check = check.with_secret(secret);
            }
        }
        if deep {
            for (variable, bucket) in &named {
                match *variable {
                    "TMP_STORAGE_BUCKET" => check = check.expect_expiration_rule(bucket.clone()),
                    "STATIC_STORAGE_BUCKET" => check = check.expect_cors_get(bucket.clone()),
                    _ => {}
                }
            }
        }
        Ok(Some(check))
    }

    async fn client(&self) -> Client {
        match &self.source {
            Source::Client(client) => client.clone(),
            Source::DefaultChain { path_style, client } => client
                .get_or_init(|| async {
                    let shared =
                        aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                    let custom_endpoint = shared.endpoint_url().is_some();
                    let config = aws_sdk_s3::config::Builder::from(&shared)
                        .retry_config(RetryConfig::disabled())
                        .force_path_style(path_style.unwrap_or(custom_endpoint))
                        .build();
                    Client::from_conf(config)
                })
                .await
                .clone(),
        }
    }
}

/// S3's bucket naming rules (the general-purpose subset).
fn validate_bucket_name(name: &str) -> Result<(), &'static str> {
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
        _ => {
            let text = chain(error);
            let lower = text.to_ascii_lowercase();
            let hint = if lower.contains("credential") || lower.contains("identity") {
                "no AWS credentials found: give the pod/task/instance an IAM role (or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
            } else if lower.contains("refused") {
                "the S3 endpoint is unreachable (connection refused)"
            } else if lower.contains("dns") || lower.contains("lookup") || lower.contains("resolve")
            {
                "the S3 endpoint does not resolve (DNS)"
            } else if lower.contains("timeout") || lower.contains("timed out") {
                "the S3 endpoint timed out"
            } else {
                "the request could not be sent"
            };
            CheckError::new(format!("{action} on bucket {bucket}: {hint} ({text})"))
        }
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
async fn drift_expiration(client: &Client, bucket: &str) -> Option<String> {
    match client
        .get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => {
            let has_rule = out.rules().iter().any(|rule| {
                rule.status() == &ExpirationStatus::Enabled
                    && rule
                        .expiration()
                        .is_some_and(|e| e.days().is_some() || e.date().is_some())
            });
            (!has_rule).then(|| {
                format!("bucket {bucket} has no enabled lifecycle rule with an expiration")
            })
        }
        Err(e) => Some(format!(
            "cannot read the lifecycle configuration of bucket {bucket}: {}",
            describe(bucket, "GetBucketLifecycleConfiguration", &e).message()
        )),
    }
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
        Err(e) => Some(format!(
            "cannot read the CORS configuration of bucket {bucket}: {}",
            describe(bucket, "GetBucketCors", &e).message()
        )),
    }
}

#[async_trait]
impl Check for BucketCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn component(&self) -> &str {
        "storage"
    }

    fn secrets(&self) -> Vec<String> {
        self.secrets.clone()
    }

    async fn check(&self) -> Result<Details, CheckError> {
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
        for bucket in &self.expiration_rules {
            drift.extend(drift_expiration(&client, bucket).await);
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
    use super::{join_failures, validate_bucket_name};

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
            assert_eq!(validate_bucket_name(ok), Ok(()), "{ok}");
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
            assert!(validate_bucket_name(bad).is_err(), "{bad}");
        }
    }
}
