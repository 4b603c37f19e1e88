//! Reading answers: bodies read up to a limit, `Retry-After`.

use std::pin::pin;
use std::time::{Duration, SystemTime};

use http::HeaderMap;
use http::header::RETRY_AFTER;
use http_body::Body;
use http_body_util::BodyExt;

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError<E> {
    /// The body is longer than the limit; what was read before the limit.
    TooLarge {
        /// The bytes read before stopping.
        seen: Vec<u8>,
    },
    /// The connection failed while reading.
    Transport(E),
}

/// Reads `body`, refusing at `limit` bytes before reading more: a declared length above it is
/// refused at once, and a body without one is read until it passes the limit. Works for
/// reqwest (`http::Response::from(response).into_body()`) and hyper bodies alike.
pub async fn read_limited<B>(body: B, limit: usize) -> Result<Vec<u8>, BodyError<B::Error>>
where
    B: Body,
{
    use bytes::Buf;

    if body.size_hint().lower() > limit as u64 {
        return Err(BodyError::TooLarge { seen: Vec::new() });
    }
    let mut body = pin!(body);
    let mut read = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(mut data) = frame.map_err(BodyError::Transport)?.into_data() else {
            continue;
        };
        if read.len() + data.remaining() > limit {
            return Err(BodyError::TooLarge { seen: read });
        }
        while data.has_remaining() {
            let chunk = data.chunk();
            read.extend_from_slice(chunk);
            let n = chunk.len();
            data.advance(n);
        }
    }
    Ok(read)
}

/// `Retry-After` (RFC 9110 §10.2.3) as seconds or as an HTTP date, measured from now; a date
/// in the past is zero. Callers cap it.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use http_body_util::{Full, StreamBody};

    use super::*;

    #[tokio::test]
    async fn bodies_are_read_up_to_the_limit_and_no_further() {
        let full = Full::new(bytes::Bytes::from_static(b"0123456789"));
        assert_eq!(read_limited(full.clone(), 10).await.unwrap(), b"0123456789");
        // A declared length over the limit is refused before reading.
        match read_limited(full, 9).await {
            Err(BodyError::TooLarge { seen }) => assert!(seen.is_empty()),
            other => panic!("{other:?}"),
        }
        // Without a declared length, reading stops at the chunk that passes the limit.
        let chunks = futures_util::stream::iter([b"abcd".as_slice(), b"efgh", b"ijkl"].map(|c| {
            Ok::<_, std::convert::Infallible>(http_body::Frame::data(bytes::Bytes::from_static(c)))
        }));
        match read_limited(StreamBody::new(chunks), 6).await {
            Err(BodyError::TooLarge { seen }) => assert_eq!(seen, b"abcd"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static(" 7 "));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = SystemTime::now() + Duration::from_secs(120);
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_str(&httpdate::fmt_http_date(later)).unwrap(),
        );
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }
}
