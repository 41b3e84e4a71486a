//! The HTTP side of [`FakeZnuny`]: the REST transport (routing, query parsing, error answers),
//! the request gate (outage, injected failures, recording) and the six operations of
//! `teledesk-webservice.yml`.

use super::{
    Article, CHANNELS, CUSTOMER_USERS, FakeFile, FakeZnuny, NewArticle, NewTicket, Object,
    PRIORITIES, QUEUES, SENDER_TYPES, SERVICES, TICKET_FIELDS, TYPES, Ticket, World, ZnunyCall,
};
use axum::Router;
use axum::body::to_bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use std::time::Duration;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// `MaxLength` of the shipped web service.
const MAX_LENGTH: usize = 100_000_000;
const PREFIX: &str = "/otrs/nph-genericinterface.pl/";

/// The route table of `teledesk-webservice.yml`, in operation-name order as REST.pm walks it.
const ROUTES: [(&str, &str, &str); 6] = [
    ("SessionCreate", "POST", "/Session"),
    ("SessionGet", "GET", "/Session/:SessionID"),
    ("TicketCreate", "POST", "/Ticket"),
    ("TicketGet", "GET", "/Ticket/:TicketID"),
    ("TicketSearch", "POST", "/TicketSearch"),
    ("TicketUpdate", "PATCH", "/Ticket/:TicketID"),
];

pub(super) fn router(fake: FakeZnuny) -> Router {
    Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(MAX_LENGTH + 1024))
        .with_state(fake)
}

/// An answer before it is an HTTP response.
enum Answer {
    /// HTTP 200 with JSON (operation errors included).
    Json(Value),
    /// HTTP 500 `{"faultcode": "Server", "faultstring": …}` (operation failed outright).
    Fault(String),
    /// A transport-level error: status and plain text.
    Transport(StatusCode, String),
}

impl Answer {
    fn into_response(self) -> Response {
        match self {
            Answer::Json(value) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
                value.to_string(),
            )
                .into_response(),
            // Znuny labels every non-200 answer text/plain, even the JSON fault.
            Answer::Fault(text) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
                json!({"faultcode": "Server", "faultstring": text}).to_string(),
            )
                .into_response(),
            Answer::Transport(status, text) => (
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
                text,
            )
                .into_response(),
        }
    }
}

/// `{"Error": {...}}` with HTTP 200, as `ReturnError` in Operation/Common.pm.
fn error(code: &str, message: &str) -> Answer {
    Answer::Json(json!({"Error": {"ErrorCode": code, "ErrorMessage": message}}))
}

async fn handle(State(fake): State<FakeZnuny>, request: Request) -> Response {
    let received_at = std::time::Instant::now();
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_LENGTH + 1024).await.unwrap_or_default();
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let recorded_body = if method == Method::GET || bytes.is_empty() {
        None
    } else {
        serde_json::from_slice(&bytes).ok()
    };

    let latency = fake.world().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut operation = None;
    let mut recorded_route = path.clone();
    let answer = match gate(&fake) {
        Some(answer) => answer,
        None => match route_of(&path) {
            Err(answer) => answer,
            Ok(route) => {
                let answer = match dispatch(&fake, &method, &route, &query, &bytes) {
                    Ok((op, answer)) => {
                        operation = Some(op.to_owned());
                        answer
                    }
                    Err(answer) => answer,
                };
                recorded_route = route;
                answer
            }
        },
    };
    let error_code = match &answer {
        Answer::Json(value) => value
            .pointer("/Error/ErrorCode")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    };
    let response = answer.into_response();
    let status = response.status().as_u16();
    fake.change(|w| {
        w.calls.push(ZnunyCall {
            method: method.to_string(),
            route: recorded_route,
            operation,
            query,
            body: recorded_body,
            status,
            error_code,
            received_at,
        })
    });
    response
}

/// Outage and injected failures, before the web service sees the request.
fn gate(fake: &FakeZnuny) -> Option<Answer> {
    let mut w = fake.world();
    if w.outage {
        return Some(Answer::Transport(
            StatusCode::SERVICE_UNAVAILABLE,
            "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n\
             <center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n\
             </body>\r\n</html>\r\n"
                .to_owned(),
        ));
    }
    let status = w.fail_next.pop_front()?;
    Some(if status == 500 {
        Answer::Fault("Injected failure".to_owned())
    } else {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Answer::Transport(
            status,
            status.canonical_reason().unwrap_or("Error").to_owned(),
        )
    })
}

/// The route after `Webservice/<name>` (REST.pm's `s{.*Webservice(?:ID)?\/[^\/]+(\/.*)$}{$1}`),
/// or the answer for a web service that does not exist.
fn route_of(path: &str) -> Result<String, Answer> {
    let unknown = || {
        Answer::Transport(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Could not load web service configuration for {path}"),
        )
    };
    let rest = path.strip_prefix(PREFIX).ok_or_else(unknown)?;
    let (kind, rest) = rest.split_once('/').ok_or_else(unknown)?;
    let (name, route) = rest.split_once('/').map_or((rest, ""), |(n, r)| (n, r));
    let known = match kind {
        "Webservice" => name == FakeZnuny::WEBSERVICE,
        "WebserviceID" => name == "1",
        _ => false,
    };
    if !known {
        return Err(unknown());
    }
    Ok(format!("/{route}"))
}

