//! One error type for every adapter; its kind and temporary flag decide retry.

use crate::ConfigProblem;
use serde::de::DeserializeOwned;
use std::fmt;
use std::time::Duration;

/// The result type of every adapter call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in terms a caller can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The helpdesk could not be reached or answered 5xx / timed out. Usually temporary.
    Unavailable,
    /// The helpdesk refused because of its rate limit (429). Temporary; see [`Error::retry_after`].
    RateLimited,
    /// The credentials are wrong or lack a right (401/403). Permanent until an admin acts.
    PermissionDenied,
    /// The ticket, comment or file does not exist (404).
    NotFound,
    /// The write conflicts with the current state (409/412).
    Conflict,
    /// The helpdesk rejected the data (400/422): a bug or a config value it does not accept.
    InvalidInput,
    /// The adapter cannot do this on this helpdesk (see [`crate::Capability`]).
    Unsupported,
    /// The adapter's configuration is wrong.
    ConfigInvalid,
    /// Anything else: an answer the adapter could not understand.
    Unexpected,
}

/// An adapter error.
///
/// Callers MAY retry an error for which [`Error::is_temporary`] is `true`, and SHOULD wait at least
/// [`Error::retry_after`] when it is set. Other errors will fail the same way again: the daemon
/// moves the work to its dead-letter list and tells the people involved.
///
/// The message never contains credentials: adapters build it from the operation, the HTTP status
/// and a trimmed response body, never from request headers or URLs that carry a token.
#[derive(Clone, Debug)]
pub struct Error {
    kind: ErrorKind,
    temporary: bool,
    retry_after: Option<Duration>,
    operation: &'static str,
    message: String,
    /// Set by [`Error::config`]: the findings the message words, for the daemon to word them in
    /// the operator's language. Boxed, so that every other error stays small.
    problems: Option<Box<[ConfigProblem]>>,
}

impl Error {
    /// A new error. `temporary` defaults from the kind: `Unavailable` and `RateLimited` are
    /// temporary, everything else is not.
    pub fn new(kind: ErrorKind, operation: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            temporary: matches!(kind, ErrorKind::Unavailable | ErrorKind::RateLimited),
            retry_after: None,
            operation,
            message: message.into(),
            problems: None,
        }
    }

    /// An [`ErrorKind::ConfigInvalid`] error for what is wrong in the config (a property, queue
    /// or project the live helpdesk does not have, a table the adapter cannot be built from); the
    /// message is the problems in English, `; `-separated.
    pub fn config(
        operation: &'static str,
        problems: impl IntoIterator<Item = ConfigProblem>,
    ) -> Self {
        let problems: Box<[ConfigProblem]> = problems.into_iter().collect();
        let message: Vec<String> = problems.iter().map(ToString::to_string).collect();
        let mut error = Self::new(ErrorKind::ConfigInvalid, operation, message.join("; "));
        error.problems = Some(problems);
        error
    }

    /// An [`ErrorKind::Unsupported`] error for `operation`.
    pub fn unsupported(operation: &'static str) -> Self {
        Self::new(
            ErrorKind::Unsupported,
            operation,
            "not supported by this helpdesk",
        )
    }

    /// Classifies an HTTP status the vendor answered with.
    ///
    /// 408, 425, 429 and every 5xx except 501 are temporary; 401/403 → `PermissionDenied`;
    /// 404 → `NotFound`; 409/412 → `Conflict`; other 4xx → `InvalidInput`. `body` is trimmed to
    /// 300 characters so that a large HTML error page does not end up in logs.
    pub fn from_status(
        operation: &'static str,
        status: u16,
        retry_after: Option<Duration>,
        body: &str,
    ) -> Self {
        let kind = match status {
            429 => ErrorKind::RateLimited,
            401 | 403 => ErrorKind::PermissionDenied,
            404 | 410 => ErrorKind::NotFound,
            409 | 412 => ErrorKind::Conflict,
            408 | 425 => ErrorKind::Unavailable,
            501 => ErrorKind::Unsupported,
            500..=599 => ErrorKind::Unavailable,
            _ => ErrorKind::InvalidInput,
        };
        let body: String = body.trim().chars().take(300).collect();
        let message = if body.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {body}")
        };
        let mut error = Self::new(kind, operation, message);
        error.retry_after = retry_after;
        error
    }

    /// Marks the error as temporary (or not), overriding the kind's default.
    pub fn with_temporary(mut self, temporary: bool) -> Self {
        self.temporary = temporary;
        self
    }

    /// Records the server's `Retry-After` hint.
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether retrying the same call later can succeed.
    pub fn is_temporary(&self) -> bool {
        self.temporary
    }

    /// How long the server asked us to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The adapter operation that failed (`create_ticket`, `add_comment`...).
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// The human-readable detail.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The config findings behind an [`Error::config`] error.
    pub fn config_problems(&self) -> Option<&[ConfigProblem]> {
        self.problems.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed ({:?}", self.operation, self.kind)?;
        if self.temporary {
            f.write_str(", temporary")?;
        }
        write!(f, "): {}", self.message)
    }
}

