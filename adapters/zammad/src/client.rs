//! HTTP to Zammad: auth, pacing, and turning answers into [`Error`]s.

use crate::config::ZammadConfig;
use crate::model;
use reqwest::{Method, RequestBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use teledesk_adapter::http::{
    Base64Files, FILE_TRANSFER_TIMEOUT, HttpClient, VendorApi, retry_after_header,
};
use teledesk_adapter::{Error, Result, Secret};

/// Calls without files; those carrying files get `FILE_TRANSFER_TIMEOUT`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Zammad sends no `Retry-After` itself; a proxy in front of it may.
static ZAMMAD: VendorApi = VendorApi {
    kind: crate::KIND,
    name: "Zammad",
    retry_after: retry_after_header,
    parse_error,
};

/// A paced, authenticated client of one Zammad site.
#[derive(Debug)]
pub struct ZammadClient {
    http: HttpClient,
    site: String,
    api: String,
    token: Secret,
}

/// A downloaded file, before the adapter names it.
#[derive(Debug)]
pub struct Download {
    /// The `Content-Type` without parameters, `application/octet-stream` when absent.
    pub content_type: String,
    /// The file, spooled when large.
    pub content: teledesk_adapter::Content,
}

impl ZammadClient {
    /// A client for the configured site.
    pub fn new(config: &ZammadConfig) -> Result<Self> {
        Ok(Self {
            http: HttpClient::new(&ZAMMAD, config.requests_per_second, |b| {
                b.timeout(REQUEST_TIMEOUT)
            })?,
            site: config.url.clone(),
            api: config.api_base(),
            token: config.token.clone(),
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
            .http
            .send(op, self.request(Method::GET, path).query(query))
            .await?;
        self.http.json(op, response).await
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
        let response = self.http.send(op, builder).await?;
        self.http.json(op, response).await
    }

    /// `POST <api><path>` with a JSON body holding `files` (see [`Base64Files::embed`]), each
    /// encoded as the body is sent → JSON.
    pub async fn send_json_with_files<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: &B,
        files: Base64Files,
    ) -> Result<T> {
        let files_empty = files.is_empty();
        let body = files.into_json(op, body)?;
        let mut builder = body.attach(self.request(method, path));
        if !files_empty {
            builder = builder.timeout(FILE_TRANSFER_TIMEOUT);
        }
        let response = self.http.send(op, builder).await?;
        self.http.json(op, response).await
    }

    /// `GET <api><path>` → raw bytes (attachment downloads).
    pub async fn download(&self, op: &'static str, path: &str) -> Result<Download> {
        let builder = self
            .request(Method::GET, path)
            .timeout(FILE_TRANSFER_TIMEOUT);
        let response = self.http.send(op, builder).await?;
        let (content_type, content) = self.http.file(op, response).await?;
        Ok(Download {
            content_type,
            content,
        })
    }
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
    use teledesk_adapter::ErrorKind;

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
}
