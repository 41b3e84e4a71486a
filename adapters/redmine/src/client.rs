//! HTTP to Redmine: auth, pacing, and turning answers into [`Error`]s.

use crate::config::RedmineConfig;
use crate::model;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use teledesk_adapter::{
    Attachment, Error, ErrorKind, RequestPacer, Result, Secret, decode_json, parse_retry_after,
};
use time::OffsetDateTime;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Uploads of a few megabytes to a slow instance need longer than a JSON call.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(120);
/// The header Redmine reads the API key from.
pub const API_KEY_HEADER: &str = "X-Redmine-API-Key";

/// A paced, authenticated client of one Redmine instance.
#[derive(Debug)]
pub struct RedmineClient {
    http: reqwest::Client,
    base: String,
    api_key: Secret,
    pacer: RequestPacer,
}

impl RedmineClient {
    /// A client for the configured instance.
    pub fn new(config: &RedmineConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("teledesk-redmine/", env!("CARGO_PKG_VERSION")))
            // Redmine answers a download without a session with a redirect to its login page;
            // following it would turn a permission problem into a confusing HTML "file".
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Unexpected,
                    "build_client",
                    format!("cannot build the HTTP client: {e}"),
                )
            })?;
        Ok(Self {
            http,
            base: config.url.clone(),
            api_key: config.api_key.clone(),
            pacer: RequestPacer::new(config.requests_per_second),
        })
    }

    /// The Redmine root (`https://redmine.example.com`).
    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header(API_KEY_HEADER, self.api_key.expose())
            .timeout(REQUEST_TIMEOUT)
    }

    /// `GET <base><path>?<query>` → JSON.
    pub async fn get<T: DeserializeOwned>(
        &self,
        op: &'static str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        let response = self
            .send(op, self.request(Method::GET, path).query(query))
            .await?;
        json(op, response).await
    }

    /// `POST <base><path>` with a JSON body → JSON (`201 Created`).
    pub async fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        op: &'static str,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let response = self
            .send(op, self.request(Method::POST, path).json(body))
            .await?;
        json(op, response).await
    }

    /// `PUT <base><path>` with a JSON body; Redmine answers `204 No Content`.
    pub async fn put_json<B: Serialize + ?Sized>(
        &self,
        op: &'static str,
        path: &str,
        body: &B,
    ) -> Result<()> {
        self.send(op, self.request(Method::PUT, path).json(body))
            .await?;
        Ok(())
    }

    /// `POST /uploads.json?filename=…` with the raw bytes; the token attaches the file later.
    pub async fn upload(&self, op: &'static str, file: &Attachment) -> Result<model::Upload> {
        let builder = self
            .request(Method::POST, "/uploads.json")
            .query(&[("filename", file.file_name.as_str())])
            .header(CONTENT_TYPE, "application/octet-stream")
            .timeout(TRANSFER_TIMEOUT)
            .body(file.bytes.clone());
        let response = self.send(op, builder).await?;
        let envelope: model::UploadEnvelope = json(op, response).await?;
        Ok(envelope.upload)
    }

    /// Downloads attachment `id` from this instance (never from the host in `content_url`, so the
    /// key cannot travel to another site a proxy or a misconfigured host name points at).
    pub async fn download(
        &self,
        op: &'static str,
        id: &str,
        file_name: &str,
    ) -> Result<Attachment> {
        let builder = self
            .request(Method::GET, &format!("/attachments/download/{id}"))
            .timeout(TRANSFER_TIMEOUT);
        let response = self.send(op, builder).await?;
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let bytes = response.bytes().await.map_err(|e| transport(op, e))?;
        Ok(Attachment {
            file_name: file_name.to_owned(),
            content_type,
            bytes: bytes.to_vec(),
        })
    }

    async fn send(&self, op: &'static str, builder: RequestBuilder) -> Result<Response> {
        self.pacer.ready().await;
        let response = builder.send().await.map_err(|e| transport(op, e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = retry_after(response.headers());
        self.pacer
            .hold_if_rate_limited(status.as_u16(), retry_after);
        let body = response.text().await.unwrap_or_default();
        tracing::debug!(
            adapter = crate::KIND,
            operation = op,
            status = status.as_u16(),
            "Redmine refused a request."
        );
        Err(parse_error(op, status.as_u16(), retry_after, &body))
    }
}

async fn json<T: DeserializeOwned>(op: &'static str, response: Response) -> Result<T> {
    let bytes = response.bytes().await.map_err(|e| transport(op, e))?;
    decode_json(op, "Redmine", &bytes)
}

/// Connection failures and timeouts: the request may or may not have arrived, so only an
/// idempotent retry (which the daemon does with `retry = true`) is safe.
fn transport(op: &'static str, error: reqwest::Error) -> Error {
    // Without the URL: query strings carry client text (search terms, file names).
    let error = error.without_url();
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    Error::new(ErrorKind::Unavailable, op, format!("{what}: {error}"))
}

/// The wait a proxy's 429/503 asks for (Redmine sends no `Retry-After` itself).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, OffsetDateTime::now_utc())
}

/// Classifies a non-2xx answer. Redmine explains only validation failures (422
/// `{"errors": [...]}`); its 401/403/404/412 bodies are empty, so the message says what they mean.
pub fn parse_error(
    op: &'static str,
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
) -> Error {
    let message = match serde_json::from_str::<model::ErrorBody>(body) {
        Ok(errors) => errors.errors.join("; "),
        Err(_) if !body.trim().is_empty() => body.to_owned(),
        Err(_) => match status {
            401 => "the API key is not accepted (wrong key, locked user, or the REST web service \
                    is disabled in Administration → Settings → API)"
                .to_owned(),
            403 => "the integration user's role lacks a permission for this".to_owned(),
            404 => "not found, or not visible to the integration user".to_owned(),
            412 => "X-Redmine-Switch-User names an unknown or locked user".to_owned(),
            _ => String::new(),
        },
    };
    Error::from_status(op, status, retry_after, &message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn validation_errors_are_joined() {
        let body = include_str!("../../../fixtures/redmine/error_422.json");
        let e = parse_error("create_ticket", 422, None, body);
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(!e.is_temporary());
        assert_eq!(e.message(), "HTTP 422: Subject cannot be blank");
        let e = parse_error(
            "create_ticket",
            422,
            None,
            r#"{"errors":["Project cannot be blank","Tracker cannot be blank"]}"#,
        );
        assert_eq!(
            e.message(),
            "HTTP 422: Project cannot be blank; Tracker cannot be blank"
        );
    }

    #[test]
    fn empty_bodies_get_an_explanation() {
        let e = parse_error("check", 401, None, "");
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(e.message().contains("REST web service"), "{}", e.message());
        let e = parse_error("get_ticket", 404, None, "");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(!e.is_temporary());
    }

    #[test]
    fn proxy_html_is_trimmed_and_temporary() {
        let e = parse_error(
            "check",
            503,
            Some(Duration::from_secs(7)),
            &format!("<html>{}</html>", "x".repeat(1000)),
        );
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.is_temporary());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert!(e.message().len() < 320);
    }

    #[test]
    fn retry_after_reads_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static(" 3 "));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
    }
}
