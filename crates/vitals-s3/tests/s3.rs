//! BucketCheck against a real S3 server that verifies SigV4 (s3s-fs) and the fault proxy.
use std::time::Duration;

use aws_sdk_s3::{
    Client,
    config::{BehaviorVersion, Credentials, Region},
};
use vitals_core::{Backoff, Check, CheckOptions, CheckStatus, Health, Probe};
use vitals_s3::BucketCheck;
use vitals_testkit::{Fault, FaultProxy, S3_ACCESS_KEY, S3_SECRET_KEY, S3Server};

const BUCKETS: [&str; 3] = [
    "test-integration-app-tmp",
    "test-integration-app-connectors",
    "test-integration-app-static",
];

fn client(endpoint: &str, secret: &str) -> Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(S3_ACCESS_KEY, secret, None, None, "test"))
        .build();
    Client::from_conf(config)
}

fn server_with_buckets() -> S3Server {
    let server = S3Server::start();
    for bucket in BUCKETS {
        server.create_bucket(bucket);
    }
    server
}

#[tokio::test]
async fn all_buckets_present_with_static_keys_pass() {
    let server = server_with_buckets();
    let details =
        BucketCheck::builder_for_client(&client(&server.endpoint(), S3_SECRET_KEY), BUCKETS)
            .build()
            .unwrap()
            .check()
            .await
            .unwrap();
    assert_eq!(details.fields()["buckets"], BUCKETS.join(","));
    assert_eq!(details.fields()["region"], "us-east-1");
}

#[tokio::test]
async fn a_missing_bucket_fails_naming_it() {
    let server = S3Server::start();
    server.create_bucket(BUCKETS[0]);
    server.create_bucket(BUCKETS[2]);
    let err = BucketCheck::builder_for_client(&client(&server.endpoint(), S3_SECRET_KEY), BUCKETS)
        .build()
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        "bucket test-integration-app-connectors does not exist (404 on HeadBucket)"
    );
    assert!(err.is_permanent());
}

#[tokio::test]
async fn a_wrong_secret_key_is_access_denied_and_never_shown() {
    let server = server_with_buckets();
    let wrong = "wrongSecretKeyWrongSecretKeyWrong0000099";
    let health = Health::builder()
        .register_with(
            BucketCheck::builder_for_client(&client(&server.endpoint(), wrong), BUCKETS)
                .secret(wrong)
                .build()
                .unwrap(),
            CheckOptions::new().backoff(Backoff::none()),
        )
        .build();
    let report = health.run(Probe::All).await;
    let entry = &report.checks[0];
    assert_eq!(entry.status, CheckStatus::Fail);
    assert!(
        entry.output.as_deref().unwrap().contains("access denied"),
        "{entry:?}"
    );
    for out in [
        report.to_health_json(true),
        report.to_text(true),
        format!("{report:?}"),
    ] {
        assert!(!out.contains(wrong), "{out}");
        assert!(!out.contains(S3_SECRET_KEY), "{out}");
    }
}

#[tokio::test]
async fn an_endpoint_that_is_down_or_blackholed_fails_within_the_timeout() {
    let mut server = server_with_buckets();
    let proxy = FaultProxy::start(server.addr()).await;
    proxy.set(Fault::Blackhole);
    let health = Health::builder()
        .register_with(
            BucketCheck::builder_for_client(
                &client(&format!("http://{}", proxy.addr()), S3_SECRET_KEY),
                BUCKETS,
            )
            .build()
            .unwrap(),
            CheckOptions::new()
                .run_budget(Duration::from_millis(800))
                .backoff(Backoff::none()),
        )
        .build();
    let started = std::time::Instant::now();
    let report = health.run(Probe::All).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.checks[0].status, CheckStatus::Fail);
    assert!(
        report.checks[0]
            .output
            .as_deref()
            .unwrap()
            .contains("timed out")
    );

    let endpoint = server.endpoint();
    server.stop();
    let err = BucketCheck::builder_for_client(&client(&endpoint, S3_SECRET_KEY), BUCKETS)
        .build()
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert!(
        err.message().contains("connection refused"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn deep_check_drift_warns_instead_of_failing() {
    // s3s-fs stores no lifecycle or CORS configuration, so both rules read as drift.
    let server = server_with_buckets();
    let details =
        BucketCheck::builder_for_client(&client(&server.endpoint(), S3_SECRET_KEY), BUCKETS)
            .expect_expiration_rule(BUCKETS[0])
            .expect_cors_get(BUCKETS[2])
            .build()
            .unwrap()
            .check()
            .await
            .unwrap();
    let warning = details.warning_message().unwrap();
    assert!(
        warning.contains("lifecycle configuration of bucket test-integration-app-tmp"),
        "{warning}"
    );
    assert!(
        warning.contains("CORS configuration of bucket test-integration-app-static"),
        "{warning}"
    );
}

#[test]
fn bucket_names_are_validated_by_the_builder() {
    let err = BucketCheck::builder(["Prod_Tmp"]).build().unwrap_err();
    assert!(
        err.to_string().contains("invalid bucket name \"Prod_Tmp\""),
        "{err}"
    );
    assert!(err.to_string().contains("invalid character"), "{err}");
    let none: [&str; 0] = [];
    assert!(BucketCheck::builder(none).build().is_err());
    let check = BucketCheck::builder(["a-tmp", "a-static"]).build().unwrap();
    assert_eq!(check.buckets(), ["a-tmp", "a-static"]);
}
