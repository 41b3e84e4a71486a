//! The HTTP side of [`FakeRedmine`]: routes, the request gate (outage, auth, switch user,
//! injected failures, recording) and Redmine's JSON shapes.

use super::{
    CustomField, Detail, FakeRedmine, Issue, Journal, MAX_ATTACHMENT, Membership, RedmineCall,
    Relation, StoredFile, Update, User, World, crlf, format_time,
};
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Map, Value, json};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::time::Duration;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

const MAX_BODY: usize = 64 * 1024 * 1024;
const MAX_PAGE: usize = 100;
const DEFAULT_PAGE: usize = 25;

/// The authenticated user a request acts as (after `X-Redmine-Switch-User`).
#[derive(Clone, Copy, Debug)]
struct Actor(i64);

pub(super) fn router(fake: FakeRedmine) -> Router {
    Router::new()
        .route("/users/current.json", get(current_user))
        .route("/users.json", get(list_users).post(create_user))
        .route("/users/{file}", get(show_user))
        .route("/roles.json", get(list_roles))
        .route("/trackers.json", get(list_trackers))
        .route("/issue_statuses.json", get(list_statuses))
        .route("/enumerations/issue_priorities.json", get(list_priorities))
        .route("/custom_fields.json", get(list_custom_fields))
        .route("/projects/{file}", get(show_project))
        .route(
            "/projects/{id}/memberships.json",
            get(list_memberships).post(create_membership),
        )
        .route("/issues.json", get(list_issues).post(create_issue))
        .route("/issues/{file}", get(show_issue).put(update_issue))
        .route(
            "/issues/{id}/relations.json",
            get(list_relations).post(create_relation),
        )
        .route("/uploads.json", axum::routing::post(upload))
        .route("/attachments/{file}", get(show_attachment))
        .route("/attachments/download/{id}", get(download))
        .route("/attachments/download/{id}/{name}", get(download_named))
        .fallback(|| async { empty(StatusCode::NOT_FOUND) })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(fake.clone(), gate))
        .with_state(fake)
}

/// Redmine's API answers 401/403/404/412 (and 204) with an empty JSON-typed body.
fn empty(status: StatusCode) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], "").into_response()
}

fn unprocessable(errors: Vec<String>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({ "errors": errors })),
    )
        .into_response()
}

/// A refusal; boxed to stay small, so handlers can use `?`.
struct Reject(Box<Response>);

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        *self.0
    }
}

type Answer = Result<Response, Reject>;

fn reject(status: StatusCode) -> Reject {
    Reject(Box::new(empty(status)))
}

fn invalid(errors: Vec<String>) -> Reject {
    Reject(Box::new(unprocessable(errors)))
}

/// What every request goes through before its handler, and how it is recorded after.
async fn gate(State(fake): State<FakeRedmine>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let recorded_body = if is_json {
        serde_json::from_slice(&bytes).ok()
    } else {
        None
    };
    let method = parts.method.to_string();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();

    let (response, acting_as) = match admit(&fake, &parts) {
        Err(refusal) => (refusal, None),
        Ok((actor, login)) => {
            parts.extensions.insert(actor);
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            (response, Some(login))
        }
    };
    let status = response.status().as_u16();
    fake.change(|w| {
        w.calls.push(RedmineCall {
            method,
            path,
            query,
            body: recorded_body,
            acting_as,
            status,
        })
    });
    response
}

fn api_key(parts: &Parts) -> Option<String> {
    if let Some(key) = parts
        .headers
        .get("x-redmine-api-key")
        .and_then(|v| v.to_str().ok())
    {
        return Some(key.trim().to_owned());
    }
    parts.uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == "key")
            .map(|(_, v)| v.to_owned())
    })
}

/// Admits a request, or answers for the server; on admission returns the acting user.
#[allow(clippy::result_large_err)]
fn admit(fake: &FakeRedmine, parts: &Parts) -> Result<(Actor, String), Response> {
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
    let key = api_key(parts);
    let user = key
        .as_deref()
        .and_then(|key| w.users.iter().find(|u| u.api_key == key && u.status == 1))
        .cloned();
    let Some(mut user) = user else {
        if parts.uri.path().starts_with("/attachments/download/") {
            // Not an API route: the web UI sends anonymous visitors to its login page.
            let back = parts.uri.path();
            return Err((
                StatusCode::FOUND,
                [(
                    header::LOCATION,
                    format!("{}/login?back_url={back}", w.base_url),
                )],
            )
                .into_response());
        }
        let mut response = empty(StatusCode::UNAUTHORIZED);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Redmine API\""),
        );
        return Err(response);
    };
    if user.admin
        && let Some(login) = parts
            .headers
            .get("x-redmine-switch-user")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|l| !l.is_empty())
    {
        match w.users.iter().find(|u| u.login == login && u.status == 1) {
            Some(switched) => user = switched.clone(),
            None => return Err(empty(StatusCode::PRECONDITION_FAILED)),
        }
    }
    if let Some(status) = w.fail_next.pop_front() {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = empty(code);
        if status == 429 {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(1));
        }
        return Err(response);
    }
    Ok((Actor(user.id), user.login))
}

fn parse_json(bytes: &Bytes) -> Result<Map<String, Value>, Reject> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(reject(StatusCode::BAD_REQUEST)),
    }
}

