//! The HTTP side of [`FakeZammad`]: routes, the request gate (outage, auth, injected failures,
//! recording) and Zammad's JSON shapes.

use super::{
    ARTICLE_TYPES, Article, FakeZammad, GROUPS, Link, NewFile, ORGANIZATIONS, PRIORITIES, Role,
    SENDERS, SYSTEM_USER, Ticket, World, ZammadCall, format_time, lookup_id, lookup_name,
};
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const MAX_BODY: usize = 64 * 1024 * 1024;
const SEARCH_DEFAULT: usize = 50;
const SEARCH_MAX: usize = 200;

/// The user the request authenticated as.
#[derive(Clone, Copy, Debug)]
struct CurrentUser(i64);

pub(super) fn router(fake: FakeZammad) -> Router {
    let api = Router::new()
        .route("/users/me", get(users_me))
        .route("/users/{id}", get(user_show))
        .route("/tickets", post(ticket_create))
        .route("/tickets/search", get(ticket_search))
        .route("/tickets/{id}", get(ticket_show).put(ticket_update))
        .route("/ticket_articles", post(article_create))
        .route("/ticket_articles/{id}", get(article_show))
        .route("/ticket_articles/by_ticket/{id}", get(articles_by_ticket))
        .route(
            "/ticket_attachment/{ticket_id}/{article_id}/{id}",
            get(attachment_download),
        )
        .route("/ticket_states", get(states_index))
        .route("/ticket_priorities", get(priorities_index))
        .route("/links", get(links_index))
        .route("/links/add", post(link_add));
    Router::new()
        .nest("/api/v1", api)
        .fallback(routing_error)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(fake.clone(), gate))
        .with_state(fake)
}

/// An error as `handles_errors.rb` renders it: `error_human` repeats `error` for the exceptions
/// Zammad considers safe to show.
fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": message, "error_human": message })),
    )
        .into_response()
}

/// A refusal; small, so handlers can use `?`.
struct Reject {
    status: StatusCode,
    body: Value,
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

type Answer = Result<Response, Reject>;

fn reject(status: StatusCode, message: impl Into<String>) -> Reject {
    let message = message.into();
    Reject {
        status,
        body: json!({ "error": message, "error_human": message }),
    }
}

fn unprocessable(message: impl Into<String>) -> Reject {
    reject(StatusCode::UNPROCESSABLE_ENTITY, message)
}

fn not_found(model: &str, id: impl std::fmt::Display) -> Reject {
    reject(
        StatusCode::NOT_FOUND,
        format!("Couldn't find {model} with 'id'={id}"),
    )
}

async fn routing_error(request: Request) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!(
            "No route matches [{}] {}",
            request.method(),
            request.uri().path()
        ),
    )
}

/// What every request goes through before its handler, and how it is recorded after.
async fn gate(State(fake): State<FakeZammad>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let recorded_body = serde_json::from_slice(&bytes).ok();
    let method = parts.method.to_string();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();

    let response = match admit(&fake, &parts.headers) {
        Err(refusal) => refusal,
        Ok(user) => {
            parts.extensions.insert(CurrentUser(user));
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    };
    let status = response.status().as_u16();
    fake.change(|w| {
        w.calls.push(ZammadCall {
            method,
            path,
            query,
            body: recorded_body,
            status,
        })
    });
    response
}

/// The token of `Authorization: Token token=<t>`, `Token token="<t>"` or `Bearer <t>`.
fn token_of(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let rest = value
        .strip_prefix("Token ")
        .or_else(|| value.strip_prefix("Bearer "))?
        .trim();
    let token = rest.strip_prefix("token=").unwrap_or(rest);
    let token = token.split(',').next().unwrap_or(token).trim();
    Some(token.trim_matches('"').to_owned())
}

/// Admits a request as a user, or answers for the server.
#[allow(clippy::result_large_err)]
fn admit(fake: &FakeZammad, headers: &HeaderMap) -> Result<i64, Response> {
    let mut w = fake.world();
    if w.outage {
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/html")],
            "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n\
             <center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n\
             </body>\r\n</html>\r\n",
        )
            .into_response());
    }
    let Some(token) = token_of(headers) else {
        return Err(error(StatusCode::FORBIDDEN, "Authentication required"));
    };
    let Some(user) = w.user_by_token(&token).map(|u| u.id) else {
        let mut response = error(StatusCode::UNAUTHORIZED, "Can't find User for Token");
        response.headers_mut().insert(
            "x-failure",
            HeaderValue::from_static("Can't find User for Token"),
        );
        return Err(response);
    };
    if let Some(status) = w.fail_next.pop_front() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = if status.is_server_error() {
            // Non-admins get an error id instead of the exception text.
            (
                status,
                Json(json!({"error": "Error ID fAk3Err0: Please contact your administrator."})),
            )
                .into_response()
        } else {
            error(status, "Injected failure")
        };
        if status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(1));
        }
        return Err(response);
    }
    Ok(user)
}

