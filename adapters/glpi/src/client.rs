//! HTTP to GLPI's legacy REST API: the session, pacing, and turning answers into [`Error`]s.
//!
//! Every call carries `Session-Token` from `initSession` (`Authorization: user_token <token>`),
//! the optional `App-Token`, and `X-GLPI-Sanitized-Content: false` so GLPI 10 answers rich text
//! as HTML rather than HTML-escaped HTML. A session GLPI no longer knows
//! (`ERROR_SESSION_TOKEN_INVALID`: PHP expired it, GLPI restarted) is replaced by a new
//! `initSession` and the refused call is sent once more — it was refused before GLPI did
//! anything, so this is re-authentication, not a retry. Sessions are not killed on shutdown:
//! PHP's session garbage collection ends them.

use crate::config::GlpiConfig;
use crate::model;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use teledesk_adapter::http::{FILE_TRANSFER_TIMEOUT, HttpClient, VendorApi, retry_after_header};
use teledesk_adapter::{Attachment, Content, Error, ErrorKind, Result, Secret, lenient};
use tokio::sync::Mutex;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// GLPI sends no `Retry-After` itself; a proxy in front of it may.
static GLPI: VendorApi = VendorApi {
    kind: crate::KIND,
    name: "GLPI",
    retry_after: retry_after_header,
    parse_error,
};
/// Rows per page of sub-item lists (`range=0-99`); GLPI's default is 50.
pub const PAGE_SIZE: usize = 100;
/// Stops paging a server that ignores `range` instead of looping forever.
const MAX_PAGES: usize = 100;

/// GLPI error codes that mean the credentials or the API client setup are wrong.
const PERMISSION_CODES: [&str; 9] = [
    "ERROR_SESSION_TOKEN_INVALID",
    "ERROR_GLPI_LOGIN_USER_TOKEN",
    "ERROR_GLPI_LOGIN",
    "ERROR_APP_TOKEN_PARAMETERS_MISSING",
    "ERROR_WRONG_APP_TOKEN_PARAMETER",
    "ERROR_NOT_ALLOWED_IP",
    "ERROR_LOGIN_PARAMETERS_MISSING",
    "ERROR_LOGIN_WITH_CREDENTIALS_DISABLED",
    "ERROR_RIGHT_MISSING",
];

#[derive(Debug, Default)]
struct SessionState {
    /// The live session and the generation it belongs to.
    current: Option<(u64, Secret)>,
    generation: u64,
}

/// A paced client of one GLPI API, holding one session for all tasks (GLPI sessions are
/// read-only by default, so parallel calls on one session are fine).
#[derive(Debug)]
pub struct GlpiClient {
    http: HttpClient,
    api: String,
    user_token: Secret,
    app_token: Option<Secret>,
    session: Mutex<SessionState>,
}

