//! SNS: `GetTopicAttributes`.
use aws_sdk_sns as sdk;
use vitals_core::CheckError;

use crate::Seen;

aws_check! {
    /// Checks SNS topics with `GetTopicAttributes`, which `sns:GetTopicAttributes` allows: the
    /// topic exists in the client's region and the role may read it. Publishing is never tried.
    check: TopicCheck,
    builder: TopicCheckBuilder,
    sdk: sdk,
    resources: "topics",
    name: "sns",
    extra {}
}

impl TopicCheck {
    /// A topic ARN: `arn:aws:sns:REGION:ACCOUNT:NAME`.
    fn validate(topic: &str) -> Result<(), String> {
        let parts: Vec<&str> = topic.split(':').collect();
        if parts.len() == 6 && parts[0] == "arn" && parts[2] == "sns" && !parts[5].is_empty() {
            Ok(())
        } else {
            Err("expected a topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)".to_owned())
        }
    }

    async fn probe(&self, client: &sdk::Client, topic: &str) -> Result<Seen, CheckError> {
        let out = client
            .get_topic_attributes()
            .topic_arn(topic)
            .send()
            .await
            .map_err(|e| crate::describe("sns:GetTopicAttributes", "topic", topic, &e))?;
        let subscriptions = out
            .attributes()
            .and_then(|a| a.get("SubscriptionsConfirmed"))
            .cloned();
        let mut seen = Seen::default();
        if let Some(n) = subscriptions {
            let name = topic.rsplit(':').next().unwrap_or(topic);
            seen.facts.push((format!("subscriptions:{name}"), n));
        }
        Ok(seen)
    }
}
