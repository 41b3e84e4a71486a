//! The HTTP client plumbing every vendor adapter shares (feature `http`).
//!
//! Each vendor speaks its own paths, auth and error bodies, but what happens around a request is
//! the same everywhere and must stay the same: wait for the pacer, send, hold everyone back after a
//! 429 (until its `Retry-After` or `X-RateLimit-Reset`), hold everyone back as well when a
//! successful answer says the quota is used up (`X-RateLimit-Remaining: 0`), turn a refusal into
//! an [`Error`] by the vendor's error format, and never let a URL (query strings carry client text
//! and sometimes sessions) into an error message. [`HttpClient`] owns that; a vendor client keeps
//! only what is its own, described by a [`VendorApi`].

mod base64_json;

pub use base64_json::{Base64Files, Base64Json, Base64JsonReader, JsonStep, ReceivedFiles};

use crate::{
    Content, Error, ErrorKind, Priority, RequestPacer, Result, Spool, decode_json,
    parse_retry_after, work,
};
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{ClientBuilder, IntoUrl, Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;
use time::OffsetDateTime;

/// How long a connection may take to open, for every vendor: a helpdesk that does not accept a
/// connection in five seconds is down, and the daemon's retry is the better wait.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request that carries a file (an upload, a download) may take, set on it in place
/// of the vendor's ordinary request timeout: 50 MB at about 1 Mbit/s. A file can be 20 MB from
/// Telegram and more from staff; at an ordinary 30–60 s it would be cut on every attempt on a
/// link slower than a few Mbit/s, and never arrive.
pub const FILE_TRANSFER_TIMEOUT: Duration = Duration::from_secs(600);

/// The media type assumed for a download whose answer names none.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// What the shared plumbing needs to know of one vendor's API.
#[derive(Debug)]
pub struct VendorApi {
    /// The adapter's kind (`"kaiten"`): the `adapter` field of log lines and the user agent's name
    /// (`teledesk-kaiten/0.1.0`).
    pub kind: &'static str,
    /// The helpdesk's name as its users know it (`"Kaiten"`), for messages.
    pub name: &'static str,
    /// Reads how long a refusal asks everyone to wait; most vendors use [`retry_after_header`],
    /// vendors documenting `X-RateLimit-Reset` use [`retry_after_or_reset`].
    pub retry_after: fn(&HeaderMap) -> Option<Duration>,
    /// Turns a non-2xx answer (operation, status, the wait read by `retry_after`, body) into an
    /// [`Error`] by the vendor's error format.
    pub parse_error: fn(&'static str, u16, Option<Duration>, &str) -> Error,
}

/// A paced HTTP client of one helpdesk instance.
///
/// Shared by all tasks of an adapter (`&self`); the pacer spaces every paced request of the
/// instance, whichever task sends it. A request's [`Priority`] at the pacer is the one the daemon
/// gave the call ([`work::client_work`]), else its method's: reads are background work, writes a
/// client's.
#[derive(Debug)]
pub struct HttpClient {
    http: reqwest::Client,
    pacer: Arc<RequestPacer>,
    vendor: &'static VendorApi,
}

/// Pacers shared by every client of one vendor that authenticates with the same credential, so
/// that two helpdesk tables with one token (a Kaiten token works for every company of its user)
/// stay under the limit together. Keyed by a hash, so no credential sits in it.
fn shared_pacers() -> &'static Mutex<SharedPacers> {
    static PACERS: OnceLock<Mutex<SharedPacers>> = OnceLock::new();
    PACERS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// (vendor kind, hash of the credential) → the pacer its clients share while any is alive.
type SharedPacers = HashMap<(&'static str, u64), Weak<RequestPacer>>;

impl HttpClient {
    /// A client for `vendor` allowing `requests_per_second`, with a burst of one second's worth
    /// (at least one request; see [`HttpClient::with_burst`] for a vendor that documents its own).
    /// An infinite rate (`requests_per_second = "unlimited"`, see
    /// [`crate::TableReader::requests_per_second`]) paces nothing: see [`RequestPacer::unlimited`].
    ///
    /// `configure` adds what is the vendor's own (a request timeout, a redirect policy) to a
    /// builder that already has [`CONNECT_TIMEOUT`] and the user agent.
    pub fn new(
        vendor: &'static VendorApi,
        requests_per_second: f64,
        configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
    ) -> Result<Self> {
        let builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(format!(
                "teledesk-{}/{}",
                vendor.kind,
                env!("CARGO_PKG_VERSION")
            ));
        let http = configure(builder).build().map_err(|e| {
            Error::new(
                ErrorKind::Unexpected,
                "build_client",
                format!("cannot build the HTTP client: {e}"),
            )
        })?;
        Ok(Self {
            http,
            pacer: Arc::new(RequestPacer::with_burst(
                requests_per_second,
                one_seconds_worth(requests_per_second),
            )),
            vendor,
        })
    }

    /// Lets `burst` requests go at once (the bucket's size), keeping `requests_per_second` on
    /// average: for a vendor whose documented limit says how many requests a window takes.
    /// Call it before [`HttpClient::pace_with_credential`].
    pub fn with_burst(mut self, requests_per_second: f64, burst: u32) -> Self {
        self.pacer = Arc::new(RequestPacer::with_burst(requests_per_second, burst));
        self
    }

    /// Makes this client share its pacer with every other client of the same vendor built with
    /// the same `credential` (a token), for vendors whose rate limit counts per credential rather
    /// than per site. The first client's rate is the shared one.
    pub fn pace_with_credential(mut self, credential: &str) -> Self {
        let mut hasher = DefaultHasher::new();
        credential.hash(&mut hasher);
        let key = (self.vendor.kind, hasher.finish());
        let mut pacers = shared_pacers().lock().unwrap_or_else(|e| e.into_inner());
        pacers.retain(|_, pacer| pacer.strong_count() > 0);
        match pacers.get(&key).and_then(Weak::upgrade) {
            Some(shared) => self.pacer = shared,
            None => {
                pacers.insert(key, Arc::downgrade(&self.pacer));
            }
        }
        self
    }

    /// A request to `url`, to be finished by the vendor client (auth, body) and given to
    /// [`HttpClient::send`].
    pub fn request(&self, method: Method, url: impl IntoUrl) -> RequestBuilder {
        self.http.request(method, url)
    }

    /// Waits for the pacer, sends, and returns a successful answer or the vendor's [`Error`].
    pub async fn send(&self, op: &'static str, builder: RequestBuilder) -> Result<Response> {
        let response = self.execute(op, builder).await?;
        self.check(op, response).await
    }

    /// [`HttpClient::send`] without the pacer, for requests that do not reach the helpdesk (a file
    /// on a storage host) and so do not count against its limit.
    pub async fn send_unpaced(
        &self,
        op: &'static str,
        builder: RequestBuilder,
    ) -> Result<Response> {
        work::note_sent();
        let started = std::time::Instant::now();
        let sent = builder.send().await;
        observe(self.vendor.kind, &sent, Duration::ZERO, started.elapsed());
        let response = sent.map_err(|e| transport_error(op, e))?;
        self.check(op, response).await
    }

    /// Waits for the pacer and sends, returning whatever the server answered: for a vendor client
    /// that must look at a refusal itself (an expired session) before [`HttpClient::check`].
    ///
    /// A write request (any method but `GET`/`HEAD`) that may have reached the helpdesk is noted
    /// for [`work::client_work`]: one answered with success or with a 5xx, or whose answer was
    /// lost. A 4xx (the helpdesk refused, 429 included) or a connection that never opened wrote
    /// nothing.
    pub async fn execute(&self, op: &'static str, builder: RequestBuilder) -> Result<Response> {
        let request = builder.build().map_err(|e| transport_error(op, e))?;
        let writes = !matches!(*request.method(), Method::GET | Method::HEAD);
        let priority = work::current_priority().unwrap_or(if writes {
            Priority::Client
        } else {
            Priority::Background
        });
        let queued = std::time::Instant::now();
        self.pacer.ready_as(priority).await;
        work::note_sent();
        let started = std::time::Instant::now();
        tracing::debug!(
            adapter = self.vendor.kind,
            operation = op,
            ?priority,
            waited_ms = (started - queued).as_secs_f64() * 1000.0,
            "Sending a request."
        );
        let sent = self.http.execute(request).await;
        observe(self.vendor.kind, &sent, started - queued, started.elapsed());
        if writes {
            let refused = match &sent {
                Ok(response) => response.status().is_client_error(),
                Err(error) => error.is_connect(),
            };
            if !refused {
                work::note_possible_write();
            }
        }
        sent.map_err(|e| transport_error(op, e))
    }

    /// Passes a successful answer through; turns any other into the vendor's [`Error`], holding
    /// every caller back first when it was a 429. A successful answer that used the last request
    /// of the quota ([`quota_exhausted_for`]) while the pacer still counts requests free (someone
    /// else spends the same quota) holds every caller until the reset, so the next request waits
    /// instead of being refused.
    pub async fn check(&self, op: &'static str, response: Response) -> Result<Response> {
        let status = response.status();
        if status.is_success() {
            if let Some(wait) = quota_exhausted_for(response.headers(), OffsetDateTime::now_utc()) {
                self.pacer.hold_if_exhausted(wait);
            }
            return Ok(response);
        }
        let (status, retry_after, body) = self.refusal(op, response).await;
        Err((self.vendor.parse_error)(op, status, retry_after, &body))
    }

    /// Reads a refusal the vendor client inspects itself: its status, the wait it asks for (the
    /// pacer already holds for a 429) and its body. Logs it without the body, which may quote
    /// client text.
    pub async fn refusal(
        &self,
        op: &'static str,
        response: Response,
    ) -> (u16, Option<Duration>, String) {
        let status = response.status().as_u16();
        let retry_after = (self.vendor.retry_after)(response.headers());
        self.pacer.hold_if_rate_limited(status, retry_after);
        let body = response.text().await.unwrap_or_default();
        tracing::debug!(
            adapter = self.vendor.kind,
            operation = op,
            status,
            "{} refused a request.",
            self.vendor.name
        );
        (status, retry_after, body)
    }

    /// Reads a successful answer as JSON; a body that is not what `T` expects is an
    /// [`ErrorKind::Unexpected`] quoting its start.
    pub async fn json<T: DeserializeOwned>(
        &self,
        op: &'static str,
        response: Response,
    ) -> Result<T> {
        let bytes = response.bytes().await.map_err(|e| transport_error(op, e))?;
        decode_json(op, self.vendor.name, &bytes)
    }

    /// Reads a successful JSON answer that carries files as base64 strings (a Znuny ticket with
    /// its attachments, an RT attachment), without holding them: each string at a path
    /// `is_file` accepts (given the keys and indices from the root to the string) is decoded
    /// into the process-wide [`Spool`] as the answer arrives, and `T` is parsed from the rest,
    /// where a placeholder string stands in for each file; [`ReceivedFiles::take`] exchanges the
    /// placeholder for the file. Only the rest of the answer and one batch of base64 are ever in
    /// memory.
    ///
    /// A string at such a path that is not base64 (standard alphabet, padded; line breaks are
    /// allowed) is an [`ErrorKind::Unexpected`] error, as is a body `T` does not expect; a local
    /// disk error is [`ErrorKind::Unavailable`].
    pub async fn json_with_files<T, F>(
        &self,
        op: &'static str,
        response: Response,
        is_file: F,
    ) -> Result<(T, ReceivedFiles)>
    where
        T: DeserializeOwned,
        F: Fn(&[JsonStep<'_>]) -> bool,
    {
        let (json, files) = base64_json::receive_json_with_files(
            op,
            self.vendor.name,
            response,
            &Spool::global(),
            is_file,
        )
        .await?;
        Ok((decode_json(op, self.vendor.name, &json)?, files))
    }

    /// Reads a successful answer as a file: its media type (parameters dropped,
    /// [`OCTET_STREAM`] when none is named) and its content, streamed into the process-wide
    /// [`Spool`] chunk by chunk so that a large file is never whole in memory.
    pub async fn file(&self, op: &'static str, response: Response) -> Result<(String, Content)> {
        let content_type = media_type(response.headers());
        let content = receive_file(op, response, &Spool::global()).await?;
        Ok((content_type, content))
    }
}

/// Helpdesk requests sent, by adapter kind and outcome (`ok`, `rate_limited`, `refused`,
/// `server_error`, `timeout`, `unreachable`), a counter.
pub const METRIC_REQUESTS: &str = "teledesk_helpdesk_requests_total";
/// Seconds from sending a helpdesk request to its answer's headers (a histogram, by adapter
/// kind). A file's body streaming afterwards is not in it.
pub const METRIC_REQUEST_SECONDS: &str = "teledesk_helpdesk_request_duration_seconds";
/// Seconds a helpdesk request waited for the pacer before it was sent (a histogram, by adapter
/// kind): its sum is the time spent holding back for the vendor's rate limit and its 429s.
pub const METRIC_PACER_WAIT_SECONDS: &str = "teledesk_helpdesk_pacer_wait_seconds";

/// Records one helpdesk request in the metrics, here where every vendor's requests pass, so that
/// no adapter counts its own. Labels are the adapter's kind and the outcome only: never a URL,
/// a ticket or a chat.
fn observe(
    kind: &'static str,
    sent: &std::result::Result<Response, reqwest::Error>,
    waited: Duration,
    took: Duration,
) {
    metrics::counter!(METRIC_REQUESTS, "adapter" => kind, "outcome" => outcome(sent)).increment(1);
    metrics::histogram!(METRIC_REQUEST_SECONDS, "adapter" => kind).record(took.as_secs_f64());
    metrics::histogram!(METRIC_PACER_WAIT_SECONDS, "adapter" => kind).record(waited.as_secs_f64());
}

/// How a request ended, as the `outcome` label says it: `ok` (2xx, 3xx), `rate_limited` (429),
/// `refused` (another 4xx), `server_error` (5xx), `timeout`, or `unreachable` (no answer).
fn outcome(sent: &std::result::Result<Response, reqwest::Error>) -> &'static str {
    match sent {
        Ok(response) => match response.status().as_u16() {
            429 => "rate_limited",
            400..=499 => "refused",
            500..=599 => "server_error",
            _ => "ok",
        },
        Err(error) if error.is_timeout() => "timeout",
        Err(_) => "unreachable",
    }
}

/// Streams a response body into `spool`. A local disk error is temporary: the file can be
/// downloaded again once there is room.
pub async fn receive_file(
    op: &'static str,
    mut response: Response,
    spool: &Spool,
) -> Result<Content> {
    let mut writer = spool.writer();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(op, e))? {
        writer.write(&chunk).await.map_err(|e| spool_error(op, e))?;
    }
    writer.finish().await.map_err(|e| spool_error(op, e))
}

fn spool_error(op: &'static str, error: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        op,
        format!("cannot spool the file: {error}"),
    )
}

/// A request body that streams `content` (from memory or its spool file), so that the file is
/// never read whole. A spooled file's body does not carry its length: set `Content-Length` to
/// [`Content::len`] on the request, or it goes chunked, which some servers (Thin) do not read. Synchronous so that vendors can build it inside a request
/// closure they may call twice (a re-authenticated retry); opening a local file does not block for
/// long.
pub fn content_body(op: &'static str, content: &Content) -> Result<reqwest::Body> {
    match content.in_memory() {
        Some(bytes) => Ok(reqwest::Body::from(bytes.to_vec())),
        None => {
            let reader = content.reader_now().map_err(|e| spool_error(op, e))?;
            Ok(reqwest::Body::wrap_stream(
                tokio_util::io::ReaderStream::with_capacity(reader, 64 * 1024),
            ))
        }
    }
}

/// A multipart part carrying `content` as a streamed file named `file_name`, with its media type
/// (left at the default when `content_type` is not a valid MIME type).
pub fn content_part(
    op: &'static str,
    content: &Content,
    file_name: &str,
    content_type: &str,
) -> Result<reqwest::multipart::Part> {
    let part = unnamed_part(op, content)?.file_name(file_name.to_owned());
    // A MIME type reqwest refuses still sends the file, as octet-stream; the refused part is
    // consumed, so the file is opened again.
    Ok(match part.mime_str(content_type) {
        Ok(part) => part,
        Err(_) => unnamed_part(op, content)?.file_name(file_name.to_owned()),
    })
}

fn unnamed_part(op: &'static str, content: &Content) -> Result<reqwest::multipart::Part> {
    Ok(match content.in_memory() {
        Some(bytes) => reqwest::multipart::Part::bytes(bytes.to_vec()),
        None => {
            reqwest::multipart::Part::stream_with_length(content_body(op, content)?, content.len())
        }
    })
}

/// One second's worth of requests, at least one: the burst of a vendor that documents none.
fn one_seconds_worth(requests_per_second: f64) -> u32 {
    // Saturating float-to-int cast: a huge rate gives a huge burst, NaN none.
    (requests_per_second.floor() as u32).max(1)
}

/// A connection failure or timeout as an [`ErrorKind::Unavailable`] error: the request may or may
/// not have arrived, so only an idempotent retry (which the daemon does with `retry = true`) is
/// safe. The URL is left out: query strings carry client text, and some vendors' a session.
pub fn transport_error(op: &'static str, error: reqwest::Error) -> Error {
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

/// The wait a `Retry-After` header asks for, counted from now (see [`parse_retry_after`]).
pub fn retry_after_header(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, OffsetDateTime::now_utc())
}

/// The longest wait a rate-limit reset header is believed for: the limits these helpdesks
/// document are per second or minute, so anything longer is a wrong clock, not a real wait.
pub const MAX_RESET_WAIT: Duration = Duration::from_secs(60);

/// Below this an `X-RateLimit-Reset` value is seconds from now, at or above it a UTC epoch second
/// (services use both spellings; no epoch since 2001 is this small).
const EPOCH_THRESHOLD: i64 = 1_000_000_000;

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The wait until `X-RateLimit-Reset`, counted from `now` to the millisecond: an epoch second
/// (Kaiten) or seconds from now. A reset already past (clock skew) still means "this window is
/// used up", one second; one further away than [`MAX_RESET_WAIT`] is cut to it.
pub fn rate_limit_reset(headers: &HeaderMap, now: OffsetDateTime) -> Option<Duration> {
    let value = header(headers, "x-ratelimit-reset")?.parse::<i64>().ok()?;
    let wait = if value >= EPOCH_THRESHOLD {
        let reset = OffsetDateTime::from_unix_timestamp(value).ok()?;
        Duration::try_from(reset - now).unwrap_or(Duration::ZERO)
    } else {
        Duration::from_secs(u64::try_from(value).unwrap_or(0))
    };
    Some(if wait.is_zero() {
        Duration::from_secs(1)
    } else {
        wait.min(MAX_RESET_WAIT)
    })
}

/// The wait a 429 asks for: `Retry-After` where the answer has one (a proxy's), else until
/// `X-RateLimit-Reset` ([`rate_limit_reset`]).
pub fn retry_after_or_reset(headers: &HeaderMap, now: OffsetDateTime) -> Option<Duration> {
    header(headers, RETRY_AFTER.as_str())
        .and_then(|v| parse_retry_after(v, now))
        .or_else(|| rate_limit_reset(headers, now))
}

/// How long a successful answer that used the last request of the quota
/// (`X-RateLimit-Remaining: 0`) asks everyone to wait: until `X-RateLimit-Reset`. `None` while
/// requests remain or when the answer does not say.
pub fn quota_exhausted_for(headers: &HeaderMap, now: OffsetDateTime) -> Option<Duration> {
    let remaining = header(headers, "x-ratelimit-remaining")?
        .parse::<i64>()
        .ok()?;
    if remaining > 0 {
        return None;
    }
    rate_limit_reset(headers, now)
}

/// The media type of `Content-Type` without its parameters (`text/plain; charset=utf-8` →
/// `text/plain`), or [`OCTET_STREAM`] when there is none.
pub fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| OCTET_STREAM.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn media_type_drops_parameters_and_defaults_to_octet_stream() {
        let mut headers = HeaderMap::new();
        assert_eq!(media_type(&headers), OCTET_STREAM);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(" "));
        assert_eq!(media_type(&headers), OCTET_STREAM);
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        assert_eq!(media_type(&headers), "text/plain");
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after_header(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after_header(&headers), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static(" 3 "));
        assert_eq!(retry_after_header(&headers), Some(Duration::from_secs(3)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after_header(&headers), None);
    }

    use time::macros::datetime;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn the_reset_is_waited_for_to_the_millisecond_not_a_fixed_second() {
        // 1795262401 is 2026-11-21 12:00:01 UTC.
        let epoch = headers(&[("x-ratelimit-reset", "1795262401")]);
        let now = datetime!(2026-11-21 12:00:00.750 UTC);
        assert_eq!(
            rate_limit_reset(&epoch, now),
            Some(Duration::from_millis(250))
        );
        // A reset already past is a skewed clock: the window is still used up.
        let late = datetime!(2026-11-21 12:00:05 UTC);
        assert_eq!(rate_limit_reset(&epoch, late), Some(Duration::from_secs(1)));
        // A reset far off is a wrong clock too, and is not believed past a minute.
        let early = datetime!(2026-11-21 10:00:00 UTC);
        assert_eq!(rate_limit_reset(&epoch, early), Some(MAX_RESET_WAIT));
        // Some services send seconds from now instead of an epoch.
        let delta = headers(&[("x-ratelimit-reset", "7")]);
        assert_eq!(rate_limit_reset(&delta, now), Some(Duration::from_secs(7)));
        assert_eq!(rate_limit_reset(&HeaderMap::new(), now), None);
    }

    #[test]
    fn retry_after_comes_first_then_the_reset() {
        let now = datetime!(2026-11-21 12:00:00 UTC);
        let both = headers(&[("retry-after", "3"), ("x-ratelimit-reset", "1795262401")]);
        assert_eq!(
            retry_after_or_reset(&both, now),
            Some(Duration::from_secs(3))
        );
        let reset = headers(&[("x-ratelimit-reset", "1795262402")]);
        assert_eq!(
            retry_after_or_reset(&reset, now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(retry_after_or_reset(&HeaderMap::new(), now), None);
    }

    #[test]
    fn only_a_used_up_quota_holds_a_successful_answer() {
        let now = datetime!(2026-11-21 12:00:00.500 UTC);
        let left = headers(&[
            ("x-ratelimit-remaining", "2"),
            ("x-ratelimit-reset", "1795262401"),
        ]);
        assert_eq!(quota_exhausted_for(&left, now), None);
        let used_up = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1795262401"),
        ]);
        assert_eq!(
            quota_exhausted_for(&used_up, now),
            Some(Duration::from_millis(500))
        );
        assert_eq!(quota_exhausted_for(&HeaderMap::new(), now), None);
    }

    static SHARED: VendorApi = VendorApi {
        kind: "test-shared",
        name: "Test",
        retry_after: retry_after_header,
        parse_error: Error::from_status,
    };

    #[tokio::test(start_paused = true)]
    async fn clients_with_one_credential_share_one_pace() {
        let client = |credential: &str| {
            HttpClient::new(&SHARED, 5.0, |b| b)
                .expect("a client")
                .pace_with_credential(credential)
        };
        let (a, b, other) = (client("token-1"), client("token-1"), client("token-2"));
        assert!(Arc::ptr_eq(&a.pacer, &b.pacer));
        assert!(!Arc::ptr_eq(&a.pacer, &other.pacer));
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            a.pacer.ready().await;
            b.pacer.ready().await;
        }
        // Six requests at 5/s between them, not three each at 5/s side by side.
        assert_eq!(start.elapsed(), Duration::from_millis(1000));
        // A hold after a 429 seen by one holds the other too.
        a.pacer.hold_for(Duration::from_secs(3));
        let held = tokio::time::Instant::now();
        b.pacer.ready().await;
        assert_eq!(held.elapsed(), Duration::from_secs(3));
    }

    /// A one-shot server answering every connection with `status`.
    async fn answering(status: u16) -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn only_writes_the_helpdesk_may_have_taken_are_traced() {
        static TRACED: VendorApi = VendorApi {
            kind: "test-traced",
            name: "Test",
            retry_after: retry_after_header,
            parse_error: Error::from_status,
        };
        let client = HttpClient::new(&TRACED, 1000.0, |b| b).expect("a client");
        let trace = |method: Method, status: u16| {
            let client = &client;
            async move {
                let addr = answering(status).await;
                let builder = client.request(method, format!("http://{addr}/x"));
                let (_, trace) = work::client_work(client.send("op", builder)).await;
                trace.may_have_written
            }
        };
        assert!(trace(Method::POST, 200).await, "a written comment");
        assert!(trace(Method::PATCH, 503).await, "a 5xx may have written");
        assert!(!trace(Method::POST, 429).await, "a 429 wrote nothing");
        assert!(!trace(Method::POST, 400).await, "a refusal wrote nothing");
        assert!(!trace(Method::GET, 200).await, "a read writes nothing");
    }

    #[tokio::test]
    async fn transport_errors_are_temporary_and_name_no_url() {
        // A port that was just free and is closed again: the connection is refused at once.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a loopback port");
        let vendor = &VendorApi {
            kind: "test",
            name: "Test",
            retry_after: retry_after_header,
            parse_error: Error::from_status,
        };
        let client = HttpClient::new(vendor, 100.0, |b| b).expect("a client");
        let builder = client.request(
            Method::GET,
            format!("http://{closed}/search?q=secret-client-text"),
        );
        let error = client.send("search", builder).await.expect_err("refused");
        assert_eq!(error.kind(), ErrorKind::Unavailable);
        assert!(error.is_temporary());
        assert!(error.message().starts_with("cannot connect"), "{error}");
        assert!(!error.message().contains("secret-client-text"), "{error}");
    }
}
