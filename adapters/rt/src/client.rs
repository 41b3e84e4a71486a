//! HTTP to RT's REST2: auth, pacing, and turning answers into [`Error`]s.

use crate::config::RtConfig;
use crate::model;
use reqwest::header::LOCATION;
use reqwest::{Method, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use teledesk_adapter::http::{
    FILE_TRANSFER_TIMEOUT, HttpClient, JsonStep, ReceivedFiles, VendorApi, retry_after_header,
};
use teledesk_adapter::{Attachment, Error, ErrorKind, Result, Secret};

/// Uploads of large files through a slow RT (one Perl worker per request) take a while.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// RT sends no `Retry-After` itself; a proxy in front of it may.
static RT: VendorApi = VendorApi {
    kind: crate::KIND,
    name: "RT",
    retry_after: retry_after_header,
    parse_error,
};

/// A paced, authenticated client of one RT server.
#[derive(Debug)]
pub struct RtClient {
    http: HttpClient,
    api: String,
    token: Secret,
}

impl RtClient {
    /// A client for the configured server.
    pub fn new(config: &RtConfig) -> Result<Self> {
        Ok(Self {
            http: HttpClient::new(&RT, config.requests_per_second, |b| {
                b.timeout(REQUEST_TIMEOUT)
            })?,
            api: config.api_base(),
            token: config.token.clone(),
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
            .http
            .send(op, self.request(Method::GET, path).query(query))
            .await?;
        self.http.json(op, response).await
    }

    /// `GET <api><path>` → JSON whose strings `is_file` accepts are files in base64, each decoded
    /// into the spool as the answer arrives (see [`HttpClient::json_with_files`]).
    pub async fn get_with_files<T: DeserializeOwned>(
        &self,
        op: &'static str,
        path: &str,
        is_file: impl Fn(&[JsonStep<'_>]) -> bool,
    ) -> Result<(T, ReceivedFiles)> {
        let builder = self
            .request(Method::GET, path)
            .timeout(FILE_TRANSFER_TIMEOUT);
        let response = self.http.send(op, builder).await?;
        self.http.json_with_files(op, response, is_file).await
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
        self.http
            .send(op, self.request(method, path).query(query).json(body))
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
        self.json(op, response).await
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
            let mime = upload_type(op, file).await?;
            let part =
                teledesk_adapter::http::content_part(op, &file.content, &file.file_name, &mime)?;
            form = form.part("Attachments", part);
        }
        self.http
            .send(
                op,
                self.request(Method::POST, path)
                    .timeout(FILE_TRANSFER_TIMEOUT)
                    .multipart(form),
            )
            .await
    }

    /// Reads a successful answer as JSON.
    pub async fn json<T: DeserializeOwned>(
        &self,
        op: &'static str,
        response: Response,
    ) -> Result<T> {
        self.http.json(op, response).await
    }
}

/// The type a file is uploaded as.
///
/// RT re-encodes `text/*` parts that are not valid UTF-8 (their bytes change), so such files are
/// sent as `application/octet-stream`, which RT stores byte-exact.
pub async fn upload_type(op: &'static str, file: &Attachment) -> Result<String> {
    let declared = file.content_type.trim();
    let declared = if declared.is_empty() {
        "application/octet-stream"
    } else {
        declared
    };
    if declared.to_ascii_lowercase().starts_with("text/") && !is_utf8(op, &file.content).await? {
        Ok("application/octet-stream".to_owned())
    } else {
        Ok(declared.to_owned())
    }
}

/// Whether a file is valid UTF-8, read chunk by chunk (a spooled file is never read whole).
async fn is_utf8(op: &'static str, content: &teledesk_adapter::Content) -> Result<bool> {
    use tokio::io::AsyncReadExt;
    let unreadable = |e: std::io::Error| {
        Error::new(
            ErrorKind::Unavailable,
            op,
            format!("cannot read the file: {e}"),
        )
    };
    let mut reader = content.reader().await.map_err(unreadable)?;
    let mut buf = vec![0u8; 64 * 1024];
    // Bytes of a character cut by the chunk boundary, carried to the next chunk.
    let mut carried = 0;
    loop {
        let n = reader.read(&mut buf[carried..]).await.map_err(unreadable)?;
        let filled = carried + n;
        match std::str::from_utf8(&buf[..filled]) {
            Ok(_) => carried = 0,
            // An incomplete character at the end: only an error if the file ends there.
            Err(e) if e.error_len().is_none() && n > 0 => {
                let valid = e.valid_up_to();
                buf.copy_within(valid..filled, 0);
                carried = filled - valid;
            }
            Err(_) => return Ok(false),
        }
        if n == 0 {
            return Ok(carried == 0);
        }
    }
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
    fn location_ids() {
        assert_eq!(id_from_location("/REST/2.0/transaction/40"), Some(40));
        assert_eq!(
            id_from_location("http://rt.example/REST/2.0/ticket/7/"),
            Some(7)
        );
        assert_eq!(id_from_location(""), None);
    }

    #[tokio::test]
    async fn text_files_that_are_not_utf8_go_up_as_binary() {
        let file = |content_type: &str, bytes: &[u8]| Attachment {
            file_name: "a".into(),
            content_type: content_type.into(),
            content: bytes.into(),
        };
        let kind = |file: Attachment| async move { upload_type("test", &file).await.unwrap() };
        assert_eq!(
            kind(file("text/plain", "привет".as_bytes())).await,
            "text/plain"
        );
        assert_eq!(
            kind(file("text/plain", b"\xcf\xf0\xe8\xe2\xe5\xf2")).await,
            "application/octet-stream"
        );
        assert_eq!(kind(file("image/png", b"\x89PNG")).await, "image/png");
        assert_eq!(kind(file("", b"x")).await, "application/octet-stream");
    }

    #[tokio::test]
    async fn a_spooled_text_file_is_checked_across_chunk_boundaries() {
        let dir = std::env::temp_dir().join(format!("teledesk-rt-utf8-{}", std::process::id()));
        let spool = teledesk_adapter::Spool::new(&dir, 16);
        // "я" is two bytes; 70,001 ASCII bytes first put one across the 64 KiB chunk boundary.
        let mut text = "a".repeat(65_535).into_bytes();
        text.extend_from_slice("яяя".as_bytes());
        let valid = Attachment {
            file_name: "a.txt".into(),
            content_type: "text/plain".into(),
            content: spool.keep(text.clone()).await.unwrap(),
        };
        assert!(valid.content.path().is_some(), "the file is spooled");
        assert_eq!(upload_type("test", &valid).await.unwrap(), "text/plain");
        text.truncate(text.len() - 1);
        let cut = Attachment {
            content: spool.keep(text).await.unwrap(),
            ..valid.clone()
        };
        assert_eq!(
            upload_type("test", &cut).await.unwrap(),
            "application/octet-stream",
            "a file ending inside a character is not UTF-8"
        );
        drop((valid, cut));
        let _ = std::fs::remove_dir_all(dir);
    }
}