/// `12.json` → 12.
fn id_of(file: &str) -> Result<i64, Reject> {
    file.strip_suffix(".json")
        .unwrap_or(file)
        .parse()
        .map_err(|_| reject(StatusCode::NOT_FOUND))
}

fn int(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_owned()),
        _ => None,
    }
}

fn truthy(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.as_str(), "1" | "true"),
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        _ => false,
    }
}

fn paging(query: &HashMap<String, String>) -> (usize, usize) {
    let offset = query
        .get("offset")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let limit = query
        .get("limit")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(DEFAULT_PAGE)
        .min(MAX_PAGE);
    (offset, limit)
}

fn named(id: i64, name: impl Into<String>) -> Value {
    json!({ "id": id, "name": name.into() })
}

/// A user; `full` adds what `/users/current.json`, a create and an admin's `/users/{id}.json`
/// show (the API key and the status), which `/users.json` lists leave out.
fn user_json(user: &User, full: bool) -> Value {
    let mut value = json!({
        "id": user.id,
        "login": user.login,
        "admin": user.admin,
        "firstname": user.firstname,
        "lastname": user.lastname,
        "mail": user.mail,
        "created_on": format_time(user.created_on),
        "updated_on": format_time(user.created_on),
        "last_login_on": null,
        "passwd_changed_on": null,
        "twofa_scheme": null,
    });
    if full {
        value["api_key"] = json!(user.api_key);
        value["status"] = json!(user.status);
    }
    value
}

fn attachment_json(w: &World, f: &StoredFile) -> Value {
    let mut value = json!({
        "id": f.id,
        "filename": f.filename,
        "filesize": f.bytes.len(),
        "content_type": f.content_type,
        "description": "",
        "content_url": format!("{}/attachments/download/{}/{}", w.base_url, f.id, percent_encode(&f.filename)),
    });
    if f.content_type.starts_with("image/") {
        value["thumbnail_url"] = json!(format!("{}/attachments/thumbnail/{}", w.base_url, f.id));
    }
    value["author"] = named(f.author_id, w.user_name(f.author_id));
    value["created_on"] = json!(format_time(f.created_on));
    value
}

fn journal_json(w: &World, j: &Journal) -> Value {
    json!({
        "id": j.id,
        "user": named(j.user_id, w.user_name(j.user_id)),
        "notes": j.notes,
        "created_on": format_time(j.created_on),
        "private_notes": j.private_notes,
        "details": j.details.iter().map(|d| json!({
            "property": d.property,
            "name": d.name,
            "old_value": d.old_value,
            "new_value": d.new_value,
        })).collect::<Vec<_>>(),
    })
}

fn relation_json(r: &Relation) -> Value {
    json!({
        "id": r.id,
        "issue_id": r.from,
        "issue_to_id": r.to,
        "relation_type": r.relation_type,
        "delay": null,
    })
}

#[derive(Default)]
struct Includes {
    journals: bool,
    attachments: bool,
    relations: bool,
}

impl Includes {
    fn parse(query: &HashMap<String, String>) -> Self {
        let mut includes = Self::default();
        for name in query
            .get("include")
            .map(String::as_str)
            .unwrap_or_default()
            .split(',')
        {
            match name.trim() {
                "journals" => includes.journals = true,
                "attachments" => includes.attachments = true,
                "relations" => includes.relations = true,
                _ => {}
            }
        }
        includes
    }
}

/// An issue as Redmine's `show.api.rsb` renders it, in its field order.
fn issue_json(w: &World, i: &Issue, viewer: i64, includes: &Includes) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(i.id));
    let project = w.project(i.project_id);
    m.insert(
        "project".into(),
        named(
            i.project_id,
            project.map(|p| p.name.clone()).unwrap_or_default(),
        ),
    );
    m.insert(
        "tracker".into(),
        named(i.tracker_id, w.tracker_name(i.tracker_id)),
    );
    let status = w.status(i.status_id);
    m.insert(
        "status".into(),
        json!({
            "id": i.status_id,
            "name": status.map(|s| s.name).unwrap_or_default(),
            "is_closed": status.is_some_and(|s| s.is_closed),
        }),
    );
    m.insert(
        "priority".into(),
        named(
            i.priority_id,
            w.priority(i.priority_id)
                .map(|p| p.name)
                .unwrap_or_default(),
        ),
    );
    m.insert(
        "author".into(),
        named(i.author_id, w.user_name(i.author_id)),
    );
    if let Some(assignee) = i.assigned_to_id {
        m.insert("assigned_to".into(), named(assignee, w.user_name(assignee)));
    }
    if let Some(category) = i.category_id {
        let name = project
            .and_then(|p| p.categories.iter().find(|(id, _)| *id == category))
            .map(|(_, name)| name.clone())
            .unwrap_or_default();
        m.insert("category".into(), named(category, name));
    }
    m.insert("subject".into(), json!(i.subject));
    m.insert("description".into(), json!(i.description));
    let date = format_description!("[year]-[month]-[day]");
    m.insert(
        "start_date".into(),
        json!(i.start_date.format(&date).unwrap_or_default()),
    );
    m.insert(
        "due_date".into(),
        json!(i.due_date.and_then(|d| d.format(&date).ok())),
    );
    m.insert("done_ratio".into(), json!(0));
    m.insert("is_private".into(), json!(false));
    m.insert("estimated_hours".into(), Value::Null);
    m.insert("total_estimated_hours".into(), Value::Null);
    if !w.custom_fields.is_empty() {
        let fields: Vec<Value> = w
            .custom_fields
            .iter()
            .map(|f| {
                json!({
                    "id": f.id,
                    "name": f.name,
                    "value": i.custom_values.get(&f.id).cloned().unwrap_or_default(),
                })
            })
            .collect();
        m.insert("custom_fields".into(), Value::Array(fields));
    }
    m.insert("created_on".into(), json!(format_time(i.created_on)));
    m.insert("updated_on".into(), json!(format_time(i.updated_on)));
    m.insert("closed_on".into(), json!(i.closed_on.map(format_time)));
    if includes.attachments {
        let files: Vec<Value> = w
            .files
            .values()
            .filter(|f| f.issue_id == Some(i.id))
            .map(|f| attachment_json(w, f))
            .collect();
        m.insert("attachments".into(), Value::Array(files));
    }
    if includes.relations {
        let relations: Vec<Value> = w
            .relations
            .iter()
            .filter(|r| r.from == i.id || r.to == i.id)
            .map(relation_json)
            .collect();
        // Redmine leaves the key out when there are none.
        if !relations.is_empty() {
            m.insert("relations".into(), Value::Array(relations));
        }
    }
    if includes.journals {
        let journals: Vec<Value> = w
            .journals
            .iter()
            .filter(|j| j.issue_id == i.id && w.can_see_journal(viewer, j, i.project_id))
            .map(|j| journal_json(w, j))
            .collect();
        m.insert("journals".into(), Value::Array(journals));
    }
    super::oddities::issue(w, i.id, &mut m);
    Value::Object(m)
}

