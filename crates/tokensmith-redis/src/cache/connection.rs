//! Talking to Redis: one connection (single node or cluster) made on first use, each command bounded by the operation timeout, scripts with a safe fallback where they are refused.

use super::*;

/// Where the fleet's Redis is: one server (or a Sentinel-managed primary's address), or a
/// Redis Cluster.
#[allow(
    clippy::large_enum_variant,
    reason = "one per cache, held once behind its Arc: the size costs nothing a user feels"
)]
pub(super) enum Target {
    Node(redis::Client),
    Cluster(redis::cluster::ClusterClient),
}

/// A connection to the one server (reconnecting after an outage), or to the Cluster (following
/// `MOVED` and `ASK` as slots move, and its topology after a failover).
#[derive(Clone)]
pub(super) enum Connection {
    Node(ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl redis::aio::ConnectionLike for Connection {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Self::Node(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Self::Node(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Node(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// Whether an error says that scripts are not allowed here (rather than that Redis is away).
pub(super) fn refuses_scripts(error: &redis::RedisError) -> bool {
    let text = error.to_string().to_ascii_lowercase();
    matches!(
        error.kind(),
        redis::ErrorKind::Server(redis::ServerErrorKind::NoPerm)
    ) || text.contains("noperm")
        || text.contains("no permissions")
        || text.contains("unknown command")
        || text.contains("scripting is disabled")
}

impl RedisCache {
    async fn connection(&self) -> Result<Connection, redis::RedisError> {
        let inner = &self.inner;
        let connection = inner
            .connection
            .get_or_try_init(|| async {
                match &inner.client {
                    Target::Node(client) => {
                        let config = ConnectionManagerConfig::new()
                            .set_connection_timeout(Some(inner.op_timeout))
                            .set_response_timeout(Some(inner.op_timeout))
                            .set_number_of_retries(1);
                        let manager = client.get_connection_manager_with_config(config).await?;
                        Ok::<_, redis::RedisError>(Connection::Node(manager))
                    }
                    Target::Cluster(client) => {
                        Ok(Connection::Cluster(client.get_async_connection().await?))
                    }
                }
            })
            .await?;
        Ok(connection.clone())
    }

    /// Runs one command within the time allowed; an error or a timeout is logged once per
    /// outage and returned.
    pub(crate) async fn run<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
    ) -> Result<T, Error> {
        let attempt = async {
            let mut connection = self.connection().await?;
            match command.query_async::<T>(&mut connection).await {
                // A connection broken by an outage fails its next command and reconnects:
                // once Redis is back, the second try gets through.
                Err(e) if e.is_connection_dropped() || e.is_io_error() => {
                    command.query_async::<T>(&mut connection).await
                }
                other => other,
            }
        };
        self.bounded(attempt).await
    }

    /// Runs a pipeline within the time allowed, like [`run`](Self::run).
    pub(crate) async fn run_pipeline<T: redis::FromRedisValue>(
        &self,
        pipeline: &redis::Pipeline,
    ) -> Result<T, Error> {
        let attempt = async {
            let mut connection = self.connection().await?;
            match pipeline.query_async::<T>(&mut connection).await {
                // As for a single command: the second try after an outage gets through.
                Err(e) if e.is_connection_dropped() || e.is_io_error() => {
                    pipeline.query_async::<T>(&mut connection).await
                }
                other => other,
            }
        };
        self.bounded(attempt).await
    }

    /// Runs a script within the time allowed, like [`run`](Self::run). A server that refuses
    /// scripts (an ACL without `EVAL`, a managed offering without scripting) is remembered,
    /// and said once: `None` then, and from then on without asking.
    pub(crate) async fn run_script<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        keys: &[&str],
        args: &[&[u8]],
    ) -> Result<Option<T>, Error> {
        if self.inner.scripts_refused.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let attempt = async {
            let mut connection = self.connection().await?;
            let mut invocation = script.prepare_invoke();
            for key in keys {
                invocation.key(*key);
            }
            for arg in args {
                invocation.arg(*arg);
            }
            invocation.invoke_async::<T>(&mut connection).await
        };
        match tokio::time::timeout(self.inner.op_timeout, attempt).await {
            Ok(Err(e)) if refuses_scripts(&e) => {
                if !self.inner.scripts_refused.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        target: "tokensmith::redis",
                        error = %e,
                        "Redis refuses scripts: fetch locks are left to expire instead of being \
                         released, and are not renewed; allow EVAL and EVALSHA for this user to \
                         release them at once"
                    );
                }
                Ok(None)
            }
            Ok(result) => self.outcome(result.map_err(|e| e.to_string())).map(Some),
            Err(_) => self.outcome(Err(format!("no answer within {:?}", self.inner.op_timeout))),
        }
    }

    /// Runs `attempt` within the command timeout; an error or a timeout is logged once per
    /// outage.
    async fn bounded<T>(
        &self,
        attempt: impl std::future::Future<Output = Result<T, redis::RedisError>>,
    ) -> Result<T, Error> {
        let result = match tokio::time::timeout(self.inner.op_timeout, attempt).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(format!("{e}")),
            Err(_) => Err(format!("no answer within {:?}", self.inner.op_timeout)),
        };
        self.outcome(result)
    }

    fn outcome<T>(&self, result: Result<T, String>) -> Result<T, Error> {
        match result {
            Ok(value) => {
                if self.inner.down.swap(false, Ordering::Relaxed) {
                    tracing::info!(target: "tokensmith::redis", "Redis answers again; sharing tokens with the fleet");
                }
                Ok(value)
            }
            Err(message) => {
                if !self.inner.down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        target: "tokensmith::redis",
                        error = %message,
                        "Redis is unavailable; each replica fetches its own tokens until it answers"
                    );
                }
                Err(Error::other(format!("Redis: {message}")))
            }
        }
    }
}
