//! The HTTP side of [`FakeGlpi`]: one handler parses the path as GLPI's `APIRest::call` does,
//! runs the gate (outage, app token, session, injected failures), dispatches, and records the
//! call; plus GLPI's JSON shapes.

use super::{
    Actor, Document, DocumentItem, FakeGlpi, Followup, GlpiCall, INTEGRATION_USER, Link,
    MAX_DOCUMENT_SIZE, NewFile, Satisfaction, Solution, Ticket, World, format_time, parse_time,
    priority_of,
};
use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const MAX_BODY: usize = 64 * 1024 * 1024;
/// The user's list limit (`glpilist_limit`), GLPI's default page size.
const LIST_LIMIT: usize = 15;
/// `Accept-Range`'s second part is PHP's `max_input_vars`.
const MAX_INPUT_VARS: u32 = 1000;

const ITEMTYPES: [&str; 11] = [
    "Ticket",
    "ITILFollowup",
    "ITILSolution",
    "Ticket_User",
    "Document",
    "Document_Item",
    "Ticket_Ticket",
    "TicketSatisfaction",
    "TicketTask",
    "User",
    "Entity",
];

pub(super) fn router(fake: FakeGlpi) -> Router {
    Router::new()
        .route("/apirest.php/{*rest}", any(handle))
        .fallback(|| async { (StatusCode::NOT_FOUND, "Not Found") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(fake)
}

/// An answer in GLPI's error shape: `["ERROR_CODE", "message"]`.
struct Reject {
    status: StatusCode,
    code: &'static str,
    message: String,
}

type Answer = Result<Response, Reject>;

impl Reject {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            message: message.into(),
        }
    }

    /// GLPI appends a link to its docs to some errors (`returnError(..., $docmessage = true)`).
    fn documented(status: u16, code: &'static str, message: &str, base_url: &str) -> Self {
        Self::new(
            status,
            code,
            format!("{message}; view documentation in your browser at {base_url}/#{code}"),
        )
    }

    fn into_response(self) -> Response {
        (self.status, axum::Json(json!([self.code, self.message]))).into_response()
    }
}

fn not_found() -> Reject {
    Reject::new(404, "ERROR_ITEM_NOT_FOUND", "Item not found")
}

fn add_failed(message: impl Into<String>) -> Reject {
    Reject::new(400, "ERROR_GLPI_ADD", message)
}

fn no_permission() -> Reject {
    add_failed("You don't have permission to perform this action.")
}

fn json_answer(status: StatusCode, value: Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// One parsed request.
struct Call {
    method: Method,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
    /// `X-GLPI-Sanitized-Content: false` asks for stored text as is.
    raw_content: bool,
}

impl Call {
    fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `name[]=a&name[1]=b` → `[a, b]`.
    fn list(&self, name: &str) -> Vec<String> {
        let prefix = format!("{name}[");
        self.query
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix) && k.ends_with(']'))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// `name[i][key]=v` → `{i: {key: v}}`.
    fn indexed(&self, name: &str) -> BTreeMap<usize, BTreeMap<String, String>> {
        let prefix = format!("{name}[");
        let mut out: BTreeMap<usize, BTreeMap<String, String>> = BTreeMap::new();
        for (key, value) in &self.query {
            let Some(rest) = key.strip_prefix(&prefix) else {
                continue;
            };
            let Some((index, rest)) = rest.split_once("][") else {
                continue;
            };
            let Some(field) = rest.strip_suffix(']') else {
                continue;
            };
            if let Ok(index) = index.parse() {
                out.entry(index)
                    .or_default()
                    .insert(field.to_owned(), value.clone());
            }
        }
        out
    }

    fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
    }
}

async fn handle(State(fake): State<FakeGlpi>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("application/json"));
    let recorded_body = if is_json {
        serde_json::from_slice(&bytes).ok()
    } else {
        None
    };
    let path = parts.uri.path().to_owned();
    let query_string = parts.uri.query().unwrap_or_default().to_owned();
    let call = Call {
        method: parts.method.clone(),
        segments: path
            .trim_start_matches("/apirest.php")
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        query: query_pairs(&parts.uri),
        raw_content: parts
            .headers
            .get("x-glpi-sanitized-content")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("false")),
        headers: parts.headers,
        body: bytes,
    };
    let response = match respond(&fake, &call).await {
        Ok(response) => response,
        Err(reject) => reject.into_response(),
    };
    let status = response.status().as_u16();
    fake.change(|w| {
        w.calls.push(GlpiCall {
            method: call.method.to_string(),
            path,
            query: query_string,
            body: recorded_body,
            status,
        })
    });
    response
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|Query(pairs)| pairs)
        .unwrap_or_default()
}

fn proxy_page(status: StatusCode) -> Response {
    let code = status.as_u16();
    let reason = status.canonical_reason().unwrap_or("Error");
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html")],
        format!(
            "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n\
             <center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n\
             </body>\r\n</html>\r\n"
        ),
    )
        .into_response();
    if code == 429 {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(1));
    }
    response
}

/// The gate, in `APIRest::call`'s order, then the endpoint.
async fn respond(fake: &FakeGlpi, call: &Call) -> Answer {
    let base_url = {
        let w = fake.world();
        if w.outage {
            return Ok(proxy_page(StatusCode::SERVICE_UNAVAILABLE));
        }
        w.base_url.clone()
    };
    if call.method == Method::GET && !call.body.iter().all(u8::is_ascii_whitespace) {
        return Err(Reject::new(
            400,
            "ERROR_JSON_PAYLOAD_FORBIDDEN",
            "GET Request should not have json payload (http body)",
        ));
    }
    let resource = call
        .segments
        .first()
        .map(String::as_str)
        .unwrap_or_default();
    check_app_token(fake, call, &base_url)?;
    if resource == "initSession" {
        return init_session(fake, call, &base_url);
    }
    let user = check_session(fake, call, &base_url)?;
    if let Some(status) = fake.change(|w| w.fail_next.take(call.method.as_str())) {
        if status == 429 || status >= 500 {
            return Ok(proxy_page(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            ));
        }
        return Err(Reject::new(status, "ERROR", "Injected failure"));
    }
    let segments: Vec<&str> = call.segments.iter().map(String::as_str).collect();
    match (call.method.clone(), segments.as_slice()) {
        (Method::GET, ["killSession"]) => {
            let token = session_token(call).unwrap_or_default();
            fake.change(|w| w.sessions.remove(&token));
            Ok(json_answer(StatusCode::OK, json!(true)))
        }
        (Method::GET, ["getFullSession"]) => Ok(full_session(fake, user, call)),
        (Method::GET, ["getMultipleItems"]) => multiple_items(fake, call),
        (Method::GET, ["search", "Ticket"]) => search_tickets(fake, call),
        (Method::GET, ["listSearchOptions", "Ticket"]) => Ok(search_options()),
        (_, [itemtype, rest @ ..]) if ITEMTYPES.contains(itemtype) => {
            items(fake, call, user, itemtype, rest, &base_url).await
        }
        _ => Err(Reject::documented(
            400,
            "ERROR_RESOURCE_NOT_FOUND_NOR_COMMONDBTM",
            "resource not found or not an instance of CommonDBTM",
            &base_url,
        )),
    }
}

