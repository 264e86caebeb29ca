//! The storage check against an S3 that really has lifecycle and CORS rules, and the IAM
//! role path of EKS (IRSA: a web-identity token exchanged at STS), both served by moto on
//! loopback. The buckets are configured as deploy/terraform configures them.
use crate::common;

use std::time::Duration;

use common::{http, start_server, verbose_line};
use vitals_s3::aws_sdk_s3::{
    Client,
    config::{BehaviorVersion, Credentials, Region},
    types::{
        AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, CorsConfiguration, CorsRule,
        ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
    },
};
use vitals_testkit::MotoServer;

const TMP: &str = "prod-integration-app-tmp";
const CONNECTORS: &str = "prod-integration-app-connectors";
const STATIC: &str = "prod-integration-app-static";

fn s3(moto: &MotoServer) -> Client {
    let config = vitals_s3::aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto.endpoint())
        .force_path_style(true)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    Client::from_conf(config)
}

fn expiration_rule(days: i32) -> BucketLifecycleConfiguration {
    let rule = LifecycleRule::builder()
        .id("expire-tmp")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .expiration(LifecycleExpiration::builder().days(days).build())
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(1)
                .build(),
        )
        .build()
        .unwrap();
    BucketLifecycleConfiguration::builder()
        .rules(rule)
        .build()
        .unwrap()
}

