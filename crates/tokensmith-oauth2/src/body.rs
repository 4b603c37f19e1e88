//! Reading answer bodies with a size limit: token endpoint answers here, API answers in the
//! vendor crates.

use reqwest::Response;

/// Why a body could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum BodyError {
    /// The body is longer than the limit; what was read before the limit.
    TooLarge {
        /// The bytes read before stopping.
        seen: Vec<u8>,
    },
    /// The connection failed while reading.
    Transport(reqwest::Error),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge { .. } => f.write_str("the answer is larger than the limit"),
            Self::Transport(e) => write!(f, "the answer broke off: {e}"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Transport(e) => Some(e),
            Self::TooLarge { .. } => None,
        }
    }
}

/// Reads `response`'s body, refusing at `limit` bytes before reading more: a
/// `Content-Length` above it is refused at once, and a body without one is read until it
/// passes the limit.
pub async fn read_limited(mut response: Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(BodyError::TooLarge { seen: Vec::new() });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { seen: body });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
