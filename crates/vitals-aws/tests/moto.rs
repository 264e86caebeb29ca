//! Each check against moto's server: up, missing, warning states, an unreachable endpoint,
//! planted credentials never shown; and under moto's IAM enforcement, a user without the
//! documented action is denied in words naming it, while a user granted exactly that action
//! passes.
#![allow(missing_docs)]

use std::process::Command;

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use vitals_aws::{KeyCheck, QueueCheck, SecretCheck, TableCheck, TopicCheck};
use vitals_core::{Check, CheckError, Details};
use vitals_testkit::{MotoServer, free_port, require_binary};

/// A secret access key that must never appear in an output.
const PLANTED_SECRET: &str = "planted-secret-8f4e2a91c7d3b5e6";

async fn shared(endpoint: &str, key: &str, secret: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .load()
        .await
}

/// The five resources, made through the SDKs.
struct Resources {
    queue_url: String,
    topic: String,
    key: String,
}

async fn create(config: &aws_config::SdkConfig) -> Resources {
    let sqs = aws_sdk_sqs::Client::new(config);
    let queue_url = sqs
        .create_queue()
        .queue_name("orders")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let topic = aws_sdk_sns::Client::new(config)
        .create_topic()
        .name("events")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    aws_sdk_dynamodb::Client::new(config)
        .create_table()
        .table_name("carts")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    aws_sdk_secretsmanager::Client::new(config)
        .create_secret()
        .name("app/db-password")
        .secret_string("hunter2-never-shown")
        .send()
        .await
        .unwrap();
    let key = aws_sdk_kms::Client::new(config)
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    Resources {
        queue_url,
        topic,
        key,
    }
}

/// Runs `check` once, as the registry's attempt does.
async fn run(check: &dyn Check) -> Result<Details, CheckError> {
    check.check().await
}

fn message(result: &Result<Details, CheckError>) -> String {
    match result {
        Ok(details) => format!("passed: {details:?}"),
        Err(error) => error.message().to_owned(),
    }
}

#[tokio::test]
async fn each_check_passes_on_its_resource_and_says_when_it_is_missing() {
    let moto = MotoServer::start();
    let config = shared(&moto.endpoint(), "AKIAPLANTED", PLANTED_SECRET).await;
    let made = create(&config).await;

    let sqs = aws_sdk_sqs::Client::new(&config);
    let passing: Vec<Box<dyn Check>> = vec![
        // By URL and by name (found once with GetQueueUrl).
        Box::new(
            QueueCheck::builder_for_client(&sqs, [made.queue_url.as_str(), "orders"])
                .build()
                .unwrap(),
        ),
        Box::new(
            TopicCheck::builder_for_client(&aws_sdk_sns::Client::new(&config), [&made.topic])
                .build()
                .unwrap(),
        ),
        Box::new(
            TableCheck::builder_for_client(&aws_sdk_dynamodb::Client::new(&config), ["carts"])
                .build()
                .unwrap(),
        ),
        Box::new(
            SecretCheck::builder_for_client(
                &aws_sdk_secretsmanager::Client::new(&config),
                ["app/db-password"],
            )
            .build()
            .unwrap(),
        ),
        Box::new(
            KeyCheck::builder_for_client(&aws_sdk_kms::Client::new(&config), [&made.key])
                .build()
                .unwrap(),
        ),
    ];
    for check in &passing {
        let result = run(check.as_ref()).await;
        let details = result.unwrap_or_else(|e| panic!("{}: {}", check.name(), e.message()));
        assert_eq!(details.warning_message(), None, "{}", check.name());
        let shown = format!("{details:?}");
        assert!(
            !shown.contains("hunter2"),
            "the secret's value is never read: {shown}"
        );
    }

    let topic_missing = made.topic.replace("events", "gone");
    let missing: Vec<(Box<dyn Check>, String)> = vec![
        (
            Box::new(
                QueueCheck::builder_for_client(&sqs, ["gone"])
                    .build()
                    .unwrap(),
            ),
            "queue gone does not exist".to_owned(),
        ),
        (
            Box::new(
                TopicCheck::builder_for_client(
                    &aws_sdk_sns::Client::new(&config),
                    [&topic_missing],
                )
                .build()
                .unwrap(),
            ),
            format!("topic {topic_missing} does not exist"),
        ),
        (
            Box::new(
                TableCheck::builder_for_client(&aws_sdk_dynamodb::Client::new(&config), ["gone"])
                    .build()
                    .unwrap(),
            ),
            "table gone does not exist (ResourceNotFoundException on DescribeTable".to_owned(),
        ),
        (
            Box::new(
                SecretCheck::builder_for_client(
                    &aws_sdk_secretsmanager::Client::new(&config),
                    ["app/gone"],
                )
                .build()
                .unwrap(),
            ),
            "secret app/gone does not exist (ResourceNotFoundException on DescribeSecret"
                .to_owned(),
        ),
        (
            Box::new(
                KeyCheck::builder_for_client(&aws_sdk_kms::Client::new(&config), ["alias/gone"])
                    .build()
                    .unwrap(),
            ),
            "key alias/gone does not exist (NotFoundException on DescribeKey".to_owned(),
        ),
    ];
    for (check, expected) in &missing {
        let result = run(check.as_ref()).await;
        let said = message(&result);
        assert!(
            said.starts_with(expected.as_str()),
            "{}: {said}",
            check.name()
        );
        assert!(
            result.unwrap_err().is_permanent(),
            "{said}: a missing resource is not retried"
        );
        assert!(!said.contains(PLANTED_SECRET), "{said}");
    }
}

