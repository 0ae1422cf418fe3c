//! Bearer-token checks shared by the services (each maps the failure to its
//! own error type: 401 for a missing token, 403 for a wrong one). Tokens
//! are [`Token`]s: never printed by `Debug`, compared in constant time.

use std::future::{ready, Ready};
use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, ResponseError};

/// A configured bearer token (a secret: `Debug` shows `[REDACTED]`).
pub type Token = secrecy::SecretString;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    Missing,
    Wrong,
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is
/// case-insensitive (RFC 7235).
pub fn bearer_token(header: Option<&str>) -> Option<&str> {
    let (scheme, token) = header?.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Checks an `Authorization` header value against the expected token.
pub fn check_bearer(header: Option<&str>, expected: &str) -> Result<(), BearerError> {
    let presented = bearer_token(header).ok_or(BearerError::Missing)?;
    if constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(BearerError::Wrong)
    }
}

/// A route's role: where its expected token lives and which error a
/// refusal becomes.
pub trait Role {
    type Error: From<BearerError> + ResponseError + 'static;
    /// The token this role must present (from the app's state).
    fn expected(req: &HttpRequest) -> Option<&str>;
}

/// A request carrying role `R`'s bearer token. As an extractor listed before
/// the query or body, it refuses a request before either is read or judged.
pub struct Bearer<R>(PhantomData<R>);

impl<R: Role> FromRequest for Bearer<R> {
    type Error = R::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        // Without a configured token (no state) nothing presented can match:
        // tokens are never empty.
        let expected = R::expected(req).unwrap_or_default();
        ready(
            check_bearer(presented, expected)
                .map(|()| Bearer(PhantomData))
                .map_err(R::Error::from),
        )
    }
}

/// Compares without an early exit, so timing does not leak the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_passes() {
        assert_eq!(
            check_bearer(Some("Bearer secret-token"), "secret-token"),
            Ok(())
        );
        assert_eq!(
            check_bearer(Some("Bearer secret-tokex"), "secret-token"),
            Err(BearerError::Wrong)
        );
        assert_eq!(
            check_bearer(Some("Bearer secret"), "secret-token"),
            Err(BearerError::Wrong)
        );
        assert_eq!(
            check_bearer(Some("Basic abc"), "secret-token"),
            Err(BearerError::Missing)
        );
        for scheme in ["bearer", "BEARER", "bEaReR"] {
            assert_eq!(
                check_bearer(Some(&format!("{scheme} secret-token")), "secret-token"),
                Ok(())
            );
        }
        assert_eq!(
            check_bearer(Some("Bearer  "), "secret-token"),
            Err(BearerError::Missing)
        );
        assert_eq!(
            check_bearer(None, "secret-token"),
            Err(BearerError::Missing)
        );
    }
}