/// Finds the operation, builds its data (query, path parameters, JSON body) and runs it.
fn dispatch(
    fake: &FakeZnuny,
    method: &Method,
    route: &str,
    query: &str,
    bytes: &[u8],
) -> Result<(&'static str, Answer), Answer> {
    let mut found = None;
    for (operation, route_method, pattern) in ROUTES {
        if method.as_str() != route_method {
            continue;
        }
        if let Some(params) = match_route(pattern, route) {
            found = Some((operation, params));
            break;
        }
    }
    let Some((operation, params)) = found else {
        return Err(Answer::Transport(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("HTTP::REST Error while determine Operation for request URI '{route}'."),
        ));
    };
    let mut data = parse_query(query);
    for (key, value) in params {
        data.insert(key, Value::String(value));
    }
    // A GET body is never read (bug 14203), nor an empty one.
    if method != Method::GET && !bytes.is_empty() {
        if bytes.len() > MAX_LENGTH {
            return Err(Answer::Transport(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request Entity Too Large".to_owned(),
            ));
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(mut body)) if !body.is_empty() => {
                for (key, value) in std::mem::take(&mut data) {
                    // Path and query values overwrite the body's, as `@{$ReturnData}{keys} = …`.
                    body.insert(key, value);
                }
                data = body;
            }
            // Batch requests (arrays of objects) are not modelled.
            Ok(_) => {
                return Err(Answer::Transport(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Unsupported request content structure.".to_owned(),
                ));
            }
            Err(_) => {
                return Err(Answer::Transport(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Error while decoding request content.".to_owned(),
                ));
            }
        }
    }
    let answer = fake.change(|w| match operation {
        "SessionCreate" => session_create(w, &data),
        "SessionGet" => session_get(w, &data),
        "TicketCreate" => ticket_create(w, &data),
        "TicketGet" => ticket_get(w, &data),
        "TicketSearch" => ticket_search(w, &data),
        "TicketUpdate" => ticket_update(w, &data),
        _ => Answer::Fault(format!("no operation {operation}")),
    });
    Ok((operation, answer))
}

fn match_route(pattern: &str, route: &str) -> Option<Vec<(String, String)>> {
    let pattern: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    let route: Vec<&str> = route.trim_start_matches('/').split('/').collect();
    if pattern.len() != route.len() {
        return None;
    }
    let mut params = Vec::new();
    for (want, got) in pattern.iter().zip(route) {
        if let Some(name) = want.strip_prefix(':') {
            if got.is_empty() {
                return None;
            }
            params.push((name.to_owned(), percent_decode(got)));
        } else if *want != got {
            return None;
        }
    }
    Some(params)
}

/// REST.pm's query parsing: `&` or `;` separated, `+` is a space, repeated keys become arrays.
fn parse_query(query: &str) -> Object {
    let mut data = Object::new();
    for pair in query.split(['&', ';']).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(&key.replace('+', " "));
        let value = Value::String(percent_decode(&value.replace('+', " ")));
        match data.get_mut(&key) {
            None => {
                data.insert(key, value);
            }
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
        }
    }
    data
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `IsStringWithData`-style access to a value.
fn string(data: &Object, key: &str) -> Option<String> {
    match data.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Perl truthiness of a parameter (`"0"`, `""`, `0` and missing are false).
fn truthy(data: &Object, key: &str) -> bool {
    match data.get(key) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty() && s != "0",
        Some(_) => true,
    }
}

/// A string or an array of strings, as a list.
fn strings(data: &Object, key: &str) -> Vec<String> {
    match data.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(Value::Number(n)) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

/// `Operation::Common::Auth`: the user id of a valid session or login.
fn auth(w: &World, data: &Object) -> Option<i64> {
    if let Some(session) = string(data, "SessionID") {
        return w.sessions.get(&session).copied();
    }
    let login = string(data, "UserLogin")?;
    let password = string(data, "Password")?;
    w.agents
        .iter()
        .find(|a| a.login == login && a.password == password)
        .map(|a| a.id)
}

fn session_create(w: &mut World, data: &Object) -> Answer {
    if data.is_empty() {
        return error(
            "SessionCreate.MissingParameter",
            "SessionCreate: The request is empty!",
        );
    }
    if string(data, "Password").is_none() {
        return error(
            "SessionCreate.MissingParameter",
            "SessionCreate: Password parameter is missing!",
        );
    }
    // Customer logins are not modelled: teledesk always logs in as an agent.
    let user = string(data, "UserLogin").and_then(|login| {
        let password = string(data, "Password")?;
        w.agents
            .iter()
            .find(|a| a.login == login && a.password == password)
            .map(|a| a.id)
    });
    let Some(user) = user else {
        return error(
            "SessionCreate.AuthFail",
            "SessionCreate: Authorization failing!",
        );
    };
    let session = w.new_session(user);
    Answer::Json(json!({ "SessionID": session }))
}

fn session_get(w: &mut World, data: &Object) -> Answer {
    let Some(session) = string(data, "SessionID") else {
        return error(
            "SessionGet.MissingParameter",
            "SessionGet: SessionID is missing!",
        );
    };
    let Some(agent) = w.sessions.get(&session).and_then(|id| w.agent(*id)) else {
        return error(
            "SessionGet.SessionInvalid",
            "SessionGet: SessionID is Invalid!",
        );
    };
    let start = w.now().unix_timestamp().to_string();
    let mut entries = vec![
        ("UserID", agent.id.to_string()),
        ("UserLogin", agent.login.clone()),
        ("UserFirstname", agent.first_name.clone()),
        ("UserLastname", agent.last_name.clone()),
        ("UserFullname", agent.full_name()),
        ("UserEmail", agent.email()),
        ("UserType", "User".to_owned()),
        ("UserSessionStart", start.clone()),
        ("UserLastRequest", start),
        ("UserTimeZone", "Europe/Moscow".to_owned()),
    ];
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let entries: Vec<Value> = entries
        .into_iter()
        .map(|(key, value)| json!({"Key": key, "Value": value}))
        .collect();
    Answer::Json(json!({ "SessionData": entries }))
}

/// Trims every string value of a hash, as the operations do before validating.
fn trimmed(value: Option<&Value>) -> Option<Object> {
    let Value::Object(map) = value? else {
        return None;
    };
    Some(
        map.iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => Value::String(s.trim().to_owned()),
                    other => other.clone(),
                };
                (k.clone(), v)
            })
            .collect(),
    )
}

/// A hash or an array of hashes as a list (`DynamicField`, `Attachment`, `Article`).
fn hashes(value: Option<&Value>) -> Option<Vec<Object>> {
    match value? {
        Value::Object(map) if !map.is_empty() => {
            trimmed(Some(&Value::Object(map.clone()))).map(|m| vec![m])
        }
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| trimmed(Some(i)).filter(|m| !m.is_empty()))
            .collect(),
        _ => None,
    }
}