fn percent_encode(text: &str) -> String {
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

async fn current_user(
    State(fake): State<FakeRedmine>,
    Extension(actor): Extension<Actor>,
) -> Answer {
    let w = fake.world();
    let user = w
        .user(actor.0)
        .ok_or_else(|| reject(StatusCode::UNAUTHORIZED))?;
    Ok(Json(json!({ "user": user_json(user, true) })).into_response())
}

async fn list_users(
    State(fake): State<FakeRedmine>,
    Extension(actor): Extension<Actor>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    let w = fake.world();
    if !w.is_admin(actor.0) {
        return Err(reject(StatusCode::FORBIDDEN));
    }
    let name = query.get("name").map(|n| n.to_lowercase());
    let status = query
        .get("status")
        .map(|s| s.parse::<i64>().ok())
        .unwrap_or(Some(1));
    let (offset, limit) = paging(&query);
    let users: Vec<&User> = w
        .users
        .iter()
        .filter(|u| status.is_none_or(|s| u.status == s))
        .filter(|u| {
            name.as_ref().is_none_or(|n| {
                [&u.login, &u.firstname, &u.lastname, &u.mail]
                    .iter()
                    .any(|field| field.to_lowercase().contains(n.as_str()))
            })
        })
        .collect();
    let page: Vec<Value> = users
        .iter()
        .skip(offset)
        .take(limit)
        .map(|u| user_json(u, false))
        .collect();
    Ok(Json(json!({
        "users": page, "total_count": users.len(), "offset": offset, "limit": limit,
    }))
    .into_response())
}

async fn create_user(
    State(fake): State<FakeRedmine>,
    Extension(actor): Extension<Actor>,
    bytes: Bytes,
) -> Answer {
    let body = parse_json(&bytes)?;
    let user = body
        .get("user")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let field = |key: &str| text(user.get(key)).unwrap_or_default().trim().to_owned();
    let (login, first, last, mail) = (
        field("login"),
        field("firstname"),
        field("lastname"),
        field("mail"),
    );
    let created = fake.change(|w| {
        if !w.is_admin(actor.0) {
            return Err(reject(StatusCode::FORBIDDEN));
        }
        let mut errors = Vec::new();
        if login.is_empty() {
            errors.push("Login cannot be blank".to_owned());
        } else if w.users.iter().any(|u| u.login.eq_ignore_ascii_case(&login)) {
            errors.push("Login has already been taken".to_owned());
        }
        if first.is_empty() {
            errors.push("First name cannot be blank".to_owned());
        }
        if last.is_empty() {
            errors.push("Last name cannot be blank".to_owned());
        }
        if mail.is_empty() {
            errors.push("Email cannot be blank".to_owned());
        } else if w.users.iter().any(|u| u.mail.eq_ignore_ascii_case(&mail)) {
            errors.push("Email has already been taken".to_owned());
        }
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        let id = w.add_user(&login, &first, &last, None);
        let stored = w.users.iter_mut().find(|u| u.id == id).expect("just added");
        stored.mail = mail.clone();
        stored.admin = truthy(user.get("admin"));
        Ok(user_json(stored, true))
    })?;
    Ok((StatusCode::CREATED, Json(json!({ "user": created }))).into_response())
}

async fn show_user(
    State(fake): State<FakeRedmine>,
    Extension(actor): Extension<Actor>,
    Path(file): Path<String>,
) -> Answer {
    let id = id_of(&file)?;
    let w = fake.world();
    let user = w.user(id).ok_or_else(|| reject(StatusCode::NOT_FOUND))?;
    let with_key = w.is_admin(actor.0) || actor.0 == id;
    Ok(Json(json!({ "user": user_json(user, with_key) })).into_response())
}

async fn list_roles(State(fake): State<FakeRedmine>) -> Response {
    let w = fake.world();
    let roles: Vec<Value> = w.roles.iter().map(|r| named(r.id, r.name)).collect();
    Json(json!({ "roles": roles })).into_response()
}

async fn list_trackers(State(fake): State<FakeRedmine>) -> Response {
    let w = fake.world();
    let trackers: Vec<Value> = w
        .trackers
        .iter()
        .map(|(id, name)| {
            json!({
                "id": id, "name": name,
                "default_status": named(FakeRedmine::STATUS_NEW, "New"),
                "description": null,
                "enabled_standard_fields": [
                    "assigned_to_id", "category_id", "fixed_version_id", "parent_issue_id",
                    "start_date", "due_date", "estimated_hours", "done_ratio", "description"
                ],
            })
        })
        .collect();
    Json(json!({ "trackers": trackers })).into_response()
}

async fn list_statuses(State(fake): State<FakeRedmine>) -> Response {
    let w = fake.world();
    let statuses: Vec<Value> = w
        .statuses
        .iter()
        .map(|s| json!({ "id": s.id, "name": s.name, "is_closed": s.is_closed }))
        .collect();
    Json(json!({ "issue_statuses": statuses })).into_response()
}

async fn list_priorities(State(fake): State<FakeRedmine>) -> Response {
    let w = fake.world();
    let priorities: Vec<Value> = w
        .priorities
        .iter()
        .map(|p| json!({ "id": p.id, "name": p.name, "is_default": p.is_default, "active": true }))
        .collect();
    Json(json!({ "issue_priorities": priorities })).into_response()
}

fn custom_field_json(w: &World, f: &CustomField) -> Value {
    json!({
        "id": f.id, "name": f.name, "customized_type": "issue", "field_format": f.field_format,
        "regexp": "", "min_length": null, "max_length": null, "is_required": false,
        "is_filter": f.is_filter, "searchable": false, "multiple": false, "default_value": "",
        "visible": true,
        "trackers": w.trackers.iter().map(|(id, name)| named(*id, *name)).collect::<Vec<_>>(),
        "roles": [],
    })
}

async fn list_custom_fields(
    State(fake): State<FakeRedmine>,
    Extension(actor): Extension<Actor>,
) -> Answer {
    let w = fake.world();
    if !w.is_admin(actor.0) {
        return Err(reject(StatusCode::FORBIDDEN));
    }
    let fields: Vec<Value> = w
        .custom_fields
        .iter()
        .map(|f| custom_field_json(&w, f))
        .collect();
    Ok(Json(json!({ "custom_fields": fields })).into_response())
}

async fn show_project(
    State(fake): State<FakeRedmine>,
    Extension(actor): Extension<Actor>,
    Path(file): Path<String>,
) -> Answer {
    let reference = file.strip_suffix(".json").unwrap_or(&file);
    let w = fake.world();
    let project = w
        .project_by_ref(reference)
        .ok_or_else(|| reject(StatusCode::NOT_FOUND))?;
    if !w.can_see_project(actor.0, project.id) {
        return Err(reject(StatusCode::FORBIDDEN));
    }
    Ok(Json(json!({ "project": {
        "id": project.id, "name": project.name, "identifier": project.identifier,
        "description": null, "homepage": "", "status": 1, "is_public": false,
        "inherit_members": false,
        "created_on": format_time(project.created_on), "updated_on": format_time(project.created_on),
    }}))
    .into_response())
}

fn membership_json(w: &World, m: &Membership) -> Value {
    json!({
        "id": m.id,
        "project": named(m.project_id, w.project(m.project_id).map(|p| p.name.clone()).unwrap_or_default()),
        "user": named(m.user_id, w.user_name(m.user_id)),
        "roles": m.role_ids.iter().filter_map(|r| w.roles.iter().find(|role| role.id == *r))
            .map(|r| named(r.id, r.name)).collect::<Vec<_>>(),
    })
}

async fn list_memberships(
    State(fake): State<FakeRedmine>,
    Extension(actor): Extension<Actor>,
    Path(reference): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    let w = fake.world();
    let project = w
        .project_by_ref(&reference)
        .ok_or_else(|| reject(StatusCode::NOT_FOUND))?;
    if !w.can_see_project(actor.0, project.id) {
        return Err(reject(StatusCode::FORBIDDEN));
    }
    let (offset, limit) = paging(&query);
    let all: Vec<&Membership> = w
        .memberships
        .iter()
        .filter(|m| m.project_id == project.id)
        .collect();
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|m| membership_json(&w, m))
        .collect();
    Ok(Json(json!({
        "memberships": page, "total_count": all.len(), "offset": offset, "limit": limit,
    }))
    .into_response())
}