pub(super) fn user_json(w: &World, id: i64) -> Value {
    let Some(user) = w.user(id) else {
        return Value::Null;
    };
    let role_ids: Vec<i64> = match user.role {
        Role::System => Vec::new(),
        Role::Agent => vec![2],
        Role::Customer => vec![3],
    };
    let group_ids: Map<String, Value> = if user.role == Role::Agent {
        GROUPS
            .iter()
            .map(|(id, _)| (id.to_string(), json!(["full"])))
            .collect()
    } else {
        Map::new()
    };
    json!({
        "id": user.id,
        "organization_id": user.organization_id,
        "login": user.login,
        "firstname": user.firstname,
        "lastname": user.lastname,
        "email": user.email,
        "image": null,
        "web": "",
        "phone": "",
        "vip": false,
        "verified": false,
        "active": true,
        "note": "",
        "out_of_office": false,
        "preferences": {},
        "updated_by_id": 1,
        "created_by_id": 1,
        "created_at": format_time(user.created_at),
        "updated_at": format_time(user.created_at),
        "role_ids": role_ids,
        "organization_ids": user.organization_id.into_iter().collect::<Vec<_>>(),
        "group_ids": group_ids,
    })
}

/// `attributes_with_association_ids`, plus the association names when `expand`.
pub(super) fn ticket_json(w: &World, t: &Ticket, expand: bool) -> Value {
    let article_ids: Vec<i64> = w
        .articles
        .values()
        .filter(|a| a.ticket_id == t.id)
        .map(|a| a.id)
        .collect();
    let mut ticket = json!({
        "id": t.id,
        "group_id": t.group_id,
        "priority_id": t.priority_id,
        "state_id": t.state_id,
        "organization_id": t.organization_id,
        "number": t.number,
        "title": t.title,
        "owner_id": t.owner_id,
        "customer_id": t.customer_id,
        "note": t.note,
        "first_response_at": null,
        "first_response_escalation_at": t.first_response_escalation_at.map(format_time),
        "close_at": t.close_at.map(format_time),
        "close_escalation_at": t.close_escalation_at.map(format_time),
        "update_escalation_at": null,
        "last_contact_at": format_time(t.updated_at),
        "last_owner_update_at": null,
        "create_article_type_id": t.create_article_type_id,
        "create_article_sender_id": t.create_article_sender_id,
        "article_count": article_ids.len(),
        "escalation_at": null,
        "pending_time": t.pending_time.map(format_time),
        "type": null,
        "time_unit": null,
        "preferences": {},
        "updated_by_id": t.updated_by_id,
        "created_by_id": t.created_by_id,
        "created_at": format_time(t.created_at),
        "updated_at": format_time(t.updated_at),
        "article_ids": article_ids,
        "ticket_time_accounting_ids": [],
    });
    let Some(map) = ticket.as_object_mut() else {
        return ticket;
    };
    for (name, value) in &t.attributes {
        map.insert(name.clone(), value.clone());
    }
    if expand {
        let login = |id: i64| w.user(id).map(|u| u.login.clone());
        map.insert("group".into(), json!(lookup_name(&GROUPS, t.group_id)));
        map.insert("state".into(), json!(w.state(t.state_id).map(|s| s.name)));
        map.insert(
            "priority".into(),
            json!(lookup_name(&PRIORITIES, t.priority_id)),
        );
        map.insert("owner".into(), json!(login(t.owner_id)));
        map.insert("customer".into(), json!(login(t.customer_id)));
        if let Some(org) = t.organization_id {
            map.insert(
                "organization".into(),
                json!(lookup_name(&ORGANIZATIONS, org)),
            );
        }
        map.insert("created_by".into(), json!(login(t.created_by_id)));
        map.insert("updated_by".into(), json!(login(t.updated_by_id)));
        if let Some(type_id) = t.create_article_type_id {
            map.insert(
                "create_article_type".into(),
                json!(lookup_name(&ARTICLE_TYPES, type_id)),
            );
        }
        if let Some(sender_id) = t.create_article_sender_id {
            map.insert(
                "create_article_sender".into(),
                json!(lookup_name(&SENDERS, sender_id)),
            );
        }
    }
    super::oddities::ticket(w, t.id, &mut ticket);
    ticket
}

/// `attributes_with_association_names` of an article, with its attachments.
pub(super) fn article_json(w: &World, a: &Article) -> Value {
    let login = |id: i64| w.user(id).map(|u| u.login.clone());
    let attachments: Vec<Value> = w
        .stored
        .values()
        .filter(|s| s.article_id == a.id)
        .map(|s| {
            json!({
                "id": s.id,
                "filename": s.filename,
                "size": s.bytes.len().to_string(),
                "preferences": {"Mime-Type": s.mime_type},
            })
        })
        .collect();
    let mut article = json!({
        "id": a.id,
        "ticket_id": a.ticket_id,
        "type_id": a.type_id,
        "sender_id": a.sender_id,
        "from": a.from,
        "to": a.to,
        "cc": null,
        "subject": a.subject,
        "reply_to": null,
        "message_id": a.message_id,
        "message_id_md5": null,
        "in_reply_to": null,
        "content_type": a.content_type,
        "references": null,
        "body": a.body,
        "internal": a.internal,
        "preferences": {},
        "updated_by_id": a.created_by_id,
        "created_by_id": a.created_by_id,
        "origin_by_id": a.origin_by_id,
        "created_at": format_time(a.created_at),
        "updated_at": format_time(a.created_at),
        "attachments": attachments,
        "type": lookup_name(&ARTICLE_TYPES, a.type_id),
        "sender": lookup_name(&SENDERS, a.sender_id),
        "created_by": login(a.created_by_id),
        "updated_by": login(a.created_by_id),
        "time_unit": null,
    });
    if let (Some(origin), Some(map)) = (a.origin_by_id, article.as_object_mut()) {
        map.insert("origin_by".into(), json!(login(origin)));
    }
    article
}

