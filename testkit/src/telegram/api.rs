//! HTTP side: routing `/bot<token>/<method>` and `/file/bot<token>/<path>`, decoding JSON, form
//! and multipart bodies, and the Bot API methods with the real server's validation order and
//! error strings.

use super::html::{self, Formatted};
use super::state::{
    ChatKind, DEFAULT_TOPIC_COLOR, Media, Service, StoredMessage, World, clean_topic_name,
};
use super::{CallbackAnswer, FakeError, RecordedCall, Shared};
use crate::blob::{Blob, BlobWriter};
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Uploads are capped at 50 MB by Telegram; leave room for multipart overhead.
const MAX_BODY: usize = 60 * 1024 * 1024;
const MAX_UPLOAD: usize = 50 * 1024 * 1024;
const MAX_PHOTO_UPLOAD: usize = 10 * 1024 * 1024;
const MAX_DOWNLOAD: usize = 20 * 1024 * 1024;
const MAX_TEXT: usize = 4096;
const MAX_CAPTION: usize = 1024;
const MAX_CALLBACK_ANSWER: usize = 200;
/// Clients stop waiting for an answer long before this; the real timeout is undocumented.
const CALLBACK_QUERY_TTL: Duration = Duration::from_secs(60);
const LONG_POLL_MAX: u64 = 50;

/// Fields whose form/multipart values stay strings even when they look like numbers or JSON.
const STRING_FIELDS: &[&str] = &[
    "text",
    "caption",
    "parse_mode",
    "callback_query_id",
    "file_id",
    "photo",
    "document",
    "url",
    "data",
    "title",
    "description",
    "inline_message_id",
    "name",
    "icon_custom_emoji_id",
];

/// Methods the fake serves, lower-cased as the server matches them.
const METHODS: &[&str] = &[
    "getme",
    "getupdates",
    "getwebhookinfo",
    "deletewebhook",
    "setwebhook",
    "setmycommands",
    "getmycommands",
    "deletemycommands",
    "sendchataction",
    "sendmessage",
    "editmessagetext",
    "editmessagecaption",
    "editmessagereplymarkup",
    "deletemessage",
    "pinchatmessage",
    "unpinchatmessage",
    "answercallbackquery",
    "getchat",
    "getchatmember",
    "sendphoto",
    "senddocument",
    "sendmediagroup",
    "getfile",
    "createforumtopic",
    "editforumtopic",
    "closeforumtopic",
    "reopenforumtopic",
];

/// An error reply: `{"ok":false,"error_code":code,"description":..,"parameters":..}`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    code: u16,
    description: String,
    parameters: Option<Value>,
}

impl ApiError {
    fn new(code: u16, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            parameters: None,
        }
    }

    fn bad(description: &str) -> Self {
        Self::new(400, format!("Bad Request: {description}"))
    }

    fn retry_after(seconds: u32) -> Self {
        Self {
            code: 429,
            description: format!("Too Many Requests: retry after {seconds}"),
            parameters: Some(json!({"retry_after": seconds})),
        }
    }

    /// The error answer an injected failure gives; `None` for failures that give no answer.
    fn from_injected(error: &FakeError) -> Option<Self> {
        match error {
            FakeError::TooManyRequests { retry_after } => Some(Self::retry_after(*retry_after)),
            FakeError::Api { code, description } => Some(Self::new(*code, description.clone())),
            FakeError::MigrateTo { chat_id } => Some(Self::migrate_to(*chat_id)),
            FakeError::Disconnect
            | FakeError::Stall
            | FakeError::LostAnswer
            | FakeError::HeldAnswer => None,
        }
    }

    /// What any write to an upgraded basic group gets.
    fn migrate_to(chat_id: i64) -> Self {
        Self {
            code: 400,
            description: "Bad Request: group chat was upgraded to a supergroup chat".to_owned(),
            parameters: Some(json!({"migrate_to_chat_id": chat_id})),
        }
    }

    fn body(&self) -> Value {
        let mut body =
            json!({"ok": false, "error_code": self.code, "description": self.description});
        if let Some(parameters) = &self.parameters {
            body["parameters"] = parameters.clone();
        }
        body
    }

    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = (status, axum::Json(self.body())).into_response();
        if let Some(seconds) = self.parameters.as_ref().and_then(|p| p.get("retry_after"))
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

type ApiResult = Result<Value, ApiError>;

/// A file part of a multipart request.
#[derive(Debug, Clone)]
struct Upload {
    file_name: Option<String>,
    content_type: Option<String>,
    body: Blob,
}

/// The decoded parameters of one call.
#[derive(Debug, Default)]
struct Params {
    map: Map<String, Value>,
    files: HashMap<String, Upload>,
}

impl Params {
    fn recorded(&self) -> Value {
        let mut map = self.map.clone();
        for (name, upload) in &self.files {
            map.insert(
                name.clone(),
                json!({"file_name": upload.file_name, "size": upload.body.len()}),
            );
        }
        Value::Object(map)
    }

    fn str(&self, key: &str) -> Option<String> {
        match self.map.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::bad(&format!("invalid {key} specified"))),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad(&format!("invalid {key} specified"))),
            Some(_) => Err(ApiError::bad(&format!("invalid {key} specified"))),
        }
    }

    fn flag(&self, key: &str) -> bool {
        match self.map.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_i64().unwrap_or(0) != 0,
            Some(Value::String(s)) => matches!(s.as_str(), "true" | "True" | "1"),
            _ => false,
        }
    }

    /// A JSON-serialized parameter: an object/array in JSON bodies, a JSON string elsewhere.
    fn json(&self, key: &str, what: &str) -> Result<Option<Value>, ApiError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s)
                .map(Some)
                .map_err(|_| ApiError::bad(&format!("can't parse {what} JSON object"))),
            Some(v) => Ok(Some(v.clone())),
        }
    }

    fn message_id(&self) -> Result<i32, ApiError> {
        let id = self
            .int("message_id")?
            .ok_or_else(|| ApiError::bad("message identifier is not specified"))?;
        i32::try_from(id).map_err(|_| ApiError::bad("message identifier is not specified"))
    }

    fn chat_id(&self) -> Result<i64, ApiError> {
        match self.map.get("chat_id") {
            None | Some(Value::Null) => Err(ApiError::bad("chat_id is empty")),
            Some(Value::String(s)) if s.is_empty() => Err(ApiError::bad("chat_id is empty")),
            // `@username` chat ids are not modelled: no chat has a username.
            _ => self
                .int("chat_id")
                .map_err(|_| ApiError::bad("chat not found"))?
                .ok_or_else(|| ApiError::bad("chat_id is empty")),
        }
    }
}