async fn create_membership(
    State(fake): State<FakeRedmine>,
    Extension(actor): Extension<Actor>,
    Path(reference): Path<String>,
    bytes: Bytes,
) -> Answer {
    let body = parse_json(&bytes)?;
    let membership = body
        .get("membership")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let user_id = int(membership.get("user_id"));
    let role_ids: Vec<i64> = membership
        .get("role_ids")
        .and_then(Value::as_array)
        .map(|ids| ids.iter().filter_map(|v| int(Some(v))).collect())
        .unwrap_or_default();
    let created = fake.change(|w| {
        let project = w
            .project_by_ref(&reference)
            .map(|p| p.id)
            .ok_or_else(|| reject(StatusCode::NOT_FOUND))?;
        if !w.is_admin(actor.0) {
            return Err(reject(StatusCode::FORBIDDEN));
        }
        let mut errors = Vec::new();
        match user_id {
            Some(user) if w.user(user).is_some() => {
                if w.memberships
                    .iter()
                    .any(|m| m.project_id == project && m.user_id == user)
                {
                    errors.push("User has already been taken".to_owned());
                }
            }
            _ => errors.push("Principal cannot be blank".to_owned()),
        }
        let roles: Vec<i64> = role_ids
            .iter()
            .copied()
            .filter(|r| w.roles.iter().any(|role| role.id == *r))
            .collect();
        if roles.is_empty() {
            errors.push("Role cannot be empty".to_owned());
        }
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        let id = w.next_membership;
        w.next_membership += 1;
        let membership = Membership {
            id,
            project_id: project,
            user_id: user_id.expect("checked"),
            role_ids: roles,
        };
        let json = membership_json(w, &membership);
        w.memberships.push(membership);
        Ok(json)
    })?;
    Ok((StatusCode::CREATED, Json(json!({ "membership": created }))).into_response())
}

