//! What the CLI's test files share: running the binary, stopped by its id if it overruns.

#![allow(dead_code)]

use std::io::Read;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long one run of the binary may take.
pub(crate) const LIMIT: Duration = Duration::from_secs(60);

/// How a run of the binary ended.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

/// Waits for `child`, killing it by its id after the limit; standard error is read unless
/// the test took it.
pub(crate) fn finish(mut child: Child) -> Run {
    let started = Instant::now();
    let read = |stream: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut stream) = stream {
                let _ = stream.read_to_string(&mut text);
            }
            text
        })
    };
    let out = read(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = read(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tokensmith (pid {}) ran over {LIMIT:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}
