//! HTTP to Znuny's Generic Interface: the session, pacing, and turning answers into [`Error`]s.
//!
//! Every call carries a `SessionID` (query string for `GET`, whose body Znuny ignores; JSON body
//! otherwise). The session comes from `POST /Session` with the agent's login and password, is kept
//! for all later calls, and is replaced when Znuny answers `<Operation>.AuthFail` or
//! `SessionGet.SessionInvalid` (it expired, or Znuny restarted with a new session store). Znuny
//! checks authentication before it does anything else, so the refused call is then sent once more
//! with the new session: that is re-authentication, not a retry of the operation, and a call that
//! is refused again with a fresh session is a permanent `PermissionDenied`.

use crate::config::ZnunyConfig;
use crate::model;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;
use teledesk_adapter::http::{
    Base64Files, FILE_TRANSFER_TIMEOUT, HttpClient, JsonStep, ReceivedFiles, VendorApi,
    retry_after_header,
};
use teledesk_adapter::{Error, ErrorKind, Result, Secret};

/// Calls without files; those carrying files get `FILE_TRANSFER_TIMEOUT`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Znuny sends no `Retry-After` itself; a proxy in front of it may.
static ZNUNY: VendorApi = VendorApi {
    kind: crate::KIND,
    name: "Znuny",
    retry_after: retry_after_header,
    parse_error: parse_http_error,
};

/// One Generic Interface request, before the session is added.
#[derive(Clone, Debug)]
pub struct Call<'a> {
    /// `GET`, `POST` or `PATCH`.
    pub method: Method,
    /// The route after the web service (`/Ticket/12`).
    pub route: &'a str,
    /// Query parameters (a repeated key is an array to Znuny).
    pub query: Vec<(&'a str, String)>,
    /// The JSON object body of a non-`GET` call.
    pub body: Option<Value>,
    /// Files whose base64 goes into `body` where their placeholders are, encoded as the body is
    /// sent.
    pub files: Base64Files,
}

impl<'a> Call<'a> {
    /// A `GET` with query parameters.
    pub fn get(route: &'a str, query: Vec<(&'a str, String)>) -> Self {
        Self {
            method: Method::GET,
            route,
            query,
            body: None,
            files: Base64Files::default(),
        }
    }

    /// A call with a JSON object body.
    pub fn send(method: Method, route: &'a str, body: Value) -> Self {
        Self {
            method,
            route,
            query: Vec::new(),
            body: Some(body),
            files: Base64Files::default(),
        }
    }

    /// A call with a JSON object body holding `files` (see [`Base64Files::embed`]).
    pub fn with_files(mut self, files: Base64Files) -> Self {
        self.files = files;
        self
    }
}

/// What one attempt with a session came to.
enum Attempt {
    Done(Value, ReceivedFiles),
    SessionRefused(model::GiError),
}