fn header_value<'a>(call: &'a Call, name: &str) -> Option<&'a str> {
    call.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn check_app_token(fake: &FakeGlpi, call: &Call, base_url: &str) -> Result<(), Reject> {
    let Some(expected) = fake.world().app_token.clone() else {
        return Ok(());
    };
    let given = header_value(call, "app-token").or_else(|| call.param("app_token"));
    match given {
        Some(token) if token == expected => Ok(()),
        Some(token) if !token.is_empty() => Err(Reject::documented(
            400,
            "ERROR_WRONG_APP_TOKEN_PARAMETER",
            "parameter app_token seems wrong",
            base_url,
        )),
        _ => Err(Reject::documented(
            400,
            "ERROR_APP_TOKEN_PARAMETERS_MISSING",
            "missing parameter app_token",
            base_url,
        )),
    }
}

fn session_token(call: &Call) -> Option<String> {
    header_value(call, "session-token")
        .or_else(|| call.param("session_token"))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

fn check_session(fake: &FakeGlpi, call: &Call, base_url: &str) -> Result<i64, Reject> {
    let Some(token) = session_token(call) else {
        return Err(Reject::documented(
            400,
            "ERROR_SESSION_TOKEN_MISSING",
            "parameter session_token is missing or empty",
            base_url,
        ));
    };
    fake.world().sessions.get(&token).copied().ok_or_else(|| {
        Reject::new(
            401,
            "ERROR_SESSION_TOKEN_INVALID",
            "session_token seems invalid",
        )
    })
}

fn init_session(fake: &FakeGlpi, call: &Call, base_url: &str) -> Answer {
    let authorization = header_value(call, "authorization").unwrap_or_default();
    let user_token = if authorization.contains("user_token") {
        authorization.split(' ').nth(1).map(str::to_owned)
    } else {
        call.param("user_token").map(str::to_owned)
    }
    .filter(|t| !t.is_empty());
    if authorization.starts_with("Basic ") {
        return Err(Reject::new(
            400,
            "ERROR_LOGIN_WITH_CREDENTIALS_DISABLED",
            "usage of initSession resource with credentials is disabled",
        ));
    }
    let Some(user_token) = user_token else {
        return Err(Reject::documented(
            400,
            "ERROR_LOGIN_PARAMETERS_MISSING",
            "parameter(s) login, password or user_token are missing",
            base_url,
        ));
    };
    let token = fake.change(|w| {
        let user = w
            .users
            .iter()
            .find(|u| u.token.as_deref() == Some(user_token.as_str()))
            .map(|u| u.id)?;
        // PHP session ids: 26 characters of [0-9a-v].
        let seed = w.next_session;
        w.next_session += 1;
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x2545_F491_4F6C_DD1D;
        let token: String = (0..26)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from_digit((state % 32) as u32, 32).unwrap_or('0')
            })
            .collect();
        w.sessions.insert(token.clone(), user);
        Some(token)
    });
    match token {
        Some(token) => Ok(json_answer(
            StatusCode::OK,
            json!({ "session_token": token }),
        )),
        None => Err(Reject::new(
            401,
            "ERROR_GLPI_LOGIN_USER_TOKEN",
            "parameter user_token seems invalid",
        )),
    }
}

fn full_session(fake: &FakeGlpi, user: i64, call: &Call) -> Response {
    let w = fake.world();
    let u = w.user(user).cloned();
    json_answer(
        StatusCode::OK,
        json!({"session": {
            "glpi_currenttime": format_time(w.now()),
            "glpi_use_mode": 0,
            "glpiID": user,
            "glpifriendlyname": u.as_ref().map(super::User::friendly),
            "glpiname": u.as_ref().map(|u| u.login.clone()),
            "glpirealname": u.as_ref().map(|u| u.realname.clone()),
            "glpifirstname": u.as_ref().map(|u| u.firstname.clone()),
            "glpidefault_entity": 0,
            "glpiextauth": 0,
            "glpiauthtype": 1,
            "valid_id": session_token(call),
            "glpiactiveprofile": {"id": 6, "name": "Technician", "interface": "central"},
            "glpiactive_entity": 0,
            "glpiactive_entity_recursive": 1,
            "glpiactiveentities": w.entities.keys().copied().collect::<Vec<_>>(),
            "glpilanguage": "en_GB",
            "glpilist_limit": LIST_LIMIT,
            "glpi_tz": "Europe/Moscow",
        }}),
    )
}

