//! Reading a request body the same way in every service: bounded in size
//! (before and after decompression), bounded in time (a client that sends
//! `Content-Length: 500` and then 4 bytes gets a 408 instead of holding a
//! connection forever), and gzip-encoded bodies accepted everywhere alike.

use std::io::Read;
use std::time::Duration;

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::HttpRequest;
use futures_util::StreamExt;

use crate::error::{field_error, ErrorKind, FieldErrors, ServiceError};

/// How much body a route takes, and how long a client may take to send it.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Most bytes, compressed or decompressed.
    pub max_bytes: usize,
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("The request body must not be larger than {0} bytes.")]
    TooLarge(usize),
    #[error("The request body was not received within {0} seconds.")]
    TimedOut(u64),
    #[error("The request body could not be read: {0}")]
    Unreadable(String),
    #[error("The request body is not valid gzip: {0}")]
    BadGzip(String),
    #[error("The Content-Encoding {0:?} is not supported; send the body plain or gzip.")]
    UnsupportedEncoding(String),
}

impl ServiceError for BodyError {
    fn kind(&self) -> ErrorKind {
        match self {
            BodyError::TooLarge(_) => ErrorKind::PayloadTooLarge,
            BodyError::TimedOut(_) => ErrorKind::RequestTimeout,
            BodyError::Unreadable(_) | BodyError::BadGzip(_) => ErrorKind::BadRequest,
            BodyError::UnsupportedEncoding(_) => ErrorKind::UnsupportedMediaType,
        }
    }

    fn field_errors(&self) -> Option<FieldErrors> {
        let field = match self {
            BodyError::UnsupportedEncoding(_) => "content_encoding",
            _ => "body",
        };
        Some(field_error(field, self.to_string()))
    }

    fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        match self {
            // The connection's state is unknown after a stalled body.
            BodyError::TimedOut(_) => vec![(header::CONNECTION, HeaderValue::from_static("close"))],
            _ => Vec::new(),
        }
    }
}

/// Whether the request says its body is JSON (`application/json`, or any
/// `application/*+json`).
pub fn is_json(req: &HttpRequest) -> bool {
    use actix_web::HttpMessage;
    matches!(req.mime_type(), Ok(Some(m))
        if m.type_() == "application" && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json")))
}

enum Encoding {
    Identity,
    Gzip,
}

fn encoding(req: &HttpRequest) -> Result<Encoding, BodyError> {
    let Some(value) = req.headers().get(header::CONTENT_ENCODING) else {
        return Ok(Encoding::Identity);
    };
    let value = value.to_str().unwrap_or("").trim().to_ascii_lowercase();
    match value.as_str() {
        "" | "identity" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" => Ok(Encoding::Gzip),
        _ => Err(BodyError::UnsupportedEncoding(value)),
    }
}

/// Reads the whole body within `limits`, decompressing gzip.
pub async fn read(
    req: &HttpRequest,
    payload: web::Payload,
    limits: BodyLimits,
) -> Result<Bytes, BodyError> {
    let encoding = encoding(req)?;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes) {
        return Err(BodyError::TooLarge(limits.max_bytes));
    }
    let raw = tokio::time::timeout(limits.timeout, collect(payload, declared, limits.max_bytes))
        .await
        .map_err(|_| BodyError::TimedOut(limits.timeout.as_secs().max(1)))??;
    match encoding {
        Encoding::Identity => Ok(raw),
        Encoding::Gzip => gunzip(&raw, limits.max_bytes),
    }
}

async fn collect(
    mut payload: web::Payload,
    declared: Option<usize>,
    limit: usize,
) -> Result<Bytes, BodyError> {
    let mut body = BytesMut::with_capacity(declared.unwrap_or(512).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| BodyError::Unreadable(e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Decompresses at most `limit` bytes: a small gzip bomb stays small.
fn gunzip(compressed: &[u8], limit: usize) -> Result<Bytes, BodyError> {
    let mut out = Vec::with_capacity(compressed.len().saturating_mul(4).min(limit));
    flate2::read::GzDecoder::new(compressed)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| BodyError::BadGzip(e.to_string()))?;
    if out.len() > limit {
        return Err(BodyError::TooLarge(limit));
    }
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let _ = enc.write_all(data);
        enc.finish().unwrap_or_default()
    }

    #[test]
    fn gzip_bodies_decompress_within_the_limit() {
        let body = gzip(b"{\"a\":1}");
        assert_eq!(
            gunzip(&body, 100).ok(),
            Some(Bytes::from_static(b"{\"a\":1}"))
        );
        let bomb = gzip(&vec![b'x'; 1_000_000]);
        assert!(bomb.len() < 5_000);
        assert!(matches!(
            gunzip(&bomb, 16_384),
            Err(BodyError::TooLarge(16_384))
        ));
        assert!(matches!(
            gunzip(b"not gzip", 100),
            Err(BodyError::BadGzip(_))
        ));
    }
}