impl GlpiClient {
    /// A client for the configured API.
    pub fn new(config: &GlpiConfig) -> Result<Self> {
        Ok(Self {
            http: HttpClient::new(&GLPI, config.requests_per_second, |b| {
                b.timeout(REQUEST_TIMEOUT)
            })?,
            api: config.url.clone(),
            user_token: config.user_token.clone(),
            app_token: config.app_token.clone(),
            session: Mutex::new(SessionState::default()),
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut builder = self
            .http
            .request(method, format!("{}{path}", self.api))
            .header("X-GLPI-Sanitized-Content", "false");
        if let Some(app_token) = &self.app_token {
            builder = builder.header("App-Token", app_token.expose());
        }
        builder
    }

    async fn init_session(&self, op: &'static str) -> Result<Secret> {
        let builder = self
            .request(Method::GET, "/initSession")
            .header(CONTENT_TYPE, "application/json")
            .header(
                "Authorization",
                format!("user_token {}", self.user_token.expose()),
            );
        let response = self.http.send(op, builder).await?;
        let token: model::SessionToken = self.http.json(op, response).await?;
        tracing::debug!(adapter = crate::KIND, "Opened a GLPI session.");
        Ok(Secret::new(token.session_token))
    }

    /// The live session, opening one when there is none; callers queue behind one `initSession`.
    async fn session(&self, op: &'static str) -> Result<(u64, Secret)> {
        let mut state = self.session.lock().await;
        if let Some((generation, token)) = &state.current {
            return Ok((*generation, token.clone()));
        }
        let token = self.init_session(op).await?;
        state.generation += 1;
        let generation = state.generation;
        state.current = Some((generation, token.clone()));
        Ok((generation, token))
    }

    /// Forgets a session GLPI refused, unless another task already replaced it.
    async fn forget_session(&self, generation: u64) {
        let mut state = self.session.lock().await;
        if matches!(&state.current, Some((current, _)) if *current == generation) {
            state.current = None;
        }
    }

    /// Sends the request `build` makes for a session token; replaces an expired session once.
    async fn send(
        &self,
        op: &'static str,
        build: impl Fn(&Secret) -> Result<RequestBuilder>,
    ) -> Result<Response> {
        for attempt in 0..2 {
            let (generation, token) = self.session(op).await?;
            let response = self.http.execute(op, build(&token)?).await?;
            if response.status() != StatusCode::UNAUTHORIZED {
                return self.http.check(op, response).await;
            }
            let (status, retry_after, body) = self.http.refusal(op, response).await;
            if attempt == 0 && error_code(&body).as_deref() == Some("ERROR_SESSION_TOKEN_INVALID") {
                tracing::debug!(
                    adapter = crate::KIND,
                    operation = op,
                    "GLPI dropped the session; opening a new one."
                );
                self.forget_session(generation).await;
                continue;
            }
            return Err(parse_error(op, status, retry_after, &body));
        }
        unreachable!("the second attempt always returns")
    }

    fn with_session(&self, method: Method, path: &str, token: &Secret) -> RequestBuilder {
        self.request(method, path)
            .header("Session-Token", token.expose())
    }

    /// `GET <api><path>?<query>` → JSON.
    pub async fn get<T: DeserializeOwned>(
        &self,
        op: &'static str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        let response = self
            .send(op, |token| {
                Ok(self
                    .with_session(Method::GET, path, token)
                    .header(CONTENT_TYPE, "application/json")
                    .header(ACCEPT, "application/json")
                    .query(query))
            })
            .await?;
        self.http.json(op, response).await
    }

    /// A whole sub-item list (`GET /Ticket/1/ITILFollowup`), page by page with `range`.
    pub async fn get_all<T: DeserializeOwned>(
        &self,
        op: &'static str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>> {
        let mut all = Vec::new();
        for page in 0..MAX_PAGES {
            let start = page * PAGE_SIZE;
            let mut paged: Vec<(&str, String)> = query.to_vec();
            paged.push(("range", format!("{}-{}", start, start + PAGE_SIZE - 1)));
            let response = self
                .send(op, |token| {
                    Ok(self
                        .with_session(Method::GET, path, token)
                        .header(CONTENT_TYPE, "application/json")
                        .header(ACCEPT, "application/json")
                        .query(&paged))
                })
                .await?;
            let total = content_range_total(response.headers());
            // Paging counts rows as sent; a row of a shape the adapter does not know is then
            // skipped, not fatal.
            let rows: Vec<serde_json::Value> = self.http.json(op, response).await?;
            let count = rows.len();
            all.extend(lenient::keep_decodable::<T>(rows));
            let more = match total {
                Some(total) => start + count < total,
                None => count == PAGE_SIZE,
            };
            if !more || count == 0 {
                return Ok(all);
            }
        }
        Err(Error::new(
            ErrorKind::Unexpected,
            op,
            format!(
                "more than {} rows under {path}; is GLPI ignoring `range`?",
                PAGE_SIZE * MAX_PAGES
            ),
        ))
    }

    /// `POST`/`PUT <api><path>` with a JSON body → JSON.
    pub async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let response = self
            .send(op, |token| {
                Ok(self
                    .with_session(method.clone(), path, token)
                    .header(ACCEPT, "application/json")
                    .json(body))
            })
            .await?;
        self.http.json(op, response).await
    }

    /// `PUT <api><path>` → checks GLPI's per-item answer (`[{"123": true, "message": ""}]`).
    pub async fn update<B: Serialize + ?Sized>(
        &self,
        op: &'static str,
        path: &str,
        body: &B,
    ) -> Result<()> {
        let answer: serde_json::Value = self.send_json(op, Method::PUT, path, body).await?;
        let refused = answer.as_array().into_iter().flatten().find(|row| {
            row.as_object().is_some_and(|fields| {
                fields.iter().any(|(key, value)| {
                    key != "message" && value == &serde_json::Value::Bool(false)
                })
            })
        });
        match refused {
            None => Ok(()),
            Some(row) => Err(Error::new(
                ErrorKind::InvalidInput,
                op,
                format!("GLPI did not apply the update: {row}"),
            )),
        }
    }

    /// `POST /Document` as `multipart/form-data`: the `uploadManifest` JSON and the file as
    /// `filename[0]`.
    pub async fn upload(&self, op: &'static str, file: &Attachment) -> Result<model::Created> {
        let manifest = serde_json::json!({
            "input": {"name": file.file_name, "_filename": [file.file_name]},
        })
        .to_string();
        let response = self
            .send(op, |token| {
                // Built per attempt: a re-authenticated retry streams the file again.
                let part = teledesk_adapter::http::content_part(
                    op,
                    &file.content,
                    &file.file_name,
                    &file.content_type,
                )?;
                let form = reqwest::multipart::Form::new()
                    .text("uploadManifest", manifest.clone())
                    .part("filename[0]", part);
                Ok(self
                    .with_session(Method::POST, "/Document", token)
                    .header(ACCEPT, "application/json")
                    .timeout(FILE_TRANSFER_TIMEOUT)
                    .multipart(form))
            })
            .await?;
        self.http.json(op, response).await
    }

    /// `GET /Document/:id` with `Accept: application/octet-stream`: the file itself.
    pub async fn download(&self, op: &'static str, document_id: i64) -> Result<(Content, String)> {
        let path = format!("/Document/{document_id}");
        let response = self
            .send(op, |token| {
                Ok(self
                    .with_session(Method::GET, &path, token)
                    .header(ACCEPT, "application/octet-stream")
                    .timeout(FILE_TRANSFER_TIMEOUT))
            })
            .await?;
        let (content_type, content) = self.http.file(op, response).await?;
        // A JSON answer means the server ignored the Accept header and sent the metadata.
        if content_type == "application/json" {
            return Err(Error::new(
                ErrorKind::Unexpected,
                op,
                format!("GLPI sent document {document_id}'s metadata instead of the file"),
            ));
        }
        Ok((content, content_type))
    }
}

/// The total of `Content-Range: 0-99/250`.
pub fn content_range_total(headers: &HeaderMap) -> Option<usize> {
    headers
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit_once('/'))
        .and_then(|(_, total)| total.trim().parse().ok())
}

