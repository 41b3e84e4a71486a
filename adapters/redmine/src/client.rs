//! HTTP to Redmine: auth, pacing, and turning answers into [`Error`]s.

use crate::config::RedmineConfig;
use crate::model;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use teledesk_adapter::http::{FILE_TRANSFER_TIMEOUT, HttpClient, VendorApi, retry_after_header};
use teledesk_adapter::{Attachment, Error, Result, Secret};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The header Redmine reads the API key from.
pub const API_KEY_HEADER: &str = "X-Redmine-API-Key";

/// Redmine sends no `Retry-After` itself; a proxy in front of it may.
static REDMINE: VendorApi = VendorApi {
    kind: crate::KIND,
    name: "Redmine",
    retry_after: retry_after_header,
    parse_error,
};

/// A paced, authenticated client of one Redmine instance.
#[derive(Debug)]
pub struct RedmineClient {
    http: HttpClient,
    base: String,
    api_key: Secret,
}

impl RedmineClient {
    /// A client for the configured instance.
    pub fn new(config: &RedmineConfig) -> Result<Self> {
        // Redmine answers a download without a session with a redirect to its login page;
        // following it would turn a permission problem into a confusing HTML "file".
        let http = HttpClient::new(&REDMINE, config.requests_per_second, |b| {
            b.redirect(reqwest::redirect::Policy::none())
        })?;
        Ok(Self {
            http,
            base: config.url.clone(),
            api_key: config.api_key.clone(),
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
            .http
            .send(op, self.request(Method::GET, path).query(query))
            .await?;
        self.http.json(op, response).await
    }

    /// `POST <base><path>` with a JSON body → JSON (`201 Created`).
    pub async fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        op: &'static str,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let response = self
            .http
            .send(op, self.request(Method::POST, path).json(body))
            .await?;
        self.http.json(op, response).await
    }

    /// `PUT <base><path>` with a JSON body; Redmine answers `204 No Content`.
    pub async fn put_json<B: Serialize + ?Sized>(
        &self,
        op: &'static str,
        path: &str,
        body: &B,
    ) -> Result<()> {
        self.http
            .send(op, self.request(Method::PUT, path).json(body))
            .await?;
        Ok(())
    }

    /// `POST /uploads.json?filename=…` with the raw bytes; the token attaches the file later.
    pub async fn upload(&self, op: &'static str, file: &Attachment) -> Result<model::Upload> {
        let builder = self
            .request(Method::POST, "/uploads.json")
            .query(&[("filename", file.file_name.as_str())])
            .header(CONTENT_TYPE, "application/octet-stream")
            // A spooled file streams; without its length it would go chunked, which Thin (the
            // server Debian's Redmine runs on) does not read.
            .header(CONTENT_LENGTH, file.content.len())
            .timeout(FILE_TRANSFER_TIMEOUT)
            .body(teledesk_adapter::http::content_body(op, &file.content)?);
        let response = self.http.send(op, builder).await?;
        let envelope: model::UploadEnvelope = self.http.json(op, response).await?;
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
            .timeout(FILE_TRANSFER_TIMEOUT);
        let response = self.http.send(op, builder).await?;
        let (content_type, content) = self.http.file(op, response).await?;
        Ok(Attachment {
            file_name: file_name.to_owned(),
            content_type,
            content,
        })
    }
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
    use teledesk_adapter::ErrorKind;

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
}
