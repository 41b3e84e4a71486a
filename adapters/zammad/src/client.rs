//! HTTP to Zammad: auth, pacing, and turning answers into [`Error`]s.

use crate::config::ZammadConfig;
use crate::model;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use teledesk_adapter::{
    Error, ErrorKind, RequestPacer, Result, Secret, decode_json, parse_retry_after,
};
use time::OffsetDateTime;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Ticket creates carry base64 files; leave room for large uploads.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A paced, authenticated client of one Zammad site.
#[derive(Debug)]
pub struct ZammadClient {
    http: reqwest::Client,
    site: String,
    api: String,
    token: Secret,
    pacer: RequestPacer,
}

/// A downloaded file, before the adapter names it.
#[derive(Debug)]
pub struct Download {
    /// The `Content-Type` without parameters, `application/octet-stream` when absent.
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl ZammadClient {
    /// A client for the configured site.
    pub fn new(config: &ZammadConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("teledesk-zammad/", env!("CARGO_PKG_VERSION")))
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
            site: config.url.clone(),
            api: config.api_base(),
            token: config.token.clone(),
            pacer: RequestPacer::new(config.requests_per_second),
        })
    }

    /// The site (`https://support.acme.example`).
    pub fn site(&self) -> &str {
        &self.site
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.api))
            .header(
                reqwest::header::AUTHORIZATION,
                format!("Token token={}", self.token.expose()),
            )
    }

    /// `GET <api><path>?<query>` → JSON.
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

    /// `POST`/`PUT <api><path>?<query>` with a JSON body → JSON.
    pub async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: &B,
    ) -> Result<T> {
        let builder = self.request(method, path).query(query).json(body);
        let response = self.send(op, builder).await?;
        json(op, response).await
    }

    /// `GET <api><path>` → raw bytes (attachment downloads).
    pub async fn download(&self, op: &'static str, path: &str) -> Result<Download> {
        let response = self.send(op, self.request(Method::GET, path)).await?;
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let bytes = response.bytes().await.map_err(|e| transport(op, e))?;
        Ok(Download {
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
            "Zammad refused a request."
        );
        Err(parse_error(op, status.as_u16(), retry_after, &body))
    }
}

async fn json<T: DeserializeOwned>(op: &'static str, response: Response) -> Result<T> {
    let bytes = response.bytes().await.map_err(|e| transport(op, e))?;
    decode_json(op, "Zammad", &bytes)
}

/// Connection failures and timeouts: the request may or may not have arrived, so only an
/// idempotent retry (which the daemon does with `retry = true`) is safe.
fn transport(op: &'static str, error: reqwest::Error) -> Error {
    // Without the URL: it is noise in a log line, and search queries carry client data.
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

/// `Retry-After`, when a proxy sends one.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, OffsetDateTime::now_utc())
}

/// Classifies a non-2xx answer. Zammad's JSON errors are `{"error": ..., "error_human": ...}`
/// (`handles_errors.rb`); proxies in front of it answer with HTML, which [`Error::from_status`]
/// trims.
pub fn parse_error(
    op: &'static str,
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
) -> Error {
    let message = serde_json::from_str::<model::ErrorBody>(body)
        .ok()
        .and_then(|e| e.error_human.or(e.error))
        .unwrap_or_else(|| body.to_owned());
    Error::from_status(op, status, retry_after, &message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn errors_carry_zammads_text() {
        let body = include_str!("../../../fixtures/zammad/error_401.json");
        let e = parse_error("check", 401, None, body);
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert_eq!(e.message(), "HTTP 401: Can't find User for Token");

        let body = include_str!("../../../fixtures/zammad/error_403.json");
        let e = parse_error("check", 403, None, body);
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);

        let body = include_str!("../../../fixtures/zammad/error_404.json");
        let e = parse_error("get_ticket", 404, None, body);
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(!e.is_temporary());
        assert!(e.message().contains("Couldn't find Ticket"));

        let body = include_str!("../../../fixtures/zammad/error_422.json");
        let e = parse_error("create_ticket", 422, None, body);
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.message().contains("'group'"));
    }

    #[test]
    fn a_500_without_error_human_keeps_the_error_id_and_is_temporary() {
        let body = include_str!("../../../fixtures/zammad/error_500.json");
        let e = parse_error("add_comment", 500, None, body);
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.is_temporary());
        assert!(e.message().contains("Error ID Zl3mKQ8q"));
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
    fn retry_after_is_read_in_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
    }
}