fn search_options() -> Response {
    let option = |name: &str, table: &str, field: &str, datatype: &str| {
        json!({"name": name, "table": table, "field": field, "datatype": datatype,
               "nosearch": false, "nodisplay": false,
               "available_searchtypes": ["contains", "notcontains", "equals", "notequals",
                                         "lessthan", "morethan"],
               "uid": format!("Ticket.{field}")})
    };
    json_answer(
        StatusCode::OK,
        json!({
            "common": "Characteristics",
            "1": option("Title", "glpi_tickets", "name", "itemlink"),
            "2": option("ID", "glpi_tickets", "id", "number"),
            "3": option("Priority", "glpi_tickets", "priority", "specific"),
            "5": option("Technician", "glpi_users", "name", "dropdown"),
            "12": option("Status", "glpi_tickets", "status", "specific"),
            "15": option("Opening date", "glpi_tickets", "date", "datetime"),
            "19": option("Last update", "glpi_tickets", "date_mod", "datetime"),
            "21": option("Description", "glpi_tickets", "content", "text"),
            "27": option("Number of followups", "glpi_itilfollowups", "id", "count"),
            "80": option("Entity", "glpi_entities", "completename", "dropdown"),
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// Item representations

fn href(w: &World, itemtype: &str, id: i64) -> Value {
    json!({"rel": itemtype, "href": format!("{}/{itemtype}/{id}", w.base_url)})
}

fn ticket_json(w: &World, t: &Ticket) -> Map<String, Value> {
    let opt = |at: Option<time::OffsetDateTime>| at.map(format_time);
    let mut links = vec![
        href(w, "Entity", t.entities_id),
        href(w, "User", t.users_id_recipient),
    ];
    for sub in [
        "Document_Item",
        "TicketTask",
        "TicketValidation",
        "TicketCost",
        "Problem_Ticket",
        "Change_Ticket",
        "Ticket_Ticket",
        "Item_Ticket",
        "ITILSolution",
        "ITILFollowup",
        "Ticket_User",
        "Group_Ticket",
        "Supplier_Ticket",
    ] {
        links.push(json!({"rel": sub, "href": format!("{}/Ticket/{}/{sub}/", w.base_url, t.id)}));
    }
    let value = json!({
        "id": t.id,
        "entities_id": t.entities_id,
        "name": t.name,
        "date": format_time(t.date),
        "closedate": opt(t.closedate),
        "solvedate": opt(t.solvedate),
        "date_mod": format_time(t.date_mod),
        "users_id_lastupdater": t.users_id_lastupdater,
        "status": t.status,
        "users_id_recipient": t.users_id_recipient,
        "requesttypes_id": t.requesttypes_id,
        "content": t.content,
        "urgency": t.urgency,
        "impact": t.impact,
        "priority": t.priority,
        "itilcategories_id": t.itilcategories_id,
        "type": t.ticket_type,
        "global_validation": 1,
        "time_to_resolve": t.time_to_resolve.map(super::format_time),
        "time_to_own": t.time_to_own.map(super::format_time),
        "begin_waiting_date": null,
        "waiting_duration": 0,
        "actiontime": 0,
        "is_deleted": 0,
        "locations_id": t.locations_id,
        "validation_percent": 0,
        "date_creation": format_time(t.date),
        "links": links,
    });
    value.as_object().cloned().unwrap_or_default()
}

fn followup_json(w: &World, f: &Followup) -> Map<String, Value> {
    let value = json!({
        "id": f.id,
        "itemtype": "Ticket",
        "items_id": f.ticket,
        "date": format_time(f.date),
        "users_id": f.users_id,
        "users_id_editor": 0,
        "content": f.content,
        "is_private": i64::from(f.is_private),
        "requesttypes_id": f.requesttypes_id,
        "date_mod": format_time(f.date),
        "date_creation": format_time(f.date),
        "timeline_position": if f.users_id == INTEGRATION_USER { 1 } else { 4 },
        "sourceitems_id": 0,
        "sourceof_items_id": 0,
        "links": [
            href(w, "User", f.users_id),
            href(w, "RequestType", f.requesttypes_id),
            json!({"rel": "Document_Item",
                   "href": format!("{}/ITILFollowup/{}/Document_Item/", w.base_url, f.id)}),
        ],
    });
    value.as_object().cloned().unwrap_or_default()
}

fn solution_json(w: &World, s: &Solution) -> Map<String, Value> {
    let value = json!({
        "id": s.id,
        "itemtype": "Ticket",
        "items_id": s.ticket,
        "solutiontypes_id": 0,
        "solutiontype_name": null,
        "content": s.content,
        "date_creation": format_time(s.date),
        "date_mod": format_time(s.date),
        "date_approval": null,
        "users_id": s.users_id,
        "user_name": null,
        "users_id_editor": 0,
        "users_id_approval": 0,
        "user_name_approval": null,
        "status": s.status,
        "itilfollowups_id": null,
        "links": [href(w, "User", s.users_id)],
    });
    value.as_object().cloned().unwrap_or_default()
}

fn actor_json(w: &World, a: &Actor) -> Map<String, Value> {
    let value = json!({
        "id": a.id,
        "tickets_id": a.ticket,
        "users_id": a.users_id,
        "type": a.actor_type,
        "use_notification": 1,
        "alternative_email": "",
        "links": [href(w, "Ticket", a.ticket), href(w, "User", a.users_id)],
    });
    value.as_object().cloned().unwrap_or_default()
}

fn document_json(w: &World, d: &Document) -> Map<String, Value> {
    let value = json!({
        "id": d.id,
        "entities_id": d.entities_id,
        "is_recursive": 0,
        "name": d.name,
        "filename": d.filename,
        "filepath": d.filename.as_ref().map(|_| format!("BIN/{:02x}/{}.BIN", d.id % 256, d.id)),
        "documentcategories_id": 0,
        "mime": d.mime,
        "date_mod": format_time(d.date),
        "comment": null,
        "is_deleted": 0,
        "link": null,
        "users_id": d.users_id,
        "tickets_id": 0,
        "sha1sum": null,
        "is_blacklisted": 0,
        "tag": format!("{:08x}-{:016x}", d.id, d.bytes.len()),
        "date_creation": format_time(d.date),
        "links": [
            href(w, "Entity", d.entities_id),
            href(w, "User", d.users_id),
            json!({"rel": "Document_Item",
                   "href": format!("{}/Document/{}/Document_Item/", w.base_url, d.id)}),
        ],
    });
    value.as_object().cloned().unwrap_or_default()
}

fn document_item_json(w: &World, l: &DocumentItem) -> Map<String, Value> {
    let entity = w
        .documents
        .get(&l.documents_id)
        .map_or(0, |d| d.entities_id);
    let value = json!({
        "id": l.id,
        "documents_id": l.documents_id,
        "items_id": l.items_id,
        "itemtype": l.itemtype,
        "entities_id": entity,
        "is_recursive": 0,
        "date_mod": format_time(l.date),
        "users_id": l.users_id,
        "timeline_position": 0,
        "date_creation": format_time(l.date),
        "date": format_time(l.date),
        "links": [href(w, "Document", l.documents_id), href(w, "User", l.users_id)],
    });
    value.as_object().cloned().unwrap_or_default()
}

fn link_json(w: &World, l: &Link) -> Map<String, Value> {
    let value = json!({
        "id": l.id,
        "tickets_id_1": l.ticket_1,
        "tickets_id_2": l.ticket_2,
        "link": l.link,
        "links": [href(w, "Ticket", l.ticket_1), href(w, "Ticket", l.ticket_2)],
    });
    value.as_object().cloned().unwrap_or_default()
}

fn satisfaction_json(w: &World, s: &Satisfaction) -> Map<String, Value> {
    let value = json!({
        "id": s.id,
        "tickets_id": s.ticket,
        "type": s.survey_type,
        "date_begin": format_time(s.date_begin),
        "date_answered": s.date_answered.map(format_time),
        "satisfaction": s.satisfaction,
        "satisfaction_scaled_to_5": s.satisfaction,
        "comment": s.comment,
        "links": [href(w, "Ticket", s.ticket)],
    });
    value.as_object().cloned().unwrap_or_default()
}

fn user_json(u: &super::User) -> Map<String, Value> {
    let value = json!({
        "id": u.id,
        "name": u.login,
        "realname": u.realname,
        "firstname": u.firstname,
        "phone": null,
        "is_active": 1,
        "entities_id": 0,
        "profiles_id": 6,
        "usercategories_id": 0,
        "date_mod": null,
        "links": [],
    });
    value.as_object().cloned().unwrap_or_default()
}

/// An entity as `GET /Entity` shows it: its own name, its complete name and its parent (the root
/// entity's parent is -1 in GLPI 10+).
fn entity_json(id: i64, complete: &str) -> Map<String, Value> {
    let parts: Vec<&str> = complete.split(" > ").collect();
    let value = json!({
        "id": id,
        "name": parts.last().copied().unwrap_or_default(),
        "completename": complete,
        "entities_id": if id == 0 { -1 } else { 0 },
        "level": parts.len(),
        "links": [],
    });
    value.as_object().cloned().unwrap_or_default()
}

/// Every row of an itemtype, as `GET /<itemtype>` would show it before filtering and paging.
fn all_rows(w: &World, itemtype: &str) -> Vec<Map<String, Value>> {
    match itemtype {
        "Ticket" => w.tickets.values().map(|t| ticket_json(w, t)).collect(),
        "ITILFollowup" => w.followups.values().map(|f| followup_json(w, f)).collect(),
        "ITILSolution" => w.solutions.values().map(|s| solution_json(w, s)).collect(),
        "Ticket_User" => w.actors.values().map(|a| actor_json(w, a)).collect(),
        "Document" => w.documents.values().map(|d| document_json(w, d)).collect(),
        "Document_Item" => w
            .document_items
            .values()
            .map(|l| document_item_json(w, l))
            .collect(),
        "Ticket_Ticket" => w.links.values().map(|l| link_json(w, l)).collect(),
        "TicketSatisfaction" => w
            .satisfactions
            .values()
            .map(|s| satisfaction_json(w, s))
            .collect(),
        "User" => w.users.iter().map(user_json).collect(),
        "Entity" => w
            .entities
            .iter()
            .map(|(id, complete)| entity_json(*id, complete))
            .collect(),
        _ => Vec::new(),
    }
}

fn row_id(row: &Map<String, Value>) -> i64 {
    row.get("id").and_then(Value::as_i64).unwrap_or_default()
}

fn one_row(w: &World, itemtype: &str, id: i64) -> Option<Map<String, Value>> {
    all_rows(w, itemtype).into_iter().find(|r| row_id(r) == id)
}

/// GLPI's foreign key of an itemtype (`Ticket` → `tickets_id`).
fn foreign_key(itemtype: &str) -> String {
    match itemtype {
        "Ticket" => "tickets_id".into(),
        "Document" => "documents_id".into(),
        "User" => "users_id".into(),
        "ITILFollowup" => "itilfollowups_id".into(),
        other => format!("{}s_id", other.to_ascii_lowercase()),
    }
}

/// Adds `_keys_names` for `add_keys_names[]=<fkey>`, and HTML-escapes text unless the caller
/// asked for raw content.
fn present(w: &World, call: &Call, mut row: Map<String, Value>) -> Value {
    let keys = call.list("add_keys_names");
    if !keys.is_empty() {
        let mut names = Map::new();
        for key in keys {
            let id = row.get(&key).and_then(Value::as_i64).unwrap_or_default();
            let name = match key.as_str() {
                "users_id" => w.friendly_name(id),
                "documents_id" => w
                    .documents
                    .get(&id)
                    .map(|d| d.name.clone())
                    .unwrap_or_default(),
                "tickets_id" => w
                    .tickets
                    .get(&id)
                    .map(|t| t.name.clone())
                    .unwrap_or_default(),
                "entities_id" => w.entity_name(id),
                _ => continue,
            };
            names.insert(key, json!(name));
        }
        row.insert("_keys_names".into(), Value::Object(names));
    }
    if !call.raw_content {
        for value in row.values_mut() {
            if let Value::String(text) = value {
                *text = sanitize(text);
            }
        }
    }
    if call.param("get_hateoas") == Some("false") {
        row.remove("links");
    }
    Value::Object(row)
}

/// GLPI 10's `Sanitizer::sanitize` (`htmlspecialchars`) as the API answers it by default.
fn sanitize(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#039;")
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `range=start-end`, defaulting to the user's list limit.
fn range_of(call: &Call) -> Result<(usize, usize), Reject> {
    let Some(range) = call.param("range") else {
        return Ok((0, LIST_LIMIT - 1));
    };
    let parsed = range
        .split_once('-')
        .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)))
        .filter(|(a, b)| a <= b);
    parsed.ok_or_else(|| {
        Reject::new(
            400,
            "ERROR",
            "range must be in format : [start-end] with integers",
        )
    })
}

/// Pages a list as `getItems` and `APIRest::call` do: 206 when partial, `Content-Range` only
/// when there is something.
fn paged(w: &World, call: &Call, itemtype: &str, rows: Vec<Map<String, Value>>) -> Answer {
    let mut rows = rows;
    for (key, value) in &call.query {
        let Some(field) = key
            .strip_prefix("searchText[")
            .and_then(|k| k.strip_suffix(']'))
        else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        let needle = value.to_lowercase();
        rows.retain(|row| {
            row.get(field)
                .is_some_and(|v| text_of(v).to_lowercase().contains(&needle))
        });
    }
    let sort = call.param("sort").unwrap_or("id").to_owned();
    if rows.first().is_some_and(|r| !r.contains_key(&sort)) {
        return Err(Reject::new(
            400,
            "ERROR",
            format!(
                "sort param is not a field of glpi_{}s",
                itemtype.to_lowercase()
            ),
        ));
    }
    rows.sort_by(|a, b| {
        let key = |r: &Map<String, Value>| r.get(&sort).cloned().unwrap_or(Value::Null);
        match (key(a), key(b)) {
            (Value::Number(x), Value::Number(y)) => x
                .as_f64()
                .partial_cmp(&y.as_f64())
                .unwrap_or(std::cmp::Ordering::Equal),
            (x, y) => text_of(&x).cmp(&text_of(&y)),
        }
    });
    if call
        .param("order")
        .is_some_and(|o| o.eq_ignore_ascii_case("DESC"))
    {
        rows.reverse();
    }
    let (start, end) = range_of(call)?;
    let total = rows.len();
    if start > total {
        return Err(Reject::new(
            400,
            "ERROR_RANGE_EXCEED_TOTAL",
            format!("Provided range exceed total count of data: {total}"),
        ));
    }
    let page: Vec<Value> = rows
        .into_iter()
        .skip(start)
        .take(end - start + 1)
        .map(|row| present(w, call, row))
        .collect();
    let end = end.min(total.saturating_sub(1));
    let partial = total > 0 && end + 1 - start < total;
    let mut response = json_answer(
        if partial {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        },
        Value::Array(page),
    );
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&format!("{itemtype} {MAX_INPUT_VARS}")) {
        headers.insert("accept-range", value);
    }
    if total > 0
        && let Ok(value) = HeaderValue::from_str(&format!("{start}-{end}/{total}"))
    {
        headers.insert("content-range", value);
    }
    Ok(response)
}

/// The rows of `sub` under `parent/id`, filtered as `getItems` does.
fn sub_rows(w: &World, parent: &str, id: i64, sub: &str) -> Vec<Map<String, Value>> {
    let fk = foreign_key(parent);
    let mut rows: Vec<Map<String, Value>> = all_rows(w, sub)
        .into_iter()
        .filter(|row| {
            if let Some(value) = row.get(&fk) {
                value.as_i64() == Some(id)
            } else if row.contains_key("itemtype") && row.contains_key("items_id") {
                row.get("itemtype").and_then(Value::as_str) == Some(parent)
                    && row.get("items_id").and_then(Value::as_i64) == Some(id)
            } else {
                true
            }
        })
        .collect();
    super::oddities::sub_rows(w, parent, id, sub, &mut rows);
    rows
}

fn exists(w: &World, itemtype: &str, id: i64) -> bool {
    match itemtype {
        "Ticket" => w.tickets.contains_key(&id),
        "ITILFollowup" => w.followups.contains_key(&id),
        "ITILSolution" => w.solutions.contains_key(&id),
        "Document" => w.documents.contains_key(&id),
        "User" => w.user(id).is_some(),
        other => one_row(w, other, id).is_some(),
    }
}

// ---------------------------------------------------------------------------------------------
// Endpoints

async fn items(
    fake: &FakeGlpi,
    call: &Call,
    user: i64,
    itemtype: &str,
    rest: &[&str],
    base_url: &str,
) -> Answer {
    let id = rest.first().and_then(|s| s.parse::<i64>().ok());
    let sub = rest.get(1).copied().filter(|s| ITEMTYPES.contains(s));
    let sub_id = rest.get(2).and_then(|s| s.parse::<i64>().ok());
    match call.method {
        Method::GET => {
            let w = fake.world();
            match (id, sub, sub_id) {
                (None, _, _) => paged(&w, call, itemtype, all_rows(&w, itemtype)),
                (Some(id), None, _) => get_item(&w, call, itemtype, id),
                (Some(id), Some(sub), None) => {
                    if !exists(&w, itemtype, id) {
                        return Err(not_found());
                    }
                    paged(&w, call, sub, sub_rows(&w, itemtype, id, sub))
                }
                (Some(_), Some(sub), Some(sub_id)) => get_item(&w, call, sub, sub_id),
            }
        }
        Method::POST => {
            let target = sub.unwrap_or(itemtype);
            if target == "Document" && call.content_type().starts_with("multipart/form-data") {
                return upload(fake, call, user).await;
            }
            let input = input_object(call, base_url)?;
            create(fake, user, target, input)
        }
        Method::PUT | Method::PATCH => {
            let mut input = input_object(call, base_url)?;
            let target = input
                .get("id")
                .and_then(Value::as_i64)
                .or(sub_id)
                .or(id)
                .ok_or_else(|| {
                    Reject::documented(
                        400,
                        "ERROR_BAD_ARRAY",
                        "input parameter must be an array of objects",
                        base_url,
                    )
                })?;
            input.insert("id".into(), json!(target));
            update(fake, user, sub.unwrap_or(itemtype), target, input)
        }
        _ => Err(Reject::documented(
            405,
            "ERROR_METHOD_NOT_ALLOWED",
            "Method Not Allowed",
            base_url,
        )),
    }
}

fn get_item(w: &World, call: &Call, itemtype: &str, id: i64) -> Answer {
    let mut row = one_row(w, itemtype, id).ok_or_else(not_found)?;
    if itemtype == "Ticket" {
        super::oddities::ticket(w, id, &mut row);
    }
    if itemtype == "Document" {
        let wants_file = call
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/octet-stream"))
            || call.param("alt") == Some("media");
        if wants_file {
            let document = w.documents.get(&id).ok_or_else(not_found)?;
            let Some(filename) = &document.filename else {
                return Err(Reject::new(400, "ERROR", "This document has no file"));
            };
            let mime = document
                .mime
                .clone()
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            let disposition = format!(
                "attachment; filename=\"{}\"",
                filename.replace(['"', '\\'], "_")
            );
            let mut response = (StatusCode::OK, document.bytes.clone()).into_response();
            let headers = response.headers_mut();
            if let Ok(value) = HeaderValue::from_str(&mime) {
                headers.insert(header::CONTENT_TYPE, value);
            }
            if let Ok(value) = HeaderValue::from_str(&disposition) {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
            return Ok(response);
        }
    }
    let date_mod = row
        .get("date_mod")
        .and_then(Value::as_str)
        .and_then(parse_time);
    let mut response = json_answer(StatusCode::OK, present(w, call, row));
    if let Some(date_mod) = date_mod {
        let http_date = date_mod
            .format(time::macros::format_description!(
                "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
            ))
            .unwrap_or_default();
        if let Ok(value) = HeaderValue::from_str(&http_date) {
            response.headers_mut().insert(header::LAST_MODIFIED, value);
        }
    }
    Ok(response)
}

fn multiple_items(fake: &FakeGlpi, call: &Call) -> Answer {
    let w = fake.world();
    let requested = call.indexed("items");
    if requested.is_empty() {
        return Err(Reject::documented(
            400,
            "ERROR_BAD_ARRAY",
            "input parameter must be an array of objects",
            &w.base_url,
        ));
    }
    let mut out = Vec::new();
    for item in requested.values() {
        let itemtype = item.get("itemtype").map(String::as_str).unwrap_or_default();
        let id = item
            .get("items_id")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or_default();
        if !ITEMTYPES.contains(&itemtype) {
            return Err(Reject::documented(
                400,
                "ERROR_RESOURCE_NOT_FOUND_NOR_COMMONDBTM",
                "resource not found or not an instance of CommonDBTM",
                &w.base_url,
            ));
        }
        let row = one_row(&w, itemtype, id).ok_or_else(not_found)?;
        out.push(present(&w, call, row));
    }
    Ok(json_answer(StatusCode::OK, Value::Array(out)))
}

fn input_object(call: &Call, base_url: &str) -> Result<Map<String, Value>, Reject> {
    let body: Value = serde_json::from_slice(&call.body).map_err(|_| {
        Reject::new(
            400,
            "ERROR_JSON_PAYLOAD_INVALID",
            "JSON payload seems not valid",
        )
    })?;
    match body.get("input") {
        Some(Value::Object(input)) => Ok(input.clone()),
        _ => Err(Reject::documented(
            400,
            "ERROR_BAD_ARRAY",
            "input parameter must be an array of objects",
            base_url,
        )),
    }
}

/// An integer input field: a number, a numeric string or a boolean, as PHP reads them.
fn int(input: &Map<String, Value>, key: &str) -> Option<i64> {
    match input.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

fn text(input: &Map<String, Value>, key: &str) -> Option<String> {
    match input.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn created(w: &World, itemtype: &str, id: i64, extra: Option<(&str, Value)>) -> Response {
    let mut body = json!({"id": id, "message": ""});
    if let Some((key, value)) = extra {
        body[key] = value;
    }
    let mut response = json_answer(StatusCode::CREATED, body);
    if let Ok(value) = HeaderValue::from_str(&format!("{}/{itemtype}/{id}", w.base_url)) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn create(fake: &FakeGlpi, user: i64, itemtype: &str, input: Map<String, Value>) -> Answer {
    let id = fake.change(|w| -> Result<i64, Reject> {
        match itemtype {
            "Ticket" => create_ticket(w, user, &input),
            "ITILFollowup" => {
                let ticket = parent_ticket(w, &input)?;
                let content = text(&input, "content").unwrap_or_default();
                if content.trim().is_empty() {
                    return Err(add_failed("You can't add a followup without description"));
                }
                let author = int(&input, "users_id").unwrap_or(user);
                let private = int(&input, "is_private").unwrap_or(0) != 0;
                let id = w.add_followup(ticket, author, &content, private);
                if let Some(f) = w.followups.get_mut(&id) {
                    f.requesttypes_id = int(&input, "requesttypes_id").unwrap_or(1);
                }
                if int(&input, "add_reopen").unwrap_or(0) != 0
                    && w.tickets.get(&ticket).is_some_and(|t| t.status >= 5)
                {
                    let assigned = w
                        .actors
                        .values()
                        .any(|a| a.ticket == ticket && a.actor_type == 2);
                    w.set_status(ticket, if assigned { 2 } else { 1 }, user);
                }
                if int(&input, "add_close").unwrap_or(0) != 0
                    && w.tickets.get(&ticket).is_some_and(|t| t.status == 5)
                {
                    w.set_status(ticket, 6, user);
                }
                Ok(id)
            }
            "ITILSolution" => {
                let ticket = parent_ticket(w, &input)?;
                let content = text(&input, "content").unwrap_or_default();
                Ok(w.add_solution(ticket, user, &content))
            }
            "Ticket_User" => {
                let ticket = int(&input, "tickets_id").filter(|t| w.tickets.contains_key(t));
                let target = int(&input, "users_id").filter(|u| w.user(*u).is_some());
                let actor_type = int(&input, "type").filter(|t| (1..=3).contains(t));
                let (Some(ticket), Some(target), Some(actor_type)) = (ticket, target, actor_type)
                else {
                    return Err(no_permission());
                };
                if w.actors.values().any(|a| {
                    a.ticket == ticket && a.users_id == target && a.actor_type == actor_type
                }) {
                    return Err(add_failed("This user is already an actor of the ticket"));
                }
                Ok(w.add_actor(ticket, target, actor_type))
            }
            "Document" => {
                let file = NewFile {
                    name: text(&input, "name").unwrap_or_default(),
                    filename: None,
                    mime: None,
                    bytes: Vec::new(),
                };
                let entity = int(&input, "entities_id").unwrap_or(0);
                Ok(w.add_document(user, entity, file))
            }
            "Document_Item" => {
                let document = int(&input, "documents_id").filter(|d| w.documents.contains_key(d));
                let target_type = text(&input, "itemtype").unwrap_or_default();
                let items_id = int(&input, "items_id").unwrap_or_default();
                let (Some(document), true) = (document, exists(w, &target_type, items_id)) else {
                    return Err(no_permission());
                };
                if w.document_items.values().any(|l| {
                    l.documents_id == document
                        && l.itemtype == target_type
                        && l.items_id == items_id
                }) {
                    return Err(add_failed("This document is already linked to this item"));
                }
                Ok(w.link_document(user, document, &target_type, items_id))
            }
            "Ticket_Ticket" => {
                let one = int(&input, "tickets_id_1").filter(|t| w.tickets.contains_key(t));
                let two = int(&input, "tickets_id_2").filter(|t| w.tickets.contains_key(t));
                let (Some(one), Some(two)) = (one, two) else {
                    return Err(no_permission());
                };
                if one == two
                    || w.links.values().any(|l| {
                        (l.ticket_1, l.ticket_2) == (one, two)
                            || (l.ticket_1, l.ticket_2) == (two, one)
                    })
                {
                    return Err(add_failed("These tickets are already linked"));
                }
                let id = w.id();
                w.links.insert(
                    id,
                    Link {
                        id,
                        ticket_1: one,
                        ticket_2: two,
                        link: int(&input, "link").unwrap_or(1),
                    },
                );
                w.touch(one, user);
                w.touch(two, user);
                Ok(id)
            }
            "TicketSatisfaction" => {
                let ticket = int(&input, "tickets_id").ok_or_else(no_permission)?;
                may_answer_survey(w, ticket, user)?;
                if w.satisfactions.values().any(|s| s.ticket == ticket) {
                    return Err(add_failed(
                        "A satisfaction survey already exists for this ticket",
                    ));
                }
                let satisfaction = survey_value(&input)?;
                let now = w.now();
                let id = w.id();
                w.satisfactions.insert(
                    id,
                    Satisfaction {
                        id,
                        ticket,
                        survey_type: int(&input, "type").unwrap_or(1),
                        date_begin: text(&input, "date_begin")
                            .and_then(|t| parse_time(&t))
                            .unwrap_or(now),
                        date_answered: satisfaction.map(|_| now),
                        satisfaction,
                        comment: text(&input, "comment"),
                    },
                );
                w.touch(ticket, user);
                Ok(id)
            }
            "Entity" => {
                // An administrator's write; the fake does not model profiles.
                let name = text(&input, "name")
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| {
                        add_failed("Mandatory fields are not filled. Please correct: Name")
                    })?;
                let parent = int(&input, "entities_id").unwrap_or(0);
                let parent_name = w.entities.get(&parent).cloned().ok_or_else(no_permission)?;
                let complete = format!("{parent_name} > {name}");
                if w.entities.values().any(|e| *e == complete) {
                    return Err(add_failed("Entity name already used"));
                }
                let id = w.entities.keys().max().map_or(0, |max| max + 1);
                w.entities.insert(id, complete);
                Ok(id)
            }
            _ => Err(no_permission()),
        }
    })?;
    Ok(created(&fake.world(), itemtype, id, None))
}

fn parent_ticket(w: &World, input: &Map<String, Value>) -> Result<i64, Reject> {
    let itemtype = text(input, "itemtype").unwrap_or_default();
    let ticket = int(input, "items_id").unwrap_or_default();
    if itemtype != "Ticket" || !w.tickets.contains_key(&ticket) {
        return Err(no_permission());
    }
    Ok(ticket)
}

fn may_answer_survey(w: &World, ticket: i64, user: i64) -> Result<(), Reject> {
    let ticket_row = w.tickets.get(&ticket).ok_or_else(no_permission)?;
    let requester = w
        .actors
        .values()
        .any(|a| a.ticket == ticket && a.actor_type == 1 && a.users_id == user);
    if ticket_row.users_id_recipient == user || requester {
        Ok(())
    } else {
        Err(no_permission())
    }
}

fn survey_value(input: &Map<String, Value>) -> Result<Option<i64>, Reject> {
    match input.get("satisfaction") {
        None | Some(Value::Null) => Ok(None),
        Some(_) => match int(input, "satisfaction") {
            Some(value) if (0..=5).contains(&value) => Ok(Some(value)),
            _ => Err(add_failed("The satisfaction must be between 0 and 5")),
        },
    }
}

fn create_ticket(w: &mut World, user: i64, input: &Map<String, Value>) -> Result<i64, Reject> {
    let entity = int(input, "entities_id").unwrap_or(0);
    if !w.entities.contains_key(&entity) {
        return Err(no_permission());
    }
    let content = text(input, "content").unwrap_or_default();
    if content.trim().is_empty() {
        return Err(add_failed(
            "Mandatory fields are not filled. Please correct: Description",
        ));
    }
    let urgency = int(input, "urgency").unwrap_or(3).clamp(1, 5);
    let impact = int(input, "impact").unwrap_or(3).clamp(1, 5);
    let assign = int(input, "_users_id_assign").filter(|u| w.user(*u).is_some());
    let now = w.now();
    let id = w.id();
    let name = text(input, "name")
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| content.chars().take(70).collect());
    w.tickets.insert(
        id,
        Ticket {
            id,
            entities_id: entity,
            name,
            content,
            status: int(input, "status").unwrap_or(if assign.is_some() { 2 } else { 1 }),
            urgency,
            impact,
            priority: int(input, "priority").unwrap_or_else(|| priority_of(urgency, impact)),
            ticket_type: int(input, "type").unwrap_or(1),
            itilcategories_id: int(input, "itilcategories_id").unwrap_or(0),
            requesttypes_id: int(input, "requesttypes_id").unwrap_or(1),
            locations_id: int(input, "locations_id").unwrap_or(0),
            users_id_recipient: user,
            users_id_lastupdater: user,
            date: now,
            date_mod: now,
            solvedate: None,
            closedate: None,
            time_to_own: None,
            time_to_resolve: None,
        },
    );
    let requester = int(input, "_users_id_requester").unwrap_or(user);
    w.add_actor(id, requester, 1);
    if let Some(observer) = int(input, "_users_id_observer") {
        w.add_actor(id, observer, 3);
    }
    if let Some(assign) = assign {
        w.add_actor(id, assign, 2);
    }
    Ok(id)
}

fn update_failed(message: impl Into<String>) -> Reject {
    Reject::new(400, "ERROR_GLPI_UPDATE", message)
}

fn update(
    fake: &FakeGlpi,
    user: i64,
    itemtype: &str,
    id: i64,
    input: Map<String, Value>,
) -> Answer {
    fake.change(|w| -> Result<(), Reject> {
        match itemtype {
            "Ticket" => {
                if !w.tickets.contains_key(&id) {
                    return Err(update_failed("Item not found"));
                }
                if let Some(status) = int(&input, "status") {
                    if !(1..=6).contains(&status) {
                        return Err(update_failed("Invalid status"));
                    }
                    w.set_status(id, status, user);
                }
                let t = w.ticket_mut(id);
                if let Some(name) = text(&input, "name") {
                    t.name = name;
                }
                if let Some(content) = text(&input, "content") {
                    t.content = content;
                }
                for (key, slot) in [
                    ("itilcategories_id", &mut t.itilcategories_id),
                    ("type", &mut t.ticket_type),
                    ("requesttypes_id", &mut t.requesttypes_id),
                    ("locations_id", &mut t.locations_id),
                ] {
                    if let Some(value) = int(&input, key) {
                        *slot = value;
                    }
                }
                let urgency = int(&input, "urgency").map(|u| u.clamp(1, 5));
                let impact = int(&input, "impact").map(|i| i.clamp(1, 5));
                if let Some(u) = urgency {
                    t.urgency = u;
                }
                if let Some(i) = impact {
                    t.impact = i;
                }
                match int(&input, "priority") {
                    Some(p) if (1..=6).contains(&p) => t.priority = p,
                    Some(_) => return Err(update_failed("Invalid priority")),
                    None if urgency.is_some() || impact.is_some() => {
                        t.priority = priority_of(t.urgency, t.impact)
                    }
                    None => {}
                }
                w.touch(id, user);
                Ok(())
            }
            "ITILFollowup" => {
                let Some(f) = w.followups.get_mut(&id) else {
                    return Err(update_failed("Item not found"));
                };
                if let Some(content) = text(&input, "content") {
                    f.content = content;
                }
                if let Some(private) = int(&input, "is_private") {
                    f.is_private = private != 0;
                }
                let ticket = f.ticket;
                w.touch(ticket, user);
                Ok(())
            }
            "TicketSatisfaction" => {
                let Some(ticket) = w.satisfactions.get(&id).map(|s| s.ticket) else {
                    return Err(update_failed("Item not found"));
                };
                may_answer_survey(w, ticket, user).map_err(|_| {
                    update_failed("You don't have permission to perform this action.")
                })?;
                let satisfaction = survey_value(&input).map_err(|e| update_failed(e.message))?;
                let now = w.now();
                if let Some(s) = w.satisfactions.get_mut(&id) {
                    if satisfaction.is_some() {
                        s.satisfaction = satisfaction;
                        s.date_answered = Some(now);
                    }
                    if let Some(comment) = text(&input, "comment") {
                        s.comment = Some(comment);
                    }
                }
                w.touch(ticket, user);
                Ok(())
            }
            _ => Err(update_failed(
                "You don't have permission to perform this action.",
            )),
        }
    })?;
    Ok(json_answer(
        StatusCode::OK,
        json!([{ id.to_string(): true, "message": "" }]),
    ))
}

/// `POST /Document` as `multipart/form-data`: the `uploadManifest` part and file parts.
async fn upload(fake: &FakeGlpi, call: &Call, user: i64) -> Answer {
    let request = Request::builder()
        .header(header::CONTENT_TYPE, call.content_type())
        .body(Body::from(call.body.clone()))
        .map_err(|_| Reject::new(400, "ERROR", "Bad Request"))?;
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|_| Reject::new(400, "ERROR", "Bad Request"))?;
    let mut manifest: Option<Value> = None;
    let mut files: Vec<NewFile> = Vec::new();
    let invalid = |_| Reject::new(400, "ERROR", "Invalid multipart body");
    while let Some(field) = multipart.next_field().await.map_err(invalid)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "uploadManifest" {
            let text = field.text().await.map_err(invalid)?;
            manifest = serde_json::from_str(&text).ok();
            continue;
        }
        let Some(filename) = field.file_name().map(str::to_owned) else {
            continue;
        };
        let mime = field.content_type().map(str::to_owned);
        let bytes = field.bytes().await.map_err(invalid)?;
        files.push(NewFile {
            name: String::new(),
            filename: Some(filename),
            mime,
            bytes: bytes.to_vec(),
        });
    }
    if files.is_empty() {
        return Err(Reject::new(
            400,
            "ERROR_UPLOAD_FILE_TOO_BIG_POST_MAX_SIZE",
            "The file seems too big",
        ));
    }
    let input = manifest
        .as_ref()
        .and_then(|m| m.get("input"))
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| {
            Reject::new(
                400,
                "ERROR_JSON_PAYLOAD_INVALID",
                "JSON payload seems not valid",
            )
        })?;
    let mut file = files.remove(0);
    if file.bytes.len() > MAX_DOCUMENT_SIZE {
        return Err(add_failed(
            "File exceeds the upload max filesize (2 MiB) defined in GLPI configuration",
        ));
    }
    let filename = file.filename.clone().unwrap_or_default();
    file.name = text(&input, "name")
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| filename.clone());
    let size = file.bytes.len();
    let mime = file
        .mime
        .clone()
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let link_to = text(&input, "itemtype").zip(int(&input, "items_id"));
    let id = fake.change(|w| -> Result<i64, Reject> {
        if let Some((itemtype, items_id)) = &link_to
            && !exists(w, itemtype, *items_id)
        {
            return Err(no_permission());
        }
        let entity = int(&input, "entities_id").unwrap_or(0);
        let id = w.add_document(user, entity, file);
        if let Some((itemtype, items_id)) = &link_to {
            w.link_document(user, id, itemtype, *items_id);
        }
        Ok(id)
    })?;
    let w = fake.world();
    let prefix = format!("{:013x}.{:08}", id * 7919, id);
    let upload_result = json!({"filename": [{
        "name": format!("{prefix}{filename}"),
        "size": size,
        "type": mime,
        "url": format!("{}/files/_tmp/{prefix}{filename}", w.base_url.trim_end_matches("/apirest.php")),
        "deleteUrl": format!("{}/ajax/fileupload.php?_method=DELETE&_uploader_filename={prefix}{filename}",
                             w.base_url.trim_end_matches("/apirest.php")),
        "deleteType": "POST",
        "prefix": prefix,
        "display": filename,
        "filesize": format!("{size} B"),
        "id": "docfilename[0]",
    }]});
    Ok(created(
        &w,
        "Document",
        id,
        Some(("upload_result", upload_result)),
    ))
}

