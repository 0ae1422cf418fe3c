//! Every way a read-api request can fail; the runtime maps them to HTTP.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use analytics_runtime::auth::BearerError;
use analytics_runtime::body::BodyError;
use analytics_runtime::error::{
    field_error, retry_after, store_headers, store_kind, ErrorKind, FieldErrors, ServiceError,
};
use analytics_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ReadApiError {
    #[error("A bearer token is required.")]
    Unauthorized,
    #[error("The bearer token is not valid for this API.")]
    Forbidden,
    #[error("{message}")]
    InvalidParam {
        param: &'static str,
        message: String,
    },
    #[error("{0}")]
    NotFound(&'static str),
    #[error(
        "Pages of this origin may not open the live feed: add it to read_api.live_allowed_origins."
    )]
    OriginRefused,
    #[error("This route needs a WebSocket upgrade (Connection: Upgrade, Upgrade: websocket).")]
    NotWebSocket,
    #[error("The live feed has as many clients as it serves; retry later.")]
    Busy { retry_after: u64 },
    #[error(transparent)]
    Body(#[from] BodyError),
    /// One failed report computation, answered to every request that
    /// waited on it.
    #[error(transparent)]
    Shared(std::sync::Arc<ReadApiError>),
    #[error("The report's computation stopped before it ended; retry.")]
    ComputationLost,
    #[error("The analytics stores are temporarily unavailable; retry later.")]
    Store {
        retry_after: u64,
        #[source]
        source: StoreError,
    },
}

impl ReadApiError {
    pub fn invalid(param: &'static str, message: impl Into<String>) -> Self {
        ReadApiError::InvalidParam {
            param,
            message: message.into(),
        }
    }
}

impl From<BearerError> for ReadApiError {
    fn from(e: BearerError) -> Self {
        match e {
            BearerError::Missing => ReadApiError::Unauthorized,
            BearerError::Wrong => ReadApiError::Forbidden,
        }
    }
}

impl ServiceError for ReadApiError {
    fn kind(&self) -> ErrorKind {
        match self {
            ReadApiError::Unauthorized => ErrorKind::Unauthorized,
            ReadApiError::Forbidden => ErrorKind::Forbidden,
            ReadApiError::InvalidParam { .. } => ErrorKind::Unprocessable,
            ReadApiError::NotFound(_) => ErrorKind::NotFound,
            ReadApiError::NotWebSocket => ErrorKind::BadRequest,
            ReadApiError::OriginRefused => ErrorKind::Forbidden,
            ReadApiError::Busy { .. } => ErrorKind::Unavailable,
            ReadApiError::Body(e) => e.kind(),
            ReadApiError::Store { source, .. } => store_kind(source),
            ReadApiError::Shared(e) => e.kind(),
            ReadApiError::ComputationLost => ErrorKind::Internal,
        }
    }

    fn field_errors(&self) -> Option<FieldErrors> {
        match self {
            ReadApiError::InvalidParam { param, message } => Some(field_error(param, message)),
            ReadApiError::Body(e) => e.field_errors(),
            ReadApiError::OriginRefused => Some(field_error("origin", self.to_string())),
            ReadApiError::Shared(e) => e.field_errors(),
            _ => None,
        }
    }

    fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        match self {
            ReadApiError::Unauthorized => {
                vec![(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))]
            }
            ReadApiError::Body(e) => e.headers(),
            ReadApiError::Store {
                retry_after: s,
                source,
            } => store_headers(source, *s),
            ReadApiError::Busy { retry_after: s } => vec![retry_after(*s)],
            ReadApiError::Shared(e) => e.headers(),
            _ => Vec::new(),
        }
    }
}

analytics_runtime::service_error_response!(ReadApiError);
