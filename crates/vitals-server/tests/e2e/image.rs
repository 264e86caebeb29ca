//! The container image, built by scripts/build-image with Debian's buildah (no daemon) from this
//! test run's binaries, and run: its configuration is what the manifests expect (user, entry
//! point, port, name and tag), the server in it answers the probes on loopback as the image's
//! non-root user, and vitals-probe in it judges them.
use std::{path::PathBuf, process::Command, time::Duration};

use yaml_rust2::YamlLoader;

use crate::common::{self, http, server_binary};

/// `buildah` with the storage every call here shares (vfs: no overlay mounts needed).
fn buildah(args: &[&str]) -> std::process::Output {
    Command::new("buildah")
        .arg("--storage-driver")
        .arg("vfs")
        .args(args)
        .output()
        .expect("buildah (scripts/install-test-deps installs it)")
}

fn ok(args: &[&str]) -> String {
    let out = buildah(args);
    assert!(
        out.status.success(),
        "buildah {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Stops the server in the image and removes the image and its working container however the
/// test ends. Killing `buildah run` does not stop what it started in the chroot: the server's
/// own process is told to stop (SIGTERM; it drains with no delay and exits).
struct Cleanup {
    tag: String,
    container: Option<String>,
    server_pid: Option<u32>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(pid) = self.server_pid {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            let proc = PathBuf::from(format!("/proc/{pid}"));
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while proc.exists() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        if let Some(container) = &self.container {
            let _ = buildah(&["rm", container]);
        }
        let _ = buildah(&["rmi", "--force", &self.tag]);
    }
}

#[tokio::test]
async fn the_image_runs_the_server_as_the_manifests_user_and_answers_probes() {
    let bin_dir: PathBuf = server_binary().parent().unwrap().to_path_buf();
    assert!(
        bin_dir.join("vitals-probe").exists(),
        "vitals-probe is not built in {}: scripts/test builds every binary first",
        bin_dir.display()
    );
    let tag = format!("vitals-server:e2e-{}", std::process::id());
    let mut cleanup = Cleanup {
        tag: tag.clone(),
        container: None,
        server_pid: None,
    };
    let built = Command::new(common::root().join("scripts/build-image"))
        .args(["--tag", &tag, "--bin-dir"])
        .arg(&bin_dir)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "scripts/build-image: {}{}",
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&built.stdout).trim());

    // The image's configuration is what the manifests and the server expect.
    let inspect: serde_json::Value =
        serde_json::from_str(&ok(&["inspect", "--type", "image", &tag])).unwrap();
    let config = &inspect["OCIv1"]["config"];
    let deployment = YamlLoader::load_from_str(
        &std::fs::read_to_string(common::root().join("deploy/kubernetes/base/deployment.yaml"))
            .unwrap(),
    )
    .unwrap()
    .remove(0);
    let pod = &deployment["spec"]["template"]["spec"];
    let user = format!(
        "{}:{}",
        pod["securityContext"]["runAsUser"].as_i64().unwrap(),
        pod["securityContext"]["runAsGroup"].as_i64().unwrap()
    );
    assert_eq!(config["User"], user.as_str(), "{config}");
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/usr/local/bin/vitals-server"])
    );
    let port = vitals_env::variables::PORT.default.to_string();
    assert!(
        config["ExposedPorts"].get(format!("{port}/tcp")).is_some(),
        "{config}"
    );
    assert_eq!(
        pod["containers"][0]["ports"][0]["containerPort"].as_i64(),
        Some(port.parse::<i64>().unwrap())
    );
    // The manifests name the image the build makes: its name, and the version as its tag.
    assert_eq!(
        pod["containers"][0]["image"].as_str(),
        Some("vitals-server")
    );
    let settings = YamlLoader::load_from_str(
        &std::fs::read_to_string(
            common::root().join("deploy/kubernetes/settings/kustomization.yaml"),
        )
        .unwrap(),
    )
    .unwrap()
    .remove(0);
    let image = &settings["images"][0];
    assert_eq!(image["name"].as_str(), Some("vitals-server"));
    assert!(
        image["newName"]
            .as_str()
            .unwrap()
            .ends_with("/vitals-server"),
        "{image:?}"
    );
    assert_eq!(image["newTag"].as_str(), Some(env!("CARGO_PKG_VERSION")));

    // Run it: the server answers on loopback, as the image's user.
    let container = ok(&["from", "--quiet", &tag]);
    cleanup.container = Some(container.clone());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let port_env = format!("PORT={port}");
    let mut server = tokio::process::Command::new("buildah")
        .args(["--storage-driver", "vfs", "run", "--isolation", "chroot"])
        .args([
            "--network",
            "host",
            "-e",
            &port_env,
            "-e",
            "SHUTDOWN_DELAY_MS=0",
        ])
        .args([container.as_str(), "--", "/usr/local/bin/vitals-server"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the image's server never listened on {addr}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for path in ["/livez", "/readyz"] {
        let res = http(addr, "GET", path, &[]).await;
        assert_eq!(res.status, 200, "{path}: {res:?}");
    }
    let (pid, uid) = server_process(&port_env).expect("the image's server process");
    cleanup.server_pid = Some(pid);
    assert_eq!(
        uid,
        user.split(':').next().unwrap(),
        "the server runs as the image's user"
    );

    // vitals-probe, inside the image, judges the probe as the kubelet would.
    let probe = buildah(&[
        "run",
        "--isolation",
        "chroot",
        "--network",
        "host",
        &container,
        "--",
        "/usr/local/bin/vitals-probe",
        &format!("http://127.0.0.1:{port}/readyz"),
    ]);
    assert!(
        probe.status.success(),
        "vitals-probe in the image: {}",
        String::from_utf8_lossy(&probe.stderr)
    );
    server.kill().await.unwrap();
    drop(cleanup);
    assert!(
        server_process(&port_env).is_none(),
        "the image's server is still running"
    );
}

/// The pid and real user id of the process that runs vitals-server with `port_env` in its
/// environment.
fn server_process(port_env: &str) -> Option<(u32, String)> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let dir = entry.path();
        let Ok(cmdline) = std::fs::read(dir.join("cmdline")) else {
            continue;
        };
        let Ok(environ) = std::fs::read(dir.join("environ")) else {
            continue;
        };
        let runs_server = cmdline
            .split(|b| *b == 0)
            .next()
            .is_some_and(|exe| exe.ends_with(b"/usr/local/bin/vitals-server"));
        let has_port = environ.split(|b| *b == 0).any(|v| v == port_env.as_bytes());
        if runs_server && has_port {
            let pid = dir.file_name()?.to_str()?.parse().ok()?;
            let status = std::fs::read_to_string(dir.join("status")).ok()?;
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            return Some((pid, line.split_whitespace().nth(1)?.to_owned()));
        }
    }
    None
}