/// `ValidateCustomer`: a known customer user, or something shaped like an e-mail address.
fn valid_customer(login: &str) -> bool {
    CUSTOMER_USERS.contains(&login)
        || login
            .split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
}

/// The `^\w+/\w+` MIME part of a content type, as the operations extract it.
fn mime_of(content_type: &str) -> Option<String> {
    let lower = content_type.to_ascii_lowercase();
    let (kind, rest) = lower.split_once('/')?;
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if kind.is_empty() || !kind.chars().all(word) {
        return None;
    }
    let sub: String = rest.chars().take_while(|c| word(*c)).collect();
    (!sub.is_empty()).then(|| format!("{kind}/{sub}"))
}

/// `_CheckArticle` of TicketCreate/TicketUpdate; returns the article to create.
fn check_article(op: &str, article: &Object, files: Vec<FakeFile>) -> Result<NewArticle, Answer> {
    for needed in ["Subject", "Body"] {
        if string(article, needed).is_none() {
            return Err(error(
                &format!("{op}.MissingParameter"),
                &format!("{op}: Article->{needed} parameter is missing!"),
            ));
        }
    }
    let channel = string(article, "CommunicationChannel")
        .or_else(|| {
            string(article, "CommunicationChannelID")
                .and_then(|id| id.parse::<usize>().ok())
                .and_then(|id| CHANNELS.get(id.wrapping_sub(1)).map(|c| (*c).to_owned()))
        })
        .unwrap_or_else(|| "Internal".to_owned());
    if !CHANNELS.contains(&channel.as_str()) {
        return Err(error(
            &format!("{op}.InvalidParameter"),
            &format!(
                "{op}: Article->CommunicationChannel or Article->CommunicationChannelID parameter is invalid or not supported!"
            ),
        ));
    }
    let sender_type = string(article, "SenderType").unwrap_or_else(|| "agent".to_owned());
    if !SENDER_TYPES.contains(&sender_type.as_str()) {
        return Err(error(
            &format!("{op}.InvalidParameter"),
            &format!("{op}: Article->SenderTypeID or Ticket->SenderType parameter is invalid!"),
        ));
    }
    let content_type = match (
        string(article, "ContentType"),
        string(article, "MimeType"),
        string(article, "Charset"),
    ) {
        (Some(ct), _, _) => ct.to_ascii_lowercase(),
        (None, Some(mime), Some(charset)) => format!("{mime}; charset={charset}"),
        _ => {
            return Err(error(
                &format!("{op}.MissingParameter"),
                &format!(
                    "{op}: Article->ContentType or Ticket->MimeType and Article->Charset parameters are required!"
                ),
            ));
        }
    };
    if mime_of(&content_type).is_none() || !content_type.contains("charset=") {
        return Err(error(
            &format!("{op}.InvalidParameter"),
            &format!("{op}: Article->ContentType is invalid!"),
        ));
    }
    let visible = match article.get("IsVisibleForCustomer") {
        None | Some(Value::Null) => true,
        Some(_) => truthy(article, "IsVisibleForCustomer"),
    };
    Ok(NewArticle {
        sender_type,
        channel,
        visible,
        from: string(article, "From"),
        to: string(article, "To").unwrap_or_default(),
        subject: string(article, "Subject").unwrap_or_default(),
        body: string(article, "Body").unwrap_or_default(),
        content_type,
        files,
    })
}

/// `_CheckAttachment` and base64 decoding.
fn check_attachments(op: &str, value: Option<&Value>) -> Result<Vec<FakeFile>, Answer> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Some(items) = hashes(Some(value)) else {
        return Err(error(
            &format!("{op}.MissingParameter"),
            &format!("{op}: Attachment parameter is missing or not valid!"),
        ));
    };
    let mut files = Vec::with_capacity(items.len());
    for item in items {
        for needed in ["Content", "ContentType", "Filename"] {
            if string(&item, needed).is_none() {
                return Err(error(
                    &format!("{op}.MissingParameter"),
                    &format!("{op}: Attachment->{needed}  parameter is missing!"),
                ));
            }
        }
        let content_type = string(&item, "ContentType")
            .unwrap_or_default()
            .to_ascii_lowercase();
        if mime_of(&content_type).is_none() {
            return Err(error(
                &format!("{op}.InvalidParameter"),
                &format!("{op}: Attachment->ContentType is invalid!"),
            ));
        }
        // Perl's decode_base64 skips characters outside the alphabet.
        let compact: String = string(&item, "Content")
            .unwrap_or_default()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
            .collect();
        let bytes = BASE64
            .decode(compact.as_bytes())
            .map_err(|e| Answer::Fault(format!("Attachment could not be created: {e}")))?;
        files.push(FakeFile {
            name: string(&item, "Filename").unwrap_or_default(),
            content_type,
            bytes,
        });
    }
    Ok(files)
}

/// `_CheckDynamicField`: existing ticket fields with a string or array value.
fn check_fields(op: &str, value: Option<&Value>) -> Result<Vec<(String, Value)>, Answer> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Some(items) = hashes(Some(value)) else {
        return Err(error(
            &format!("{op}.MissingParameter"),
            &format!("{op}: DynamicField parameter is missing or not valid!"),
        ));
    };
    let mut fields = Vec::with_capacity(items.len());
    for item in items {
        let name = item.get("Name").and_then(Value::as_str).unwrap_or_default();
        let value = item.get("Value").cloned().unwrap_or(Value::Null);
        if name.is_empty() || !(value.is_string() || value.is_array()) {
            return Err(error(
                &format!("{op}.MissingParameter"),
                &format!("{op}: DynamicField->Name  parameter is missing!"),
            ));
        }
        if !TICKET_FIELDS.contains(&name) {
            return Err(error(
                &format!("{op}.InvalidParameter"),
                &format!("{op}: DynamicField->Name parameter is invalid!"),
            ));
        }
        fields.push((name.to_owned(), value));
    }
    Ok(fields)
}