/// Decodes one form/multipart text value the way the Bot API reads typed fields.
fn coerce(key: &str, raw: String) -> Value {
    if STRING_FIELDS.contains(&key) {
        return Value::String(raw);
    }
    match serde_json::from_str::<Value>(&raw) {
        Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Object(_) | Value::Array(_))) => v,
        _ => Value::String(raw),
    }
}

fn percent_decode(input: &str, plus_is_space: bool) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], decoded) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (b'+', _) if plus_is_space => out.push(b' '),
            (byte, _) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_urlencoded(input: &str, params: &mut Params) {
    for pair in input.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(key, true);
        let value = percent_decode(value, true);
        let value = coerce(&key, value);
        params.map.insert(key, value);
    }
}

fn multipart_error(status: StatusCode) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(413, "Request Entity Too Large")
    } else {
        ApiError::bad("can't parse multipart/form-data request")
    }
}

async fn read_params(request: Request) -> Result<Params, ApiError> {
    let mut params = Params::default();
    if let Some(query) = request.uri().query() {
        parse_urlencoded(query, &mut params);
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|_| ApiError::bad("can't parse multipart/form-data request"))?;
        // (name, file name, content type, body)
        type Part = (String, Option<String>, Option<String>, Blob);
        let mut parts: Vec<Part> = Vec::new();
        loop {
            let mut field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(error) => return Err(multipart_error(error.status())),
            };
            let name = field.name().unwrap_or("").to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(str::to_owned);
            // Chunk by chunk: a large upload is kept as its digest, never whole in the test.
            let mut body = BlobWriter::new();
            while let Some(chunk) = field
                .chunk()
                .await
                .map_err(|error| multipart_error(error.status()))?
            {
                body.write(&chunk);
            }
            parts.push((name, file_name, content_type, body.finish()));
        }
        // teloxide names file parts randomly and refers to them as "attach://<name>", possibly
        // without a filename, so a part is a file if it has a filename or is attached.
        let attached: Vec<String> = parts
            .iter()
            .filter(|p| p.1.is_none())
            .filter_map(|p| p.3.to_vec().and_then(|bytes| String::from_utf8(bytes).ok()))
            .flat_map(|text| {
                text.match_indices("attach://")
                    .map(|(at, _)| {
                        text[at + 9..]
                            .chars()
                            .take_while(|c| !matches!(c, '"' | ',' | '}' | ']' | ' '))
                            .collect::<String>()
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        for (name, file_name, content_type, body) in parts {
            if file_name.is_some() || attached.contains(&name) {
                params.files.insert(
                    name,
                    Upload {
                        file_name,
                        content_type,
                        body,
                    },
                );
            } else {
                // No parameter but a file comes near the size kept; a larger one is no text.
                let bytes = body
                    .to_vec()
                    .ok_or_else(|| ApiError::new(413, "Request Entity Too Large"))?;
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let value = coerce(&name, text);
                params.map.insert(name, value);
            }
        }
        return Ok(params);
    }
    let body = axum::body::to_bytes(request.into_body(), MAX_BODY)
        .await
        .map_err(|_| ApiError::new(413, "Request Entity Too Large"))?;
    if body.is_empty() {
        return Ok(params);
    }
    if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => params.map.extend(map),
            _ => return Err(ApiError::bad("can't parse JSON object")),
        }
    } else {
        parse_urlencoded(&String::from_utf8_lossy(&body), &mut params);
    }
    Ok(params)
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

fn not_found() -> Response {
    ApiError::new(404, "Not Found").into_response()
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|s| percent_decode(s, false))
        .collect();
    let expected = format!("bot{}", shared.options.token);
    if segments.first().map(String::as_str) == Some("file") && segments.len() >= 3 {
        return download(&shared, segments[1] == expected, &segments[2..].join("/"));
    }
    if segments.len() != 2 || !segments[0].starts_with("bot") {
        return not_found();
    }
    let method = segments[1].clone();
    let params = match read_params(request).await {
        Ok(params) => params,
        Err(error) => {
            record(&shared, &method, Value::Null, error.code);
            return error.into_response();
        }
    };
    let injected = (segments[0] == expected)
        .then(|| take_injected(&shared, &method, &params))
        .flatten();
    let (result, held) = if segments[0] != expected {
        (Err(ApiError::new(401, "Unauthorized")), None)
    } else if let Some(FakeError::HeldAnswer) = injected {
        let mut release = shared.released.subscribe();
        let answer = call(&shared, &method, &params).await;
        let _ = release.changed().await;
        answer
    } else if let Some(error) = injected {
        match ApiError::from_injected(&error) {
            Some(answer) => (Err(answer), None),
            None => {
                if matches!(error, FakeError::LostAnswer) {
                    // Whatever the call produced (automatic forwards too) happened.
                    let _executed = call(&shared, &method, &params).await;
                }
                record(&shared, &method, params.recorded(), 0);
                if matches!(error, FakeError::Stall) {
                    // Dropped with the connection when the client gives up or dies.
                    std::future::pending::<()>().await;
                }
                return Response::new(Body::new(BrokenBody));
            }
        }
    } else {
        call(&shared, &method, &params).await
    };
    let status = result.as_ref().map(|_| 200).unwrap_or_else(|e| e.code);
    // Only the method and status: the token is in the path and must never reach logs.
    tracing::debug!(method = %method, status, "fake Telegram call");
    record(&shared, &method, params.recorded(), status);
    let response = match result {
        Ok(result) => axum::Json(json!({"ok": true, "result": result})).into_response(),
        Err(error) => error.into_response(),
    };
    // The response is ready: automatic forwards held back for it become available now.
    drop(held);
    response
}

