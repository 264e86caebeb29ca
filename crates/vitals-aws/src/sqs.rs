//! SQS: `GetQueueAttributes` for one attribute, the queue's depth.
use aws_sdk_sqs as sdk;
use sdk::types::QueueAttributeName;
use tokio::sync::OnceCell;
use vitals_core::CheckError;

use crate::Seen;

aws_check! {
    /// Checks SQS queues with `GetQueueAttributes` (`ApproximateNumberOfMessages` only), which
    /// `sqs:GetQueueAttributes` allows: the queue exists and the role may read it. A queue given
    /// by name is found once with `GetQueueUrl` (`sqs:GetQueueUrl`). With
    /// [`QueueCheckBuilder::warn_above`], a queue holding more messages warns.
    check: QueueCheck,
    builder: QueueCheckBuilder,
    sdk: sdk,
    resources: "queues",
    name: "sqs",
    extra {
        warn_above: Option<u64> = None,
        urls: Vec<OnceCell<String>> = Vec::new(),
    }
}

impl QueueCheckBuilder {
    /// Warns when a queue holds more than `messages` (`ApproximateNumberOfMessages`): its
    /// consumers are behind. The age of the oldest message is a CloudWatch metric, not an
    /// attribute the queue's API returns, so it is not checked here.
    pub fn warn_above(mut self, messages: u64) -> Self {
        self.check.warn_above = Some(messages);
        self
    }
}

impl QueueCheck {
    /// A queue URL (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`, or any endpoint's) or a
    /// queue name (1 to 80 letters, digits, `-` and `_`, `.fifo` at the end for FIFO).
    fn validate(queue: &str) -> Result<(), String> {
        if queue.starts_with("https://") || queue.starts_with("http://") {
            return Ok(());
        }
        let name = queue.strip_suffix(".fifo").unwrap_or(queue);
        let valid = (1..=80).contains(&queue.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(())
        } else {
            Err(
                "expected a queue URL or a queue name (1 to 80 letters, digits, `-` and `_`, \
                 ending in `.fifo` for a FIFO queue)"
                    .to_owned(),
            )
        }
    }

    /// The queue's URL: as given, or found once by name.
    async fn url(&self, client: &sdk::Client, queue: &str) -> Result<String, CheckError> {
        if queue.contains("://") {
            return Ok(queue.to_owned());
        }
        let index = self.resources.iter().position(|r| r == queue).unwrap_or(0);
        let cell = self.urls.get(index);
        let find = || async {
            client
                .get_queue_url()
                .queue_name(queue)
                .send()
                .await
                .map_err(|e| crate::describe("sqs:GetQueueUrl", "queue", queue, &e))
                .and_then(|out| {
                    out.queue_url().map(str::to_owned).ok_or_else(|| {
                        CheckError::new(format!("GetQueueUrl for queue {queue} returned no URL"))
                    })
                })
        };
        match cell {
            Some(cell) => cell.get_or_try_init(find).await.cloned(),
            None => find().await,
        }
    }

    async fn probe(&self, client: &sdk::Client, queue: &str) -> Result<Seen, CheckError> {
        let url = self.url(client, queue).await?;
        let out = client
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| crate::describe("sqs:GetQueueAttributes", "queue", queue, &e))?;
        let depth = out
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .and_then(|n| n.parse::<u64>().ok());
        let mut seen = Seen::default();
        if let Some(depth) = depth {
            seen.facts
                .push((format!("messages:{queue}"), depth.to_string()));
            if let Some(limit) = self.warn_above.filter(|limit| depth > *limit) {
                seen.warning = Some(format!(
                    "queue {queue} holds about {depth} messages, more than {limit}: its consumers \
                     are behind"
                ));
            }
        }
        Ok(seen)
    }
}