// ---------------------------------------------------------------------------------------------
// Search

/// The value of a search option for a ticket, as `search/Ticket` shows it.
fn column(w: &World, t: &Ticket, field: &str) -> Option<Value> {
    Some(match field {
        "1" => json!(t.name),
        "2" => json!(t.id),
        "3" => json!(t.priority),
        "5" => {
            let logins: Vec<String> = w
                .actors
                .values()
                .filter(|a| a.ticket == t.id && a.actor_type == 2)
                .filter_map(|a| w.user(a.users_id).map(|u| u.login.clone()))
                .collect();
            match logins.len() {
                0 => Value::Null,
                1 => json!(logins[0]),
                _ => json!(logins),
            }
        }
        "12" => json!(t.status),
        "15" => json!(format_time(t.date)),
        "19" => json!(format_time(t.date_mod)),
        "21" => json!(t.content),
        "27" => json!(w.followups.values().filter(|f| f.ticket == t.id).count()),
        "80" => json!(w.entity_name(t.entities_id)),
        _ => return None,
    })
}

fn is_date(field: &str) -> bool {
    matches!(field, "15" | "19")
}

fn matches(value: &Value, field: &str, searchtype: &str, wanted: &str) -> bool {
    let text = text_of(value);
    match searchtype {
        "contains" => text.to_lowercase().contains(&wanted.to_lowercase()),
        "notcontains" => !text.to_lowercase().contains(&wanted.to_lowercase()),
        "equals" => text == wanted,
        "notequals" => text != wanted,
        "morethan" | "lessthan" => {
            let ordering = if is_date(field) {
                match (parse_time(&text), parse_time(wanted)) {
                    (Some(a), Some(b)) => a.cmp(&b),
                    _ => return false,
                }
            } else {
                match (text.parse::<f64>(), wanted.parse::<f64>()) {
                    (Ok(a), Ok(b)) => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
                    _ => return false,
                }
            };
            if searchtype == "morethan" {
                ordering == std::cmp::Ordering::Greater
            } else {
                ordering == std::cmp::Ordering::Less
            }
        }
        _ => false,
    }
}