/// The three buckets, the tmp bucket expiring after the guide's days and the static bucket
/// allowing GET from the application's origin: what deploy/terraform creates.
async fn buckets_as_terraform_makes_them(client: &Client) {
    for bucket in [TMP, CONNECTORS, STATIC] {
        client.create_bucket().bucket(bucket).send().await.unwrap();
    }
    client
        .put_bucket_lifecycle_configuration()
        .bucket(TMP)
        .lifecycle_configuration(expiration_rule(vitals_env::TMP_EXPIRATION_DAYS))
        .send()
        .await
        .unwrap();
    let cors = CorsRule::builder()
        .allowed_methods(vitals_env::STATIC_CORS_METHOD)
        .allowed_methods("HEAD")
        .allowed_origins("https://app.example.com")
        .allowed_headers("*")
        .max_age_seconds(3000)
        .build()
        .unwrap();
    client
        .put_bucket_cors()
        .bucket(STATIC)
        .cors_configuration(
            CorsConfiguration::builder()
                .cors_rules(cors)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_deep_storage_check_passes_on_terraforms_buckets_and_warns_on_drift() {
    let moto = MotoServer::start();
    let client = s3(&moto);
    buckets_as_terraform_makes_them(&client).await;
    let endpoint = moto.endpoint();
    let (mut child, addr, _log) = start_server(&[
        ("TMP_STORAGE_BUCKET", TMP),
        ("CONNECTORS_STORAGE_BUCKET", CONNECTORS),
        ("STATIC_STORAGE_BUCKET", STATIC),
        ("STORAGE_DEEP_CHECK", "true"),
        ("AWS_ENDPOINT_URL", &endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing-secret-key"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("HEALTH_CHECK_RETRIES", "0"),
        ("HEALTH_CHECK_INTERVAL_MS", "100"),
    ])
    .await;
    let line = verbose_line(addr, "storage", |l| {
        l.starts_with("[+]") || l.starts_with("[~]")
    })
    .await;
    assert_eq!(line, "[+]storage ok");

    // The expiration changed: warn, naming what drifted.
    client
        .put_bucket_lifecycle_configuration()
        .bucket(TMP)
        .lifecycle_configuration(expiration_rule(30))
        .send()
        .await
        .unwrap();
    let line = verbose_line(addr, "storage", |l| l.starts_with("[~]")).await;
    assert!(
        line.contains(&format!(
            "bucket {TMP} expires objects after 30 days, expected {} days",
            vitals_env::TMP_EXPIRATION_DAYS
        )),
        "{line}"
    );
    // The expiration and the CORS rule removed: both named.
    client
        .delete_bucket_lifecycle()
        .bucket(TMP)
        .send()
        .await
        .unwrap();
    client
        .delete_bucket_cors()
        .bucket(STATIC)
        .send()
        .await
        .unwrap();
    let line = verbose_line(addr, "storage", |l| l.contains("CORS")).await;
    assert!(line.starts_with("[~]storage warn"), "{line}");
    assert!(
        line.contains(&format!("bucket {TMP} has no lifecycle configuration")),
        "{line}"
    );
    assert!(
        line.contains(&format!("bucket {STATIC} has no CORS configuration")),
        "{line}"
    );
    child.kill().await.unwrap();
}

/// EKS IRSA: no keys, no instance metadata, only a role ARN and a web-identity token file;
/// the SDK's default chain exchanges the token at STS and the check passes. Without the token
/// file, the check fails saying so, and the token never appears in any output.
#[tokio::test]
async fn the_iam_role_path_works_with_only_a_web_identity_token() {
    let moto = MotoServer::start();
    buckets_as_terraform_makes_them(&s3(&moto)).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    let token = "eyJhbGciOiJSUzI1NiJ9.vitals-irsa-test-token.c2lnbmF0dXJl";
    std::fs::write(&token_file, token).unwrap();
    let endpoint = moto.endpoint();
    let missing = dir.path().join("missing-token");
    for (file, expect_pass) in [(&token_file, true), (&missing, false)] {
        let file = file.display().to_string();
        let (mut child, addr, mut log) = start_server(&[
            ("TMP_STORAGE_BUCKET", TMP),
            ("CONNECTORS_STORAGE_BUCKET", CONNECTORS),
            ("STATIC_STORAGE_BUCKET", STATIC),
            ("AWS_ENDPOINT_URL", &endpoint),
            ("AWS_REGION", "us-east-1"),
            (
                "AWS_ROLE_ARN",
                "arn:aws:iam::123456789012:role/vitals-server-s3",
            ),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", &file),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("HEALTH_CHECK_RETRIES", "0"),
            ("HEALTH_CHECK_INTERVAL_MS", "200"),
        ])
        .await;
        let line = verbose_line(addr, "storage", |l| {
            (l.starts_with("[+]") || l.starts_with("[-]")) && !l.contains("no result yet")
        })
        .await;
        if expect_pass {
            assert_eq!(line, "[+]storage ok");
        } else {
            assert!(line.starts_with("[-]storage failed"), "{line}");
            assert!(line.contains("no AWS credentials found"), "{line}");
            // The startup log names the file the SDK's error does not.
            let warning = common::wait_for_log(&mut log, "AWS_WEB_IDENTITY_TOKEN_FILE=").await;
            assert!(
                warning.contains(&file) && warning.contains("cannot be read"),
                "{warning}"
            );
        }
        assert!(!line.contains(token), "{line}");
        child.kill().await.unwrap();
    }
}

/// The AWS checks beyond S3, configured by the server's variables against moto: each shows in
/// `/readyz?verbose`, gRPC `List`, the metrics and the status page; a table deleted under
/// the running server fails readiness in words.
#[tokio::test]
async fn the_aws_checks_beyond_s3_show_on_every_surface() {
    let moto = MotoServer::start();
    let endpoint = moto.endpoint();
    let setup = r#"
import json, sys, boto3
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing")
boto3.client("sqs", **kw).create_queue(QueueName="orders")
topic = boto3.client("sns", **kw).create_topic(Name="events")["TopicArn"]
boto3.client("dynamodb", **kw).create_table(TableName="carts", BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
boto3.client("secretsmanager", **kw).create_secret(Name="app/db-password", SecretString="never-shown-7c1f")
key = boto3.client("kms", **kw).create_key()["KeyMetadata"]["KeyId"]
print(json.dumps({"topic": topic, "key": key}))
"#;
    let out = common::python(&["-c", setup, &endpoint]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (topic, key) = (
        made["topic"].as_str().unwrap(),
        made["key"].as_str().unwrap(),
    );
    let (mut child, addr, mut log) = start_server(&[
        ("SQS_QUEUES", "orders"),
        ("SNS_TOPICS", topic),
        ("DYNAMODB_TABLES", "carts"),
        ("SECRETS_MANAGER_SECRETS", "app/db-password"),
        ("KMS_KEYS", key),
        ("AWS_ENDPOINT_URL", &endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "planted-aws-secret-5e8d"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("HEALTH_CHECK_RETRIES", "0"),
        ("HEALTH_CHECK_INTERVAL_MS", "100"),
    ])
    .await;
    let names = ["sqs", "sns", "dynamodb", "secrets", "kms"];
    let mut verbose = String::new();
    for _ in 0..200 {
        verbose = http(addr, "GET", "/readyz?verbose", &[("accept", "text/plain")])
            .await
            .body;
        if names
            .iter()
            .all(|n| verbose.contains(&format!("[+]{n} ok")))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for name in names {
        assert!(verbose.contains(&format!("[+]{name} ok")), "{verbose}");
    }

    let listed = vitals_testkit::grpc::list(addr).await;
    for name in names {
        let status = listed.statuses.get(name).map(|s| s.status);
        assert_eq!(status, Some(1), "{name} SERVING in gRPC List: {listed:?}");
    }
    let metrics = http(addr, "GET", "/metrics", &[]).await.body;
    for name in names {
        assert!(
            metrics.lines().any(|l| l.starts_with("vitals_healthcheck{")
                && l.contains(&format!("name=\"{name}\""))
                && l.ends_with(" 2")),
            "{name} passing in the metrics"
        );
    }
    let page: serde_json::Value =
        serde_json::from_str(&http(addr, "GET", "/status", &[]).await.body).unwrap();
    for name in names {
        let row = page["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name);
        assert_eq!(
            row.map(|r| r["status"].clone()),
            Some("pass".into()),
            "{page}"
        );
    }

    // The table goes: readiness fails, saying which table and why.
    let drop = r#"
import sys, boto3
boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
    aws_access_key_id="testing", aws_secret_access_key="testing").delete_table(TableName="carts")
"#;
    assert!(common::python(&["-c", drop, &endpoint]).status.success());
    let mut last = String::new();
    for _ in 0..200 {
        let res = http(addr, "GET", "/readyz?verbose", &[("accept", "text/plain")]).await;
        last = res.body;
        if res.status == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let line = last
        .lines()
        .find(|l| l.contains("dynamodb"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        line.starts_with("[-]dynamodb failed: table carts does not exist (ResourceNotFoundException on DescribeTable"),
        "{last}"
    );
    child.kill().await.unwrap();
    let mut logged = String::new();
    while let Ok(line) = log.try_recv() {
        logged.push_str(&line);
    }
    for text in [&last, &metrics, &logged, &page.to_string()] {
        assert!(
            !text.contains("planted-aws-secret-5e8d"),
            "the AWS secret key is never shown"
        );
        assert!(
            !text.contains("never-shown-7c1f"),
            "the secret's value is never read"
        );
    }
}