/// The failure injected for this call, if one is due (see
/// [`super::FakeTelegram::inject_error_at`]); counts the call against the injections it matches.
fn take_injected(shared: &Shared, method: &str, params: &Params) -> Option<FakeError> {
    let name = method.to_ascii_lowercase();
    if !METHODS.contains(&name.as_str()) {
        return None;
    }
    let chat_id = params.chat_id().ok();
    let mut world = shared.world();
    let slot = world.injected.iter_mut().find(|i| {
        i.method == name && i.times > 0 && i.chat_id.is_none_or(|c| Some(c) == chat_id)
    })?;
    if slot.skip > 0 {
        slot.skip -= 1;
        return None;
    }
    slot.times -= 1;
    let error = slot.error.clone();
    world.injected.retain(|i| i.times > 0);
    Some(error)
}

/// A response body that fails at once: the server drops the connection after the headers, as a
/// network failure mid-request looks to the client.
struct BrokenBody;

impl axum::body::HttpBody for BrokenBody {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected network failure",
        ))))
    }
}

/// Automatic forwards held back until the response to the post that caused them exists;
/// dropping it releases them (also when the request is abandoned half-way).
struct HeldForwards {
    shared: Arc<Shared>,
    update_ids: Vec<i64>,
}

impl Drop for HeldForwards {
    fn drop(&mut self) {
        {
            let mut world = self.shared.world();
            for id in &self.update_ids {
                world.held.remove(id);
            }
        }
        self.shared.changes.bump();
        self.shared.wake_pollers();
    }
}

fn record(shared: &Shared, method: &str, params: Value, status: u16) {
    shared.world().calls.push(RecordedCall {
        method: method.to_owned(),
        params,
        status,
    });
    shared.changes.bump();
}

fn download(shared: &Shared, token_ok: bool, file_path: &str) -> Response {
    if !token_ok {
        return ApiError::new(401, "Unauthorized").into_response();
    }
    let body = {
        let world = shared.world();
        world
            .files
            .values()
            .find(|f| f.path == file_path)
            .map(|f| f.body.clone())
    };
    match body.map(|body| body.body()) {
        // Only the digest of a large upload is kept (see testkit::blob): serving it is a test
        // the fake cannot run, said loudly.
        Some(None) => ApiError::new(
            500,
            "the fake keeps only the digest of uploads over testkit::blob::KEEP_UPLOAD_BYTES",
        )
        .into_response(),
        Some(Some(body)) => {
            let mut response = Response::new(body);
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            response
        }
        None => not_found(),
    }
}

/// Runs one method; the second value holds back the automatic forwards it created until the
/// caller has produced the response.
async fn call(
    shared: &Arc<Shared>,
    method: &str,
    params: &Params,
) -> (ApiResult, Option<HeldForwards>) {
    let name = method.to_ascii_lowercase();
    if !METHODS.contains(&name.as_str()) {
        return (Err(ApiError::new(404, "Not Found: method not found")), None);
    }
    if name == "getupdates" {
        return (get_updates(shared, params).await, None);
    }
    let enforce = shared
        .enforce_limits
        .load(std::sync::atomic::Ordering::SeqCst);
    let (result, queued, forwards, forward_first, wait) = {
        let mut world = shared.world();
        let before = world.updates.len();
        let result = execute(&mut world, &name, params, enforce);
        let forwards = std::mem::take(&mut world.new_forwards);
        (
            result,
            world.updates.len() > before,
            forwards,
            world.forward_before_response,
            world.forward_wait,
        )
    };
    if queued {
        shared.wake_pollers();
    }
    let Some(last) = forwards.iter().max().copied() else {
        return (result, None);
    };
    if forward_first {
        // Answer once a poll has taken the forward, or after the bound anyway.
        let mut taken = shared.taken.subscribe();
        let _ = tokio::time::timeout(wait, taken.wait_for(|id| *id >= last)).await;
        return (result, None);
    }
    let held = HeldForwards {
        shared: shared.clone(),
        update_ids: forwards,
    };
    (result, Some(held))
}

fn execute(w: &mut World, name: &str, p: &Params, enforce: bool) -> ApiResult {
    match name {
        "getme" => Ok(json!({
            "id": w.bot_id, "is_bot": true, "first_name": w.bot_first_name, "username": w.bot_username,
            "can_join_groups": true, "can_read_all_group_messages": !w.privacy_mode,
            "supports_inline_queries": false, "can_connect_to_business": false, "has_main_web_app": false,
        })),
        "getwebhookinfo" => Ok(super::webhook::info(w)),
        "setwebhook" => set_webhook(w, p),
        "deletewebhook" => {
            if p.flag("drop_pending_updates") {
                w.updates.clear();
            }
            w.webhook = None;
            Ok(json!(true))
        }
        "setmycommands" | "deletemycommands" => Ok(json!(true)),
        "getmycommands" => Ok(json!([])),
        "sendchataction" => {
            target_chat(w, p.chat_id()?)?;
            Ok(json!(true))
        }
        "sendmessage" => send_message(w, p, enforce),
        "sendphoto" => send_single_media(w, p, enforce, "photo"),
        "senddocument" => send_single_media(w, p, enforce, "document"),
        "sendmediagroup" => send_media_group(w, p, enforce),
        "editmessagetext" => edit_message(w, p, enforce, EditKind::Text),
        "editmessagecaption" => edit_message(w, p, enforce, EditKind::Caption),
        "editmessagereplymarkup" => edit_message(w, p, enforce, EditKind::Markup),
        "deletemessage" => delete_message(w, p),
        "pinchatmessage" => pin_message(w, p),
        "unpinchatmessage" => {
            let chat_id = existing_chat(w, p.chat_id()?)?;
            w.chats.get_mut(&chat_id).expect("checked").pinned = None;
            Ok(json!(true))
        }
        "answercallbackquery" => answer_callback(w, p),
        "getchat" => get_chat(w, p),
        "getchatmember" => get_chat_member(w, p),
        "getfile" => get_file(w, p),
        "createforumtopic" => create_forum_topic(w, p, enforce),
        "editforumtopic" => edit_forum_topic(w, p),
        "closeforumtopic" => toggle_forum_topic(w, p, true),
        "reopenforumtopic" => toggle_forum_topic(w, p, false),
        _ => Err(ApiError::new(404, "Not Found: method not found")),
    }
}