fn search_tickets(fake: &FakeGlpi, call: &Call) -> Answer {
    let w = fake.world();
    let criteria = call.indexed("criteria");
    let known = ["1", "2", "3", "5", "12", "15", "19", "21", "27", "80"];
    for criterion in criteria.values() {
        let (Some(field), Some(_), Some(_)) = (
            criterion.get("field"),
            criterion.get("searchtype"),
            criterion.get("value"),
        ) else {
            return Err(Reject::documented(
                400,
                "ERROR",
                "Malformed search criteria",
                &w.base_url,
            ));
        };
        if !known.contains(&field.as_str()) {
            return Err(Reject::documented(
                400,
                "ERROR",
                "Bad field ID in search criteria",
                &w.base_url,
            ));
        }
    }
    let mut columns: Vec<String> = vec!["1".into(), "80".into()];
    for field in criteria
        .values()
        .filter_map(|c| c.get("field").cloned())
        .chain(call.list("forcedisplay"))
    {
        if known.contains(&field.as_str()) && !columns.contains(&field) {
            columns.push(field);
        }
    }
    let mut rows: Vec<&Ticket> = w
        .tickets
        .values()
        .filter(|t| {
            let mut keep = true;
            for (i, criterion) in criteria.values().enumerate() {
                let field = criterion["field"].as_str();
                let value = column(&w, t, field).unwrap_or(Value::Null);
                let hit = matches(&value, field, &criterion["searchtype"], &criterion["value"]);
                let link = criterion.get("link").map(String::as_str).unwrap_or("AND");
                keep = if i == 0 {
                    hit
                } else {
                    match link {
                        "OR" => keep || hit,
                        "AND NOT" => keep && !hit,
                        "OR NOT" => keep || !hit,
                        _ => keep && hit,
                    }
                };
            }
            keep
        })
        .collect();
    let sort = call.param("sort").unwrap_or("1").to_owned();
    rows.sort_by(|a, b| {
        let key = |t: &Ticket| column(&w, t, &sort).unwrap_or(Value::Null);
        let ordering = match (key(a), key(b)) {
            (Value::Number(x), Value::Number(y)) => x
                .as_f64()
                .partial_cmp(&y.as_f64())
                .unwrap_or(std::cmp::Ordering::Equal),
            (x, y) => text_of(&x).cmp(&text_of(&y)),
        };
        ordering.then(a.id.cmp(&b.id))
    });
    let descending = call
        .param("order")
        .is_some_and(|o| o.eq_ignore_ascii_case("DESC"));
    if descending {
        rows.reverse();
    }
    let (start, end) = range_of(call)?;
    let total = rows.len();
    if start > total {
        return Err(Reject::new(
            400,
            "ERROR_RANGE_EXCEED_TOTAL",
            format!("Provided range exceed total count of data: {total}"),
        ));
    }
    let data: Vec<Value> = rows
        .iter()
        .skip(start)
        .take(end - start + 1)
        .map(|t| {
            let mut row = Map::new();
            for field in &columns {
                if let Some(value) = column(&w, t, field) {
                    row.insert(field.clone(), value);
                }
            }
            Value::Object(row)
        })
        .collect();
    let count = data.len();
    let end_shown = if total == 0 {
        -1
    } else {
        end.min(total - 1) as i64
    };
    let mut body = json!({
        "totalcount": total,
        "count": count,
        "sort": [sort.parse::<i64>().unwrap_or(1)],
        "order": [if descending { "DESC" } else { "ASC" }],
    });
    if !data.is_empty() {
        body["data"] = Value::Array(data);
    }
    body["content-range"] = json!(format!("{start}-{end_shown}/{total}"));
    let mut response = json_answer(
        if count >= total {
            StatusCode::OK
        } else {
            StatusCode::PARTIAL_CONTENT
        },
        body,
    );
    let headers = response.headers_mut();
    headers.insert(
        "accept-range",
        HeaderValue::from_str(&format!("Ticket {MAX_INPUT_VARS}")).expect("ascii"),
    );
    if total > 0
        && let Ok(value) = HeaderValue::from_str(&format!("{start}-{end_shown}/{total}"))
    {
        headers.insert("content-range", value);
    }
    Ok(response)
}
