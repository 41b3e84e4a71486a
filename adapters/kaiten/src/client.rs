//! HTTP to Kaiten: auth, pacing, and turning answers into [`Error`]s.

use crate::config::KaitenConfig;
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

/// A paced, authenticated client of one Kaiten site.
#[derive(Debug)]
pub struct KaitenClient {
    http: reqwest::Client,
    site: String,
    api: String,
    token: Secret,
    pacer: RequestPacer,
}

impl KaitenClient {
    /// A client for the configured site.
    pub fn new(config: &KaitenConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("teledesk-kaiten/", env!("CARGO_PKG_VERSION")))
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

    /// The site (`https://acme.kaiten.ru`).
    pub fn site(&self) -> &str {
        &self.site
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(self.token.expose())
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

    /// `POST`/`PATCH <api><path>` with a JSON body → JSON.
    pub async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let response = self.send(op, self.request(method, path).json(body)).await?;
        json(op, response).await
    }

    /// `PUT /cards/{id}/files`: one file as multipart part `file`.
    pub async fn upload(
        &self,
        op: &'static str,
        card_id: i64,
        file: &Attachment,
    ) -> Result<model::File> {
        let part =
            reqwest::multipart::Part::bytes(file.bytes.clone()).file_name(file.file_name.clone());
        // A MIME type Telegram reported but reqwest cannot parse is not worth failing the upload.
        let part = match part.mime_str(&file.content_type) {
            Ok(part) => part,
            Err(_) => reqwest::multipart::Part::bytes(file.bytes.clone())
                .file_name(file.file_name.clone()),
        };
        let form = reqwest::multipart::Form::new().part("file", part);
        let builder = self
            .request(Method::PUT, &format!("/cards/{card_id}/files"))
            .multipart(form);
        let response = self.send(op, builder).await?;
        json(op, response).await
    }

    /// Downloads a file; the token goes only to the Kaiten site itself, never to a storage host.
    pub async fn download(
        &self,
        op: &'static str,
        url: &str,
        file_name: &str,
    ) -> Result<Attachment> {
        let own = url == self.site || url.starts_with(&format!("{}/", self.site));
        let builder = if own {
            self.http.get(url).bearer_auth(self.token.expose())
        } else {
            self.http.get(url)
        };
        let response = if own {
            self.send(op, builder).await?
        } else {
            self.send_unpaced(op, builder).await?
        };
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
        self.check(op, response).await
    }

    async fn send_unpaced(&self, op: &'static str, builder: RequestBuilder) -> Result<Response> {
        let response = builder.send().await.map_err(|e| transport(op, e))?;
        self.check(op, response).await
    }

    async fn check(&self, op: &'static str, response: Response) -> Result<Response> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = retry_after(response.headers(), OffsetDateTime::now_utc());
        self.pacer
            .hold_if_rate_limited(status.as_u16(), retry_after);
        let body = response.text().await.unwrap_or_default();
        let error = parse_error(op, status.as_u16(), retry_after, &body);
        tracing::debug!(
            adapter = crate::KIND,
            operation = op,
            status = status.as_u16(),
            "Kaiten refused a request."
        );
        Err(error)
    }
}

async fn json<T: DeserializeOwned>(op: &'static str, response: Response) -> Result<T> {
    let bytes = response.bytes().await.map_err(|e| transport(op, e))?;
    decode_json(op, "Kaiten", &bytes)
}

/// Connection failures and timeouts: the request may or may not have arrived, so only an
/// idempotent retry (which the daemon does with `retry = true`) is safe.
fn transport(op: &'static str, error: reqwest::Error) -> Error {
    // Without the URL: it is noise in a log line, and query strings may carry client data.
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

/// The wait a 429 asks for: `Retry-After`, else until the `X-RateLimit-Reset` epoch.
pub fn retry_after(headers: &HeaderMap, now: OffsetDateTime) -> Option<Duration> {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(wait) = header(RETRY_AFTER.as_str()).and_then(|v| parse_retry_after(v, now)) {
        return Some(wait);
    }
    let reset = header("x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok())?;
    let wait = reset - now.unix_timestamp();
    // A reset in the past (clock skew) still means "this second is used up".
    Some(Duration::from_secs(wait.clamp(1, 60) as u64))
}

/// Classifies a non-2xx answer; Kaiten's JSON errors carry `{"message": ...}`, and proxies in
/// front of it answer with HTML, which [`Error::from_status`] trims.
pub fn parse_error(
    op: &'static str,
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
) -> Error {
    let message = serde_json::from_str::<model::ErrorBody>(body)
        .map(|e| e.message)
        .unwrap_or_else(|_| body.to_owned());
    // 402 "Feature is not supported by tariff" lands in InvalidInput: permanent, and the message
    // tells the admin which feature.
    Error::from_status(op, status, retry_after, &message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use time::macros::datetime;

    #[test]
    fn retry_after_prefers_the_header() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("1795262401"));
        assert_eq!(
            retry_after(&headers, datetime!(2026-11-21 12:00:00 UTC)),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn retry_after_falls_back_to_the_reset_epoch() {
        let mut headers = HeaderMap::new();
        let now = datetime!(2026-11-21 12:00:00 UTC);
        let reset = (now.unix_timestamp() + 2).to_string();
        headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(&reset).expect("ascii"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn errors_carry_kaitens_message() {
        let body = include_str!("../../../fixtures/kaiten/error_401.json");
        let e = parse_error("check", 401, None, body);
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert_eq!(e.message(), "HTTP 401: Unauthorized");
        let body = include_str!("../../../fixtures/kaiten/error_402.json");
        let e = parse_error("create_ticket", 402, None, body);
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(!e.is_temporary());
        assert!(e.message().contains("tariff"));
    }

    #[test]
    fn proxy_html_is_trimmed_and_temporary() {
        let e = parse_error(
            "check",
            503,
            None,
            &format!("<html>{}</html>", "x".repeat(1000)),
        );
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.is_temporary());
        assert!(e.message().len() < 320);
    }
}