fn parse_body(bytes: &Bytes) -> Result<Map<String, Value>, Reject> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(unprocessable("No params for Ticket!")),
    }
}

fn parse_id(model: &str, text: &str) -> Result<i64, Reject> {
    text.parse().map_err(|_| not_found(model, text))
}

fn expand(query: &HashMap<String, String>) -> bool {
    query.get("expand").is_some_and(|v| v == "true")
}

/// An id given as a number or a numeric string, as Rails params arrive.
fn as_id(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `association_name_to_id_convert`: `<name>` by name, else `<name>_id` by id.
fn lookup_association(
    body: &Map<String, Value>,
    name: &str,
    by_name: impl Fn(&str) -> Option<i64>,
    exists: impl Fn(i64) -> bool,
) -> Result<Option<i64>, Reject> {
    if let Some(value) = body.get(name).filter(|v| !v.is_null()) {
        let text = value.as_str().unwrap_or_default();
        return by_name(text)
            .map(Some)
            .ok_or_else(|| unprocessable(format!("No lookup value found for '{name}': {value}")));
    }
    match body.get(&format!("{name}_id")).filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(value) => match as_id(value) {
            Some(id) if exists(id) => Ok(Some(id)),
            _ => Err(unprocessable(format!(
                "Invalid value for param '{name}_id': {value}"
            ))),
        },
    }
}

async fn users_me(
    State(fake): State<FakeZammad>,
    Extension(me): Extension<CurrentUser>,
) -> Response {
    let w = fake.world();
    Json(user_json(&w, me.0)).into_response()
}

async fn user_show(State(fake): State<FakeZammad>, Path(id): Path<String>) -> Answer {
    let id = parse_id("User", &id)?;
    let w = fake.world();
    if w.user(id).is_none() {
        return Err(not_found("User", id));
    }
    Ok(Json(user_json(&w, id)).into_response())
}

async fn ticket_show(
    State(fake): State<FakeZammad>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    let id = parse_id("Ticket", &id)?;
    let w = fake.world();
    let ticket = w.tickets.get(&id).ok_or_else(|| not_found("Ticket", id))?;
    Ok(Json(ticket_json(&w, ticket, expand(&query))).into_response())
}

/// An article to create, validated before anything is written.
struct ArticleInput {
    article: Article,
    files: Vec<NewFile>,
}

fn article_input(
    w: &World,
    body: &Map<String, Value>,
    ticket_id: i64,
    author: i64,
) -> Result<ArticleInput, Reject> {
    let Some(text) = body.get("body").and_then(Value::as_str) else {
        return Err(unprocessable(
            "Need at least article: { body: \"some text\" }",
        ));
    };
    let is_agent = w.user(author).is_some_and(|u| u.role == Role::Agent);
    let type_id = lookup_association(
        body,
        "type",
        |n| lookup_id(&ARTICLE_TYPES, n),
        |id| !lookup_name(&ARTICLE_TYPES, id).is_empty(),
    )?
    .unwrap_or(10);
    let sender_id = lookup_association(
        body,
        "sender",
        |n| lookup_id(&SENDERS, n),
        |id| !lookup_name(&SENDERS, id).is_empty(),
    )?
    .unwrap_or(if is_agent { 1 } else { 2 });
    let origin_by_id = match body.get("origin_by_id").filter(|v| !v.is_null()) {
        None => None,
        Some(value) => match as_id(value) {
            Some(id) if w.user(id).is_some() => Some(id),
            _ => {
                return Err(unprocessable(format!(
                    "Invalid value for param 'origin_by_id': {value}"
                )));
            }
        },
    };
    let string = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    let mut files = Vec::new();
    if let Some(list) = body.get("attachments").filter(|v| !v.is_null()) {
        let Some(list) = list.as_array() else {
            return Err(unprocessable("attachments must be an array"));
        };
        for (index, item) in list.iter().enumerate() {
            for key in ["mime-type", "filename", "data"] {
                if item.get(key).and_then(Value::as_str).is_none() {
                    return Err(unprocessable(format!(
                        "Attachment needs '{key}' param for attachment with index '{index}'"
                    )));
                }
            }
            let data: String = item["data"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .filter(|c| *c != '\r' && *c != '\n')
                .collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|_| {
                    unprocessable(format!(
                        "Invalid base64 for attachment with index '{index}'"
                    ))
                })?;
            files.push(NewFile {
                filename: item["filename"].as_str().unwrap_or_default().to_owned(),
                mime_type: item["mime-type"].as_str().unwrap_or_default().to_owned(),
                bytes,
            });
        }
    }
    Ok(ArticleInput {
        article: Article {
            id: 0,
            ticket_id,
            type_id,
            sender_id,
            from: string("from"),
            to: string("to"),
            subject: string("subject"),
            body: text.to_owned(),
            content_type: string("content_type").unwrap_or_else(|| "text/plain".into()),
            internal: body
                .get("internal")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            message_id: string("message_id"),
            created_by_id: author,
            origin_by_id,
            created_at: OffsetDateTime::UNIX_EPOCH,
        },
        files,
    })
}