fn ticket_create(w: &mut World, data: &Object) -> Answer {
    const OP: &str = "TicketCreate";
    if string(data, "UserLogin").is_none()
        && string(data, "CustomerUserLogin").is_none()
        && string(data, "SessionID").is_none()
    {
        return error(
            "TicketCreate.MissingParameter",
            "TicketCreate: UserLogin, CustomerUserLogin or SessionID is required!",
        );
    }
    let Some(user) = auth(w, data) else {
        return error(
            "TicketCreate.AuthFail",
            "TicketCreate: User could not be authenticated!",
        );
    };
    let (Some(ticket), Some(article)) = (
        trimmed(data.get("Ticket")).filter(|t| !t.is_empty()),
        trimmed(data.get("Article")).filter(|a| !a.is_empty()),
    ) else {
        let missing = if trimmed(data.get("Ticket")).is_none_or(|t| t.is_empty()) {
            "Ticket"
        } else {
            "Article"
        };
        return error(
            "TicketCreate.MissingParameter",
            &format!("TicketCreate: {missing} parameter is missing or not valid!"),
        );
    };
    let invalid = |what: &str| {
        error(
            "TicketCreate.InvalidParameter",
            &format!("TicketCreate: Ticket->{what} parameter is invalid!"),
        )
    };
    for needed in ["Title", "CustomerUser"] {
        if string(&ticket, needed).is_none() {
            return error(
                "TicketCreate.MissingParameter",
                &format!("TicketCreate: Ticket->{needed} parameter is missing!"),
            );
        }
    }
    let customer_user = string(&ticket, "CustomerUser").unwrap_or_default();
    if !valid_customer(&customer_user) {
        return invalid("CustomerUser");
    }
    let Some(queue) = string(&ticket, "Queue") else {
        return error(
            "TicketCreate.MissingParameter",
            "TicketCreate: Ticket->QueueID or Ticket->Queue parameter is required!",
        );
    };
    if !QUEUES.contains(&queue.as_str()) {
        return invalid("QueueID or Ticket->Queue");
    }
    let ticket_type = string(&ticket, "Type").unwrap_or_else(|| "Unclassified".to_owned());
    if !TYPES.contains(&ticket_type.as_str()) {
        return invalid("TypeID or Ticket->Type");
    }
    let service = string(&ticket, "Service").unwrap_or_default();
    if !service.is_empty() && !SERVICES.contains(&service.as_str()) {
        return invalid("ServiceID or Ticket->Service");
    }
    let Some(state) = string(&ticket, "State") else {
        return error(
            "TicketCreate.MissingParameter",
            "TicketCreate: Ticket->StateID or Ticket->State parameter is required!",
        );
    };
    if w.state(&state).is_none() {
        return invalid("StateID or Ticket->State");
    }
    let Some(priority) = string(&ticket, "Priority") else {
        return error(
            "TicketCreate.MissingParameter",
            "TicketCreate: Ticket->PriorityID or Ticket->Priority parameter is required!",
        );
    };
    if !PRIORITIES.contains(&priority.as_str()) {
        return invalid("PriorityID or Ticket->Priority");
    }
    let fields = match check_fields(OP, data.get("DynamicField")) {
        Ok(fields) => fields,
        Err(answer) => return answer,
    };
    let files = match check_attachments(OP, data.get("Attachment")) {
        Ok(files) => files,
        Err(answer) => return answer,
    };
    let article = match check_article(OP, &article, files) {
        Ok(article) => article,
        Err(answer) => return answer,
    };
    let id = w.create_ticket(
        NewTicket {
            title: string(&ticket, "Title").unwrap_or_default(),
            queue,
            state,
            priority,
            ticket_type,
            service,
            customer_user,
        },
        user,
    );
    let article_id = w.add_article(id, article, user);
    for (name, value) in fields {
        w.ticket_mut(id).dynamic_fields.insert(name, value);
    }
    let number = w.tickets[&id].number.clone();
    Answer::Json(json!({
        "ArticleID": article_id.to_string(),
        "TicketID": id.to_string(),
        "TicketNumber": number,
    }))
}

/// `TicketID` as `TicketGet` reads it: comma-separated or an array, positive integers only.
fn ticket_ids(data: &Object) -> Result<Vec<i64>, Answer> {
    let raw: Vec<String> = match data.get("TicketID") {
        Some(Value::String(s)) if !s.is_empty() => {
            s.split(',').map(|p| p.trim().to_owned()).collect()
        }
        Some(Value::Number(n)) => vec![n.to_string()],
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        None | Some(Value::Null) => {
            return Err(error(
                "TicketGet.MissingParameter",
                "TicketGet: TicketID parameter is missing!",
            ));
        }
        Some(_) => {
            return Err(error(
                "TicketGet.WrongStructure",
                "TicketGet: Structure for TicketID is not correct!",
            ));
        }
    };
    raw.iter()
        .map(|id| {
            id.parse::<i64>()
                .ok()
                .filter(|n| *n > 0 && !id.starts_with('0'))
                .ok_or_else(|| {
                    error(
                        "TicketGet.WrongStructure",
                        "TicketGet: Invalid ticket ID parameter(s) found!",
                    )
                })
        })
        .collect()
}

