//! HTTP to Kaiten: auth, pacing, and turning answers into [`Error`]s.

use crate::config::KaitenConfig;
use crate::model;
use reqwest::{Method, RequestBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use teledesk_adapter::http::{FILE_TRANSFER_TIMEOUT, HttpClient, VendorApi, retry_after_or_reset};
use teledesk_adapter::{Attachment, Error, Result, Secret};
use time::OffsetDateTime;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

static KAITEN: VendorApi = VendorApi {
    kind: crate::KIND,
    name: "Kaiten",
    // Kaiten documents `X-RateLimit-Reset` (a UTC epoch) with its 429; a proxy may add
    // `Retry-After`.
    retry_after: |headers| retry_after_or_reset(headers, OffsetDateTime::now_utc()),
    parse_error,
};

/// A paced, authenticated client of one Kaiten site.
#[derive(Debug)]
pub struct KaitenClient {
    http: HttpClient,
    site: String,
    api: String,
    token: Secret,
}

impl KaitenClient {
    /// A client for the configured site.
    pub fn new(config: &KaitenConfig) -> Result<Self> {
        // Kaiten's limit belongs to the token (a user's token works for all their companies), so
        // helpdesk tables that share one token share one pace; its burst is the documented
        // requests per window.
        let burst = crate::CAPABILITY
            .rate_limit
            .map_or(1, |limit| limit.requests);
        let http = HttpClient::new(&KAITEN, config.requests_per_second, |b| {
            b.timeout(REQUEST_TIMEOUT)
        })?
        .with_burst(config.requests_per_second, burst)
        .pace_with_credential(config.token.expose());
        Ok(Self {
            http,
            site: config.url.clone(),
            api: config.api_base(),
            token: config.token.clone(),
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
            .http
            .send(op, self.request(Method::GET, path).query(query))
            .await?;
        self.http.json(op, response).await
    }

    /// `POST`/`PATCH <api><path>` with a JSON body → JSON.
    pub async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let response = self
            .http
            .send(op, self.request(method, path).json(body))
            .await?;
        self.http.json(op, response).await
    }

    /// `PUT /cards/{id}/files`: one file as multipart part `file`.
    pub async fn upload(
        &self,
        op: &'static str,
        card_id: i64,
        file: &Attachment,
    ) -> Result<model::File> {
        let part = teledesk_adapter::http::content_part(
            op,
            &file.content,
            &file.file_name,
            &file.content_type,
        )?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let builder = self
            .request(Method::PUT, &format!("/cards/{card_id}/files"))
            .timeout(FILE_TRANSFER_TIMEOUT)
            .multipart(form);
        let response = self.http.send(op, builder).await?;
        self.http.json(op, response).await
    }

    /// Downloads a file; the token goes only to the Kaiten site itself, never to a storage host,
    /// and only requests to the site count against its rate limit.
    pub async fn download(
        &self,
        op: &'static str,
        url: &str,
        file_name: &str,
    ) -> Result<Attachment> {
        let own = url == self.site || url.starts_with(&format!("{}/", self.site));
        let response = if own {
            let builder = self
                .http
                .request(Method::GET, url)
                .timeout(FILE_TRANSFER_TIMEOUT)
                .bearer_auth(self.token.expose());
            self.http.send(op, builder).await?
        } else {
            let builder = self
                .http
                .request(Method::GET, url)
                .timeout(FILE_TRANSFER_TIMEOUT);
            self.http.send_unpaced(op, builder).await?
        };
        let (content_type, content) = self.http.file(op, response).await?;
        Ok(Attachment {
            file_name: file_name.to_owned(),
            content_type,
            content,
        })
    }
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
    use teledesk_adapter::ErrorKind;

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