/// A time bound of a date filter.
enum Bound {
    Date(Date),
    Time(OffsetDateTime),
}

fn parse_bound(text: &str) -> Option<Bound> {
    let date = format_description!("[year]-[month]-[day]");
    if let Ok(d) = Date::parse(text, &date) {
        return Some(Bound::Date(d));
    }
    let datetime = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let trimmed = text.strip_suffix('Z').unwrap_or(text);
    PrimitiveDateTime::parse(trimmed, &datetime)
        .ok()
        .map(|t| Bound::Time(t.assume_offset(UtcOffset::UTC)))
}

/// Redmine's `date_clause`: `>=` a time means `> time − 1 s` on the stored (precise) value,
/// `>=` a date the start of that day; `<=` a time is exact, `<=` a date the end of that day.
fn time_filter(raw: &str) -> Option<impl Fn(OffsetDateTime) -> bool + use<>> {
    let (from, to) = if let Some(v) = raw.strip_prefix(">=") {
        (Some(parse_bound(v)?), None)
    } else if let Some(v) = raw.strip_prefix("<=") {
        (None, Some(parse_bound(v)?))
    } else if let Some(v) = raw.strip_prefix("><") {
        let (a, b) = v.split_once('|')?;
        (Some(parse_bound(a)?), Some(parse_bound(b)?))
    } else {
        return None;
    };
    let from = from.map(|b| match b {
        Bound::Date(d) => d.midnight().assume_utc() - Duration::from_micros(1),
        Bound::Time(t) => t - Duration::from_secs(1),
    });
    let to = to.map(|b| match b {
        Bound::Date(d) => {
            d.next_day().unwrap_or(d).midnight().assume_utc() - Duration::from_micros(1)
        }
        Bound::Time(t) => t,
    });
    Some(move |at: OffsetDateTime| from.is_none_or(|f| at > f) && to.is_none_or(|t| at <= t))
}

fn user_value(raw: &str, actor: Actor) -> Option<i64> {
    if raw == "me" {
        Some(actor.0)
    } else {
        raw.parse().ok()
    }
}

fn contains_words(haystack: &str, words: &str) -> bool {
    let haystack = haystack.to_lowercase();
    words
        .split_whitespace()
        .all(|word| haystack.contains(&word.to_lowercase()))
}