/// Which strings of an answer are files in base64 (see [`HttpClient::json_with_files`]).
pub type FileFilter<'f> = &'f (dyn Fn(&[JsonStep<'_>]) -> bool + Sync);

/// A paced client of one Znuny web service, holding the agent's session.
#[derive(Debug)]
pub struct ZnunyClient {
    http: HttpClient,
    base: String,
    user: String,
    password: Secret,
    /// The cached `SessionID`; the async lock also makes concurrent tasks wait for one login.
    session: tokio::sync::Mutex<Option<Secret>>,
}

impl ZnunyClient {
    /// A client for the configured web service.
    pub fn new(config: &ZnunyConfig) -> Result<Self> {
        Ok(Self {
            http: HttpClient::new(&ZNUNY, config.requests_per_second, |b| {
                b.timeout(REQUEST_TIMEOUT)
            })?,
            base: config.url.clone(),
            user: config.user.clone(),
            password: config.password.clone(),
            session: tokio::sync::Mutex::new(None),
        })
    }

    /// Sends `call` with the agent's session and parses the answer, re-authenticating once when
    /// Znuny refuses a cached session.
    pub async fn call<T: DeserializeOwned>(&self, op: &'static str, call: &Call<'_>) -> Result<T> {
        self.call_with_files(op, call, None)
            .await
            .map(|(value, _)| value)
    }

    /// [`ZnunyClient::call`] for an answer that carries files as base64 in the strings `is_file`
    /// accepts: each is decoded into the spool as the answer arrives, never whole in memory, and
    /// the parsed answer holds a placeholder for it.
    pub async fn call_with_files<T: DeserializeOwned>(
        &self,
        op: &'static str,
        call: &Call<'_>,
        is_file: Option<FileFilter<'_>>,
    ) -> Result<(T, ReceivedFiles)> {
        let (session, fresh) = self.session(op).await?;
        let refused = match self.attempt(op, call, &session, is_file).await? {
            Attempt::Done(value, files) => return Ok((parse(op, value)?, files)),
            Attempt::SessionRefused(error) => error,
        };
        if fresh {
            return Err(session_refused(op, &refused));
        }
        tracing::debug!(
            adapter = crate::KIND,
            operation = op,
            code = %refused.code,
            "Znuny refused the cached session; logging in again."
        );
        self.forget(&session).await;
        let (session, _) = self.session(op).await?;
        match self.attempt(op, call, &session, is_file).await? {
            Attempt::Done(value, files) => Ok((parse(op, value)?, files)),
            Attempt::SessionRefused(error) => Err(session_refused(op, &error)),
        }
    }

    /// The current session, logging in when there is none; `true` when it was created now.
    pub async fn session(&self, op: &'static str) -> Result<(Secret, bool)> {
        let mut cached = self.session.lock().await;
        if let Some(session) = cached.as_ref() {
            return Ok((session.clone(), false));
        }
        let body = serde_json::to_value(model::SessionCreate {
            user_login: &self.user,
            password: self.password.expose(),
        })
        .map_err(|e| Error::new(ErrorKind::Unexpected, op, e.to_string()))?;
        let (value, _) = self
            .send_raw(op, &Call::send(Method::POST, "/Session", body), None)
            .await?;
        if let Some(error) = gi_error(&value) {
            return Err(if is_auth_code(&error.code) {
                Error::new(
                    ErrorKind::PermissionDenied,
                    op,
                    format!(
                        "Znuny refused the login of agent {:?} ({}): check user and password",
                        self.user, error.code
                    ),
                )
            } else {
                classify(op, &error)
            });
        }
        let created: model::SessionCreated = parse(op, value)?;
        let session = Secret::new(created.session_id);
        *cached = Some(session.clone());
        Ok((session, true))
    }

    /// `GET /Session/:SessionID`: the agent behind the session. The session travels in the path
    /// here (which takes precedence over the query in Znuny), so a refused one is replaced by hand.
    pub async fn session_get(&self, op: &'static str) -> Result<model::SessionInfo> {
        let mut renewed = false;
        loop {
            let (session, fresh) = self.session(op).await?;
            let route = format!("/Session/{}", path_segment(session.expose()));
            let (value, _) = self
                .send_raw(op, &Call::get(&route, Vec::new()), None)
                .await?;
            match gi_error(&value) {
                Some(error) if is_auth_code(&error.code) => {
                    if fresh || renewed {
                        return Err(session_refused(op, &error));
                    }
                    self.forget(&session).await;
                    renewed = true;
                }
                Some(error) => return Err(classify(op, &error)),
                None => return parse(op, value),
            }
        }
    }

    /// Drops `session` from the cache unless another task already replaced it.
    async fn forget(&self, session: &Secret) {
        let mut cached = self.session.lock().await;
        if cached.as_ref() == Some(session) {
            *cached = None;
        }
    }

    async fn attempt(
        &self,
        op: &'static str,
        call: &Call<'_>,
        session: &Secret,
        is_file: Option<FileFilter<'_>>,
    ) -> Result<Attempt> {
        let mut call = call.clone();
        match (&call.method, call.body.as_mut()) {
            (&Method::GET, _) | (_, None) => {
                call.query.push(("SessionID", session.expose().to_owned()));
            }
            (_, Some(Value::Object(body))) => {
                body.insert(
                    "SessionID".into(),
                    Value::String(session.expose().to_owned()),
                );
            }
            (_, Some(_)) => {
                return Err(Error::new(
                    ErrorKind::Unexpected,
                    op,
                    "a Generic Interface body must be a JSON object",
                ));
            }
        }
        let (value, files) = self.send_raw(op, &call, is_file).await?;
        match gi_error(&value) {
            Some(error) if is_auth_code(&error.code) => Ok(Attempt::SessionRefused(error)),
            Some(error) => Err(classify(op, &error)),
            None => Ok(Attempt::Done(value, files)),
        }
    }

    /// One paced HTTP exchange; non-2xx answers become errors, 2xx bodies JSON (with the files
    /// `is_file` picks decoded out of it).
    async fn send_raw(
        &self,
        op: &'static str,
        call: &Call<'_>,
        is_file: Option<FileFilter<'_>>,
    ) -> Result<(Value, ReceivedFiles)> {
        let mut builder = self
            .http
            .request(call.method.clone(), format!("{}{}", self.base, call.route));
        if !call.query.is_empty() {
            builder = builder.query(&call.query);
        }
        if !call.files.is_empty() || is_file.is_some() {
            builder = builder.timeout(FILE_TRANSFER_TIMEOUT);
        }
        if let Some(body) = &call.body {
            builder = if call.files.is_empty() {
                builder.json(body)
            } else {
                // Cheap to clone: a new login sends the same files again from the start.
                call.files.clone().into_json(op, body)?.attach(builder)
            };
        }
        let response = self.http.send(op, builder).await?;
        match is_file {
            None => Ok((
                self.http.json(op, response).await?,
                ReceivedFiles::default(),
            )),
            Some(is_file) => self.http.json_with_files(op, response, is_file).await,
        }
    }
}

/// Percent-encodes everything but unreserved characters (Znuny's session ids are alphanumeric;
/// this only keeps an odd one from breaking the path).
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The `Error` object of a 200 answer, if it is one.
fn gi_error(value: &Value) -> Option<model::GiError> {
    value.get("Error")?;
    serde_json::from_value::<model::ErrorEnvelope>(value.clone())
        .ok()
        .map(|e| e.error)
}

fn parse<T: DeserializeOwned>(op: &'static str, value: Value) -> Result<T> {
    serde_json::from_value(value.clone()).map_err(|e| {
        let start: String = value.to_string().chars().take(200).collect();
        Error::new(
            ErrorKind::Unexpected,
            op,
            format!("unexpected Znuny answer ({e}): {start}"),
        )
    })
}

/// `TicketGet.AuthFail`, `SessionGet.SessionInvalid`: the session (or login) was not accepted.
fn is_auth_code(code: &str) -> bool {
    let reason = code.rsplit('.').next().unwrap_or(code);
    matches!(reason, "AuthFail" | "SessionInvalid")
}

fn session_refused(op: &'static str, error: &model::GiError) -> Error {
    Error::new(
        ErrorKind::PermissionDenied,
        op,
        format!(
            "{}: {} (refused right after logging in; is the agent valid?)",
            error.code, error.message
        ),
    )
}

/// Maps an operation error (`{"Error": {...}}` with HTTP 200) to an [`Error`].
///
/// `AccessDenied` from `TicketGet`/`TicketUpdate` is `NotFound`: Znuny answers it for a ticket id
/// that does not exist (its permission check fails first) exactly as for a ticket in a queue the
/// agent may not see, and either way the ticket is out of teledesk's reach for good. From
/// `TicketCreate` it means the agent may not create in the queue: `PermissionDenied`.
pub fn classify(op: &'static str, error: &model::GiError) -> Error {
    let (operation, reason) = error.code.rsplit_once('.').unwrap_or(("", &error.code));
    let kind = match reason {
        "AuthFail" | "SessionInvalid" => ErrorKind::PermissionDenied,
        "AccessDenied" if operation == "TicketCreate" => ErrorKind::PermissionDenied,
        "AccessDenied" | "NotValidTicketID" | "NotTicketData" => ErrorKind::NotFound,
        "MissingParameter" | "InvalidParameter" | "WrongStructure" | "EmptyRequest" => {
            ErrorKind::InvalidInput
        }
        "InvalidConfiguration" => ErrorKind::ConfigInvalid,
        _ => ErrorKind::Unexpected,
    };
    let message: String = format!("{}: {}", error.code, error.message)
        .chars()
        .take(300)
        .collect();
    Error::new(kind, op, message)
}

/// Classifies a non-2xx answer.
///
/// Znuny's transport answers 500 both for a failed operation (`{"faultcode": "Server",
/// "faultstring": …}`) and for its own request handling (plain text). Most are worth retrying, but
/// a request whose route the web service does not define, or that names no web service, fails the
/// same way until an admin imports the web service: that is `ConfigInvalid`.
pub fn parse_http_error(
    op: &'static str,
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
) -> Error {
    let message = serde_json::from_str::<model::Fault>(body)
        .ok()
        .filter(|f| !f.faultstring.is_empty())
        .map(|f| f.faultstring)
        .unwrap_or_else(|| body.to_owned());
    if status == 500 && message.contains("Error while determine Operation") {
        return Error::new(
            ErrorKind::ConfigInvalid,
            op,
            format!(
                "the web service has no route for this call ({}); import teledesk-webservice.yml",
                message.trim()
            ),
        );
    }
    if status == 500 && message.contains("Could not load web service") {
        return Error::new(
            ErrorKind::ConfigInvalid,
            op,
            format!("no such web service; check the url ({})", message.trim()),
        );
    }
    if status == 500
        && (message.contains("Error while decoding request content")
            || message.contains("Unsupported request content structure"))
    {
        return Error::new(ErrorKind::InvalidInput, op, message.trim().to_owned());
    }
    Error::from_status(op, status, retry_after, &message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(name: &str) -> model::GiError {
        let text = std::fs::read_to_string(format!(
            "{}/../../fixtures/znuny/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture");
        let value: Value = serde_json::from_str(&text).expect("json");
        gi_error(&value).expect("an error envelope")
    }

    #[test]
    fn operation_errors_map_to_kinds() {
        let e = classify("get_ticket", &error("error_access_denied.json"));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(!e.is_temporary());
        assert!(e.message().starts_with("TicketGet.AccessDenied: "));
        let e = classify("create_ticket", &error("error_invalid_parameter.json"));
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.message().contains("Queue"));
        let e = classify("set_status", &error("error_pending_time.json"));
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e = classify("check", &error("error_session_create.json"));
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        let denied = model::GiError {
            code: "TicketCreate.AccessDenied".into(),
            message: "TicketCreate: Can not create tickets in given Queue or QueueID!".into(),
        };
        assert_eq!(
            classify("create_ticket", &denied).kind(),
            ErrorKind::PermissionDenied
        );
        let odd = model::GiError {
            code: "Webservice.InvalidConfiguration".into(),
            message: "x".into(),
        };
        assert_eq!(classify("x", &odd).kind(), ErrorKind::ConfigInvalid);
        let unknown = model::GiError {
            code: "TicketGet.Whatever".into(),
            message: "x".into(),
        };
        assert_eq!(classify("x", &unknown).kind(), ErrorKind::Unexpected);
    }

    #[test]
    fn auth_codes_trigger_a_new_login() {
        assert!(is_auth_code("TicketGet.AuthFail"));
        assert!(is_auth_code("SessionGet.SessionInvalid"));
        assert!(!is_auth_code("TicketGet.AccessDenied"));
        assert!(gi_error(&serde_json::json!({"TicketID": "1"})).is_none());
    }

    #[test]
    fn a_missing_route_is_a_config_error_not_an_outage() {
        let body = include_str!("../../../fixtures/znuny/route_missing.txt");
        let e = parse_http_error("changes_since", 500, None, body);
        assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
        assert!(!e.is_temporary());
        assert!(e.message().contains("teledesk-webservice.yml"));
    }

    #[test]
    fn faults_are_temporary_and_keep_their_text() {
        let body = include_str!("../../../fixtures/znuny/fault_500.json");
        let e = parse_http_error("create_ticket", 500, None, body);
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.is_temporary());
        assert!(e.message().contains("Ticket could not be created"));
        let e = parse_http_error(
            "x",
            502,
            None,
            &format!("<html>{}</html>", "x".repeat(1000)),
        );
        assert!(e.is_temporary());
        assert!(e.message().len() < 320);
        let e = parse_http_error("x", 500, None, "Error while decoding request content.");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e = parse_http_error("x", 413, None, "Request Entity Too Large");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
}
