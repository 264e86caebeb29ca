//! DynamoDB: `DescribeTable`.
use aws_sdk_dynamodb as sdk;
use sdk::types::TableStatus;
use vitals_core::CheckError;

use crate::Seen;

aws_check! {
    /// Checks DynamoDB tables with `DescribeTable`, which `dynamodb:DescribeTable` allows:
    /// `ACTIVE` passes, `UPDATING` warns (reads and writes work; a capacity or index change is
    /// under way), and a table being created or deleted, archived, or whose KMS key is
    /// inaccessible fails. It never lists tables.
    check: TableCheck,
    builder: TableCheckBuilder,
    sdk: sdk,
    resources: "tables",
    name: "dynamodb",
    extra {}
}

impl TableCheck {
    /// A table name (3 to 255 letters, digits, `_`, `-`, `.`) or a table ARN.
    fn validate(table: &str) -> Result<(), String> {
        let valid = table.starts_with("arn:")
            || ((3..=255).contains(&table.len())
                && table
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')));
        if valid {
            Ok(())
        } else {
            Err(
                "expected a table name (3 to 255 letters, digits, `_`, `-` and `.`) or a \
                 table ARN"
                    .to_owned(),
            )
        }
    }

    async fn probe(&self, client: &sdk::Client, table: &str) -> Result<Seen, CheckError> {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| crate::describe("dynamodb:DescribeTable", "table", table, &e))?;
        let status = out.table().and_then(|t| t.table_status());
        let mut seen = Seen::default();
        let shown = status.map_or("unknown", TableStatus::as_str);
        seen.facts
            .push((format!("status:{table}"), shown.to_owned()));
        match status {
            Some(TableStatus::Active) => Ok(seen),
            Some(TableStatus::Updating) => {
                seen.warning = Some(format!(
                    "table {table} is UPDATING: it serves reads and writes while a change of \
                     its capacity, indexes or streams is under way"
                ));
                Ok(seen)
            }
            Some(TableStatus::InaccessibleEncryptionCredentials) => Err(CheckError::new(format!(
                "table {table} is INACCESSIBLE_ENCRYPTION_CREDENTIALS: its KMS key is disabled \
                 or DynamoDB lost access to it, so no request can read or write it"
            ))),
            Some(other) => Err(CheckError::new(format!(
                "table {table} is {}, not ACTIVE: it cannot serve requests",
                other.as_str()
            ))),
            None => Err(CheckError::new(format!(
                "DescribeTable on table {table} returned no status"
            ))),
        }
    }
}
