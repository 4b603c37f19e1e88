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

/// A throwaway Redis Cluster on 127.0.0.1 for tests (feature `testing`): three masters with a
/// replica each, made with `redis-cli --cluster create`, failing over after 2 s; every
/// process stopped by its pid when dropped.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<(u16, Option<Child>)>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts six nodes on free ports, joins them, and waits (up to 30 s) until the cluster
    /// says it is ok.
    pub async fn start() -> std::io::Result<Self> {
        let mut ports = Vec::new();
        // Holding every listener until all ports are chosen keeps them distinct.
        let listeners: Vec<TcpListener> = (0..6)
            .map(|_| TcpListener::bind(("127.0.0.1", 0)))
            .collect::<Result<_, _>>()?;
        for listener in &listeners {
            ports.push(listener.local_addr()?.port());
        }
        drop(listeners);
        let dir = std::env::temp_dir().join(format!(
            "tokensmith-cluster-{}-{}",
            std::process::id(),
            ports[0]
        ));
        std::fs::create_dir_all(&dir)?;
        let mut cluster = Self {
            nodes: Vec::new(),
            dir,
        };
        for port in ports {
            let child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port"])
                .arg(port.to_string())
                .args([
                    "--cluster-enabled",
                    "yes",
                    "--cluster-node-timeout",
                    "2000",
                    "--cluster-config-file",
                ])
                .arg(cluster.dir.join(format!("nodes-{port}.conf")))
                .arg("--dir")
                .arg(&cluster.dir)
                // Replicas sync at once (no 5 s wait for more replicas): a replica that has
                // not synced cannot take over from its master.
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--repl-diskless-sync-delay",
                    "0",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()?;
            cluster.nodes.push((port, Some(child)));
        }
        for (port, _) in &cluster.nodes {
            wait_for_port(*port).await?;
        }
        let addresses: Vec<String> = cluster
            .nodes
            .iter()
            .map(|(port, _)| format!("127.0.0.1:{port}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await?;
        if !created.success() {
            return Err(std::io::Error::other("redis-cli --cluster create failed"));
        }
        for _ in 0..300 {
            if cluster.is_ok().await {
                return Ok(cluster);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(std::io::Error::other(
            "the Redis Cluster was not ok within 30 s",
        ))
    }

    /// Whether every running node says `cluster_state:ok`, and every replica has synced with
    /// its master.
    pub async fn is_ok(&self) -> bool {
        for (port, child) in &self.nodes {
            if child.is_none() {
                continue;
            }
            let Some(info) = node_command(*port, &["CLUSTER", "INFO"]).await else {
                return false;
            };
            if !info.contains("cluster_state:ok") {
                return false;
            }
            let Some(replication) = node_command(*port, &["INFO", "replication"]).await else {
                return false;
            };
            if replication.contains("role:slave") && !replication.contains("master_link_status:up")
            {
                return false;
            }
        }
        true
    }

    /// The URL of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|(port, _)| format!("redis://127.0.0.1:{port}/"))
            .collect()
    }

    /// The ports of the running nodes.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|(_, child)| child.is_some())
            .map(|(port, _)| *port)
            .collect()
    }

    /// Kills the node on `port` by its pid, as a crash would.
    pub async fn kill(&mut self, port: u16) {
        for (node, child) in &mut self.nodes {
            if *node == port
                && let Some(mut process) = child.take()
            {
                let _ = process.kill().await;
            }
        }
    }
}

/// One command's answer from the node on `port`, as text (`None` when it does not answer).
async fn node_command(port: u16, args: &[&str]) -> Option<String> {
    let output = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .await
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

async fn wait_for_port(port: u16) -> std::io::Result<()> {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(std::io::Error::other(format!(
        "redis-server did not answer on port {port} within 10 s"
    )))
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.nodes {
            if let Some(child) = child.as_mut() {
                let _ = child.start_kill();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