async fn list_issues(
    State(fake): State<FakeRedmine>,
    Extension(actor): Extension<Actor>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    let w = fake.world();
    let mut errors = Vec::new();
    let project = match query.get("project_id") {
        Some(reference) => {
            let id = w
                .project_by_ref(reference)
                .map(|p| p.id)
                .ok_or_else(|| reject(StatusCode::NOT_FOUND))?;
            if !w.can_see_project(actor.0, id) {
                return Err(reject(StatusCode::FORBIDDEN));
            }
            Some(id)
        }
        None => None,
    };
    let updated = query.get("updated_on").map(|raw| time_filter(raw));
    if matches!(updated, Some(None)) {
        errors.push("Updated is invalid".to_owned());
    }
    let created = query.get("created_on").map(|raw| time_filter(raw));
    if matches!(created, Some(None)) {
        errors.push("Created is invalid".to_owned());
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let updated = updated.flatten();
    let created = created.flatten();
    let status_filter = query.get("status_id").map(String::as_str).unwrap_or("open");
    let author = query.get("author_id").and_then(|v| user_value(v, actor));
    let assignee = query.get("assigned_to_id").map(String::as_str);
    let tracker = query.get("tracker_id").and_then(|v| v.parse::<i64>().ok());
    let custom: Vec<(i64, &String)> = query
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("cf_")?.parse::<i64>().ok()?, v)))
        // Redmine ignores filters on fields that do not exist or are not filters.
        .filter(|(id, _)| w.custom_fields.iter().any(|f| f.id == *id && f.is_filter))
        .collect();
    let text_filter = |key: &str, value: Option<&str>| -> bool {
        match query.get(key) {
            None => true,
            Some(raw) => {
                let value = value.unwrap_or_default();
                if let Some(words) = raw.strip_prefix("!~") {
                    !contains_words(value, words)
                } else if let Some(words) = raw.strip_prefix('~') {
                    contains_words(value, words)
                } else {
                    value == raw.as_str()
                }
            }
        }
    };
    let mut issues: Vec<&Issue> = w
        .issues
        .values()
        .filter(|i| w.can_see_project(actor.0, i.project_id))
        .filter(|i| project.is_none_or(|p| i.project_id == p))
        .filter(|i| {
            let closed = w.status(i.status_id).is_some_and(|s| s.is_closed);
            match status_filter {
                "*" => true,
                "o" | "open" => !closed,
                "c" | "closed" => closed,
                ids => ids
                    .split('|')
                    .filter_map(|id| id.parse::<i64>().ok())
                    .any(|id| id == i.status_id),
            }
        })
        .filter(|i| author.is_none_or(|a| i.author_id == a))
        .filter(|i| match assignee {
            None => true,
            Some("!*") => i.assigned_to_id.is_none(),
            Some("*") => i.assigned_to_id.is_some(),
            Some(raw) => user_value(raw, actor).is_some_and(|a| i.assigned_to_id == Some(a)),
        })
        .filter(|i| tracker.is_none_or(|t| i.tracker_id == t))
        .filter(|i| updated.as_ref().is_none_or(|f| f(i.updated_on)))
        .filter(|i| created.as_ref().is_none_or(|f| f(i.created_on)))
        .filter(|i| text_filter("subject", Some(&i.subject)))
        .filter(|i| text_filter("description", i.description.as_deref()))
        .filter(|i| {
            custom.iter().all(|(id, value)| {
                let set = i.custom_values.get(id).filter(|v| !v.is_empty());
                // `*` is "any value", `!*` "none", as Redmine's short filter operators.
                match value.as_str() {
                    "*" => set.is_some(),
                    "!*" => set.is_none(),
                    _ => i.custom_values.get(id) == Some(*value),
                }
            })
        })
        .collect();
    let sort = query.get("sort").map(String::as_str).unwrap_or("id:desc");
    let keys: Vec<(&str, bool)> = sort
        .split(',')
        .map(|key| match key.trim().split_once(':') {
            Some((name, dir)) => (name, dir == "desc"),
            None => (key.trim(), false),
        })
        .collect();
    issues.sort_by(|a, b| {
        for (key, desc) in &keys {
            let order = match *key {
                "id" => a.id.cmp(&b.id),
                "updated_on" => a.updated_on.cmp(&b.updated_on),
                "created_on" => a.created_on.cmp(&b.created_on),
                "priority" => a.priority_id.cmp(&b.priority_id),
                "status" => a.status_id.cmp(&b.status_id),
                "subject" => a.subject.cmp(&b.subject),
                _ => Ordering::Equal,
            };
            let order = if *desc { order.reverse() } else { order };
            if order != Ordering::Equal {
                return order;
            }
        }
        b.id.cmp(&a.id)
    });
    let (offset, limit) = paging(&query);
    let none = Includes::default();
    let mut page: Vec<Value> = issues
        .iter()
        .skip(offset)
        .take(limit)
        .map(|i| issue_json(&w, i, actor.0, &none))
        .collect();
    if page.len() < limit {
        super::oddities::list_tail(&w, &mut page);
    }
    Ok(Json(json!({
        "issues": page, "total_count": issues.len(), "offset": offset, "limit": limit,
    }))
    .into_response())
}

