//! The HTTP side of [`FakeRt`]: routes, the request gate (outage, auth, injected failures,
//! recording) and REST2's JSON shapes.

use super::{
    FakeRt, NOBODY, NewFile, PRIORITY_LABELS, Part, RtCall, Ticket, Transaction, User, World,
    db_time, format_time,
};
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::Engine;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const MAX_BODY: usize = 64 * 1024 * 1024;
const DEFAULT_PAGE: usize = 20;
const MAX_PAGE: usize = 100;
const API: &str = "/REST/2.0";
const UNSET: &str = "1970-01-01T00:00:00Z";

pub(super) fn router(fake: FakeRt) -> Router {
    let api = Router::new()
        .route("/rt", get(rt_info))
        .route("/user/{key}", get(get_user))
        .route("/queue/{key}", get(get_queue))
        .route("/customfield/{id}", get(get_custom_field))
        .route("/ticket", post(create_ticket))
        .route(
            "/ticket/{id}",
            get(get_ticket).put(update_ticket).delete(delete_ticket),
        )
        .route("/ticket/{id}/correspond", post(correspond))
        .route("/ticket/{id}/comment", post(comment))
        .route("/ticket/{id}/history", get(history))
        .route(
            "/ticket/{id}/attachments",
            get(ticket_attachments).post(ticket_attachments),
        )
        .route("/tickets", get(search_tickets))
        .route(
            "/transactions",
            get(search_transactions).post(search_transactions),
        )
        .route(
            "/transaction/{id}/attachments",
            get(transaction_attachments),
        )
        .route(
            "/attachments",
            get(search_attachments).post(search_attachments),
        )
        .route("/attachment/{id}", get(get_attachment));
    Router::new()
        .nest(API, api)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Not Found") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(fake.clone(), gate))
        .with_state(fake)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

/// A refusal in REST2's error shape; small, so handlers can use `?`.
struct Reject {
    status: StatusCode,
    message: String,
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        error(self.status, &self.message)
    }
}

type Answer = Result<Response, Reject>;

fn reject(status: StatusCode, message: impl Into<String>) -> Reject {
    Reject {
        status,
        message: message.into(),
    }
}

fn bad_request(message: impl Into<String>) -> Reject {
    reject(StatusCode::BAD_REQUEST, message)
}

fn not_found() -> Reject {
    reject(StatusCode::NOT_FOUND, "Not Found")
}

fn server_error() -> Reject {
    reject(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

/// The authenticated user, put into the request by [`gate`].
#[derive(Clone, Copy, Debug)]
struct Actor(i64);

/// Where a handler that parsed a multipart body leaves its `JSON` part for the call record.
#[derive(Clone, Default)]
struct RecordedBody(Arc<Mutex<Option<Value>>>);

/// What every request goes through before its handler, and how it is recorded after.
async fn gate(State(fake): State<FakeRt>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let recorded = RecordedBody::default();
    if is_json {
        *recorded.0.lock().unwrap_or_else(|e| e.into_inner()) = serde_json::from_slice(&bytes).ok();
    }
    let method = parts.method.to_string();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("token "))
        .map(str::trim)
        .map(str::to_owned);

    let admitted = {
        let mut w = fake.world();
        if w.outage {
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><head><title>503 Service Unavailable</title></head><body>\
                 <h1>Service Unavailable</h1></body></html>\n",
            )
                .into_response())
        } else {
            match w
                .users
                .iter()
                .find(|u| u.token.is_some() && u.token == token)
                .map(|u| (u.id, u.name.clone()))
            {
                None => Err(error(StatusCode::UNAUTHORIZED, "Unauthorized")),
                Some(user) => match w.fail_next.take(parts.method.as_str()) {
                    Some(status) => {
                        let status = StatusCode::from_u16(status)
                            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                        Err(error(status, "Injected failure"))
                    }
                    None => Ok(user),
                },
            }
        }
    };
    let (response, user) = match admitted {
        Err(refusal) => (refusal, None),
        Ok((id, login)) => {
            parts.extensions.insert(Actor(id));
            parts.extensions.insert(recorded.clone());
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            (response, Some(login))
        }
    };
    let status = response.status().as_u16();
    let body = recorded.0.lock().unwrap_or_else(|e| e.into_inner()).take();
    fake.change(|w| {
        w.calls.push(RtCall {
            method,
            path,
            query,
            body,
            user,
            status,
        })
    });
    response
}

// ---------------------------------------------------------------------------------------------
// Shapes

fn url(w: &World, path: &str) -> String {
    format!("{}{API}{path}", w.base_url)
}

fn user_ref(w: &World, id: i64, subfields: &[String]) -> Value {
    let user = w.user(id);
    let login = user.map(|u| u.name.clone()).unwrap_or_default();
    let mut value = json!({
        "type": "user",
        "id": login,
        "_url": url(w, &format!("/user/{login}")),
    });
    for field in subfields {
        let v = match (field.as_str(), user) {
            ("Name", Some(u)) => json!(u.name),
            ("RealName", Some(u)) => json!(u.real_name),
            ("EmailAddress", Some(u)) => json!(u.email),
            ("id", Some(u)) => json!(u.id),
            _ => json!(""),
        };
        value[field.as_str()] = v;
    }
    value
}

fn record_ref(w: &World, kind: &str, id: i64) -> Value {
    json!({"type": kind, "id": id.to_string(), "_url": url(w, &format!("/{kind}/{id}"))})
}