/// The ticket columns an update or create may set besides the article.
#[derive(Default)]
struct TicketInput {
    title: Option<String>,
    group_id: Option<i64>,
    state_id: Option<i64>,
    priority_id: Option<i64>,
    owner_id: Option<i64>,
    organization_id: Option<i64>,
    note: Option<Option<String>>,
    pending_time: Option<Option<OffsetDateTime>>,
    attributes: Map<String, Value>,
}

fn ticket_input(w: &World, body: &Map<String, Value>) -> Result<TicketInput, Reject> {
    let group_id = lookup_association(
        body,
        "group",
        |n| lookup_id(&GROUPS, n),
        |id| !lookup_name(&GROUPS, id).is_empty(),
    )?;
    let state_id = lookup_association(
        body,
        "state",
        |n| w.state_by_name(n).map(|s| s.id),
        |id| w.state(id).is_some(),
    )?;
    let priority_id = lookup_association(
        body,
        "priority",
        |n| lookup_id(&PRIORITIES, n),
        |id| !lookup_name(&PRIORITIES, id).is_empty(),
    )?;
    let owner_id = lookup_association(
        body,
        "owner",
        |n| w.user_by_login(n).map(|u| u.id),
        |id| w.user(id).is_some(),
    )?;
    if let Some(owner) = owner_id
        && owner != SYSTEM_USER
        && w.user(owner).is_none_or(|u| u.role != Role::Agent)
    {
        return Err(unprocessable(format!(
            "Invalid value for param 'owner_id': {owner}"
        )));
    }
    let organization_id = lookup_association(
        body,
        "organization",
        |n| lookup_id(&ORGANIZATIONS, n),
        |id| !lookup_name(&ORGANIZATIONS, id).is_empty(),
    )?;
    let title = match body.get("title") {
        None => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(_) => return Err(unprocessable("Missing required value for field 'title'!")),
    };
    let note = body.get("note").map(|v| v.as_str().map(str::to_owned));
    let pending_time = match body.get("pending_time") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(value) => Some(Some(
            value
                .as_str()
                .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
                .ok_or_else(|| unprocessable(format!("Invalid value for pending_time: {value}")))?,
        )),
    };
    // `param_cleanup` keeps only the model's columns: custom attributes that exist.
    let attributes = body
        .iter()
        .filter(|(k, _)| w.ticket_attributes.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(TicketInput {
        title,
        group_id,
        state_id,
        priority_id,
        owner_id,
        organization_id,
        note,
        pending_time,
        attributes,
    })
}

fn check_pending(w: &World, state_id: i64, pending: Option<OffsetDateTime>) -> Result<(), Reject> {
    let pending_state = w
        .state(state_id)
        .is_some_and(|s| matches!(s.state_type_id, 3 | 4));
    if pending_state && pending.is_none() {
        return Err(unprocessable(
            "Missing required value for field 'pending_time'!",
        ));
    }
    Ok(())
}

/// The customer of a new ticket: `customer_id` as an id or `guess:<email>`, or `customer` by
/// login or e-mail. Returns the id, or the address to create a customer for.
fn customer_input(w: &World, body: &Map<String, Value>) -> Result<Result<i64, String>, Reject> {
    if let Some(value) = body.get("customer_id").filter(|v| !v.is_null()) {
        if let Some(email) = value.as_str().and_then(|s| s.strip_prefix("guess:")) {
            let (local, domain) = email.split_once('@').unwrap_or_default();
            if local.is_empty() || !domain.contains('.') || email.contains(char::is_whitespace) {
                return Err(Reject {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    body: json!({"error": format!("Invalid email '{email}' of customer")}),
                });
            }
            return Ok(w
                .user_by_login(email)
                .map(|u| u.id)
                .ok_or_else(|| email.to_owned()));
        }
        return match as_id(value) {
            Some(id) if w.user(id).is_some() => Ok(Ok(id)),
            _ => Err(unprocessable(format!(
                "Invalid value for param 'customer_id': {value}"
            ))),
        };
    }
    if let Some(value) = body.get("customer").filter(|v| !v.is_null()) {
        return value
            .as_str()
            .and_then(|n| w.user_by_login(n))
            .map(|u| Ok(u.id))
            .ok_or_else(|| {
                unprocessable(format!("No lookup value found for 'customer': {value}"))
            });
    }
    Err(unprocessable(
        "Missing required value for field 'customer_id'!",
    ))
}

