//! HTTP to RT's REST2: auth, pacing, and turning answers into [`Error`]s.

use crate::config::RtConfig;
use crate::model;
use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use teledesk_adapter::{
    Attachment, Error, ErrorKind, RequestPacer, Result, Secret, decode_json, parse_retry_after,
};
use time::OffsetDateTime;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Uploads of large files through a slow RT (one Perl worker per request) take a while.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A paced, authenticated client of one RT server.
#[derive(Debug)]
pub struct RtClient {
    http: reqwest::Client,
    api: String,
    token: Secret,
    pacer: RequestPacer,
}

impl RtClient {
    /// A client for the configured server.
    pub fn new(config: &RtConfig) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("teledesk-rt/", env!("CARGO_PKG_VERSION")))
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
            api: config.api_base(),
            token: config.token.clone(),
            pacer: RequestPacer::new(config.requests_per_second),
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.api))
            .header(
                reqwest::header::AUTHORIZATION,
                format!("token {}", self.token.expose()),
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

    /// `POST`/`PUT <api><path>?<query>` with a JSON body; the raw answer, for callers that need
    /// its `Location`.
    pub async fn send_json<B: Serialize + ?Sized>(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: &B,
    ) -> Result<Response> {
        self.send(op, self.request(method, path).query(query).json(body))
            .await
    }

    /// Like [`RtClient::send_json`], reading the answer as JSON.
    pub async fn send_json_for<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: &B,
    ) -> Result<T> {
        let response = self.send_json(op, method, path, query, body).await?;
        json(op, response).await
    }

    /// `POST <api><path>` as `multipart/form-data`: the JSON object in part `JSON` and each file
    /// in a part `Attachments`.
    ///
    /// RT 5.0.3 answers 500 to JSON `Attachments` whose `FileName` is not ASCII (and rolls the
    /// whole message back), while multipart carries any name, so every file goes this way.
    pub async fn post_multipart(
        &self,
        op: &'static str,
        path: &str,
        body: &serde_json::Value,
        files: &[Attachment],
    ) -> Result<Response> {
        let json = reqwest::multipart::Part::text(body.to_string())
            .mime_str("application/json")
            .map_err(|e| Error::new(ErrorKind::Unexpected, op, e.to_string()))?;
        let mut form = reqwest::multipart::Form::new().part("JSON", json);
        for file in files {
            let part = reqwest::multipart::Part::bytes(file.bytes.clone())
                .file_name(file.file_name.clone());
            // A MIME type Telegram reported but reqwest cannot parse is not worth failing over.
            let part = match part.mime_str(&upload_type(file)) {
                Ok(part) => part,
                Err(_) => reqwest::multipart::Part::bytes(file.bytes.clone())
                    .file_name(file.file_name.clone())
                    .mime_str("application/octet-stream")
                    .map_err(|e| Error::new(ErrorKind::Unexpected, op, e.to_string()))?,
            };
            form = form.part("Attachments", part);
        }
        self.send(op, self.request(Method::POST, path).multipart(form))
            .await
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
            "RT refused a request."
        );
        Err(parse_error(op, status.as_u16(), retry_after, &body))
    }
}

/// The type a file is uploaded as.
///
/// RT re-encodes `text/*` parts that are not valid UTF-8 (their bytes change), so such files are
/// sent as `application/octet-stream`, which RT stores byte-exact.
pub fn upload_type(file: &Attachment) -> String {
    let declared = file.content_type.trim();
    let declared = if declared.is_empty() {
        "application/octet-stream"
    } else {
        declared
    };
    if declared.to_ascii_lowercase().starts_with("text/")
        && std::str::from_utf8(&file.bytes).is_err()
    {
        "application/octet-stream".to_owned()
    } else {
        declared.to_owned()
    }
}

/// Reads a successful answer as JSON.
pub async fn json<T: DeserializeOwned>(op: &'static str, response: Response) -> Result<T> {
    let bytes = response.bytes().await.map_err(|e| transport(op, e))?;
    decode_json(op, "RT", &bytes)
}

/// The id at the end of a `Location` header (`/REST/2.0/transaction/40` → 40).
pub fn location_id(op: &'static str, response: &Response) -> Result<i64> {
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    id_from_location(location).ok_or_else(|| {
        Error::new(
            ErrorKind::Unexpected,
            op,
            format!("RT answered without a usable Location ({location:?})"),
        )
    })
}

/// `…/transaction/40` → 40.
pub fn id_from_location(location: &str) -> Option<i64> {
    location
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
}

/// Connection failures and timeouts: the request may or may not have arrived, so only an
/// idempotent retry (which the daemon does with `retry = true`) is safe.
fn transport(op: &'static str, error: reqwest::Error) -> Error {
    // Without the URL: query strings carry search terms with client data.
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

/// `Retry-After`, from a proxy in front of RT.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, OffsetDateTime::now_utc())
}

/// Classifies a non-2xx answer; REST2's errors carry `{"message": ...}`, proxies answer with
/// HTML, which [`Error::from_status`] trims.
pub fn parse_error(
    op: &'static str,
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
) -> Error {
    let message = serde_json::from_str::<model::ErrorBody>(body)
        .map(|e| e.message)
        .unwrap_or_else(|_| body.to_owned());
    Error::from_status(op, status, retry_after, &message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn errors_carry_rts_message() {
        let body = include_str!("../../../fixtures/rt/error_401.json");
        let e = parse_error("check", 401, None, body);
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert_eq!(e.message(), "HTTP 401: Unauthorized");
        let body = include_str!("../../../fixtures/rt/error_404.json");
        let e = parse_error("get_ticket", 404, None, body);
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(!e.is_temporary());
        let body = include_str!("../../../fixtures/rt/error_403_queue.json");
        let e = parse_error("create_ticket", 403, None, body);
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(e.message().contains("No permission to create tickets"));
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
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
    }

    #[test]
    fn location_ids() {
        assert_eq!(id_from_location("/REST/2.0/transaction/40"), Some(40));
        assert_eq!(
            id_from_location("http://rt.example/REST/2.0/ticket/7/"),
            Some(7)
        );
        assert_eq!(id_from_location(""), None);
    }

    #[test]
    fn text_files_that_are_not_utf8_go_up_as_binary() {
        let file = |content_type: &str, bytes: &[u8]| Attachment {
            file_name: "a".into(),
            content_type: content_type.into(),
            bytes: bytes.to_vec(),
        };
        assert_eq!(
            upload_type(&file("text/plain", "привет".as_bytes())),
            "text/plain"
        );
        assert_eq!(
            upload_type(&file("text/plain", b"\xcf\xf0\xe8\xe2\xe5\xf2")),
            "application/octet-stream"
        );
        assert_eq!(upload_type(&file("image/png", b"\x89PNG")), "image/png");
        assert_eq!(upload_type(&file("", b"x")), "application/octet-stream");
    }
}