fn user_json(w: &World, u: &User) -> Value {
    json!({
        "id": u.id,
        "Name": u.name,
        "RealName": u.real_name,
        "EmailAddress": u.email,
        "Gecos": u.name,
        "Comments": "",
        "Timezone": "",
        "Privileged": 1,
        "Disabled": "0",
        "Created": UNSET,
        "LastUpdated": UNSET,
        "Creator": user_ref(w, super::RT_SYSTEM, &[]),
        "LastUpdatedBy": user_ref(w, super::RT_SYSTEM, &[]),
        "CustomFields": [],
        "Memberships": [],
        "_hyperlinks": [
            {"ref": "self", "type": "user", "id": u.id, "_url": url(w, &format!("/user/{}", u.id))},
            {"ref": "history", "_url": url(w, &format!("/user/{}/history", u.id))},
            {"ref": "memberships", "_url": url(w, &format!("/user/{}/groups", u.id))},
        ],
    })
}

const LINK_TYPES: [(&str, &str, &str); 3] = [
    ("RefersTo", "refers-to", "referred-to-by"),
    ("DependsOn", "depends-on", "depended-on-by"),
    ("MemberOf", "parent", "child"),
];

fn ticket_json(w: &World, t: &Ticket) -> Value {
    let mut links = vec![json!({
        "ref": "self", "type": "ticket", "id": t.id, "_url": url(w, &format!("/ticket/{}", t.id)),
    })];
    for (kind, forward, backward) in LINK_TYPES {
        for (_, target) in t.links.iter().filter(|(k, _)| k == kind) {
            let mut link = record_ref(w, "ticket", *target);
            link["ref"] = json!(forward);
            links.push(link);
        }
        for other in w.tickets.values() {
            if other
                .links
                .iter()
                .any(|(k, target)| k == kind && *target == t.id)
            {
                let mut link = record_ref(w, "ticket", other.id);
                link["ref"] = json!(backward);
                links.push(link);
            }
        }
    }
    links.push(json!({"ref": "history", "_url": url(w, &format!("/ticket/{}/history", t.id))}));
    links.push(
        json!({"ref": "correspond", "_url": url(w, &format!("/ticket/{}/correspond", t.id))}),
    );
    links.push(json!({"ref": "comment", "_url": url(w, &format!("/ticket/{}/comment", t.id))}));
    for to in super::STATUSES.iter().filter(|s| **s != t.status) {
        links.push(json!({
            "ref": "lifecycle", "from": t.status, "to": to,
            "label": capitalize(to), "_url": url(w, &format!("/ticket/{}", t.id)),
        }));
    }
    let custom_fields: Vec<Value> = w
        .custom_fields
        .iter()
        .map(|cf| {
            let mut value = record_ref(w, "customfield", cf.id);
            value["name"] = json!(cf.name);
            value["values"] = json!(t.custom_fields.get(&cf.id).cloned().unwrap_or_default());
            value
        })
        .collect();
    let mut ticket = json!({
        "id": t.id,
        "Type": "ticket",
        "Subject": t.subject,
        "Status": t.status,
        "Priority": t.priority,
        "InitialPriority": "0",
        "FinalPriority": "0",
        "Queue": record_ref(w, "queue", t.queue),
        "Owner": user_ref(w, t.owner, &[]),
        "Creator": user_ref(w, t.creator, &[]),
        "LastUpdatedBy": user_ref(w, t.last_updated_by, &[]),
        "Requestor": t.requestors.iter().map(|r| user_ref(w, *r, &[])).collect::<Vec<_>>(),
        "Cc": [],
        "AdminCc": [],
        "EffectiveId": record_ref(w, "ticket", t.id),
        "Created": format_time(t.created),
        "LastUpdated": format_time(t.last_updated),
        "Resolved": t.resolved.map_or_else(|| UNSET.to_owned(), format_time),
        "Started": UNSET,
        "Starts": UNSET,
        "Due": t.due.map_or_else(|| UNSET.to_owned(), format_time),
        "TimeWorked": "0",
        "TimeEstimated": "0",
        "TimeLeft": "0",
        "CustomFields": custom_fields,
        "_hyperlinks": links,
    });
    super::oddities::ticket(w, t.id, &mut ticket);
    ticket
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Content as a collection shows it: decoded text, or bytes as Latin-1 characters.
fn collection_content(p: &Part) -> String {
    if p.content_type.to_ascii_lowercase().starts_with("text/") {
        String::from_utf8_lossy(&p.bytes).into_owned()
    } else {
        p.bytes.iter().map(|b| char::from(*b)).collect()
    }
}

/// Base64 in 76-column lines, as Perl's MIME::Base64 writes it.
fn mime_base64(bytes: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 76 + 1);
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

fn part_headers(p: &Part) -> String {
    if p.filename.is_empty() {
        format!(
            "Content-Type: {}; charset=\"utf-8\"\nContent-Transfer-Encoding: binary\n\
             Content-Disposition: inline\nX-RT-Original-Encoding: utf-8\nContent-Length: {}",
            p.content_type,
            p.bytes.len()
        )
    } else {
        format!(
            "Content-Transfer-Encoding: base64\nContent-Type: {}; name=\"{}\"\n\
             Content-Disposition: inline; filename=\"{}\"\nContent-Length: {}",
            p.content_type,
            p.filename,
            p.filename,
            p.bytes.len()
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Collections: fields, paging, ordering, JSON searches

/// Query parameters, repeated keys kept.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(query: Option<&str>) -> Self {
        let pairs = query
            .map(|q| {
                q.split('&')
                    .filter(|p| !p.is_empty())
                    .map(|pair| {
                        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                        (decode(k), decode(v))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self(pairs)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn with_page(&self, page: usize) -> String {
        let mut pairs: Vec<String> = self
            .0
            .iter()
            .filter(|(k, _)| k != "page")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        pairs.push(format!("page={page}"));
        pairs.join("&")
    }
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or_default();
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A page of `items` (already filtered and ordered) in REST2's collection shape.
fn collection(w: &World, path: &str, params: &Params, items: Vec<Value>) -> Response {
    let per_page = params
        .get("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(DEFAULT_PAGE, |n| n.clamp(1, MAX_PAGE));
    let page = params
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let total = items.len();
    let pages = total.div_ceil(per_page);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut body = json!({
        "count": slice.len(),
        "page": page,
        "per_page": per_page,
        "total": total,
        // RT's arithmetic makes an empty result "0.0".
        "pages": if total == 0 { json!(0.0) } else { json!(pages) },
        "items": slice,
    });
    if page < pages {
        body["next_page"] = json!(format!("{}?{}", url(w, path), params.with_page(page + 1)));
    }
    if page > 1 {
        body["prev_page"] = json!(format!("{}?{}", url(w, path), params.with_page(page - 1)));
    }
    Json(body).into_response()
}

/// One condition of a JSON search.
struct Condition {
    field: String,
    operator: String,
    value: String,
}

/// Reads a JSON search from a POST body or the `query` parameter; `None` when there is none.
fn conditions(
    body: &Bytes,
    params: &Params,
    method: &Method,
) -> Result<Option<Vec<Condition>>, Reject> {
    let text = if *method == Method::POST {
        String::from_utf8_lossy(body).into_owned()
    } else {
        params.get("query").unwrap_or_default().to_owned()
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let value: Value =
        serde_json::from_str(&text).map_err(|e| bad_request(format!("JSON parse error: {e}")))?;
    let Value::Array(items) = value else {
        return Err(bad_request("JSON object must be a ARRAY"));
    };
    let mut out = Vec::new();
    for item in items {
        let (Some(field), Some(value)) =
            (item.get("field").and_then(Value::as_str), item.get("value"))
        else {
            continue;
        };
        let value = match value {
            Value::String(s) => s.clone(),
            Value::Null => continue,
            other => other.to_string(),
        };
        out.push(Condition {
            field: field.to_owned(),
            operator: item
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or("=")
                .trim()
                .to_ascii_uppercase(),
            value,
        });
    }
    Ok(Some(out))
}

fn compare(actual: &str, operator: &str, wanted: &str) -> bool {
    let numbers = actual
        .trim()
        .parse::<f64>()
        .ok()
        .zip(wanted.trim().parse::<f64>().ok());
    let ordering = match numbers {
        Some((a, b)) => a.partial_cmp(&b),
        None => Some(actual.to_lowercase().cmp(&wanted.to_lowercase())),
    };
    let like = || actual.to_lowercase().contains(&wanted.to_lowercase());
    match operator {
        "=" => ordering == Some(std::cmp::Ordering::Equal),
        "!=" | "<>" => ordering != Some(std::cmp::Ordering::Equal),
        ">" => ordering == Some(std::cmp::Ordering::Greater),
        ">=" => matches!(
            ordering,
            Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)
        ),
        "<" => ordering == Some(std::cmp::Ordering::Less),
        "<=" => matches!(
            ordering,
            Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
        ),
        "LIKE" => like(),
        "NOT LIKE" => !like(),
        _ => false,
    }
}

/// Whether a record passes the conditions: the same field OR-ed, different fields AND-ed;
/// conditions on fields the record type does not have are ignored, as RT does.
fn matches(conditions: &[Condition], value_of: impl Fn(&str) -> Option<String>) -> bool {
    let mut groups: BTreeMap<&str, bool> = BTreeMap::new();
    for c in conditions {
        let Some(actual) = value_of(&c.field) else {
            continue;
        };
        let hit = compare(&actual, &c.operator, &c.value);
        let group = groups.entry(c.field.as_str()).or_insert(false);
        *group |= hit;
    }
    groups.values().all(|hit| *hit)
}

/// Whether any condition applies to the record type (RT returns nothing for a search without
/// any usable condition).
fn any_applies(conditions: &[Condition], value_of: impl Fn(&str) -> Option<String>) -> bool {
    conditions.iter().any(|c| value_of(&c.field).is_some())
}

fn txn_value(t: &Transaction, field: &str) -> Option<String> {
    Some(match field {
        "id" => t.id.to_string(),
        "Type" => t.kind.clone(),
        "ObjectType" => "RT::Ticket".into(),
        "ObjectId" => t.ticket.to_string(),
        "Creator" => t.creator.to_string(),
        "Created" => db_time(t.created),
        "Field" => t.field.clone(),
        "OldValue" => t.old_value.clone(),
        "NewValue" => t.new_value.clone(),
        "Data" => t.data.clone(),
        _ => return None,
    })
}

fn part_value(p: &Part, field: &str) -> Option<String> {
    Some(match field {
        "id" => p.id.to_string(),
        "TransactionId" => p.transaction.to_string(),
        "Parent" => p.parent.to_string(),
        "ContentType" => p.content_type.clone(),
        "Filename" => p.filename.clone(),
        "Content" => String::from_utf8_lossy(&p.bytes).into_owned(),
        "Creator" => p.creator.to_string(),
        "Created" => db_time(p.created),
        _ => return None,
    })
}

fn order<T>(items: &mut [T], params: &Params, key: impl Fn(&T, &str) -> Option<String>) {
    let field = params.get("orderby").unwrap_or("id").to_owned();
    items.sort_by(|a, b| {
        let (ka, kb) = (key(a, &field), key(b, &field));
        match (
            ka.as_deref().and_then(|v| v.parse::<i64>().ok()),
            kb.as_deref().and_then(|v| v.parse::<i64>().ok()),
        ) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => ka.cmp(&kb),
        }
        .then_with(|| {
            key(a, "id")
                .and_then(|v| v.parse::<i64>().ok())
                .cmp(&key(b, "id").and_then(|v| v.parse::<i64>().ok()))
        })
    });
    if params
        .get("order")
        .is_some_and(|o| o.eq_ignore_ascii_case("DESC"))
    {
        items.reverse();
    }
}

fn txn_item(w: &World, t: &Transaction, params: &Params) -> Value {
    let mut item = json!({
        "type": "transaction",
        "id": t.id.to_string(),
        "_url": url(w, &format!("/transaction/{}", t.id)),
    });
    for field in params.list("fields") {
        let value = match field.as_str() {
            "Creator" => user_ref(w, t.creator, &params.list("fields[Creator]")),
            "Created" => json!(format_time(t.created)),
            "TimeTaken" => json!("0"),
            other => json!(txn_value(t, other).unwrap_or_default()),
        };
        item[field.as_str()] = value;
    }
    item
}

fn part_item(w: &World, p: &Part, params: &Params) -> Result<Value, Reject> {
    let mut item = json!({
        "type": "attachment",
        "id": p.id.to_string(),
        "_url": url(w, &format!("/attachment/{}", p.id)),
    });
    for field in params.list("fields") {
        let value = match field.as_str() {
            "Creator" => user_ref(w, p.creator, &params.list("fields[Creator]")),
            "Created" => json!(format_time(p.created)),
            "Content" => json!(collection_content(p)),
            "ContentLength" => json!(p.bytes.len().to_string()),
            "Headers" => json!(part_headers(p)),
            "Subject" | "MessageId" => json!(""),
            // RT 5.0.3 dies expanding `Parent` of a top-level part (500, empty body).
            "Parent" if p.parent == 0 => return Err(server_error()),
            "Parent" => record_ref(w, "attachment", p.parent),
            other => json!(part_value(p, other).unwrap_or_default()),
        };
        item[field.as_str()] = value;
    }
    Ok(item)
}

fn part_items(w: &World, parts: Vec<&Part>, params: &Params) -> Result<Vec<Value>, Reject> {
    parts.into_iter().map(|p| part_item(w, p, params)).collect()
}

// ---------------------------------------------------------------------------------------------
// Handlers

async fn rt_info() -> Response {
    Json(json!({"Version": "5.0.3+fake", "Plugins": []})).into_response()
}

async fn get_user(State(fake): State<FakeRt>, Path(key): Path<String>) -> Answer {
    let w = fake.world();
    let user = w.find_user(&key).ok_or_else(not_found)?;
    Ok(Json(user_json(&w, user)).into_response())
}

async fn get_queue(State(fake): State<FakeRt>, Path(key): Path<String>) -> Answer {
    let w = fake.world();
    let queue = w.queue(&key).ok_or_else(not_found)?;
    let fields: Vec<Value> = w
        .custom_fields
        .iter()
        .map(|cf| record_ref(&w, "customfield", cf.id))
        .collect();
    Ok(Json(json!({
        "id": queue.id,
        "Name": queue.name,
        "Description": "",
        "Lifecycle": "default",
        "Disabled": "0",
        "SortOrder": "0",
        "SLADisabled": "1",
        "Created": UNSET,
        "LastUpdated": UNSET,
        "Creator": user_ref(&w, super::RT_SYSTEM, &[]),
        "LastUpdatedBy": user_ref(&w, super::RT_SYSTEM, &[]),
        "CorrespondAddress": "",
        "CommentAddress": "",
        "CustomFields": [],
        "TicketCustomFields": fields,
        "TicketTransactionCustomFields": [],
        "Cc": [],
        "AdminCc": [],
        "_hyperlinks": [
            {"ref": "self", "type": "queue", "id": queue.id, "_url": url(&w, &format!("/queue/{}", queue.id))},
            {"ref": "create", "type": "ticket", "_url": url(&w, &format!("/ticket?Queue={}", queue.id))},
        ],
    }))
    .into_response())
}

async fn get_custom_field(State(fake): State<FakeRt>, Path(id): Path<String>) -> Answer {
    let w = fake.world();
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let cf = w
        .custom_fields
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(not_found)?;
    Ok(Json(json!({
        "id": cf.id,
        "Name": cf.name,
        "Type": "Freeform",
        "LookupType": "RT::Queue-RT::Ticket",
        "MaxValues": 1,
        "Disabled": "0",
    }))
    .into_response())
}

/// A message as REST2 reads it: a JSON object, or multipart with a `JSON` part and
/// `Attachments` parts.
struct Incoming {
    json: Map<String, Value>,
    files: Vec<NewFile>,
}

async fn read_incoming(request: Request, recorded: &RecordedBody) -> Result<Incoming, Reject> {
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !is_multipart {
        let bytes = to_bytes(request.into_body(), MAX_BODY)
            .await
            .map_err(|_| bad_request("Cannot read the body"))?;
        let json: Value = serde_json::from_slice(&bytes)
            .map_err(|e| bad_request(format!("JSON parse error: {e}")))?;
        let Value::Object(json) = json else {
            return Err(bad_request("JSON object must be a HASH"));
        };
        let files = json_attachments(&json)?;
        return Ok(Incoming { json, files });
    }
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|_| bad_request("Invalid multipart body"))?;
    let invalid = |_| bad_request("Invalid multipart body");
    let mut json = None;
    let mut files = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(invalid)? {
        match field.name() {
            Some("JSON") => {
                let text = field.text().await.map_err(invalid)?;
                let value: Value = serde_json::from_str(&text)
                    .map_err(|e| bad_request(format!("JSON parse error: {e}")))?;
                json = value.as_object().cloned();
            }
            Some("Attachments") => {
                let name = field.file_name().unwrap_or_default().to_owned();
                let content_type = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                let bytes = field.bytes().await.map_err(invalid)?;
                files.push(NewFile {
                    name,
                    content_type,
                    bytes: bytes.to_vec(),
                });
            }
            _ => {}
        }
    }
    let json =
        json.ok_or_else(|| bad_request("JSON is a required field for multipart/form-data"))?;
    *recorded.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(Value::Object(json.clone()));
    let mut all = json_attachments(&json)?;
    all.extend(files);
    Ok(Incoming { json, files: all })
}

/// `Attachments` inside the JSON: each needs `FileName`, `FileType` and base64 `FileContent`.
fn json_attachments(json: &Map<String, Value>) -> Result<Vec<NewFile>, Reject> {
    let Some(items) = json.get("Attachments") else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = items else {
        return Err(bad_request("Attachments must be an array"));
    };
    let mut files = Vec::new();
    for item in items {
        let field = |name: &str| -> Result<String, Reject> {
            item.get(name)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| {
                    bad_request(format!(
                        "{name} is a required field for each attachment in Attachments"
                    ))
                })
        };
        let name = field("FileName")?;
        let content_type = field("FileType")?;
        let content = field("FileContent")?;
        // RT 5.0.3 fails on non-ASCII names in JSON attachments and rolls the message back.
        if !name.is_ascii() {
            return Err(server_error());
        }
        let packed: String = content
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(packed)
            .map_err(|_| bad_request("FileContent must be base64"))?;
        files.push(NewFile {
            name,
            content_type,
            bytes,
        });
    }
    Ok(files)
}

fn string_list(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().flat_map(string_list).collect(),
        Value::String(s) => s
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        Value::Number(n) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

/// Custom field values by field id; unknown fields are skipped, as RT does.
fn custom_field_values(w: &World, json: &Map<String, Value>) -> Vec<(i64, Vec<String>)> {
    let Some(Value::Object(fields)) = json.get("CustomFields") else {
        return Vec::new();
    };
    fields
        .iter()
        .filter_map(|(key, value)| {
            let cf = w.custom_field(key)?;
            Some((cf.id, string_list(value)))
        })
        .collect()
}

async fn create_ticket(
    State(fake): State<FakeRt>,
    Extension(actor): Extension<Actor>,
    Extension(recorded): Extension<RecordedBody>,
    request: Request,
) -> Answer {
    let Incoming { json, files } = read_incoming(request, &recorded).await?;
    let text = |key: &str| json.get(key).and_then(Value::as_str).map(str::to_owned);
    let queue_key = json
        .get("Queue")
        .map(|q| match q {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .unwrap_or_default();
    let (id, location) = fake.change(|w| {
        let Some(queue) = w.queue(&queue_key).map(|q| q.id) else {
            return Err(reject(
                StatusCode::FORBIDDEN,
                format!("No permission to create tickets in the queue '{queue_key}'"),
            ));
        };
        let owner = match json.get("Owner").and_then(Value::as_str) {
            Some(login) => w.find_user(login).map(|u| u.id).ok_or_else(|| {
                bad_request("Ticket could not be created: Invalid value for Owner")
            })?,
            None => NOBODY,
        };
        let requestors: Vec<i64> = json
            .get("Requestor")
            .map(string_list)
            .unwrap_or_default()
            .iter()
            .map(|r| w.user_for(r, ""))
            .collect();
        // RT's create stores the value as given: a label stays a label.
        let priority = match json.get("Priority") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            _ => "0".to_owned(),
        };
        let mut links = Vec::new();
        for (kind, _, _) in LINK_TYPES {
            for target in json.get(kind).map(string_list).unwrap_or_default() {
                let target: i64 = target
                    .parse()
                    .map_err(|_| bad_request(format!("Invalid {kind}")))?;
                if !w.tickets.contains_key(&target) {
                    return Err(bad_request(format!(
                        "Couldn't resolve '{target}' into a link."
                    )));
                }
                links.push((kind.to_owned(), target));
            }
        }
        let at = w.stamp();
        let id = w.next_ticket;
        w.next_ticket += 1;
        let custom_fields = custom_field_values(w, &json).into_iter().collect();
        w.tickets.insert(
            id,
            Ticket {
                id,
                subject: text("Subject").unwrap_or_default(),
                status: text("Status").unwrap_or_else(|| "new".into()),
                queue,
                owner,
                requestors,
                priority,
                custom_fields,
                links: links.clone(),
                creator: actor.0,
                created: at,
                last_updated: at,
                last_updated_by: actor.0,
                resolved: None,
                due: json.get("Due").and_then(Value::as_str).and_then(rt_date),
            },
        );
        let txn = w.record(id, actor.0, "Create", ("", "", ""));
        let body = text("Content").map(|content| {
            (
                text("ContentType").unwrap_or_else(|| "text/plain".into()),
                content,
            )
        });
        w.add_message(txn, body, files);
        for (_, target) in links {
            w.record(
                target,
                actor.0,
                "AddLink",
                (
                    "ReferredToBy",
                    "",
                    &format!("fsck.com-rt://helpdesk.test/ticket/{id}"),
                ),
            );
        }
        Ok((id, format!("{API}/ticket/{id}")))
    })?;
    let w = fake.world();
    let mut response = (
        StatusCode::CREATED,
        Json(json!({"id": id.to_string(), "type": "ticket", "_url": url(&w, &format!("/ticket/{id}"))})),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// A date as RT takes it in JSON: `2026-11-25 18:00:00` (the API user's zone, UTC here) or
/// ISO 8601 with `T` and `Z`.
fn rt_date(text: &str) -> Option<time::OffsetDateTime> {
    let text = text
        .trim()
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_owned();
    time::PrimitiveDateTime::parse(
        &text,
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    )
    .ok()
    .map(time::PrimitiveDateTime::assume_utc)
}

fn ticket_number(text: &str) -> Result<i64, Reject> {
    text.parse().map_err(|_| not_found())
}

async fn get_ticket(State(fake): State<FakeRt>, Path(id): Path<String>) -> Answer {
    let id = ticket_number(&id)?;
    let w = fake.world();
    let ticket = w.tickets.get(&id).ok_or_else(not_found)?;
    Ok(Json(ticket_json(&w, ticket)).into_response())
}

async fn update_ticket(
    State(fake): State<FakeRt>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Answer {
    let id: i64 = id.parse().map_err(|_| {
        reject(
            StatusCode::NOT_FOUND,
            "Resource does not exist; use POST to create",
        )
    })?;
    let json: Map<String, Value> = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(bad_request("JSON object must be a HASH")),
        Err(e) => return Err(bad_request(format!("JSON parse error: {e}"))),
    };
    let messages = fake.change(|w| {
        if !w.tickets.contains_key(&id) {
            return Err(reject(
                StatusCode::NOT_FOUND,
                "Resource does not exist; use POST to create",
            ));
        }
        let mut messages: Vec<String> = Vec::new();
        let mut say = |result: Result<Option<String>, String>| match result {
            Ok(Some(m)) | Err(m) => messages.push(format!("Ticket {id}: {m}")),
            Ok(None) => {}
        };
        if let Some(subject) = json.get("Subject").and_then(Value::as_str) {
            let old = w.tickets[&id].subject.clone();
            if old != subject {
                w.ticket_mut(id).subject = subject.to_owned();
                w.record(id, actor.0, "Set", ("Subject", &old, subject));
                say(Ok(Some(format!(
                    "Subject changed from '{old}' to '{subject}'"
                ))));
            }
        }
        if let Some(owner) = json.get("Owner") {
            let owner = match owner {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            say(w.set_owner(id, actor.0, &owner));
        }
        if let Some(priority) = json.get("Priority") {
            let value = match priority {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok().or_else(|| {
                    PRIORITY_LABELS
                        .iter()
                        .find(|(label, _)| label.eq_ignore_ascii_case(s.trim()))
                        .map(|(_, v)| *v)
                }),
                _ => None,
            };
            match value {
                Some(value) => say(Ok(w.set_priority(id, actor.0, value))),
                None => say(Err("Invalid value for Priority".into())),
            }
        }
        for (field, values) in custom_field_values(w, &json) {
            w.set_custom_field(id, actor.0, field, values);
        }
        if let Some(due) = json.get("Due").and_then(Value::as_str) {
            match rt_date(due) {
                Some(at) => {
                    let old = w.tickets[&id].due.map(format_time).unwrap_or_default();
                    w.ticket_mut(id).due = Some(at);
                    w.record(id, actor.0, "Set", ("Due", &old, &format_time(at)));
                    say(Ok(Some(format!("Due changed from '{old}' to '{due}'"))));
                }
                None => say(Err(format!("Invalid value for Due: '{due}'"))),
            }
        }
        if let Some(status) = json.get("Status").and_then(Value::as_str) {
            say(w.set_status(id, actor.0, status));
        }
        Ok(messages)
    })?;
    Ok(Json(messages).into_response())
}

async fn delete_ticket(
    State(fake): State<FakeRt>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Answer {
    let id = ticket_number(&id)?;
    fake.change(|w| {
        if !w.tickets.contains_key(&id) {
            return Err(not_found());
        }
        let _ = w.set_status(id, actor.0, "deleted");
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn correspond(
    state: State<FakeRt>,
    actor: Extension<Actor>,
    recorded: Extension<RecordedBody>,
    Path(id): Path<String>,
    request: Request,
) -> Answer {
    add_message(state, actor, recorded, id, request, "Correspond").await
}

async fn comment(
    state: State<FakeRt>,
    actor: Extension<Actor>,
    recorded: Extension<RecordedBody>,
    Path(id): Path<String>,
    request: Request,
) -> Answer {
    add_message(state, actor, recorded, id, request, "Comment").await
}

async fn add_message(
    State(fake): State<FakeRt>,
    Extension(actor): Extension<Actor>,
    Extension(recorded): Extension<RecordedBody>,
    id: String,
    request: Request,
    kind: &'static str,
) -> Answer {
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let Incoming { json, files } = read_incoming(request, &recorded).await?;
    let content = json
        .get("Content")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let content_type = json
        .get("ContentType")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if content.is_some() && content_type.is_none() {
        return Err(bad_request(
            "ContentType is a required field for application/json",
        ));
    }
    let (txn, messages) = fake.change(|w| {
        if !w.tickets.contains_key(&id) {
            return Err(bad_request("Message could not be recorded"));
        }
        let body = content.map(|c| (content_type.unwrap_or_else(|| "text/plain".into()), c));
        let txn = w.correspond(id, actor.0, kind, body, files);
        let mut messages = vec![if kind == "Correspond" {
            "Correspondence added".to_owned()
        } else {
            "Comments added".to_owned()
        }];
        for (field, values) in custom_field_values(w, &json) {
            w.set_custom_field(id, actor.0, field, values);
        }
        if let Some(status) = json.get("Status").and_then(Value::as_str) {
            match w.set_status(id, actor.0, status) {
                Ok(Some(m)) | Err(m) => messages.push(m),
                Ok(None) => {}
            }
        }
        Ok((txn, messages))
    })?;
    let mut response = (StatusCode::CREATED, Json(messages)).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("{API}/transaction/{txn}")) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

async fn history(State(fake): State<FakeRt>, Path(id): Path<String>, request: Request) -> Answer {
    let id = ticket_number(&id)?;
    let params = Params::parse(request.uri().query());
    let w = fake.world();
    let mut txns: Vec<&Transaction> = w.transactions.values().filter(|t| t.ticket == id).collect();
    order(&mut txns, &params, |t, f| txn_value(t, f));
    let mut items: Vec<Value> = txns.into_iter().map(|t| txn_item(&w, t, &params)).collect();
    super::oddities::history(&w, id, &mut items);
    Ok(collection(
        &w,
        &format!("/ticket/{id}/history"),
        &params,
        items,
    ))
}

async fn ticket_attachments(
    State(fake): State<FakeRt>,
    Path(id): Path<String>,
    request: Request,
) -> Answer {
    let id = ticket_number(&id)?;
    let params = Params::parse(request.uri().query());
    let method = request.method().clone();
    let body = to_bytes(request.into_body(), MAX_BODY)
        .await
        .unwrap_or_default();
    let conditions = conditions(&body, &params, &method)?.unwrap_or_default();
    let w = fake.world();
    let mut parts: Vec<&Part> = w
        .parts
        .values()
        .filter(|p| {
            w.transactions
                .get(&p.transaction)
                .is_some_and(|t| t.ticket == id)
        })
        .filter(|p| matches(&conditions, |f| part_value(p, f)))
        .collect();
    order(&mut parts, &params, |p, f| part_value(p, f));
    let mut items = part_items(&w, parts, &params)?;
    super::oddities::attachments(&w, id, &mut items);
    Ok(collection(
        &w,
        &format!("/ticket/{id}/attachments"),
        &params,
        items,
    ))
}

async fn transaction_attachments(
    State(fake): State<FakeRt>,
    Path(id): Path<String>,
    request: Request,
) -> Answer {
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let params = Params::parse(request.uri().query());
    let w = fake.world();
    let parts: Vec<&Part> = w.parts.values().filter(|p| p.transaction == id).collect();
    let items = part_items(&w, parts, &params)?;
    Ok(collection(
        &w,
        &format!("/transaction/{id}/attachments"),
        &params,
        items,
    ))
}

async fn search_attachments(State(fake): State<FakeRt>, request: Request) -> Answer {
    let params = Params::parse(request.uri().query());
    let method = request.method().clone();
    let body = to_bytes(request.into_body(), MAX_BODY)
        .await
        .unwrap_or_default();
    let conditions = conditions(&body, &params, &method)?.unwrap_or_default();
    let w = fake.world();
    let mut parts: Vec<&Part> = w
        .parts
        .values()
        .filter(|p| any_applies(&conditions, |f| part_value(p, f)))
        .filter(|p| matches(&conditions, |f| part_value(p, f)))
        .collect();
    order(&mut parts, &params, |p, f| part_value(p, f));
    let items = part_items(&w, parts, &params)?;
    Ok(collection(&w, "/attachments", &params, items))
}

async fn search_transactions(State(fake): State<FakeRt>, request: Request) -> Answer {
    let params = Params::parse(request.uri().query());
    let method = request.method().clone();
    let body = to_bytes(request.into_body(), MAX_BODY)
        .await
        .unwrap_or_default();
    let conditions = conditions(&body, &params, &method)?.unwrap_or_default();
    let w = fake.world();
    let mut txns: Vec<&Transaction> = w
        .transactions
        .values()
        .filter(|t| any_applies(&conditions, |f| txn_value(t, f)))
        .filter(|t| matches(&conditions, |f| txn_value(t, f)))
        .collect();
    order(&mut txns, &params, |t, f| txn_value(t, f));
    let items = txns.into_iter().map(|t| txn_item(&w, t, &params)).collect();
    Ok(collection(&w, "/transactions", &params, items))
}

async fn get_attachment(State(fake): State<FakeRt>, Path(id): Path<String>) -> Answer {
    let id: i64 = id.parse().map_err(|_| server_error())?;
    let w = fake.world();
    // RT 5.0.3 dies on a missing attachment (500), it does not answer 404.
    let p = w.parts.get(&id).ok_or_else(server_error)?;
    let mut body = json!({
        "id": p.id,
        "ContentType": p.content_type,
        "Content": mime_base64(&p.bytes),
        "Headers": part_headers(p),
        "Subject": "",
        "MessageId": "",
        "Created": format_time(p.created),
        "Creator": user_ref(&w, p.creator, &[]),
        "TransactionId": record_ref(&w, "transaction", p.transaction),
        "_hyperlinks": [
            {"ref": "self", "type": "attachment", "id": p.id, "_url": url(&w, &format!("/attachment/{}", p.id))},
        ],
    });
    // RT leaves empty fields out of a single record.
    if !p.filename.is_empty() {
        body["Filename"] = json!(p.filename);
    }
    if p.parent != 0 {
        body["Parent"] = record_ref(&w, "attachment", p.parent);
    }
    Ok(Json(body).into_response())
}

/// The TicketSQL subset the adapter sends: `field = 'value'` joined by `AND`.
fn ticketsql(query: &str) -> Result<Vec<(String, String, String)>, Reject> {
    let wrong = || {
        bad_request(format!(
            "Wrong query, expecting a OPERATOR in '{query}' at /usr/share/request-tracker5/lib/RT/Tickets.pm line 3187.\n"
        ))
    };
    let mut tokens: Vec<String> = Vec::new();
    let mut chars = query.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' || c == '"' {
            chars.next();
            let mut token = String::new();
            loop {
                match chars.next() {
                    Some('\\') => token.extend(chars.next()),
                    Some(q) if q == c => break,
                    Some(other) => token.push(other),
                    None => return Err(wrong()),
                }
            }
            tokens.push(format!("\u{0}{token}"));
        } else if matches!(c, '=' | '!' | '<' | '>') {
            let mut op = String::new();
            while let Some(&o) = chars.peek() {
                if matches!(o, '=' | '!' | '<' | '>') {
                    op.push(o);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(op);
        } else {
            let mut word = String::new();
            while let Some(&o) = chars.peek() {
                if o.is_whitespace() || matches!(o, '=' | '!' | '<' | '>' | '\'' | '"') {
                    break;
                }
                word.push(o);
                chars.next();
            }
            tokens.push(word);
        }
    }
    let mut conditions = Vec::new();
    let mut rest = tokens.as_slice();
    loop {
        let [field, op, value, tail @ ..] = rest else {
            return Err(wrong());
        };
        if !matches!(op.as_str(), "=" | "!=") {
            return Err(wrong());
        }
        let field = field.trim_start_matches('\u{0}').to_owned();
        let value = value.trim_start_matches('\u{0}').to_owned();
        conditions.push((field, op.clone(), value));
        match tail {
            [] => return Ok(conditions),
            [and, more @ ..] if and.eq_ignore_ascii_case("AND") => rest = more,
            _ => return Err(wrong()),
        }
    }
}

fn ticket_value(w: &World, t: &Ticket, field: &str) -> Option<String> {
    if let Some(name) = field
        .strip_prefix("CF.{")
        .or_else(|| field.strip_prefix("CustomField.{"))
        .and_then(|f| f.strip_suffix('}'))
    {
        let cf = w.custom_field(name)?;
        return Some(
            t.custom_fields
                .get(&cf.id)
                .map(|v| v.join(","))
                .unwrap_or_default(),
        );
    }
    Some(match field.to_ascii_lowercase().as_str() {
        "id" => t.id.to_string(),
        "subject" => t.subject.clone(),
        "status" => t.status.clone(),
        "queue" => {
            return w
                .queues
                .iter()
                .find(|q| q.id == t.queue)
                .map(|q| q.name.clone());
        }
        _ => return None,
    })
}

async fn search_tickets(State(fake): State<FakeRt>, request: Request) -> Answer {
    let params = Params::parse(request.uri().query());
    let query = params.get("query").unwrap_or_default().to_owned();
    let conditions = ticketsql(&query)?;
    let w = fake.world();
    let mut found: Vec<&Ticket> = Vec::new();
    for t in w.tickets.values() {
        let mut hit = true;
        for (field, op, value) in &conditions {
            let Some(actual) = ticket_value(&w, t, field) else {
                return Err(bad_request(format!("Unknown field: {field}")));
            };
            // A queue may be named by number too.
            let actual = if field.eq_ignore_ascii_case("queue") && value.parse::<i64>().is_ok() {
                t.queue.to_string()
            } else {
                actual
            };
            let equal = actual.eq_ignore_ascii_case(value);
            hit &= if op == "=" { equal } else { !equal };
        }
        if hit && t.status != "deleted" {
            found.push(t);
        }
    }
    let items = found
        .into_iter()
        .map(|t| {
            let mut item = record_ref(&w, "ticket", t.id);
            for field in params.list("fields") {
                let value = match field.as_str() {
                    "LastUpdated" => json!(format_time(t.last_updated)),
                    "Created" => json!(format_time(t.created)),
                    "Priority" => json!(t.priority),
                    "Owner" => user_ref(&w, t.owner, &params.list("fields[Owner]")),
                    other => json!(ticket_value(&w, t, other).unwrap_or_default()),
                };
                item[field.as_str()] = value;
            }
            item
        })
        .collect();
    Ok(collection(&w, "/tickets", &params, items))
}