fn set_webhook(w: &mut World, p: &Params) -> ApiResult {
    let Some(url) = p.str("url").filter(|u| !u.is_empty()) else {
        // An empty URL removes the webhook, as deleteWebhook does.
        w.webhook = None;
        return Ok(json!(true));
    };
    super::webhook::check_url(&url).map_err(ApiError::bad)?;
    if p.flag("drop_pending_updates") {
        w.updates.clear();
    }
    remember_allowed_updates(w, p)?;
    w.webhook = Some(super::webhook::Webhook {
        url,
        secret_token: p.str("secret_token"),
        max_connections: p.int("max_connections")?.unwrap_or(40),
        last_error: None,
    });
    Ok(json!(true))
}

/// `allowed_updates` (a JSON array) replaces the remembered list; absent, the old one stays.
fn remember_allowed_updates(w: &mut World, p: &Params) -> Result<(), ApiError> {
    if let Some(list) = p.json("allowed_updates", "allowed_updates")? {
        let kinds = list
            .as_array()
            .ok_or_else(|| ApiError::bad("can't parse allowed updates JSON array"))?
            .iter()
            .filter_map(|kind| kind.as_str().map(str::to_owned))
            .collect();
        w.allowed_updates = Some(kinds);
    }
    Ok(())
}

async fn get_updates(shared: &Arc<Shared>, p: &Params) -> ApiResult {
    let offset = p.int("offset")?.unwrap_or(0);
    let limit = p.int("limit")?.unwrap_or(100).clamp(1, 100) as usize;
    let timeout = p
        .int("timeout")?
        .unwrap_or(0)
        .clamp(0, LONG_POLL_MAX as i64) as u64;
    let generation = {
        let mut w = shared.world();
        if w.webhook.is_some() {
            return Err(ApiError::new(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            ));
        }
        remember_allowed_updates(&mut w, p)?;
        w.poll_generation += 1;
        if w.offset_in_the_future(offset) {
            // Answered from the head, as the Bot API server does; nothing is confirmed.
        } else if offset > 0 {
            // Confirmed updates are gone for good.
            w.updates.retain(|(id, _)| *id >= offset);
        } else if offset < 0 {
            let keep = offset.unsigned_abs() as usize;
            let drop = w.updates.len().saturating_sub(keep);
            w.updates.drain(..drop);
        }
        w.poll_generation
    };
    shared.changes.bump();
    // Wake an older pending poll so it can learn it was superseded.
    shared.wake_pollers();
    let mut wake = shared.updates.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        wake.borrow_and_update();
        {
            let w = shared.world();
            if w.poll_generation != generation {
                return Err(ApiError::new(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                ));
            }
            if w.deliverable().next().is_some() || tokio::time::Instant::now() >= deadline {
                let batch: Vec<&(i64, Value)> = w.deliverable().take(limit).collect();
                if let Some((last, _)) = batch.last() {
                    let last = *last;
                    shared.taken.send_if_modified(|taken| {
                        let newer = last > *taken;
                        if newer {
                            *taken = last;
                        }
                        newer
                    });
                }
                let batch = batch.into_iter().map(|(_, u)| u.clone()).collect();
                return Ok(Value::Array(batch));
            }
        }
        tokio::select! {
            _ = wake.changed() => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// Resolves a chat the bot sends to, applying Telegram's private-chat rules.
fn target_chat(w: &mut World, chat_id: i64) -> Result<i64, ApiError> {
    if let Some(chat) = w.chats.get(&chat_id)
        && chat.kind != ChatKind::Private
    {
        if let Some(new_id) = chat.migrated_to {
            return Err(ApiError::migrate_to(new_id));
        }
        if chat.kind == ChatKind::Channel {
            let rights = w.bot_rights(chat_id);
            if !rights.admin {
                return Err(ApiError::new(
                    403,
                    "Forbidden: bot is not a member of the channel chat",
                ));
            }
            if !rights.can_post_messages {
                return Err(ApiError::bad(
                    "need administrator rights in the channel chat",
                ));
            }
        }
        return Ok(chat_id);
    }
    let Some(user) = w.users.get(&chat_id) else {
        return Err(ApiError::bad("chat not found"));
    };
    if !user.can_dm {
        let talked_before = w
            .chats
            .get(&chat_id)
            .is_some_and(|c| !c.messages.is_empty());
        return Err(ApiError::new(
            403,
            if talked_before {
                "Forbidden: bot was blocked by the user"
            } else {
                "Forbidden: bot can't initiate conversation with a user"
            },
        ));
    }
    w.private_chat(chat_id);
    Ok(chat_id)
}

/// A chat that must already exist and that the bot writes to (edits, deletes, pins).
fn existing_chat(w: &World, chat_id: i64) -> Result<i64, ApiError> {
    match w.chats.get(&chat_id) {
        Some(chat) => match chat.migrated_to {
            Some(new_id) => Err(ApiError::migrate_to(new_id)),
            None => Ok(chat_id),
        },
        None => Err(ApiError::bad("chat not found")),
    }
}

/// The forum topic a send targets [src `check_message_topic`]. 0 (or a negative id) means none.
/// In a forum it must name a topic, and General (1) is no topic; a private chat may have topics
/// (Bot API 9.3), none of which the fake models, so any id there is not found; in basic groups,
/// channels and non-forum supergroups the server ignores it.
fn topic_target(w: &World, chat_id: i64, p: &Params) -> Result<Option<i32>, ApiError> {
    let chat = &w.chats[&chat_id];
    let thread = p
        .int("message_thread_id")
        .map_err(|_| ApiError::bad("message thread not found"))?
        .filter(|id| *id > 0);
    let Some(thread) = thread else {
        return Ok(None);
    };
    if !chat.is_forum && chat.kind != ChatKind::Private {
        return Ok(None);
    }
    i32::try_from(thread)
        .ok()
        .filter(|id| chat.topics.contains_key(id))
        .map(Some)
        .ok_or_else(|| ApiError::bad("message thread not found"))
}

/// Puts a message the bot sends into the topic, if any.
fn place_in_topic(message: &mut StoredMessage, topic: Option<i32>) {
    if topic.is_some() {
        message.thread_id = topic;
        message.is_topic = true;
    }
}

fn format_text(
    raw: &str,
    parse_mode: Option<String>,
) -> Result<(Formatted, Option<String>), ApiError> {
    match parse_mode
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("") => Ok((Formatted::plain(raw), None)),
        Some("html") => html::parse(raw)
            .map(|f| (f, Some(raw.to_owned())))
            .map_err(|reason| ApiError::bad(&format!("can't parse entities: {reason}"))),
        // Markdown modes exist on the real server but the daemon does not use them.
        Some(_) => Err(ApiError::bad("unsupported parse_mode")),
    }
}

fn text_body(p: &Params) -> Result<(Formatted, Option<String>), ApiError> {
    let raw = p.str("text").unwrap_or_default();
    let (formatted, html) = format_text(&raw, p.str("parse_mode"))?;
    if formatted.text.is_empty() {
        return Err(ApiError::bad("message text is empty"));
    }
    if formatted.utf16_len() > MAX_TEXT {
        return Err(ApiError::bad("message is too long"));
    }
    Ok((formatted, html))
}

fn caption_body(
    caption: Option<String>,
    parse_mode: Option<String>,
) -> Result<(Formatted, Option<String>), ApiError> {
    let (formatted, html) = format_text(&caption.unwrap_or_default(), parse_mode)?;
    if formatted.utf16_len() > MAX_CAPTION {
        return Err(ApiError::bad("message caption is too long"));
    }
    Ok((formatted, html))
}

fn reply_target(w: &World, chat_id: i64, p: &Params) -> Result<Option<i32>, ApiError> {
    let (message_id, allow_without) =
        if let Some(rp) = p.json("reply_parameters", "ReplyParameters")? {
            let id = match &rp["message_id"] {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            };
            let Some(id) = id else {
                return Err(ApiError::bad("can't parse ReplyParameters JSON object"));
            };
            (
                id,
                rp["allow_sending_without_reply"].as_bool().unwrap_or(false),
            )
        } else if let Some(id) = p.int("reply_to_message_id")? {
            (id, p.flag("allow_sending_without_reply"))
        } else {
            return Ok(None);
        };
    let exists = i32::try_from(message_id)
        .ok()
        .filter(|id| w.chats[&chat_id].messages.contains_key(id));
    match exists {
        Some(id) => Ok(Some(id)),
        None if allow_without => Ok(None),
        None => Err(ApiError::bad("message to be replied not found")),
    }
}

fn reply_markup(p: &Params) -> Result<Option<Value>, ApiError> {
    let Some(markup) = p.json("reply_markup", "reply keyboard markup")? else {
        return Ok(None);
    };
    let invalid = || ApiError::bad("can't parse reply keyboard markup JSON object");
    if let Some(rows) = markup.get("inline_keyboard") {
        let rows = rows.as_array().ok_or_else(invalid)?;
        for row in rows {
            for button in row.as_array().ok_or_else(invalid)? {
                if !button.get("text").is_some_and(Value::is_string) {
                    return Err(ApiError::bad(
                        "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
                    ));
                }
                if let Some(data) = button.get("callback_data") {
                    let len = data.as_str().map(str::len).unwrap_or(0);
                    if !(1..=64).contains(&len) {
                        return Err(ApiError::bad("BUTTON_DATA_INVALID"));
                    }
                }
            }
        }
        if rows.iter().all(|r| r.as_array().is_some_and(Vec::is_empty)) {
            return Ok(None);
        }
        return Ok(Some(markup));
    }
    if markup.get("force_reply").is_some()
        || markup.get("keyboard").is_some()
        || markup.get("remove_keyboard").is_some()
    {
        return Ok(Some(markup));
    }
    Err(invalid())
}

fn charge(w: &mut World, chat_id: i64, count: usize, enforce: bool) -> Result<(), ApiError> {
    if !enforce {
        return Ok(());
    }
    let is_group = w.chats[&chat_id].is_group();
    w.limiter
        .try_acquire(chat_id, is_group, count)
        .map_err(ApiError::retry_after)
}

fn send_message(w: &mut World, p: &Params, enforce: bool) -> ApiResult {
    let chat_id = target_chat(w, p.chat_id()?)?;
    let (body, html) = text_body(p)?;
    // The server checks the topic before the message replied to [src `check_reply_parameters`].
    let topic = topic_target(w, chat_id, p)?;
    let reply_to = reply_target(w, chat_id, p)?;
    let markup = reply_markup(p)?;
    charge(w, chat_id, 1, enforce)?;
    let mut message = StoredMessage::new(w.bot_id, body);
    message.html = html;
    message.reply_to = reply_to;
    message.reply_markup = markup;
    place_in_topic(&mut message, topic);
    let id = w.insert_message(chat_id, message);
    after_post(w, chat_id, &[id]);
    Ok(w.message_json_by_id(chat_id, id))
}

/// A channel post gets its automatic forward in the discussion group.
fn after_post(w: &mut World, chat_id: i64, ids: &[i32]) {
    if w.chats[&chat_id].kind == ChatKind::Channel {
        w.forward_channel_posts(chat_id, ids);
    }
}

fn guess_mime(file_name: Option<&str>) -> Option<String> {
    let ext = file_name?.rsplit_once('.')?.1.to_ascii_lowercase();
    let mime = match ext.as_str() {
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "zip" => "application/zip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "application/octet-stream",
    };
    Some(mime.to_owned())
}

/// Where a message's file comes from, checked before anything is stored.
enum MediaSource {
    Upload(Upload),
    Existing(Media),
}

/// Resolves an InputFile reference: the file part `field`, an `attach://name` reference, or a
/// known file_id (re-sending reuses the stored file, as Telegram does).
fn check_media(
    w: &World,
    p: &Params,
    field: &str,
    reference: Option<String>,
    kind: &str,
) -> Result<MediaSource, ApiError> {
    let upload = match reference.as_deref() {
        Some(r) if r.starts_with("attach://") => Some(
            p.files
                .get(&r["attach://".len()..])
                .cloned()
                .ok_or_else(|| ApiError::bad("wrong file identifier/HTTP URL specified"))?,
        ),
        Some(_) => None,
        None => Some(
            p.files
                .get(field)
                .cloned()
                .ok_or_else(|| ApiError::bad(&format!("there is no {kind} in the request")))?,
        ),
    };
    if let Some(upload) = upload {
        if upload.body.is_empty() {
            return Err(ApiError::bad("file must be non-empty"));
        }
        let cap = if kind == "photo" {
            MAX_PHOTO_UPLOAD
        } else {
            MAX_UPLOAD
        };
        if upload.body.len() > cap as u64 {
            return Err(ApiError::new(413, "Request Entity Too Large"));
        }
        return Ok(MediaSource::Upload(upload));
    }
    let file_id = reference.unwrap_or_default();
    let known = w
        .chats
        .values()
        .flat_map(|c| c.messages.values())
        .find_map(|m| match &m.media {
            Some(Media::Photo(sizes))
                if kind == "photo" && sizes.iter().any(|s| s.file_id == file_id) =>
            {
                m.media.clone()
            }
            Some(Media::Document { file_id: id, .. }) if kind == "document" && *id == file_id => {
                m.media.clone()
            }
            _ => None,
        });
    known
        .map(MediaSource::Existing)
        .ok_or_else(|| ApiError::bad("wrong file identifier/HTTP URL specified"))
}

fn store_media(w: &mut World, source: MediaSource, kind: &str) -> Media {
    match source {
        MediaSource::Existing(media) => media,
        MediaSource::Upload(upload) if kind == "photo" => w.new_photo(upload.body),
        MediaSource::Upload(upload) => {
            let file_name = upload.file_name.filter(|n| !n.is_empty());
            let mime = upload
                .content_type
                .filter(|m| m != "application/octet-stream")
                .or_else(|| guess_mime(file_name.as_deref()));
            w.new_document(upload.body, file_name, mime)
        }
    }
}

fn send_single_media(w: &mut World, p: &Params, enforce: bool, kind: &str) -> ApiResult {
    let chat_id = target_chat(w, p.chat_id()?)?;
    let (body, html) = caption_body(p.str("caption"), p.str("parse_mode"))?;
    let reference = if p.files.contains_key(kind) {
        None
    } else {
        p.str(kind)
    };
    let source = check_media(w, p, kind, reference, kind)?;
    // The server checks the topic before the message replied to [src `check_reply_parameters`].
    let topic = topic_target(w, chat_id, p)?;
    let reply_to = reply_target(w, chat_id, p)?;
    let markup = reply_markup(p)?;
    charge(w, chat_id, 1, enforce)?;
    let mut message = StoredMessage::new(w.bot_id, body);
    message.html = html;
    message.media = Some(store_media(w, source, kind));
    message.reply_to = reply_to;
    message.reply_markup = markup;
    place_in_topic(&mut message, topic);
    let id = w.insert_message(chat_id, message);
    after_post(w, chat_id, &[id]);
    Ok(w.message_json_by_id(chat_id, id))
}

fn send_media_group(w: &mut World, p: &Params, enforce: bool) -> ApiResult {
    let chat_id = target_chat(w, p.chat_id()?)?;
    let media = p
        .json("media", "InputMedia")?
        .ok_or_else(|| ApiError::bad("parameter \"media\" is required"))?;
    let items = media
        .as_array()
        .ok_or_else(|| ApiError::bad("can't parse InputMedia JSON object"))?
        .clone();
    if items.len() > 10 {
        return Err(ApiError::bad("Too many messages to send as an album"));
    }
    if items.len() < 2 {
        return Err(ApiError::bad("Too few messages to send as an album"));
    }
    let mut prepared = Vec::new();
    for item in &items {
        let kind = item["type"].as_str().unwrap_or("");
        if kind != "photo" && kind != "document" {
            return Err(ApiError::bad("can't parse InputMedia JSON object"));
        }
        let reference = item["media"]
            .as_str()
            .ok_or_else(|| ApiError::bad("can't parse InputMedia JSON object"))?
            .to_owned();
        let source = check_media(w, p, kind, Some(reference), kind)?;
        let caption = caption_body(
            item["caption"].as_str().map(str::to_owned),
            item["parse_mode"].as_str().map(str::to_owned),
        )?;
        prepared.push((kind.to_owned(), source, caption));
    }
    // The server checks the topic before the message replied to [src `check_reply_parameters`].
    let topic = topic_target(w, chat_id, p)?;
    let reply_to = reply_target(w, chat_id, p)?;
    charge(w, chat_id, prepared.len(), enforce)?;
    let group_id = w.fresh_media_group_id();
    let mut ids = Vec::new();
    for (kind, source, (body, html)) in prepared {
        let mut message = StoredMessage::new(w.bot_id, body);
        message.html = html;
        message.media = Some(store_media(w, source, &kind));
        message.reply_to = reply_to;
        message.media_group_id = Some(group_id.clone());
        place_in_topic(&mut message, topic);
        ids.push(w.insert_message(chat_id, message));
    }
    after_post(w, chat_id, &ids);
    let results = ids
        .iter()
        .map(|id| w.message_json_by_id(chat_id, *id))
        .collect();
    Ok(Value::Array(results))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum EditKind {
    Text,
    Caption,
    Markup,
}

fn edit_message(w: &mut World, p: &Params, enforce: bool, kind: EditKind) -> ApiResult {
    if p.str("inline_message_id").is_some() {
        return Err(ApiError::bad("MESSAGE_ID_INVALID"));
    }
    let chat_id = existing_chat(w, p.chat_id()?)?;
    let message_id = p.message_id()?;
    let bot_id = w.bot_id;
    let Some(current) = w.chats[&chat_id].messages.get(&message_id).cloned() else {
        return Err(ApiError::bad("message to edit not found"));
    };
    // The bot edits its own messages and, as a channel admin with can_edit_messages, any post;
    // never service messages or forwards (the automatic forward included) [src td
    // can_edit_message].
    let is_post = w.chats[&chat_id].kind == ChatKind::Channel;
    if !(current.from == Some(bot_id) || is_post)
        || current.service.is_some()
        || current.forward_origin.is_some()
    {
        return Err(ApiError::bad("message can't be edited"));
    }
    let (body, html) = match kind {
        EditKind::Text => {
            if current.media.is_some() {
                return Err(ApiError::bad("there is no text in the message to edit"));
            }
            let (body, html) = text_body(p)?;
            (body, html)
        }
        EditKind::Caption => {
            if current.media.is_none() {
                return Err(ApiError::bad("there is no caption in the message to edit"));
            }
            caption_body(p.str("caption"), p.str("parse_mode"))?
        }
        EditKind::Markup => (current.body.clone(), current.html.clone()),
    };
    // Omitting reply_markup in an edit removes the inline keyboard, as on the real server.
    let markup = reply_markup(p)?;
    if markup
        .as_ref()
        .is_some_and(|m| m.get("inline_keyboard").is_none())
    {
        return Err(ApiError::bad("message can't be edited"));
    }
    if body == current.body && markup == current.reply_markup {
        return Err(ApiError::bad(
            "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
        ));
    }
    charge(w, chat_id, 1, enforce)?;
    let date = w.now_date();
    let chat = w.chats.get_mut(&chat_id).expect("checked");
    let message = chat.messages.get_mut(&message_id).expect("checked");
    message.body = body;
    message.html = html;
    message.reply_markup = markup;
    message.edit_date = Some(date);
    message.edit_count += 1;
    Ok(w.message_json_by_id(chat_id, message_id))
}

fn delete_message(w: &mut World, p: &Params) -> ApiResult {
    let chat_id = existing_chat(w, p.chat_id()?)?;
    let message_id = p.message_id()?;
    let chat = w.chats.get_mut(&chat_id).expect("checked");
    if chat.messages.remove(&message_id).is_none() {
        return Err(ApiError::bad("message to delete not found"));
    }
    if chat.pinned == Some(message_id) {
        chat.pinned = None;
    }
    Ok(json!(true))
}

fn pin_message(w: &mut World, p: &Params) -> ApiResult {
    let chat_id = existing_chat(w, p.chat_id()?)?;
    let message_id = p.message_id()?;
    let chat = &w.chats[&chat_id];
    if chat.kind != ChatKind::Private {
        let rights = w.bot_rights(chat_id);
        let may_pin = if chat.kind == ChatKind::Channel {
            rights.can_edit_messages
        } else {
            rights.can_pin_messages
        };
        if !(rights.admin && may_pin) {
            return Err(ApiError::bad("not enough rights to pin a message"));
        }
    }
    if !chat.messages.contains_key(&message_id) {
        return Err(ApiError::bad("message to pin not found"));
    }
    w.chats.get_mut(&chat_id).expect("checked").pinned = Some(message_id);
    // The bot receives the service message even for its own pins (in a channel as a
    // `channel_post`).
    w.insert_and_queue(
        chat_id,
        StoredMessage::service(w.bot_id, Service::Pinned(message_id)),
    );
    Ok(json!(true))
}

fn answer_callback(w: &mut World, p: &Params) -> ApiResult {
    let query_id = p
        .str("callback_query_id")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::bad("query_id is empty"))?;
    let text = p.str("text");
    if text
        .as_deref()
        .is_some_and(|t| t.chars().count() > MAX_CALLBACK_ANSWER)
    {
        return Err(ApiError::bad("MESSAGE_TOO_LONG"));
    }
    let valid = w
        .queries
        .get(&query_id)
        .is_some_and(|q| !q.answered && q.created.elapsed() < CALLBACK_QUERY_TTL);
    if !valid {
        return Err(ApiError::bad(
            "query is too old and response timeout expired or query ID is invalid",
        ));
    }
    w.queries.get_mut(&query_id).expect("checked").answered = true;
    w.callback_answers.push(CallbackAnswer {
        query_id,
        text: text.filter(|t| !t.is_empty()),
        show_alert: p.flag("show_alert"),
    });
    Ok(json!(true))
}

fn get_chat(w: &mut World, p: &Params) -> ApiResult {
    let chat_id = p.chat_id()?;
    let common = json!({
        "accent_color_id": 0, "max_reaction_count": 11,
        "accepted_gift_types": {"unlimited_gifts": false, "limited_gifts": false,
                                "unique_gifts": false, "premium_subscription": false},
    });
    let mut info = if let Some(chat) = w
        .chats
        .get(&chat_id)
        .filter(|c| c.kind != ChatKind::Private)
    {
        w.chat_json(chat)
    } else if w.users.get(&chat_id).is_some_and(|u| u.can_dm) || w.chats.contains_key(&chat_id) {
        let chat = w.private_chat(chat_id).expect("user exists").clone();
        w.chat_json(&chat)
    } else {
        return Err(ApiError::bad("chat not found"));
    };
    if let (Value::Object(info), Value::Object(common)) = (&mut info, common) {
        info.extend(common);
    }
    if let Some(pinned) = w.pinned(chat_id) {
        info["pinned_message"] = w.message_json_by_id(chat_id, pinned);
    }
    if let Some(linked) = w.chats.get(&chat_id).and_then(|c| c.linked_chat) {
        info["linked_chat_id"] = json!(linked);
    }
    Ok(info)
}

fn get_chat_member(w: &mut World, p: &Params) -> ApiResult {
    let chat_id = p.chat_id()?;
    let chat = w.chats.get(&chat_id);
    if chat.is_none() && !w.users.contains_key(&chat_id) {
        return Err(ApiError::bad("chat not found"));
    }
    let user_id = p
        .int("user_id")?
        .ok_or_else(|| ApiError::bad("user not found"))?;
    if user_id != w.bot_id && !w.users.contains_key(&user_id) {
        return Err(ApiError::bad("user not found"));
    }
    let user = w.user_json(user_id);
    let group_kind = chat.map(|c| c.kind).filter(|k| *k != ChatKind::Private);
    if user_id == w.bot_id
        && let Some(kind) = group_kind
    {
        let rights = w.bot_rights(chat_id);
        if !rights.admin {
            // Telegram lets bots into channels only as administrators.
            let status = if kind == ChatKind::Channel {
                "left"
            } else {
                "member"
            };
            return Ok(json!({"user": user, "status": status}));
        }
        let mut member = json!({
            "user": user, "status": "administrator", "can_be_edited": false, "is_anonymous": false,
            "can_manage_chat": true, "can_delete_messages": true, "can_manage_video_chats": true,
            "can_restrict_members": true, "can_promote_members": true, "can_change_info": true,
            "can_invite_users": true, "can_post_stories": true, "can_edit_stories": true,
            "can_delete_stories": true,
        });
        // Rights that exist only for some chat types [doc ChatMemberAdministrator].
        match kind {
            ChatKind::Channel => {
                member["can_post_messages"] = json!(rights.can_post_messages);
                member["can_edit_messages"] = json!(rights.can_edit_messages);
            }
            ChatKind::Supergroup => {
                member["can_pin_messages"] = json!(rights.can_pin_messages);
                member["can_manage_topics"] = json!(rights.can_manage_topics);
            }
            _ => member["can_pin_messages"] = json!(rights.can_pin_messages),
        }
        return Ok(member);
    }
    let is_member = match (chat, group_kind) {
        (Some(c), Some(_)) => c.members.contains(&user_id),
        _ => user_id == chat_id || user_id == w.bot_id,
    };
    Ok(json!({"user": user, "status": if is_member { "member" } else { "left" }}))
}

fn get_file(w: &mut World, p: &Params) -> ApiResult {
    let file_id = p.str("file_id").unwrap_or_default();
    let Some(file) = w.files.get(&file_id) else {
        return Err(ApiError::bad("invalid file_id"));
    };
    if file.body.len() > MAX_DOWNLOAD as u64 {
        return Err(ApiError::bad("file is too big"));
    }
    Ok(json!({"file_id": file_id, "file_unique_id": file.unique_id,
              "file_size": file.body.len(), "file_path": file.path}))
}

/// The forum a topic method works on [src td ForumTopicManager::is_forum].
fn forum_chat(w: &World, p: &Params) -> Result<i64, ApiError> {
    let chat_id = p.chat_id()?;
    let Some(chat) = w.chats.get(&chat_id) else {
        return Err(if w.users.contains_key(&chat_id) {
            ApiError::bad("the chat is not a forum")
        } else {
            ApiError::bad("chat not found")
        });
    };
    if let Some(new_id) = chat.migrated_to {
        return Err(ApiError::migrate_to(new_id));
    }
    if !chat.is_forum {
        return Err(ApiError::bad("the chat is not a forum"));
    }
    Ok(chat_id)
}

/// The topic a topic method names: TDLib refuses ids that cannot be threads, the server ids
/// that are no topic [U].
fn existing_topic(w: &World, chat_id: i64, p: &Params) -> Result<i32, ApiError> {
    let invalid = || ApiError::bad("invalid message thread identifier specified");
    let id = p
        .int("message_thread_id")
        .map_err(|_| invalid())?
        .and_then(|id| i32::try_from(id).ok())
        .filter(|id| *id > 0)
        .ok_or_else(invalid)?;
    if w.chats[&chat_id].topics.contains_key(&id) {
        Ok(id)
    } else {
        Err(ApiError::bad("TOPIC_ID_INVALID"))
    }
}

fn create_forum_topic(w: &mut World, p: &Params, enforce: bool) -> ApiResult {
    let chat_id = forum_chat(w, p)?;
    let rights = w.bot_rights(chat_id);
    if !(rights.admin && rights.can_manage_topics) {
        return Err(ApiError::bad("not enough rights to create a topic"));
    }
    let name = clean_topic_name(&p.str("name").unwrap_or_default());
    if name.is_empty() {
        return Err(ApiError::bad("title must be non-empty"));
    }
    let icon_color = match p.int("icon_color")?.unwrap_or(0) {
        0 => DEFAULT_TOPIC_COLOR,
        color => u32::try_from(color)
            .ok()
            .filter(|c| *c <= 0xFF_FF_FF)
            .ok_or_else(|| ApiError::bad("invalid icon color specified"))?,
    };
    let emoji = p
        .str("icon_custom_emoji_id")
        .filter(|e| !e.is_empty() && e != "0");
    // "Creating a forum topic is sending a message" [maint td#2592].
    charge(w, chat_id, 1, enforce)?;
    let id = w.create_topic(chat_id, name.clone(), icon_color, emoji.clone());
    let mut topic = json!({"message_thread_id": id, "name": name, "icon_color": icon_color});
    if let Some(emoji) = emoji {
        topic["icon_custom_emoji_id"] = json!(emoji);
    }
    Ok(topic)
}

fn edit_forum_topic(w: &mut World, p: &Params) -> ApiResult {
    let chat_id = forum_chat(w, p)?;
    let topic_id = existing_topic(w, chat_id, p)?;
    let raw_name = p.str("name").unwrap_or_default();
    let name = clean_topic_name(&raw_name);
    if !raw_name.is_empty() && name.is_empty() {
        return Err(ApiError::bad("title must be non-empty"));
    }
    let emoji = p.map.contains_key("icon_custom_emoji_id").then(|| {
        p.str("icon_custom_emoji_id")
            .filter(|e| e != "0")
            .unwrap_or_default()
    });
    if name.is_empty() && emoji.is_none() {
        // TDLib answers an edit of nothing without asking the server.
        return Ok(json!(true));
    }
    let topic = &w.chats[&chat_id].topics[&topic_id];
    let new_name = (!name.is_empty() && name != topic.name).then_some(name);
    let current_emoji = topic.icon_custom_emoji_id.clone().unwrap_or_default();
    let new_emoji = emoji.filter(|e| *e != current_emoji);
    if new_name.is_none() && new_emoji.is_none() {
        return Err(ApiError::bad("TOPIC_NOT_MODIFIED"));
    }
    let topic = w
        .chats
        .get_mut(&chat_id)
        .and_then(|c| c.topics.get_mut(&topic_id))
        .expect("checked");
    if let Some(name) = &new_name {
        topic.name = name.clone();
    }
    if let Some(emoji) = &new_emoji {
        topic.icon_custom_emoji_id = Some(emoji.clone()).filter(|e| !e.is_empty());
    }
    w.topic_service(
        chat_id,
        topic_id,
        Service::TopicEdited {
            name: new_name,
            icon_custom_emoji_id: new_emoji,
        },
    );
    Ok(json!(true))
}

fn toggle_forum_topic(w: &mut World, p: &Params, close: bool) -> ApiResult {
    let chat_id = forum_chat(w, p)?;
    let topic_id = existing_topic(w, chat_id, p)?;
    let topic = w
        .chats
        .get_mut(&chat_id)
        .and_then(|c| c.topics.get_mut(&topic_id))
        .expect("checked");
    if topic.closed == close {
        return Err(ApiError::bad("TOPIC_NOT_MODIFIED"));
    }
    topic.closed = close;
    let service = if close {
        Service::TopicClosed
    } else {
        Service::TopicReopened
    };
    w.topic_service(chat_id, topic_id, service);
    Ok(json!(true))
}