async fn ticket_create(
    State(fake): State<FakeZammad>,
    Extension(me): Extension<CurrentUser>,
    Query(query): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> Answer {
    let body = parse_body(&bytes)?;
    let ticket = fake.change(|w| {
        let input = ticket_input(w, &body)?;
        let Some(title) = input.title.clone() else {
            return Err(unprocessable("Missing required value for field 'title'!"));
        };
        let Some(group_id) = input.group_id else {
            return Err(unprocessable(
                "Missing required value for field 'group_id'!",
            ));
        };
        let customer = customer_input(w, &body)?;
        let state_id = input.state_id.unwrap_or(1);
        check_pending(w, state_id, input.pending_time.flatten())?;
        let article_body = match body.get("article").filter(|v| !v.is_null()) {
            None => None,
            Some(Value::Object(article)) => Some(article.clone()),
            Some(_) => return Err(unprocessable("article must be an object")),
        };
        // Validated against a placeholder id; nothing is written before every check passed.
        let article = article_body
            .as_ref()
            .map(|a| article_input(w, a, 0, me.0))
            .transpose()?;

        let customer_id = match customer {
            Ok(id) => id,
            Err(email) => w.customer_by_email(&email),
        };
        let id = w.new_ticket(&title, customer_id, me.0);
        let ticket = w.ticket_mut(id);
        ticket.group_id = group_id;
        ticket.state_id = state_id;
        if let Some(priority) = input.priority_id {
            ticket.priority_id = priority;
        }
        if let Some(owner) = input.owner_id {
            ticket.owner_id = owner;
        }
        if input.organization_id.is_some() {
            ticket.organization_id = input.organization_id;
        }
        ticket.note = input.note.flatten();
        ticket.pending_time = input.pending_time.flatten();
        ticket.attributes.extend(input.attributes);
        if let Some(ArticleInput { mut article, files }) = article {
            article.ticket_id = id;
            let ticket = w.ticket_mut(id);
            ticket.create_article_type_id = Some(article.type_id);
            ticket.create_article_sender_id = Some(article.sender_id);
            w.add_article(article, files);
        }
        Ok(ticket_json(w, &w.tickets[&id], expand(&query)))
    })?;
    Ok((StatusCode::CREATED, Json(ticket)).into_response())
}

async fn ticket_update(
    State(fake): State<FakeZammad>,
    Extension(me): Extension<CurrentUser>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> Answer {
    let id = parse_id("Ticket", &id)?;
    let body = parse_body(&bytes)?;
    let ticket = fake.change(|w| {
        let Some(current) = w.tickets.get(&id).cloned() else {
            return Err(not_found("Ticket", id));
        };
        let input = ticket_input(w, &body)?;
        let state_id = input.state_id.unwrap_or(current.state_id);
        let pending = input.pending_time.unwrap_or(current.pending_time);
        if input.state_id.is_some() {
            check_pending(w, state_id, pending)?;
        }
        let article = match body.get("article").filter(|v| !v.is_null()) {
            None => None,
            Some(Value::Object(article)) => Some(article_input(w, article, id, me.0)?),
            Some(_) => return Err(unprocessable("article must be an object")),
        };
        let ticket = w.ticket_mut(id);
        if let Some(title) = input.title {
            ticket.title = title;
        }
        if let Some(group) = input.group_id {
            ticket.group_id = group;
        }
        if let Some(priority) = input.priority_id {
            ticket.priority_id = priority;
        }
        if let Some(owner) = input.owner_id {
            ticket.owner_id = owner;
        }
        if input.organization_id.is_some() {
            ticket.organization_id = input.organization_id;
        }
        if let Some(note) = input.note {
            ticket.note = note;
        }
        ticket.pending_time = pending;
        ticket.attributes.extend(input.attributes);
        w.set_state(id, state_id, me.0);
        if let Some(ArticleInput { article, files }) = article {
            w.add_article(article, files);
        }
        Ok(ticket_json(w, &w.tickets[&id], expand(&query)))
    })?;
    Ok(Json(ticket).into_response())
}

async fn article_create(
    State(fake): State<FakeZammad>,
    Extension(me): Extension<CurrentUser>,
    bytes: Bytes,
) -> Answer {
    let body = parse_body(&bytes)?;
    let Some(ticket_id) = body.get("ticket_id").and_then(as_id) else {
        return Err(not_found("Ticket", ""));
    };
    let article = fake.change(|w| {
        if !w.tickets.contains_key(&ticket_id) {
            return Err(not_found("Ticket", ticket_id));
        }
        let ArticleInput { article, files } = article_input(w, &body, ticket_id, me.0)?;
        let id = w.add_article(article, files);
        Ok(article_json(w, &w.articles[&id]))
    })?;
    Ok((StatusCode::CREATED, Json(article)).into_response())
}

async fn article_show(State(fake): State<FakeZammad>, Path(id): Path<String>) -> Answer {
    let id = parse_id("Ticket::Article", &id)?;
    let w = fake.world();
    let article = w
        .articles
        .get(&id)
        .ok_or_else(|| not_found("Ticket::Article", id))?;
    Ok(Json(article_json(&w, article)).into_response())
}

async fn articles_by_ticket(State(fake): State<FakeZammad>, Path(id): Path<String>) -> Answer {
    let id = parse_id("Ticket", &id)?;
    let w = fake.world();
    if !w.tickets.contains_key(&id) {
        return Err(not_found("Ticket", id));
    }
    let mut articles: Vec<Value> = w
        .articles
        .values()
        .filter(|a| a.ticket_id == id)
        .map(|a| article_json(&w, a))
        .collect();
    super::oddities::articles(&w, id, &mut articles);
    Ok(Json(Value::Array(articles)).into_response())
}

async fn attachment_download(
    State(fake): State<FakeZammad>,
    Path((ticket_id, article_id, id)): Path<(String, String, String)>,
) -> Answer {
    let ticket_id = parse_id("Ticket", &ticket_id)?;
    let article_id = parse_id("Ticket::Article", &article_id)?;
    let id = parse_id("Store", &id)?;
    let w = fake.world();
    if !w.tickets.contains_key(&ticket_id) {
        return Err(not_found("Ticket", ticket_id));
    }
    let article = w
        .articles
        .get(&article_id)
        .ok_or_else(|| not_found("Ticket::Article", article_id))?;
    if article.ticket_id != ticket_id {
        return Err(reject(
            StatusCode::FORBIDDEN,
            "The article does not belong to the specified ticket.",
        ));
    }
    let file = w
        .stored
        .get(&id)
        .filter(|s| s.article_id == article_id)
        .ok_or_else(|| {
            reject(
                StatusCode::FORBIDDEN,
                "The file does not belong to the specified article.",
            )
        })?;
    let disposition = format!(
        "attachment; filename=\"{}\"",
        file.filename.replace('"', "")
    );
    let mut response = (
        [(header::CONTENT_TYPE, file.mime_type.clone())],
        file.bytes.clone(),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

async fn states_index(State(fake): State<FakeZammad>) -> Response {
    let w = fake.world();
    let states: Vec<Value> = w
        .states
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "state_type_id": s.state_type_id,
                "name": s.name,
                "next_state_id": null,
                "ignore_escalation": s.state_type_id != 1 && s.state_type_id != 2,
                "default_create": s.id == 1,
                "default_follow_up": s.id == 2,
                "note": null,
                "active": true,
                "updated_by_id": 1,
                "created_by_id": 1,
            })
        })
        .collect();
    Json(Value::Array(states)).into_response()
}

