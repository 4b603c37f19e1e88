//! A throwaway `redis-server` on 127.0.0.1, for tests (feature `testing`): no persistence, a
//! free port, stopped by its pid when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// A `redis-server` process of this test. Needs `redis-server` on the `PATH` (Debian's
/// `redis-server` package; `cargo xtask ci` installs it).
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    /// The certificate and key files of a TLS-only server.
    tls: Option<(PathBuf, PathBuf)>,
}

impl RedisServer {
    /// Starts one on a free port of 127.0.0.1 and waits (up to 10 s) until it answers.
    pub async fn start() -> std::io::Result<Self> {
        let port = TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port();
        let mut server = Self {
            port,
            child: None,
            tls: None,
        };
        server.restart().await?;
        Ok(server)
    }

    /// Starts one that speaks TLS only (`--tls-port`, no plain port), with the certificate
    /// and key in these PEM files; clients are not asked for certificates.
    pub async fn start_tls(cert_file: PathBuf, key_file: PathBuf) -> std::io::Result<Self> {
        let port = TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port();
        let mut server = Self {
            port,
            child: None,
            tls: Some((cert_file, key_file)),
        };
        server.restart().await?;
        Ok(server)
    }

    /// `redis://127.0.0.1:<port>/`, or `rediss://` for a TLS server.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (kills it by its pid and waits for it), as an outage would.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts it again on the same port, empty.
    pub async fn restart(&mut self) -> std::io::Result<()> {
        self.stop().await;
        let mut command = Command::new("redis-server");
        command.args(["--bind", "127.0.0.1"]);
        match &self.tls {
            None => {
                command.arg("--port").arg(self.port.to_string());
            }
            Some((cert, key)) => {
                command
                    .args(["--port", "0", "--tls-port"])
                    .arg(self.port.to_string())
                    .arg("--tls-cert-file")
                    .arg(cert)
                    .arg("--tls-key-file")
                    .arg(key)
                    .args(["--tls-auth-clients", "no"]);
            }
        }
        let child = command
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "could not start redis-server ({e}): install it (Debian: `apt-get install \
                         redis-server`; `cargo xtask ci` does)"
                    ),
                )
            })?;
        self.child = Some(child);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(std::io::Error::other(format!(
            "redis-server did not answer on port {} within 10 s",
            self.port
        )))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}