#[tokio::test]
async fn a_deep_queue_warns_and_unusable_keys_and_secrets_fail_in_words() {
    let moto = MotoServer::start();
    let config = shared(&moto.endpoint(), "AKIAPLANTED", PLANTED_SECRET).await;
    let made = create(&config).await;

    let sqs = aws_sdk_sqs::Client::new(&config);
    for n in 0..3 {
        sqs.send_message()
            .queue_url(&made.queue_url)
            .message_body(format!("order {n}"))
            .send()
            .await
            .unwrap();
    }
    let deep = QueueCheck::builder_for_client(&sqs, ["orders"])
        .warn_above(2)
        .build()
        .unwrap();
    let details = run(&deep).await.unwrap();
    assert_eq!(
        details.warning_message(),
        Some("queue orders holds about 3 messages, more than 2: its consumers are behind")
    );

    let kms = aws_sdk_kms::Client::new(&config);
    kms.disable_key().key_id(&made.key).send().await.unwrap();
    let key = KeyCheck::builder_for_client(&kms, [&made.key])
        .build()
        .unwrap();
    assert_eq!(
        message(&run(&key).await),
        format!(
            "key {} is disabled: it cannot encrypt or decrypt (EnableKey)",
            made.key
        )
    );
    kms.schedule_key_deletion()
        .key_id(&made.key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let said = message(&run(&key).await);
    assert!(
        said.starts_with(&format!("key {} is pending deletion on 20", made.key))
            && said.ends_with("it cannot encrypt or decrypt (cancel with CancelKeyDeletion)"),
        "{said}"
    );

    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    secrets
        .delete_secret()
        .secret_id("app/db-password")
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    let secret = SecretCheck::builder_for_client(&secrets, ["app/db-password"])
        .build()
        .unwrap();
    let said = message(&run(&secret).await);
    assert!(
        said.starts_with("secret app/db-password is scheduled for deletion on 20")
            && said.contains("Secrets Manager already refuses to return its value"),
        "{said}"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_said_without_the_credentials() {
    let closed = format!("http://127.0.0.1:{}", free_port(60_000));
    let config = shared(&closed, "AKIAPLANTED", PLANTED_SECRET).await;
    let checks: Vec<Box<dyn Check>> = vec![
        Box::new(
            QueueCheck::builder_for_client(&aws_sdk_sqs::Client::new(&config), ["orders"])
                .build()
                .unwrap(),
        ),
        Box::new(
            TableCheck::builder_for_client(&aws_sdk_dynamodb::Client::new(&config), ["carts"])
                .build()
                .unwrap(),
        ),
        Box::new(
            KeyCheck::builder_for_client(&aws_sdk_kms::Client::new(&config), ["alias/app"])
                .build()
                .unwrap(),
        ),
    ];
    for check in &checks {
        let said = message(&run(check.as_ref()).await);
        assert!(
            said.contains("connection refused"),
            "{}: {said}",
            check.name()
        );
        assert!(
            !said.contains(PLANTED_SECRET) && !said.contains("AKIAPLANTED"),
            "{said}"
        );
    }
}

/// moto with IAM enforced after the set-up's requests: `allowed` holds exactly the actions the
/// crate's docs name, `denied` holds nothing. Returns moto, the resources, and each user's keys.
fn enforcing_moto() -> (MotoServer, serde_json::Value) {
    // The set-up makes exactly this many requests before enforcement starts.
    const SETUP_REQUESTS: &str = "10";
    let moto = MotoServer::start_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", SETUP_REQUESTS)]);
    let script = r#"
import json, sys, boto3
endpoint = sys.argv[1]
kw = dict(endpoint_url=endpoint, region_name="us-east-1",
          aws_access_key_id="AKIASETUP", aws_secret_access_key="setup")
queue = boto3.client("sqs", **kw).create_queue(QueueName="orders")["QueueUrl"]
topic = boto3.client("sns", **kw).create_topic(Name="events")["TopicArn"]
boto3.client("dynamodb", **kw).create_table(TableName="carts", BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
boto3.client("secretsmanager", **kw).create_secret(Name="app/db-password", SecretString="x")
key = boto3.client("kms", **kw).create_key()["KeyMetadata"]["KeyId"]
iam = boto3.client("iam", **kw)
iam.create_user(UserName="allowed")
iam.create_user(UserName="denied")
policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [
    "sqs:GetQueueAttributes", "sns:GetTopicAttributes", "dynamodb:DescribeTable",
    "secretsmanager:DescribeSecret", "kms:DescribeKey"], "Resource": "*"}]}
iam.put_user_policy(UserName="allowed", PolicyName="vitals", PolicyDocument=json.dumps(policy))
allowed = iam.create_access_key(UserName="allowed")["AccessKey"]
denied = iam.create_access_key(UserName="denied")["AccessKey"]
print(json.dumps({"queue": queue, "topic": topic, "key": key,
    "allowed": [allowed["AccessKeyId"], allowed["SecretAccessKey"]],
    "denied": [denied["AccessKeyId"], denied["SecretAccessKey"]]}))
"#;
    let out = Command::new(require_binary("vitals-test-python"))
        .args(["-c", script, &moto.endpoint()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made = serde_json::from_slice(&out.stdout).unwrap();
    (moto, made)
}

#[tokio::test]
async fn the_documented_action_is_enough_and_without_it_the_denial_names_it() {
    let (moto, made) = enforcing_moto();
    let resources =
        |made: &serde_json::Value, field: &str| made[field].as_str().unwrap().to_owned();
    let (queue, topic, key) = (
        resources(&made, "queue"),
        resources(&made, "topic"),
        resources(&made, "key"),
    );
    let checks = |config: &aws_config::SdkConfig| -> Vec<(Box<dyn Check>, &'static str, String)> {
        vec![
            (
                Box::new(
                    QueueCheck::builder_for_client(&aws_sdk_sqs::Client::new(config), [&queue])
                        .build()
                        .unwrap(),
                ),
                "sqs:GetQueueAttributes",
                format!("queue {queue}"),
            ),
            (
                Box::new(
                    TopicCheck::builder_for_client(&aws_sdk_sns::Client::new(config), [&topic])
                        .build()
                        .unwrap(),
                ),
                "sns:GetTopicAttributes",
                format!("topic {topic}"),
            ),
            (
                Box::new(
                    TableCheck::builder_for_client(
                        &aws_sdk_dynamodb::Client::new(config),
                        ["carts"],
                    )
                    .build()
                    .unwrap(),
                ),
                "dynamodb:DescribeTable",
                "table carts".to_owned(),
            ),
            (
                Box::new(
                    SecretCheck::builder_for_client(
                        &aws_sdk_secretsmanager::Client::new(config),
                        ["app/db-password"],
                    )
                    .build()
                    .unwrap(),
                ),
                "secretsmanager:DescribeSecret",
                "secret app/db-password".to_owned(),
            ),
            (
                Box::new(
                    KeyCheck::builder_for_client(&aws_sdk_kms::Client::new(config), [&key])
                        .build()
                        .unwrap(),
                ),
                "kms:DescribeKey",
                format!("key {key}"),
            ),
        ]
    };
    let user = |name: &str| {
        let pair = made[name].as_array().unwrap();
        (
            pair[0].as_str().unwrap().to_owned(),
            pair[1].as_str().unwrap().to_owned(),
        )
    };

    let (id, secret) = user("allowed");
    let allowed = shared(&moto.endpoint(), &id, &secret).await;
    for (check, action, _) in checks(&allowed) {
        let result = run(check.as_ref()).await;
        assert!(result.is_ok(), "{action} is enough: {}", message(&result));
    }

    let (id, secret) = user("denied");
    let denied = shared(&moto.endpoint(), &id, &secret).await;
    for (check, action, resource) in checks(&denied) {
        let said = message(&run(check.as_ref()).await);
        assert!(
            said.starts_with(&format!("access denied to {resource} ("))
                && said.contains(&format!("the role lacks {action} on it")),
            "{said}"
        );
        assert!(!said.contains(&secret), "{said}");
    }
}

/// An endpoint that answers every request as a throttled AWS service does (moto never
/// throttles): HTTP 400 with `ThrottlingException` in the JSON protocols' form, `Throttling`
/// in the query protocol's XML.
async fn throttling_endpoint() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // Headers, then the body its Content-Length announces.
                loop {
                    let Ok(n) = socket.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                let (kind, body) = if text.contains("x-amz-target:") {
                    (
                        "application/x-amz-json-1.0\r\nx-amzn-errortype: ThrottlingException",
                        r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_owned(),
                    )
                } else {
                    (
                        "text/xml",
                        "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>\
                         <Message>Rate exceeded</Message></Error><RequestId>1</RequestId>\
                         </ErrorResponse>"
                            .to_owned(),
                    )
                };
                let response = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: {kind}\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn throttling_is_said_as_throttling() {
    let endpoint = throttling_endpoint().await;
    let config = shared(&endpoint, "AKIAPLANTED", PLANTED_SECRET).await;
    let topic = "arn:aws:sns:us-east-1:123456789012:events";
    let checks: Vec<(Box<dyn Check>, String)> = vec![
        (
            Box::new(
                TableCheck::builder_for_client(&aws_sdk_dynamodb::Client::new(&config), ["carts"])
                    .build()
                    .unwrap(),
            ),
            "DescribeTable on table carts was throttled (ThrottlingException)".to_owned(),
        ),
        (
            Box::new(
                KeyCheck::builder_for_client(&aws_sdk_kms::Client::new(&config), ["alias/app"])
                    .build()
                    .unwrap(),
            ),
            "DescribeKey on key alias/app was throttled (ThrottlingException)".to_owned(),
        ),
        (
            Box::new(
                TopicCheck::builder_for_client(&aws_sdk_sns::Client::new(&config), [topic])
                    .build()
                    .unwrap(),
            ),
            format!("GetTopicAttributes on topic {topic} was throttled (Throttling)"),
        ),
    ];
    for (check, expected) in &checks {
        let result = run(check.as_ref()).await;
        let said = message(&result);
        assert!(said.starts_with(expected.as_str()), "{said}");
        assert!(
            !result.unwrap_err().is_permanent(),
            "{said}: throttling passes; retry"
        );
    }
}
