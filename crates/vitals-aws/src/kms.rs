//! KMS: `DescribeKey`.
use aws_sdk_kms as sdk;
use sdk::types::KeyState;
use vitals_core::CheckError;

use crate::{Seen, rfc3339};

aws_check! {
    /// Checks KMS keys with `DescribeKey`, which `kms:DescribeKey` allows: an `Enabled` key
    /// passes; `Creating` and `Updating` warn; a disabled key, one pending deletion or
    /// import, or an unavailable one (its custom key store disconnected) fails, since no
    /// request can encrypt or decrypt with it. Nothing is encrypted.
    check: KeyCheck,
    builder: KeyCheckBuilder,
    sdk: sdk,
    resources: "keys",
    name: "kms",
    extra {}
}

impl KeyCheck {
    /// A key id, key ARN, alias name (`alias/…`) or alias ARN.
    fn validate(key: &str) -> Result<(), String> {
        let valid = !key.is_empty()
            && key.len() <= 2048
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":/_-.".contains(&b));
        if valid {
            Ok(())
        } else {
            Err("expected a key id, key ARN, `alias/NAME` or alias ARN".to_owned())
        }
    }

    async fn probe(&self, client: &sdk::Client, key: &str) -> Result<Seen, CheckError> {
        let out = client
            .describe_key()
            .key_id(key)
            .send()
            .await
            .map_err(|e| crate::describe("kms:DescribeKey", "key", key, &e))?;
        let Some(meta) = out.key_metadata() else {
            return Err(CheckError::new(format!(
                "DescribeKey on key {key} returned no metadata"
            )));
        };
        let state = meta.key_state();
        let mut seen = Seen::default();
        seen.facts.push((
            format!("state:{key}"),
            state.map_or("unknown", KeyState::as_str).to_owned(),
        ));
        match state {
            Some(KeyState::Enabled) if meta.enabled() => Ok(seen),
            Some(KeyState::Creating | KeyState::Updating) => {
                seen.warning = Some(format!(
                    "key {key} is {}: it may refuse requests until that ends",
                    state.map_or("", KeyState::as_str)
                ));
                Ok(seen)
            }
            Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion) => {
                Err(CheckError::new(format!(
                    "key {key} is pending deletion{}: it cannot encrypt or decrypt (cancel with \
                     CancelKeyDeletion)",
                    meta.deletion_date()
                        .map(|d| format!(" on {}", rfc3339(d)))
                        .unwrap_or_default()
                )))
            }
            Some(KeyState::Disabled) => Err(CheckError::new(format!(
                "key {key} is disabled: it cannot encrypt or decrypt (EnableKey)"
            ))),
            Some(other) => Err(CheckError::new(format!(
                "key {key} is {}: it cannot encrypt or decrypt",
                other.as_str()
            ))),
            None => Err(CheckError::new(format!(
                "DescribeKey on key {key} returned no key state"
            ))),
        }
    }
}