impl std::error::Error for Error {}

/// Decodes a JSON answer of the helpdesk, or fails with [`ErrorKind::Unexpected`] quoting the
/// first 200 characters of `body`, so a proxy's HTML page or a changed API shows in the log.
/// `vendor` names the helpdesk in the message (`"cannot parse Kaiten's answer (...)"`).
pub fn decode_json<T: DeserializeOwned>(
    operation: &'static str,
    vendor: &str,
    body: &[u8],
) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        let start: String = String::from_utf8_lossy(body).chars().take(200).collect();
        Error::new(
            ErrorKind::Unexpected,
            operation,
            format!("cannot parse {vendor}'s answer ({e}): {start}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_keep_their_findings() {
        use crate::Problem;
        let error = Error::config(
            "check",
            [
                ConfigProblem::new("queue", Problem::Required),
                ConfigProblem::new("", Problem::NotOneLine),
            ],
        );
        assert_eq!(error.kind(), ErrorKind::ConfigInvalid);
        assert!(!error.is_temporary());
        assert_eq!(error.message(), "queue: required; must be one line");
        assert_eq!(error.config_problems().map(<[_]>::len), Some(2));
        assert!(
            Error::new(ErrorKind::ConfigInvalid, "x", "y")
                .config_problems()
                .is_none()
        );
    }

    #[test]
    fn statuses_decide_retry() {
        assert!(Error::from_status("x", 503, None, "").is_temporary());
        assert!(Error::from_status("x", 429, None, "").is_temporary());
        assert!(!Error::from_status("x", 501, None, "").is_temporary());
        assert!(!Error::from_status("x", 401, None, "").is_temporary());
        assert_eq!(
            Error::from_status("x", 404, None, "").kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            Error::from_status("x", 422, None, "").kind(),
            ErrorKind::InvalidInput
        );
    }

    #[test]
    fn undecodable_answers_are_unexpected_and_quoted() {
        let ok: Result<Vec<i32>> = decode_json("x", "Acme", b"[1, 2]");
        assert_eq!(ok.expect("decodes"), [1, 2]);
        let body = format!("<html>{}</html>", "x".repeat(500));
        let error =
            decode_json::<Vec<i32>>("get_ticket", "Acme", body.as_bytes()).expect_err("not JSON");
        assert_eq!(error.kind(), ErrorKind::Unexpected);
        assert!(!error.is_temporary());
        assert_eq!(error.operation(), "get_ticket");
        assert!(
            error.message().starts_with("cannot parse Acme's answer ("),
            "{}",
            error.message()
        );
        assert!(
            error
                .message()
                .ends_with(&format!("): <html>{}", "x".repeat(194)))
        );
    }

    #[test]
    fn long_bodies_are_trimmed() {
        let error = Error::from_status("x", 500, None, &"a".repeat(5000));
        assert!(error.message().len() < 320);
    }
}