async fn priorities_index() -> Response {
    let priorities: Vec<Value> = PRIORITIES
        .iter()
        .map(|(id, name)| {
            json!({
                "id": id,
                "name": name,
                "default_create": *id == 2,
                "ui_icon": null,
                "ui_color": null,
                "note": null,
                "active": true,
                "updated_by_id": 1,
                "created_by_id": 1,
            })
        })
        .collect();
    Json(Value::Array(priorities)).into_response()
}

async fn links_index(
    State(fake): State<FakeZammad>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    if query.get("link_object").map(String::as_str) != Some("Ticket") {
        return Err(unprocessable("Invalid link_object"));
    }
    let id = query
        .get("link_object_value")
        .and_then(|v| v.parse::<i64>().ok())
        .ok_or_else(|| unprocessable("Invalid link_object_value"))?;
    let w = fake.world();
    let mut links = Vec::new();
    let mut assets = Map::new();
    for link in w.links.iter().filter(|l| l.source == id || l.target == id) {
        let (other, link_type) = if link.source == id {
            (link.target, link.link_type.clone())
        } else {
            // Seen from the target, a parent is a child and a child a parent.
            let flipped = match link.link_type.as_str() {
                "parent" => "child",
                "child" => "parent",
                other => other,
            };
            (link.source, flipped.to_owned())
        };
        links.push(
            json!({"link_type": link_type, "link_object": "Ticket", "link_object_value": other}),
        );
        if let Some(ticket) = w.tickets.get(&other) {
            assets.insert(other.to_string(), ticket_json(&w, ticket, false));
        }
    }
    Ok(Json(json!({"links": links, "assets": {"Ticket": assets}})).into_response())
}