/// The code of GLPI's error body `["ERROR_…", "message"]`.
pub fn error_code(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    value.get(0)?.as_str().map(str::to_owned)
}

/// Classifies a non-2xx answer. GLPI's errors are `["ERROR_CODE", "message"]` (the message may
/// end with a link to the API docs, which is dropped); proxies answer with HTML, which
/// [`Error::from_status`] trims.
pub fn parse_error(
    op: &'static str,
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
) -> Error {
    let parsed: Option<(String, String)> = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|value| {
            let code = value.get(0)?.as_str()?.to_owned();
            let message = match value.get(1) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            Some((code, message))
        });
    let Some((code, message)) = parsed else {
        return Error::from_status(op, status, retry_after, body);
    };
    let message = message
        .split("; view documentation in your browser")
        .next()
        .unwrap_or_default()
        .trim();
    let text = if message.is_empty() {
        code.clone()
    } else {
        format!("{code}: {message}")
    };
    let error = Error::from_status(op, status, retry_after, &text);
    let kind = if code == "ERROR_ITEM_NOT_FOUND" {
        ErrorKind::NotFound
    } else if PERMISSION_CODES.contains(&code.as_str()) {
        // A wrong token or API client setup answers 400 on some paths; retrying cannot help.
        ErrorKind::PermissionDenied
    } else {
        return error;
    };
    Error::new(kind, op, error.message().to_owned()).with_retry_after(retry_after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn fixture(name: &str) -> String {
        let path = format!("{}/../../fixtures/glpi/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn glpi_errors_keep_code_and_message() {
        let e = parse_error(
            "get_ticket",
            404,
            None,
            &fixture("error_item_not_found.json"),
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(!e.is_temporary());
        assert_eq!(
            e.message(),
            "HTTP 404: ERROR_ITEM_NOT_FOUND: Item not found"
        );
    }

    #[test]
    fn credential_problems_are_permission_denied_even_on_400() {
        for (name, status) in [
            ("error_app_token_missing.json", 400),
            ("error_user_token_invalid.json", 401),
            ("error_session_token_invalid.json", 401),
            ("error_right_missing.json", 403),
        ] {
            let e = parse_error("check", status, None, &fixture(name));
            assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{name}");
            assert!(!e.is_temporary(), "{name}");
            assert!(!e.message().contains("view documentation"), "{name}");
        }
    }

    #[test]
    fn refused_input_is_invalid_input() {
        let e = parse_error("create_ticket", 400, None, &fixture("error_glpi_add.json"));
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.message().contains("ERROR_GLPI_ADD"));
    }

    #[test]
    fn proxy_html_is_trimmed_and_temporary() {
        let e = parse_error(
            "check",
            502,
            None,
            &format!("<html>{}</html>", "x".repeat(1000)),
        );
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.is_temporary());
        assert!(e.message().len() < 320);
    }

    #[test]
    fn headers_are_read() {
        let mut headers = HeaderMap::new();
        headers.insert("content-range", HeaderValue::from_static("0-99/250"));
        assert_eq!(content_range_total(&headers), Some(250));
        assert_eq!(content_range_total(&HeaderMap::new()), None);
        assert_eq!(
            error_code(r#"["ERROR_SESSION_TOKEN_INVALID","session_token seems invalid"]"#)
                .as_deref(),
            Some("ERROR_SESSION_TOKEN_INVALID")
        );
        assert_eq!(error_code("<html>"), None);
    }
}