fn ticket_get(w: &mut World, data: &Object) -> Answer {
    let Some(_user) = auth(w, data) else {
        return error("TicketGet.AuthFail", "TicketGet: Authorization failing!");
    };
    let ids = match ticket_ids(data) {
        Ok(ids) => ids,
        Err(answer) => return answer,
    };
    if ids.iter().any(|id| !w.tickets.contains_key(id)) {
        return error(
            "TicketGet.AccessDenied",
            "TicketGet: User does not have access to the ticket!",
        );
    }
    let options = GetOptions {
        dynamic_fields: truthy(data, "DynamicFields"),
        all_articles: truthy(data, "AllArticles"),
        sender_types: strings(data, "ArticleSenderType"),
        descending: string(data, "ArticleOrder").as_deref() == Some("DESC"),
        limit: string(data, "ArticleLimit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(0),
        attachments: truthy(data, "Attachments"),
        contents: match data.get("GetAttachmentContents") {
            None | Some(Value::Null) => true,
            Some(_) => truthy(data, "GetAttachmentContents"),
        },
    };
    let tickets: Vec<Value> = ids
        .iter()
        .map(|id| ticket_json(w, &w.tickets[id], &options))
        .collect();
    Answer::Json(json!({ "Ticket": tickets }))
}

struct GetOptions {
    dynamic_fields: bool,
    all_articles: bool,
    sender_types: Vec<String>,
    descending: bool,
    limit: usize,
    attachments: bool,
    contents: bool,
}

fn ticket_json(w: &World, t: &Ticket, options: &GetOptions) -> Value {
    let state = w.state(&t.state);
    let owner = w.agent(t.owner_id);
    let now = w.now();
    let mut ticket = json!({
        "Age": (now - t.created).whole_seconds(),
        "ArchiveFlag": "n",
        "ChangeBy": t.change_by.to_string(),
        "Changed": w.local(t.changed),
        "CreateBy": t.create_by.to_string(),
        "Created": w.local(t.created),
        "CustomerID": t.customer_user,
        "CustomerUserID": t.customer_user,
        "EscalationResponseTime": epoch(t.escalation_response),
        "EscalationSolutionTime": epoch(t.escalation_solution),
        "EscalationTime": epoch(t.escalation_response.into_iter().chain(t.escalation_solution).min()),
        "EscalationUpdateTime": "0",
        "GroupID": "1",
        "Lock": if t.locked { "lock" } else { "unlock" },
        "LockID": if t.locked { "2" } else { "1" },
        "Owner": owner.map(|a| a.login.clone()).unwrap_or_default(),
        "OwnerID": t.owner_id.to_string(),
        "Priority": t.priority,
        "PriorityID": PRIORITIES.iter().position(|p| *p == t.priority).map(|i| (i + 1).to_string()),
        "Queue": t.queue,
        "QueueID": QUEUES.iter().position(|q| *q == t.queue).map(|i| (i + 1).to_string()),
        "RealTillTimeNotUsed": t.pending_until.map_or(0, |p| p.unix_timestamp()).to_string(),
        "Responsible": w.login_of(t.responsible_id),
        "ResponsibleID": t.responsible_id.to_string(),
        "SLA": "",
        "SLAID": "",
        "Service": t.service,
        "ServiceID": SERVICES.iter().position(|s| *s == t.service).map(|i| (i + 1).to_string()).unwrap_or_default(),
        "State": t.state,
        "StateID": state.map(|s| s.id.to_string()),
        "StateType": state.map(|s| s.type_name),
        "TicketID": t.id.to_string(),
        "TicketNumber": t.number,
        "TimeUnit": 0,
        "Title": t.title,
        "Type": t.ticket_type,
        "TypeID": TYPES.iter().position(|x| *x == t.ticket_type).map(|i| (i + 1).to_string()),
        "UnlockTimeout": "0",
        "UntilTime": t.pending_until.map_or(0, |p| (p - now).whole_seconds().max(0)),
    });
    if options.dynamic_fields {
        let fields: Vec<Value> = TICKET_FIELDS
            .iter()
            .map(|name| {
                json!({"Name": name, "Value": t.dynamic_fields.get(*name).cloned().unwrap_or(Value::Null)})
            })
            .collect();
        ticket["DynamicField"] = Value::Array(fields);
    }
    if options.all_articles {
        let all: Vec<&Article> = w
            .articles
            .values()
            .filter(|a| a.ticket_id == t.id)
            .collect();
        let mut articles: Vec<&Article> = if options.sender_types.is_empty() {
            all
        } else {
            options
                .sender_types
                .iter()
                .flat_map(|kind| all.iter().copied().filter(move |a| a.sender_type == *kind))
                .collect()
        };
        let limit = options.limit.min(articles.len());
        if limit > 0 {
            if options.descending {
                articles.reverse();
            }
            articles.truncate(limit);
        }
        if !articles.is_empty() {
            let articles: Vec<Value> = articles
                .into_iter()
                .map(|a| article_json(w, a, options))
                .collect();
            ticket["Article"] = Value::Array(articles);
        }
    }
    if w.oddities.contains(&t.id) {
        super::oddities::decorate_ticket(t.id, &mut ticket);
    }
    ticket
}

fn article_json(w: &World, a: &Article, options: &GetOptions) -> Value {
    let mime = mime_of(&a.content_type).unwrap_or_default();
    let charset = a
        .content_type
        .split("charset=")
        .nth(1)
        .map(|c| c.trim_matches(['"', '\'', ' ']).to_owned())
        .unwrap_or_default();
    let channel_id = CHANNELS
        .iter()
        .position(|c| *c == a.channel)
        .map(|i| (i + 1).to_string());
    let sender_id = SENDER_TYPES
        .iter()
        .position(|s| *s == a.sender_type)
        .map(|i| (i + 1).to_string());
    let mut article = json!({
        "ArticleID": a.id.to_string(),
        "ArticleNumber": w.articles.values().filter(|x| x.ticket_id == a.ticket_id && x.id <= a.id).count().to_string(),
        "Bcc": "",
        "Body": a.body,
        "Cc": "",
        "ChangeBy": a.create_by.to_string(),
        "ChangeTime": w.local(a.created),
        "Charset": charset,
        "CommunicationChannel": a.channel,
        "CommunicationChannelID": channel_id,
        "ContentCharset": charset,
        "ContentType": a.content_type,
        "CreateBy": a.create_by.to_string(),
        "CreateTime": w.local(a.created),
        "From": a.from,
        "InReplyTo": "",
        "IncomingTime": a.created.unix_timestamp().to_string(),
        "IsVisibleForCustomer": if a.visible { "1" } else { "0" },
        "MessageID": "",
        "MimeType": mime,
        "References": "",
        "ReplyTo": "",
        "SenderType": a.sender_type,
        "SenderTypeID": sender_id,
        "Subject": a.subject,
        "TicketID": a.ticket_id.to_string(),
        "TimeUnit": 0,
        "To": a.to,
    });
    if options.attachments && !a.files.is_empty() {
        let files: Vec<Value> = a
            .files
            .iter()
            .enumerate()
            .map(|(index, f)| {
                json!({
                    "Content": if options.contents { BASE64.encode(&f.bytes) } else { String::new() },
                    "ContentAlternative": "",
                    "ContentID": "",
                    "ContentType": f.content_type,
                    "Disposition": "attachment",
                    "FileID": (index + 1).to_string(),
                    "Filename": f.name,
                    "Filesize": format!("{} Bytes", f.bytes.len()),
                    "FilesizeRaw": f.bytes.len(),
                })
            })
            .collect();
        article["Attachment"] = Value::Array(files);
    }
    article
}

fn parse_local(w: &World, text: &str) -> Option<OffsetDateTime> {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    PrimitiveDateTime::parse(text.trim(), &format)
        .ok()
        .map(|at| at.assume_offset(w.zone))
}

/// `DynamicField` filters: `{"Name", "Equals"}` (or an array of them), else the older
/// `DynamicField_<Name>: {"Equals": …}` parameters.
fn field_filters(data: &Object) -> Vec<(String, Object)> {
    let mut filters = Vec::new();
    match data.get("DynamicField") {
        Some(Value::Object(filter)) => {
            if let Some(name) = filter.get("Name").and_then(Value::as_str) {
                filters.push((name.to_owned(), filter.clone()));
            }
        }
        Some(Value::Array(items)) => {
            for item in items {
                if let (Some(name), Value::Object(filter)) =
                    (item.get("Name").and_then(Value::as_str), item)
                {
                    filters.push((name.to_owned(), filter.clone()));
                }
            }
        }
        _ => {
            for (key, value) in data {
                if let (Some(name), Value::Object(filter)) =
                    (key.strip_prefix("DynamicField_"), value)
                {
                    filters.push((name.to_owned(), filter.clone()));
                }
            }
        }
    }
    // Unknown or invalid fields are skipped, as _GetDynamicFields loops over configured ones.
    filters.retain(|(name, _)| TICKET_FIELDS.contains(&name.as_str()));
    filters
}

fn field_matches(value: Option<&Value>, filter: &Object) -> bool {
    let text = match value {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    };
    filter
        .iter()
        .all(|(operator, wanted)| match operator.as_str() {
            "Name" => true,
            "Equals" => {
                let wanted = match wanted {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                match value {
                    Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(&wanted)),
                    _ => text.as_deref() == Some(wanted.as_str()),
                }
            }
            "Empty" => {
                let empty = text.as_deref().is_none_or(str::is_empty);
                empty == (wanted.as_str() != Some("0") && wanted.as_i64() != Some(0))
            }
            // Other operators are not modelled; they match nothing rather than everything.
            _ => false,
        })
}

fn ticket_search(w: &mut World, data: &Object) -> Answer {
    let Some(_user) = auth(w, data) else {
        return error(
            "TicketSearch.AuthFail",
            "TicketSearch: Authorization failing!",
        );
    };
    let limit = string(data, "Limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(500);
    let date = |key: &str| -> Result<Option<OffsetDateTime>, ()> {
        match string(data, key) {
            None => Ok(None),
            Some(text) => parse_local(w, &text).map(Some).ok_or(()),
        }
    };
    let (Ok(changed_after), Ok(changed_before), Ok(created_after), Ok(created_before)) = (
        date("TicketLastChangeTimeNewerDate"),
        date("TicketLastChangeTimeOlderDate"),
        date("TicketCreateTimeNewerDate"),
        date("TicketCreateTimeOlderDate"),
    ) else {
        tracing::warn!("FakeZnuny: TicketSearch got an unreadable date; nothing matches.");
        return Answer::Json(json!({}));
    };
    let created_by: Vec<i64> = strings(data, "CreatedUserIDs")
        .iter()
        .filter_map(|id| id.parse().ok())
        .collect();
    let queues = strings(data, "Queues");
    let states = strings(data, "States");
    let state_types = strings(data, "StateType");
    let priorities = strings(data, "Priorities");
    let numbers = strings(data, "TicketNumber");
    let customers = strings(data, "CustomerUserLogin");
    let filters = field_filters(data);
    let mut found: Vec<&Ticket> = w
        .tickets
        .values()
        .filter(|t| changed_after.is_none_or(|at| t.changed >= at))
        .filter(|t| changed_before.is_none_or(|at| t.changed <= at))
        .filter(|t| created_after.is_none_or(|at| t.created >= at))
        .filter(|t| created_before.is_none_or(|at| t.created <= at))
        .filter(|t| created_by.is_empty() || created_by.contains(&t.create_by))
        .filter(|t| queues.is_empty() || queues.contains(&t.queue))
        .filter(|t| states.is_empty() || states.contains(&t.state))
        .filter(|t| {
            state_types.is_empty()
                || w.state(&t.state).is_some_and(|s| {
                    state_types.iter().any(|kind| {
                        kind == s.type_name
                            || (kind == "Open"
                                && !matches!(s.type_name, "closed" | "merged" | "removed"))
                            || (kind == "Closed"
                                && matches!(s.type_name, "closed" | "merged" | "removed"))
                    })
                })
        })
        .filter(|t| priorities.is_empty() || priorities.contains(&t.priority))
        .filter(|t| numbers.is_empty() || numbers.contains(&t.number))
        .filter(|t| customers.is_empty() || customers.contains(&t.customer_user))
        .filter(|t| {
            filters
                .iter()
                .all(|(name, filter)| field_matches(t.dynamic_fields.get(name), filter))
        })
        .collect();
    match string(data, "SortBy").as_deref() {
        Some("Changed") => found.sort_by_key(|t| (t.changed, t.id)),
        Some("TicketNumber") => found.sort_by(|a, b| a.number.cmp(&b.number)),
        // "Age" sorts by creation: Down lists the oldest tickets first, as Znuny's age grows.
        _ => found.sort_by_key(|t| (std::cmp::Reverse(t.created), std::cmp::Reverse(t.id))),
    }
    if string(data, "OrderBy").as_deref() != Some("Up") {
        found.reverse();
    }
    found.truncate(limit);
    if found.is_empty() {
        return Answer::Json(json!({}));
    }
    let ids: Vec<String> = found.iter().map(|t| t.id.to_string()).collect();
    Answer::Json(json!({ "TicketID": ids }))
}

fn ticket_update(w: &mut World, data: &Object) -> Answer {
    const OP: &str = "TicketUpdate";
    if data.is_empty() {
        return error(
            "TicketUpdate.EmptyRequest",
            "TicketUpdate: The request data is invalid!",
        );
    }
    let ticket_id = string(data, "TicketID").and_then(|id| id.parse::<i64>().ok());
    let ticket_id = match (ticket_id, string(data, "TicketNumber")) {
        (Some(id), _) => Some(id),
        (None, Some(number)) => w
            .tickets
            .values()
            .find(|t| t.number == number)
            .map(|t| t.id)
            .or(Some(0)),
        (None, None) => None,
    };
    let Some(ticket_id) = ticket_id else {
        return error(
            "TicketUpdate.MissingParameter",
            "TicketUpdate: TicketID or TicketNumber is required!",
        );
    };
    if string(data, "UserLogin").is_none()
        && string(data, "CustomerUserLogin").is_none()
        && string(data, "SessionID").is_none()
    {
        return error(
            "TicketUpdate.MissingParameter",
            "TicketUpdate: UserLogin, CustomerUserLogin or SessionID is required!",
        );
    }
    let Some(user) = auth(w, data) else {
        return error(
            "TicketUpdate.AuthFail",
            "TicketUpdate: User could not be authenticated!",
        );
    };
    if !w.tickets.contains_key(&ticket_id) {
        return error(
            "TicketUpdate.AccessDenied",
            "TicketUpdate: User does not have access to the ticket!",
        );
    }
    let change = match data.get("Ticket") {
        None | Some(Value::Null) => None,
        Some(value) => match trimmed(Some(value)).filter(|t| !t.is_empty()) {
            Some(change) => Some(change),
            None => {
                return error(
                    "TicketUpdate.InvalidParameter",
                    "TicketUpdate: Ticket parameter is not valid!",
                );
            }
        },
    };
    let invalid = |what: &str| {
        error(
            "TicketUpdate.InvalidParameter",
            &format!("TicketUpdate: Ticket->{what} parameter is invalid!"),
        )
    };
    if let Some(change) = &change {
        if let Some(customer) = string(change, "CustomerUser")
            && !valid_customer(&customer)
        {
            return invalid("CustomerUser");
        }
        if let Some(queue) = string(change, "Queue")
            && !QUEUES.contains(&queue.as_str())
        {
            return invalid("QueueID or Ticket->Queue");
        }
        if let Some(lock) = string(change, "Lock")
            && !matches!(lock.as_str(), "lock" | "unlock" | "tmp_lock")
        {
            return invalid("LockID or Ticket->Lock");
        }
        if let Some(kind) = string(change, "Type")
            && !TYPES.contains(&kind.as_str())
        {
            return invalid("TypeID or Ticket->Type");
        }
        if let Some(service) = string(change, "Service")
            && !SERVICES.contains(&service.as_str())
        {
            return invalid("ServiceID or Ticket->Service");
        }
        if let Some(state) = string(change, "State")
            && w.state(&state).is_none()
        {
            return invalid("StateID or Ticket->State");
        }
        if let Some(priority) = string(change, "Priority")
            && !PRIORITIES.contains(&priority.as_str())
        {
            return invalid("PriorityID or Ticket->Priority");
        }
        for key in ["Owner", "Responsible"] {
            if let Some(login) = string(change, key)
                && w.agent_by_login(&login).is_none()
            {
                return invalid(&format!("{key}ID or Ticket->{key}"));
            }
        }
        if let Some(pending) = change.get("PendingTime")
            && pending_until(w, pending).is_none()
        {
            return invalid("PendingTime");
        }
    }
    let articles = match data.get("Article") {
        None | Some(Value::Null) => Vec::new(),
        Some(value) => match hashes(Some(value)) {
            Some(articles) => articles,
            None => {
                return error(
                    "TicketUpdate.InvalidParameter",
                    "TicketUpdate: Article parameter is not valid!",
                );
            }
        },
    };
    // With an article, top-level dynamic fields are article fields, which this fake has none of.
    let fields = if articles.is_empty() {
        match check_fields(OP, data.get("DynamicField")) {
            Ok(fields) => fields,
            Err(answer) => return answer,
        }
    } else if data.get("DynamicField").is_some() {
        return error(
            "TicketUpdate.InvalidParameter",
            "TicketUpdate: DynamicField->Name parameter is invalid!",
        );
    } else {
        Vec::new()
    };
    let mut files = match check_attachments(OP, data.get("Attachment")) {
        Ok(files) => Some(files),
        Err(answer) => return answer,
    };
    let mut new_articles = Vec::with_capacity(articles.len());
    for article in &articles {
        let own_files = match check_attachments(OP, article.get("Attachment")) {
            Ok(own) => own,
            Err(answer) => return answer,
        };
        match check_article(OP, article, own_files) {
            Ok(article) => new_articles.push(article),
            Err(answer) => return answer,
        }
    }
    if let Some(change) = &change
        && let Some(state) = string(change, "State")
        && w.state(&state)
            .is_some_and(|s| s.type_name.starts_with("pending"))
        && change.get("PendingTime").is_none()
    {
        return error(
            "TicketUpdate.MissingParameter",
            "Can't set a ticket on a pending state without pendig time!",
        );
    }

    // Apply, in _TicketUpdate's order; only real changes touch `Changed`.
    if let Some(change) = &change {
        let mut touched = false;
        let before = w.tickets[&ticket_id].clone();
        if let Some(title) = string(change, "Title")
            && title != before.title
        {
            w.ticket_mut(ticket_id).title = title;
            touched = true;
        }
        if let Some(queue) = string(change, "Queue")
            && queue != before.queue
        {
            w.ticket_mut(ticket_id).queue = queue;
            touched = true;
        }
        if let Some(lock) = string(change, "Lock") {
            let locked = lock != "unlock";
            if locked != before.locked {
                w.ticket_mut(ticket_id).locked = locked;
                touched = true;
            }
        }
        if let Some(kind) = string(change, "Type")
            && kind != before.ticket_type
        {
            w.ticket_mut(ticket_id).ticket_type = kind;
            touched = true;
        }
        if let Some(state) = string(change, "State") {
            if let Some(pending) = change.get("PendingTime")
                && w.state(&state)
                    .is_some_and(|s| s.type_name.starts_with("pending"))
            {
                let until = pending_until(w, pending);
                w.ticket_mut(ticket_id).pending_until = until;
            }
            if w.state(&state).is_some_and(|s| s.type_name == "closed")
                && w.tickets[&ticket_id].locked
            {
                w.ticket_mut(ticket_id).locked = false;
                touched = true;
            }
            if state != before.state {
                w.ticket_mut(ticket_id).state = state;
                touched = true;
            }
        }
        if let Some(service) = string(change, "Service")
            && service != before.service
        {
            w.ticket_mut(ticket_id).service = service;
            touched = true;
        }
        if let Some(customer) = string(change, "CustomerUser")
            && customer != before.customer_user
        {
            w.ticket_mut(ticket_id).customer_user = customer;
            touched = true;
        }
        if let Some(priority) = string(change, "Priority")
            && priority != before.priority
        {
            w.ticket_mut(ticket_id).priority = priority;
            touched = true;
        }
        if let Some(owner) = string(change, "Owner")
            && let Some(id) = w.agent_by_login(&owner).map(|a| a.id)
            && id != before.owner_id
        {
            w.ticket_mut(ticket_id).owner_id = id;
            touched = true;
        }
        if let Some(responsible) = string(change, "Responsible")
            && let Some(id) = w.agent_by_login(&responsible).map(|a| a.id)
            && id != before.responsible_id
        {
            w.ticket_mut(ticket_id).responsible_id = id;
            touched = true;
        }
        if touched {
            w.touch(ticket_id, user);
        }
    }
    let mut article_ids = Vec::with_capacity(new_articles.len());
    for mut article in new_articles {
        if let Some(extra) = files.take() {
            article.files.extend(extra);
        }
        article_ids.push(w.add_article(ticket_id, article, user));
    }
    if !fields.is_empty() {
        for (name, value) in fields {
            w.ticket_mut(ticket_id).dynamic_fields.insert(name, value);
        }
        w.touch(ticket_id, user);
    }
    let number = w.tickets[&ticket_id].number.clone();
    let mut answer = json!({"TicketID": ticket_id.to_string(), "TicketNumber": number});
    match article_ids.as_slice() {
        [] => {}
        [one] => answer["ArticleID"] = json!(one.to_string()),
        many => {
            answer["ArticleIDs"] =
                Value::Array(many.iter().map(|id| json!(id.to_string())).collect());
        }
    }
    Answer::Json(answer)
}

/// `ValidatePendingTime`: `{"Diff": minutes}` or `{"Year", "Month", "Day", "Hour", "Minute"}`.
fn pending_until(w: &World, value: &Value) -> Option<OffsetDateTime> {
    let Value::Object(parts) = value else {
        return None;
    };
    let number = |key: &str| -> Option<i64> {
        match parts.get(key)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    };
    if let Some(diff) = number("Diff") {
        return (diff >= 0).then(|| w.now() + Duration::from_secs(diff as u64 * 60));
    }
    let text = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:00",
        number("Year")?,
        number("Month")?,
        number("Day")?,
        number("Hour")?,
        number("Minute")?
    );
    parse_local(w, &text)
}

/// An escalation time as TicketGet shows it: epoch seconds as a string, `"0"` for none.
fn epoch(at: Option<OffsetDateTime>) -> String {
    at.map_or(0, OffsetDateTime::unix_timestamp).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn latency_delays_every_answer_and_calls_record_their_arrival() {
        let fake = FakeZnuny::start().await;
        fake.set_latency(std::time::Duration::from_millis(150));
        let started = std::time::Instant::now();
        let url = format!("{}/Session", fake.url());
        let answer = reqwest::Client::new()
            .post(&url)
            .json(&json!({"UserLogin": FakeZnuny::AGENT_LOGIN, "Password": FakeZnuny::AGENT_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200);
        assert!(started.elapsed() >= std::time::Duration::from_millis(150));
        let calls = fake.calls();
        assert_eq!(calls.len(), 1);
        assert!(calls[0].received_at >= started);
        assert_eq!(calls[0].operation.as_deref(), Some("SessionCreate"));
    }

    #[test]
    fn query_keys_given_twice_become_arrays() {
        let data = parse_query("TicketID=1&TicketID=2;AllArticles=1&Title=a+b%20c");
        assert_eq!(data["TicketID"], json!(["1", "2"]));
        assert_eq!(data["AllArticles"], json!("1"));
        assert_eq!(data["Title"], json!("a b c"));
    }

    #[test]
    fn routes_match_like_rest_pm() {
        assert_eq!(
            route_of("/otrs/nph-genericinterface.pl/Webservice/teledesk/Ticket/12").ok(),
            Some("/Ticket/12".to_owned())
        );
        assert_eq!(
            route_of("/otrs/nph-genericinterface.pl/WebserviceID/1/Session").ok(),
            Some("/Session".to_owned())
        );
        assert!(route_of("/otrs/nph-genericinterface.pl/Webservice/other/Ticket").is_err());
        assert_eq!(
            match_route("/Ticket/:TicketID", "/Ticket/1,2"),
            Some(vec![("TicketID".to_owned(), "1,2".to_owned())])
        );
        assert_eq!(match_route("/Ticket/:TicketID", "/Ticket"), None);
        assert_eq!(
            match_route("/TicketSearch", "/TicketSearch"),
            Some(Vec::new())
        );
    }

    #[test]
    fn content_types_are_checked_like_znuny() {
        assert_eq!(
            mime_of("text/plain; charset=utf8").as_deref(),
            Some("text/plain")
        );
        assert_eq!(
            mime_of("application/octet-stream").as_deref(),
            Some("application/octet")
        );
        assert_eq!(mime_of("x-world/x-vrml"), None);
        assert!(valid_customer("telegram"));
        assert!(valid_customer("client@example.com"));
        assert!(!valid_customer("nobody"));
    }
}
