//! Secrets Manager: `DescribeSecret`, never the value.
use std::time::SystemTime;

use aws_sdk_secretsmanager as sdk;
use vitals_core::CheckError;

use crate::{Seen, rfc3339};

aws_check! {
    /// Checks Secrets Manager secrets with `DescribeSecret`, which
    /// `secretsmanager:DescribeSecret` allows: the secret exists and the role may see it. The
    /// value is never read (`GetSecretValue` would send it over the network on every probe,
    /// and be billed). A secret scheduled for deletion fails (Secrets Manager already refuses
    /// to return its value); rotation that is enabled and overdue warns (its last run most
    /// likely failed).
    check: SecretCheck,
    builder: SecretCheckBuilder,
    sdk: sdk,
    resources: "secrets",
    name: "secrets",
    extra {}
}

impl SecretCheck {
    /// A secret's name (1 to 512 characters: letters, digits and `/_+=.@-`) or ARN.
    fn validate(secret: &str) -> Result<(), String> {
        let valid = secret.starts_with("arn:")
            || ((1..=512).contains(&secret.len())
                && secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b)));
        if valid {
            Ok(())
        } else {
            Err("expected a secret's name (letters, digits and /_+=.@-) or ARN".to_owned())
        }
    }

    async fn probe(&self, client: &sdk::Client, secret: &str) -> Result<Seen, CheckError> {
        let out = client
            .describe_secret()
            .secret_id(secret)
            .send()
            .await
            .map_err(|e| crate::describe("secretsmanager:DescribeSecret", "secret", secret, &e))?;
        if let Some(deleted) = out.deleted_date() {
            return Err(CheckError::new(format!(
                "secret {secret} is scheduled for deletion on {}: Secrets Manager already \
                 refuses to return its value (restore it with RestoreSecret)",
                rfc3339(deleted)
            )));
        }
        let mut seen = Seen::default();
        if let Some(changed) = out.last_changed_date() {
            seen.facts
                .push((format!("last_changed:{secret}"), rfc3339(changed)));
        }
        let overdue = out.rotation_enabled() == Some(true)
            && out.next_rotation_date().is_some_and(|next| {
                SystemTime::try_from(*next).is_ok_and(|next| next < SystemTime::now())
            });
        if overdue {
            let next = out.next_rotation_date().map(rfc3339).unwrap_or_default();
            let last = out.last_rotated_date().map_or("never".to_owned(), rfc3339);
            seen.warning = Some(format!(
                "secret {secret}'s rotation is overdue (due {next}, last rotated {last}): its \
                 rotation most likely failed; see its rotation function's logs"
            ));
        }
        Ok(seen)
    }
}