async fn link_add(State(fake): State<FakeZammad>, bytes: Bytes) -> Answer {
    let body = parse_body(&bytes)?;
    let text = |key: &str| match body.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let no_such_object = || Reject {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        body: json!({"error": "No such object!"}),
    };
    if text("link_object_source").as_deref() != Some("Ticket")
        || text("link_object_target").as_deref() != Some("Ticket")
    {
        return Err(no_such_object());
    }
    let link_type = text("link_type").unwrap_or_default();
    if !matches!(link_type.as_str(), "normal" | "parent" | "child") {
        return Err(unprocessable(format!("Invalid link_type '{link_type}'")));
    }
    let number = text("link_object_source_number").unwrap_or_default();
    let target = body
        .get("link_object_target_value")
        .and_then(as_id)
        .ok_or_else(no_such_object)?;
    let link = fake.change(|w| {
        let Some(source) = w
            .tickets
            .values()
            .find(|t| t.number == number)
            .map(|t| t.id)
        else {
            return Err(no_such_object());
        };
        if !w.tickets.contains_key(&target) {
            return Err(no_such_object());
        }
        if w.links
            .iter()
            .any(|l| l.source == source && l.target == target && l.link_type == link_type)
        {
            return Err(unprocessable("Object already exists!"));
        }
        let created_at = w.stamp();
        let id = w.next_link;
        w.next_link += 1;
        w.links.push(Link {
            source,
            target,
            link_type: link_type.clone(),
        });
        w.touch(source, SYSTEM_USER);
        w.touch(target, SYSTEM_USER);
        let link_type_id = match link_type.as_str() {
            "normal" => 1,
            "parent" => 2,
            _ => 3,
        };
        Ok(json!({
            "id": id,
            "link_type_id": link_type_id,
            "link_object_source_id": 2,
            "link_object_source_value": source,
            "link_object_target_id": 2,
            "link_object_target_value": target,
            "created_at": format_time(created_at),
            "updated_at": format_time(created_at),
        }))
    })?;
    Ok((StatusCode::CREATED, Json(link)).into_response())
}

/// One `field:value` clause of a search query.
#[derive(Debug, PartialEq)]
enum Clause {
    /// A range of times or numbers; `None` bounds are open.
    Range {
        field: String,
        from: Option<(String, bool)>,
        to: Option<(String, bool)>,
    },
    /// A phrase or a term.
    Text { field: String, text: String },
}

/// Undoes query-string backslash escapes.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses the query subset described in the module docs; `None` for anything else.
fn parse_query(query: &str) -> Option<Vec<Clause>> {
    let mut clauses = Vec::new();
    for part in query.split(" AND ") {
        let part = part.trim();
        let (field, value) = part.split_once(':')?;
        let field = field.trim().to_owned();
        if field.is_empty() || field.contains(char::is_whitespace) {
            return None;
        }
        let value = value.trim();
        let clause =
            if let Some(inner) = value.strip_prefix('[').or_else(|| value.strip_prefix('{')) {
                let from_inclusive = value.starts_with('[');
                let to_inclusive = inner.ends_with(']');
                let inner = inner
                    .strip_suffix(']')
                    .or_else(|| inner.strip_suffix('}'))?;
                let (lo, hi) = inner.split_once(" TO ")?;
                let bound = |text: &str, inclusive: bool| {
                    let text = text.trim().trim_matches('"');
                    (text != "*").then(|| (unescape(text), inclusive))
                };
                Clause::Range {
                    field,
                    from: bound(lo, from_inclusive),
                    to: bound(hi, to_inclusive),
                }
            } else if let Some(rest) = value.strip_prefix(">=") {
                Clause::Range {
                    field,
                    from: Some((unescape(rest), true)),
                    to: None,
                }
            } else if let Some(rest) = value.strip_prefix('>') {
                Clause::Range {
                    field,
                    from: Some((unescape(rest), false)),
                    to: None,
                }
            } else if let Some(rest) = value.strip_prefix("<=") {
                Clause::Range {
                    field,
                    from: None,
                    to: Some((unescape(rest), true)),
                }
            } else if let Some(rest) = value.strip_prefix('<') {
                Clause::Range {
                    field,
                    from: None,
                    to: Some((unescape(rest), false)),
                }
            } else if let Some(phrase) = value.strip_prefix('"') {
                let phrase = phrase.strip_suffix('"')?;
                Clause::Text {
                    field,
                    text: unescape(phrase),
                }
            } else {
                if value.is_empty() || value.contains(['(', ')', '"']) {
                    return None;
                }
                Clause::Text {
                    field,
                    text: unescape(value),
                }
            };
        clauses.push(clause);
    }
    Some(clauses)
}

/// Elasticsearch's standard analyzer, near enough: lower-case alphanumeric tokens.
fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether `needle`'s tokens appear in `haystack`'s, consecutively.
fn phrase_matches(haystack: &str, needle: &str) -> bool {
    let hay = tokens(haystack);
    let needle = tokens(needle);
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle.as_slice())
}

enum FieldValue {
    Time(OffsetDateTime),
    Number(i64),
    Text(String),
}

fn field_value(t: &Ticket, field: &str) -> Option<FieldValue> {
    Some(match field {
        "updated_at" => FieldValue::Time(t.updated_at),
        "created_at" => FieldValue::Time(t.created_at),
        "id" => FieldValue::Number(t.id),
        "customer_id" => FieldValue::Number(t.customer_id),
        "group_id" => FieldValue::Number(t.group_id),
        "state_id" => FieldValue::Number(t.state_id),
        "priority_id" => FieldValue::Number(t.priority_id),
        "owner_id" => FieldValue::Number(t.owner_id),
        "number" => FieldValue::Text(t.number.clone()),
        "title" => FieldValue::Text(t.title.clone()),
        "note" => FieldValue::Text(t.note.clone().unwrap_or_default()),
        _ => return None,
    })
}

