//! How a user signs in: the application sends the browser to the authorization URL and hands
//! back the callback. [`LoopbackRedirect`] does it for command-line programs (RFC 8252 §7.3);
//! an application with its own web handler implements [`Authorizer`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokensmith_core::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

/// Runs the user's part of a sign-in (the authorization code flow): where the browser comes
/// back to, and getting it there.
#[async_trait]
pub trait Authorizer: Send + Sync + 'static {
    /// Prepares one sign-in: a redirect URI that will receive the callback.
    async fn redirect(&self) -> Result<Box<dyn Redirect>, Error>;
}

/// One prepared sign-in, from [`Authorizer::redirect`].
#[async_trait]
pub trait Redirect: Send {
    /// The redirect URI sent in the authorization request (and registered).
    fn redirect_uri(&self) -> &str;

    /// Sends the user to `url` and waits for the callback: the full URL the browser was sent
    /// back to (its query carries `code` and `state`, or `error`).
    async fn complete(self: Box<Self>, url: &Url) -> Result<String, Error>;
}

/// The function that shows the user the authorization URL (opens a browser, prints it).
type Open = Arc<dyn Fn(&Url) -> Result<(), Error> + Send + Sync>;

/// A redirect to a port on 127.0.0.1 that this process listens on for one sign-in (RFC 8252
/// §7.3), for command-line and desktop programs. The authorization URL goes to the opener
/// ([`open_with`](Self::open_with); by default it is printed on standard error for the user
/// to open); the first request for the callback path that carries the sign-in's `state` ends
/// the wait, which is bounded ([`timeout`](Self::timeout), 5 minutes by default).
///
/// ```no_run
/// use tokensmith_oauth2::resource::LoopbackRedirect;
///
/// let authorizer = LoopbackRedirect::new().open_with(|url| {
///     eprintln!("Sign in at {url}");
///     Ok(())
/// });
/// # let _ = authorizer;
/// ```
#[derive(Clone)]
pub struct LoopbackRedirect {
    port: u16,
    path: String,
    timeout: Duration,
    open: Open,
}

impl LoopbackRedirect {
    /// A redirect to `http://127.0.0.1:<a free port>/callback`.
    pub fn new() -> Self {
        Self {
            port: 0,
            path: "/callback".into(),
            timeout: Duration::from_secs(300),
            open: Arc::new(|url: &Url| {
                eprintln!("To sign in, open this URL in a browser:\n\n  {url}\n");
                Ok(())
            }),
        }
    }

    /// Listens on this port instead of one the system picks (for servers that compare the
    /// port of loopback redirect URIs, though RFC 8252 §7.3 says not to).
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The callback's path (default `/callback`).
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.path = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        self
    }

    /// How long to wait for the callback (default 5 minutes).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Shows the authorization URL with `open` (a browser launcher, say) instead of printing
    /// it.
    #[must_use]
    pub fn open_with(
        mut self,
        open: impl Fn(&Url) -> Result<(), Error> + Send + Sync + 'static,
    ) -> Self {
        self.open = Arc::new(open);
        self
    }

    /// How long a sign-in may take.
    pub(crate) fn wait(&self) -> Duration {
        self.timeout
    }
}

impl Default for LoopbackRedirect {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for LoopbackRedirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopbackRedirect")
            .field("port", &self.port)
            .field("path", &self.path)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Authorizer for LoopbackRedirect {
    async fn redirect(&self) -> Result<Box<dyn Redirect>, Error> {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .map_err(|e| {
                Error::config(format!(
                    "cannot listen on 127.0.0.1:{} for the sign-in callback: {e}",
                    self.port
                ))
            })?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::other(format!("the callback listener has no address: {e}")))?
            .port();
        Ok(Box::new(Listening {
            uri: format!("http://127.0.0.1:{port}{}", self.path),
            port,
            listener,
            settings: self.clone(),
        }))
    }
}

/// A loopback listener waiting for one callback.
struct Listening {
    uri: String,
    port: u16,
    listener: TcpListener,
    settings: LoopbackRedirect,
}

/// The most connections to the listener served at once.
const MAX_CONNECTIONS: usize = 16;
/// The largest request head read from a connection.
const MAX_HEAD: usize = 16 * 1024;
/// How long a connection may take to send its request.
const IDLE: Duration = Duration::from_secs(10);

#[async_trait]
impl Redirect for Listening {
    fn redirect_uri(&self) -> &str {
        &self.uri
    }

    /// Shows `url`, then waits for the request to the callback path that carries the
    /// authorization request's `state`. Each connection is served on its own task, so that one
    /// that sends nothing (dropped after 10 s) holds up no other; a request for another path,
    /// or with another `state` (a forged callback), is answered and the wait goes on.
    async fn complete(self: Box<Self>, url: &Url) -> Result<String, Error> {
        let state = url
            .query_pairs()
            .find(|(name, _)| name == "state")
            .map(|(_, value)| value.into_owned());
        (self.settings.open)(url)?;
        let wait = self.settings.timeout;
        let found = tokio::time::timeout(wait, self.serve(state)).await;
        match found {
            Ok(Ok(target)) => Ok(format!("http://127.0.0.1:{}{target}", self.port)),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(Error::timeout(&self.uri, wait).with_hint(
                "the browser did not come back to the redirect URI: the user did not finish \
                 signing in, or the authorization server sent the callback elsewhere",
            )),
        }
    }
}

impl Listening {
    /// Serves connections until one brings the callback; its request target.
    async fn serve(&self, state: Option<String>) -> Result<String, Error> {
        let (found, mut arrived) = tokio::sync::mpsc::channel::<String>(1);
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        loop {
            let accepted = tokio::select! {
                target = arrived.recv() => match target {
                    Some(target) => return Ok(target),
                    None => continue,
                },
                accepted = self.listener.accept() => accepted,
            };
            let (stream, _) = accepted
                .map_err(|e| Error::other(format!("the sign-in callback listener failed: {e}")))?;
            let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                continue;
            };
            let found = found.clone();
            let path = self.settings.path.clone();
            let state = state.clone();
            tokio::spawn(async move {
                let served =
                    tokio::time::timeout(IDLE, callback_target(stream, &path, state.as_deref()))
                        .await;
                if let Ok(Some(target)) = served {
                    let _ = found.send(target).await;
                }
                drop(slot);
            });
        }
    }
}

/// Reads one request and answers it; its target when it is a `GET` for `path` that carries
/// `state`.
async fn callback_target(mut stream: TcpStream, path: &str, state: Option<&str>) -> Option<String> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|b| *b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    let (target_path, query) = target.split_once('?').unwrap_or((target, ""));
    let ours = method == "GET" && target_path == path;
    let carries_state = state.is_none_or(|state| {
        url::form_urlencoded::parse(query.as_bytes())
            .any(|(name, value)| name == "state" && value == state)
    });
    let (status, text) = match (ours, carries_state) {
        (true, true) => (
            "200 OK",
            "Signed in: you can close this window and return to the application.",
        ),
        (true, false) => (
            "400 Bad Request",
            "This is not the sign-in the application is waiting for.",
        ),
        _ => ("404 Not Found", "Not here."),
    };
    let page = format!("<!doctype html><title>Sign-in</title><p>{text}</p>");
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nconnection: close\r\n\r\n{page}",
        page.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    (ours && carries_state).then(|| target.to_owned())
}
