//! DiskSpaceCheck on a tmpfs of a known size, mounted in a mount namespace of the test's own
//! (the machine's mounts are untouched), and on paths that exist or do not.
use std::process::Command;

use vitals_core::{Check, CheckStatus, Health, Probe};
use vitals_system::DiskSpaceCheck;
use vitals_testkit::inside_new_namespaces;

const MIB: u64 = 1024 * 1024;

#[test]
fn a_filling_file_system_warns_then_fails_with_the_numbers() {
    if !inside_new_namespaces(
        "a_filling_file_system_warns_then_fails_with_the_numbers",
        &["--mount", "--propagation", "private"],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "vitals-test"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(mounted.success());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let check = || {
            DiskSpaceCheck::builder(dir.path())
                .warn_below(4 * MIB)
                .fail_below(MIB)
                .build()
                .unwrap()
        };
        let details = check().check().await.unwrap();
        assert_eq!(details.warning_message(), None);
        assert_eq!(details.fields()["total_bytes"], (8 * MIB).to_string());
        assert_eq!(details.fields()["free"], "8.0 MiB (100.0 %)");

        std::fs::write(dir.path().join("a"), vec![1u8; (5 * MIB) as usize]).unwrap();
        let health = Health::builder().register(check()).build();
        let report = health.run(Probe::All).await;
        assert_eq!(report.checks[0].status, CheckStatus::Warn);
        assert_eq!(
            report.checks[0].output.as_deref(),
            Some(
                format!(
                    "only 3.0 MiB free on {} (37.5 % of 8.0 MiB), below 4.0 MiB",
                    dir.path().display()
                )
                .as_str()
            )
        );

        std::fs::write(dir.path().join("b"), vec![1u8; (2560 * 1024) as usize]).unwrap();
        let error = check().check().await.unwrap_err();
        assert_eq!(
            error.message(),
            format!(
                "only 512.0 KiB free on {} (6.2 % of 8.0 MiB), below 1.0 MiB",
                dir.path().display()
            )
        );
        assert_eq!(
            error.details().fields()["free_bytes"],
            (512 * 1024).to_string()
        );
    });
}

#[tokio::test]
async fn a_missing_path_fails_with_the_systems_words() {
    let error = DiskSpaceCheck::builder("/no/such/volume")
        .build()
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert_eq!(
        error.message(),
        "cannot read the file system of /no/such/volume: No such file or directory (os error 2)"
    );
}

#[test]
fn thresholds_that_would_fail_before_warning_are_refused() {
    let error = DiskSpaceCheck::builder("/")
        .warn_below(MIB)
        .fail_below(2 * MIB)
        .build()
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "the failing threshold (2.0 MiB) is above the warning threshold (1.0 MiB): it would fail before it warns"
    );
}