/// Whether a ticket matches a clause; `None` when the clause cannot apply (an unknown field, a
/// bound that is no time or number).
fn matches(t: &Ticket, clause: &Clause) -> Option<bool> {
    match clause {
        Clause::Text { field, text } => match field_value(t, field)? {
            FieldValue::Text(value) => Some(phrase_matches(&value, text)),
            FieldValue::Number(n) => Some(text.parse::<i64>().ok()? == n),
            FieldValue::Time(_) => None,
        },
        Clause::Range { field, from, to } => {
            let value = field_value(t, field)?;
            let check = |bound: &Option<(String, bool)>, above: bool| -> Option<bool> {
                let Some((text, inclusive)) = bound else {
                    return Some(true);
                };
                let ordering = match &value {
                    FieldValue::Time(at) => at.cmp(&OffsetDateTime::parse(text, &Rfc3339).ok()?),
                    FieldValue::Number(n) => n.cmp(&text.parse::<i64>().ok()?),
                    FieldValue::Text(_) => return None,
                };
                Some(match (above, inclusive) {
                    (true, true) => ordering.is_ge(),
                    (true, false) => ordering.is_gt(),
                    (false, true) => ordering.is_le(),
                    (false, false) => ordering.is_lt(),
                })
            };
            Some(check(from, true)? && check(to, false)?)
        }
    }
}

async fn ticket_search(
    State(fake): State<FakeZammad>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    let per_page = query
        .get("per_page")
        .or_else(|| query.get("limit"))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(SEARCH_DEFAULT)
        .min(SEARCH_MAX);
    let page = query
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let text = query.get("query").map(String::as_str).unwrap_or_default();
    let w = fake.world();
    let clauses = parse_query(text);
    if clauses.is_none() {
        tracing::warn!(
            query = text,
            "FakeZammad cannot parse a search query; it finds nothing."
        );
    }
    let mut found: Vec<&Ticket> = match &clauses {
        Some(clauses) => w
            .tickets
            .values()
            .filter(|t| clauses.iter().all(|c| matches(t, c).unwrap_or(false)))
            .collect(),
        None => Vec::new(),
    };
    let sort_by = query.get("sort_by").map(String::as_str);
    let descending = match sort_by {
        Some(_) => query.get("order_by").map(String::as_str) == Some("desc"),
        None => true,
    };
    match sort_by.unwrap_or("updated_at") {
        "created_at" => found.sort_by_key(|t| (t.created_at, t.id)),
        "id" => found.sort_by_key(|t| t.id),
        _ => found.sort_by_key(|t| (t.updated_at, t.id)),
    }
    if descending {
        found.reverse();
    }
    let page: Vec<&Ticket> = found
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    if expand(&query) {
        let mut list: Vec<Value> = page.iter().map(|t| ticket_json(&w, t, true)).collect();
        if list.len() < per_page {
            super::oddities::search_tail(&w, &mut list);
        }
        return Ok(Json(Value::Array(list)).into_response());
    }
    let ids: Vec<i64> = page.iter().map(|t| t.id).collect();
    let assets: Map<String, Value> = page
        .iter()
        .map(|t| (t.id.to_string(), ticket_json(&w, t, false)))
        .collect();
    Ok(Json(json!({
        "tickets": ids,
        "tickets_count": ids.len(),
        "assets": {"Ticket": assets},
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_into_clauses() {
        assert_eq!(
            parse_query("updated_at:[2026-11-21T12:00:00.000Z TO *]"),
            Some(vec![Clause::Range {
                field: "updated_at".into(),
                from: Some(("2026-11-21T12:00:00.000Z".into(), true)),
                to: None,
            }])
        );
        assert_eq!(
            parse_query("updated_at:>=2026-11-21T12\\:00\\:00Z AND note:\"tg:-1:2\""),
            Some(vec![
                Clause::Range {
                    field: "updated_at".into(),
                    from: Some(("2026-11-21T12:00:00Z".into(), true)),
                    to: None,
                },
                Clause::Text {
                    field: "note".into(),
                    text: "tg:-1:2".into(),
                },
            ])
        );
        assert_eq!(parse_query("just words"), None);
        assert_eq!(parse_query("note:\"open"), None);
        assert_eq!(parse_query("id:{1 TO 5]").map(|c| c.len()), Some(1));
    }

    #[test]
    fn phrases_match_token_sequences() {
        assert!(phrase_matches("tg:-100123:42", "tg:-100123:42"));
        assert!(!phrase_matches("tg:-100123:420", "tg:-100123:42"));
        assert!(phrase_matches("Не печатает Принтер", "принтер"));
        assert!(!phrase_matches("", "x"));
    }
}
