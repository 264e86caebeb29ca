use std::{
    net::SocketAddr,
    process::{Child, Command, Stdio},
};

use crate::process::{require_binary, start_on_free_port, stop, try_wait_for_port};

/// moto in server mode, from the test virtualenv (`vitals-test-python -m moto.server`): one
/// endpoint for S3 with lifecycle and CORS configurations, and STS with
/// `AssumeRoleWithWebIdentity`. It accepts any credentials. Killed on drop.
pub struct MotoServer {
    port: u16,
    child: Option<Child>,
}

impl MotoServer {
    /// Starts a server on a free loopback port.
    pub fn start() -> MotoServer {
        MotoServer::start_with_env(&[])
    }

    /// Starts a server with moto's own settings in its environment, such as
    /// `INITIAL_NO_AUTH_ACTION_COUNT` (after that many requests, IAM authenticates and
    /// authorizes every request against the users and policies created before).
    pub fn start_with_env(env: &[(&str, &str)]) -> MotoServer {
        let python = require_binary("vitals-test-python");
        let mut server = MotoServer {
            port: 0,
            child: None,
        };
        start_on_free_port(60_000, |port| {
            server.port = port;
            let mut child = Command::new(&python)
                .args([
                    "-m",
                    "moto.server",
                    "-H",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                ])
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start moto");
            try_wait_for_port(server.addr(), &mut child, "moto")?;
            server.child = Some(child);
            Ok(())
        });
        server
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The endpoint URL (`http://127.0.0.1:PORT`), for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr())
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop(&mut child);
        }
    }
}
