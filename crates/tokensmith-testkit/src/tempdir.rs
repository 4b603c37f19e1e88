//! A scratch directory for tests that write files (token stores).

use std::path::{Path, PathBuf};

/// A new directory under the system's temporary directory, removed with its contents when
/// dropped.
///
/// ```
/// let dir = tokensmith_testkit::TempDir::new("example").unwrap();
/// std::fs::write(dir.path().join("file"), "x").unwrap();
/// let kept = dir.path().to_path_buf();
/// drop(dir);
/// assert!(!kept.exists());
/// ```
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates a directory whose name starts with `tokensmith-{label}-`.
    pub fn new(label: &str) -> std::io::Result<Self> {
        let unique = crate::state::random_token(label);
        let dir = std::env::temp_dir().join(format!("tokensmith-{unique}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
