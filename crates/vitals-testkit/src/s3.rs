use std::{
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    sync::watch,
};

use crate::process::{require_binary, start_on_free_port, stop, temp_dir, try_wait_for_port};

/// The S3 server's access key.
pub const S3_ACCESS_KEY: &str = "AKIAVITALSTESTKEY001";
/// The S3 server's secret key.
pub const S3_SECRET_KEY: &str = "vitalsTestSecretKey0000000000000000000001";

/// An S3-compatible server that verifies SigV4 (`s3s-fs`), storing buckets as directories;
/// killed on drop.
pub struct S3Server {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    binary: PathBuf,
}

impl S3Server {
    /// Starts a server accepting [`S3_ACCESS_KEY`] / [`S3_SECRET_KEY`].
    pub fn start() -> S3Server {
        let mut server = S3Server {
            port: 0,
            dir: temp_dir("vitals-s3-"),
            child: None,
            binary: require_binary("s3s-fs"),
        };
        start_on_free_port(60_000, |port| {
            server.port = port;
            server.spawn()
        });
        server
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut child = Command::new(&self.binary)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        try_wait_for_port(self.addr(), &mut child, "s3s-fs")?;
        self.child = Some(child);
        Ok(())
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The endpoint URL (`http://127.0.0.1:PORT`), for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Creates a bucket.
    pub fn create_bucket(&self, name: &str) {
        std::fs::create_dir_all(self.dir.path().join(name)).expect("create the bucket directory");
    }

    /// Kills the server.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop(&mut child);
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback stand-in for the ECS container credentials endpoint
/// (`AWS_CONTAINER_CREDENTIALS_FULL_URI`): answers every request with role credentials.
pub struct CredentialsEndpoint {
    addr: SocketAddr,
    _stop: watch::Sender<()>,
}

impl CredentialsEndpoint {
    /// Serves `access_key` / `secret_key` with a session token, valid for an hour.
    pub async fn start(access_key: &str, secret_key: &str) -> CredentialsEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let expiration = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
        let body = format!(
            r#"{{"AccessKeyId":"{access_key}","SecretAccessKey":"{secret_key}","Token":"vitals-test-session-token","Expiration":"{}","RoleArn":"arn:aws:iam::123456789012:role/vitals-test"}}"#,
            humantime::format_rfc3339_seconds(expiration)
        );
        let (stop_tx, mut stop_rx) = watch::channel(());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    _ = stop_rx.changed() => return,
                };
                let Ok((mut stream, _)) = accepted else {
                    continue;
                };
                let body = body.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let _ = stream.read(&mut buf).await;
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                });
            }
        });
        CredentialsEndpoint {
            addr,
            _stop: stop_tx,
        }
    }

    /// The URL for `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    pub fn url(&self) -> String {
        format!("http://{}/v2/credentials", self.addr)
    }
}