/// `uploads: [{token, filename, content_type}]` of a create or update.
fn uploads_of(issue: &Map<String, Value>) -> Vec<(String, Option<String>, Option<String>)> {
    issue
        .get("uploads")
        .and_then(Value::as_array)
        .map(|uploads| {
            uploads
                .iter()
                .filter_map(|u| {
                    Some((
                        u.get("token")?.as_str()?.to_owned(),
                        text(u.get("filename")),
                        text(u.get("content_type")),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn custom_values_of(issue: &Map<String, Value>) -> Vec<(i64, String)> {
    issue
        .get("custom_fields")
        .and_then(Value::as_array)
        .map(|fields| {
            fields
                .iter()
                .filter_map(|f| {
                    let id = int(f.get("id"))?;
                    let value = match f.get("value")? {
                        Value::Array(items) => items
                            .iter()
                            .filter_map(|i| text(Some(i)))
                            .collect::<Vec<_>>()
                            .join(","),
                        other => text(Some(other))?,
                    };
                    Some((id, value))
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn create_issue(
    State(fake): State<FakeRedmine>,
    Extension(actor): Extension<Actor>,
    bytes: Bytes,
) -> Answer {
    let body = parse_json(&bytes)?;
    let issue = body
        .get("issue")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let created = fake.change(|w| {
        let project = match issue.get("project_id") {
            Some(Value::Number(n)) => n.as_i64().and_then(|id| w.project(id)),
            Some(Value::String(s)) => w.project_by_ref(s.trim()),
            _ => None,
        }
        .cloned()
        // A project the user may not add issues to is, to Redmine, no project at all.
        .filter(|p| w.can_see_project(actor.0, p.id));
        let Some(project) = project else {
            return Err(invalid(vec![
                "Project cannot be blank".into(),
                "Tracker cannot be blank".into(),
                "Status cannot be blank".into(),
            ]));
        };
        let mut errors = Vec::new();
        let subject = text(issue.get("subject")).unwrap_or_default();
        if subject.trim().is_empty() {
            errors.push("Subject cannot be blank".to_owned());
        }
        // A tracker the project does not use is replaced by its first one, without an error.
        let tracker_id = int(issue.get("tracker_id"))
            .filter(|t| project.tracker_ids.contains(t))
            .unwrap_or(project.tracker_ids[0]);
        let priority_id = match int(issue.get("priority_id")) {
            Some(p) if w.priority(p).is_some() => p,
            Some(_) => {
                errors.push("Priority cannot be blank".to_owned());
                0
            }
            None => w
                .priorities
                .iter()
                .find(|p| p.is_default)
                .map(|p| p.id)
                .unwrap_or(1),
        };
        let assigned_to_id = int(issue.get("assigned_to_id"));
        if let Some(assignee) = assigned_to_id
            && !w.is_assignable(assignee, project.id)
        {
            errors.push("Assignee is invalid".to_owned());
        }
        let category_id = int(issue.get("category_id"));
        if let Some(category) = category_id
            && !project.categories.iter().any(|(id, _)| *id == category)
        {
            errors.push("Category is not included in the list".to_owned());
        }
        errors.extend(w.custom_value_errors(&custom_values_of(&issue)));
        let uploads = uploads_of(&issue);
        let unknown = w.unknown_uploads(actor.0, &uploads);
        if unknown > 0 {
            errors.push(format!("{unknown} file(s) could not be saved."));
        }
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        let custom_values = custom_values_of(&issue)
            .into_iter()
            .filter(|(id, _)| w.custom_fields.iter().any(|f| f.id == *id))
            .collect();
        let at = w.stamp();
        let id = w.next_issue;
        w.next_issue += 1;
        let new = Issue {
            id,
            project_id: project.id,
            tracker_id,
            status_id: FakeRedmine::STATUS_NEW,
            priority_id,
            author_id: actor.0,
            assigned_to_id,
            category_id,
            subject,
            description: text(issue.get("description")).map(|d| crlf(&d)),
            custom_values,
            start_date: at.date(),
            due_date: date_of(issue.get("due_date")),
            created_on: at,
            updated_on: at,
            closed_on: None,
        };
        w.issues.insert(id, new);
        // Files attached at creation belong to the issue, with no journal.
        w.attach(actor.0, id, &uploads);
        let json = issue_json(w, &w.issues[&id], actor.0, &Includes::default());
        Ok((id, json))
    })?;
    let (id, json) = created;
    let location = format!("{}/issues/{id}", fake.url());
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(json!({ "issue": json })),
    )
        .into_response())
}

/// A `YYYY-MM-DD` date; anything else (`null`, `""`) is none.
fn date_of(value: Option<&Value>) -> Option<time::Date> {
    let text = value?.as_str()?;
    time::Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}

fn visible_issue(w: &World, actor: Actor, id: i64) -> Result<&Issue, Reject> {
    let issue = w
        .issues
        .get(&id)
        .ok_or_else(|| reject(StatusCode::NOT_FOUND))?;
    if !w.can_see_project(actor.0, issue.project_id) {
        return Err(reject(StatusCode::FORBIDDEN));
    }
    Ok(issue)
}

async fn show_issue(
    State(fake): State<FakeRedmine>,
    Extension(actor): Extension<Actor>,
    Path(file): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    let id = id_of(&file)?;
    let w = fake.world();
    let issue = visible_issue(&w, actor, id)?;
    let json = issue_json(&w, issue, actor.0, &Includes::parse(&query));
    Ok(Json(json!({ "issue": json })).into_response())
}

async fn update_issue(
    State(fake): State<FakeRedmine>,
    Extension(actor): Extension<Actor>,
    Path(file): Path<String>,
    bytes: Bytes,
) -> Answer {
    let id = id_of(&file)?;
    let body = parse_json(&bytes)?;
    let issue = body
        .get("issue")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let update = Update {
        notes: text(issue.get("notes")),
        private_notes: truthy(issue.get("private_notes")),
        status_id: int(issue.get("status_id")),
        priority_id: int(issue.get("priority_id")),
        assigned_to_id: issue.get("assigned_to_id").map(|v| int(Some(v))),
        subject: text(issue.get("subject")),
        description: text(issue.get("description")),
        custom_values: custom_values_of(&issue),
        due_date: issue.get("due_date").map(|v| date_of(Some(v))),
        start_date: date_of(issue.get("start_date")),
        uploads: uploads_of(&issue),
    };
    fake.change(|w| {
        visible_issue(w, actor, id)?;
        w.apply(actor.0, id, update).map_err(invalid)
    })?;
    Ok(empty(StatusCode::NO_CONTENT))
}

async fn list_relations(
    State(fake): State<FakeRedmine>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Answer {
    let id = id_of(&id)?;
    let w = fake.world();
    visible_issue(&w, actor, id)?;
    let relations: Vec<Value> = w
        .relations
        .iter()
        .filter(|r| r.from == id || r.to == id)
        .map(relation_json)
        .collect();
    Ok(Json(json!({ "relations": relations })).into_response())
}

/// Redmine stores some relation types as their reverse, and `relates` from the lower id.
fn normalize_relation(from: i64, to: i64, kind: &str) -> Option<(i64, i64, &'static str)> {
    Some(match kind {
        "relates" if from > to => (to, from, "relates"),
        "relates" => (from, to, "relates"),
        "duplicates" => (from, to, "duplicates"),
        "duplicated" => (to, from, "duplicates"),
        "blocks" => (from, to, "blocks"),
        "blocked" => (to, from, "blocks"),
        "precedes" => (from, to, "precedes"),
        "follows" => (to, from, "precedes"),
        "copied_to" => (from, to, "copied_to"),
        "copied_from" => (to, from, "copied_to"),
        _ => return None,
    })
}

/// How a relation reads from the other issue's side, for its journal.
fn reverse_type(kind: &str) -> &'static str {
    match kind {
        "duplicates" => "duplicated",
        "blocks" => "blocked",
        "precedes" => "follows",
        "copied_to" => "copied_from",
        _ => "relates",
    }
}

async fn create_relation(
    State(fake): State<FakeRedmine>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Answer {
    let id = id_of(&id)?;
    let body = parse_json(&bytes)?;
    let relation = body
        .get("relation")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let to = int(relation.get("issue_to_id"));
    let kind = text(relation.get("relation_type")).unwrap_or_else(|| "relates".into());
    let created = fake.change(|w| {
        let project = visible_issue(w, actor, id)?.project_id;
        if !w.is_staff(actor.0, project) {
            return Err(reject(StatusCode::FORBIDDEN));
        }
        let Some(to) = to.filter(|to| *to != id && w.issues.contains_key(to)) else {
            return Err(invalid(vec!["Related issue cannot be blank".into()]));
        };
        let Some((from, to_id, stored)) = normalize_relation(id, to, &kind) else {
            return Err(invalid(vec![
                "Relation type is not included in the list".into(),
            ]));
        };
        if w.relations
            .iter()
            .any(|r| (r.from == from && r.to == to_id) || (r.from == to_id && r.to == from))
        {
            return Err(invalid(vec!["Related issue has already been taken".into()]));
        }
        let relation = Relation {
            id: w.next_relation,
            from,
            to: to_id,
            relation_type: stored.to_owned(),
        };
        w.next_relation += 1;
        // Both issues get a journal; neither's `updated_on` moves (as observed on Redmine 5.0).
        let at = w.stamp();
        let detail = |name: &str, other: i64| Detail {
            property: "relation".into(),
            name: name.into(),
            old_value: None,
            new_value: Some(other.to_string()),
        };
        w.push_journal(
            from,
            actor.0,
            Some(String::new()),
            false,
            at,
            vec![detail(stored, to_id)],
        );
        w.push_journal(
            to_id,
            actor.0,
            Some(String::new()),
            false,
            at,
            vec![detail(reverse_type(stored), from)],
        );
        let json = relation_json(&relation);
        w.relations.push(relation);
        Ok(json)
    })?;
    Ok((StatusCode::CREATED, Json(json!({ "relation": created }))).into_response())
}

async fn upload(
    State(fake): State<FakeRedmine>,
    Extension(actor): Extension<Actor>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Answer {
    let octets = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/octet-stream"));
    if !octets {
        return Err(reject(StatusCode::NOT_ACCEPTABLE));
    }
    // Thin, which Debian's Redmine runs on, does not read a chunked body: a length is needed.
    if !headers.contains_key(header::CONTENT_LENGTH) {
        return Err(reject(StatusCode::LENGTH_REQUIRED));
    }
    if bytes.len() > MAX_ATTACHMENT {
        return Err(invalid(vec![format!(
            "This file cannot be uploaded because it exceeds the maximum allowed file size ({MAX_ATTACHMENT})"
        )]));
    }
    let filename = query
        .get("filename")
        .cloned()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "upload".into());
    let (id, token) = fake.change(|w| w.upload(actor.0, &filename, bytes.to_vec()));
    Ok((
        StatusCode::CREATED,
        Json(json!({ "upload": { "id": id, "token": token } })),
    )
        .into_response())
}

fn visible_file(w: &World, actor: Actor, id: i64) -> Result<&StoredFile, Reject> {
    let file = w
        .files
        .get(&id)
        .ok_or_else(|| reject(StatusCode::NOT_FOUND))?;
    match file.issue_id {
        Some(issue) => {
            visible_issue(w, actor, issue)?;
        }
        None if file.author_id == actor.0 => {}
        None => return Err(reject(StatusCode::NOT_FOUND)),
    }
    Ok(file)
}

async fn show_attachment(
    State(fake): State<FakeRedmine>,
    Extension(actor): Extension<Actor>,
    Path(file): Path<String>,
) -> Answer {
    let id = id_of(&file)?;
    let w = fake.world();
    let stored = visible_file(&w, actor, id)?;
    Ok(Json(json!({ "attachment": attachment_json(&w, stored) })).into_response())
}

async fn download(
    State(fake): State<FakeRedmine>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Answer {
    let id = id
        .parse::<i64>()
        .map_err(|_| reject(StatusCode::NOT_FOUND))?;
    let w = fake.world();
    let file = visible_file(&w, actor, id)?;
    let disposition = format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
        file.filename.replace('"', ""),
        percent_encode(&file.filename)
    );
    Ok((
        [
            (header::CONTENT_TYPE, file.content_type.clone()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        file.bytes.clone(),
    )
        .into_response())
}

async fn download_named(
    state: State<FakeRedmine>,
    actor: Extension<Actor>,
    Path((id, _name)): Path<(String, String)>,
) -> Answer {
    download(state, actor, Path(id)).await
}
