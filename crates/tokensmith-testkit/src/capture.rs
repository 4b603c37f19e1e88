//! Captures `tracing` output so tests can assert that no secret is ever logged.

use std::io;
use std::sync::{Arc, Mutex, OnceLock};

/// Everything `tracing` writes at TRACE level, from every thread of the test binary.
///
/// It installs a global subscriber once (the first call wins); a thread-local one would miss
/// callsites first hit on other threads while tests run in parallel. Use it in test binaries
/// that do not install a subscriber of their own.
///
/// ```
/// let capture = tokensmith_testkit::TraceCapture::global();
/// tracing::info!(user = "alice", "signed in");
/// assert!(capture.text().contains("signed in"));
/// ```
#[derive(Clone, Default)]
pub struct TraceCapture(Arc<Mutex<Vec<u8>>>);

impl TraceCapture {
    /// The capture of this process, installed on first use.
    ///
    /// # Panics
    /// If another global `tracing` subscriber was installed first.
    pub fn global() -> &'static TraceCapture {
        static CAPTURE: OnceLock<TraceCapture> = OnceLock::new();
        CAPTURE.get_or_init(|| {
            let capture = TraceCapture::default();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_writer(capture.clone())
                .with_ansi(false)
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("TraceCapture::global needs to be the process's only global subscriber");
            capture
        })
    }

    /// All output so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&crate::state::lock(&self.0)).into_owned()
    }
}

impl io::Write for TraceCapture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        crate::state::lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for TraceCapture {
    type Writer = TraceCapture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
