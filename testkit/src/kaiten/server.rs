//! The HTTP side of [`FakeKaiten`]: routes, the request gate (outage, auth, rate limit, injected
//! failures, recording) and Kaiten's JSON shapes.

use super::{
    Card, Comment, FakeKaiten, File, INTEGRATION_USER, KaitenCall, NewFile, Property, SPACE_ID,
    World, format_time,
};
use crate::blob::BlobWriter;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const MAX_BODY: usize = 64 * 1024 * 1024;
const MAX_PAGE: usize = 100;

pub(super) fn router(fake: FakeKaiten) -> Router {
    let api = Router::new()
        .route("/users/current", get(current_user))
        .route("/cards", get(list_cards).post(create_card))
        .route("/cards/{id}", get(get_card).patch(update_card))
        .route(
            "/cards/{id}/comments",
            get(list_comments).post(create_comment),
        )
        .route("/cards/{id}/files", put(upload_file))
        .route("/company/custom-properties", get(list_properties))
        .route(
            "/company/custom-properties/{id}/select-values",
            get(list_select_values),
        );
    Router::new()
        .nest("/api/latest", api)
        .route("/files/{id}/{name}", get(download_file))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Not found") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(fake.clone(), gate))
        .with_state(fake)
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

/// A refusal in Kaiten's error shape; small, so handlers can use `?`.
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

fn bad_request(message: impl Into<String>) -> Reject {
    Reject {
        status: StatusCode::BAD_REQUEST,
        message: message.into(),
    }
}

fn card_not_found() -> Reject {
    Reject {
        status: StatusCode::NOT_FOUND,
        message: "Card not found".into(),
    }
}

/// What every request goes through before its handler, and how it is recorded after.
async fn gate(State(fake): State<FakeKaiten>, request: Request, next: Next) -> Response {
    let received_at = std::time::Instant::now();
    let (parts, body) = request.into_parts();
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // JSON is read here to be recorded; anything else (file uploads) streams on to its handler,
    // so a large upload is never whole in the test's memory.
    let (recorded_body, body) = if is_json {
        let bytes = to_bytes(body, MAX_BODY).await.unwrap_or_default();
        (serde_json::from_slice(&bytes).ok(), Body::from(bytes))
    } else {
        (None, body)
    };
    let method = parts.method.to_string();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();

    fake.change(|w| w.arrivals.push((method.clone(), path.clone())));
    let admitted = admit(&fake, &parts.headers);
    let latency = fake.world().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let response = match admitted {
        Err(refusal) => {
            // Read to the end as before the answer, as when every body was read up front.
            drain(body).await;
            refusal
        }
        Ok(remaining) => {
            let mut response = next.run(Request::from_parts(parts, body)).await;
            if let Some((remaining, reset)) = remaining {
                let headers = response.headers_mut();
                headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
                headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
            }
            response
        }
    };
    let status = response.status().as_u16();
    fake.change(|w| {
        w.calls.push(KaitenCall {
            method,
            path,
            query,
            body: recorded_body,
            status,
            received_at,
        })
    });
    response
}

/// Reads a body to its end and drops it.
async fn drain(mut body: Body) {
    use http_body::Body as _;
    while let Some(Ok(_)) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {}
}

/// Admits a request, or answers for the server; on admission returns the rate-limit headers.
#[allow(clippy::result_large_err)]
fn admit(fake: &FakeKaiten, headers: &HeaderMap) -> Result<Option<(u32, i64)>, Response> {
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
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        == Some(w.token.as_str());
    if !authorized {
        return Err(error(StatusCode::UNAUTHORIZED, "Unauthorized"));
    }
    let mut remaining = None;
    if let Some(limit) = w.rate_limit {
        let now = tokio::time::Instant::now();
        while w
            .admitted
            .front()
            .is_some_and(|at| now.duration_since(*at) >= Duration::from_secs(1))
        {
            w.admitted.pop_front();
        }
        let used = u32::try_from(w.admitted.len()).unwrap_or(u32::MAX);
        // The reset is when the oldest request of the rolling second ages out: the first moment
        // a slot is free again.
        let free_in = |oldest: Option<tokio::time::Instant>| {
            Duration::from_secs(1).saturating_sub(now.duration_since(oldest.unwrap_or(now)))
        };
        if used >= limit {
            return Err(rate_limited(reset_epoch(free_in(
                w.admitted.front().copied(),
            ))));
        }
        w.admitted.push_back(now);
        remaining = Some((
            limit - used - 1,
            reset_epoch(free_in(w.admitted.front().copied())),
        ));
    }
    if let Some(status) = w.fail_next.pop_front() {
        if status == 429 {
            return Err(rate_limited(reset_epoch(Duration::from_secs(1))));
        }
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Err(error(status, "Injected failure"));
    }
    Ok(remaining)
}

/// `X-RateLimit-Reset`: the UTC epoch second at or after `from_now`, rounded up so that a client
/// waiting until it is never early.
fn reset_epoch(from_now: Duration) -> i64 {
    let at = OffsetDateTime::now_utc() + from_now;
    at.unix_timestamp() + i64::from(at.nanosecond() > 0)
}

/// Kaiten documents only the `X-RateLimit-*` headers with its 429, so no `Retry-After`: a client
/// must read the reset epoch.
fn rate_limited(reset: i64) -> Response {
    let mut response = error(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-remaining", HeaderValue::from(0));
    headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
    response
}

fn user_json(w: &World, id: i64) -> Value {
    let user = w.user(id);
    let username = user.and_then(|u| u.username.clone());
    json!({
        "id": id,
        "uid": format!("00000000-0000-4000-8000-{id:012}"),
        "full_name": user.and_then(|u| u.full_name.clone()),
        "username": username,
        "email": format!("{}@fake.kaiten.test", username.as_deref().unwrap_or("user")),
        "activated": true,
    })
}

fn file_json(w: &World, f: &File) -> Value {
    json!({
        "id": f.id,
        "uid": format!("f0000000-0000-4000-8000-{:012}", f.id),
        "name": f.name,
        "url": format!("{}/files/{}/{}", w.base_url, f.id, percent_encode(&f.name)),
        "size": f.body.len(),
        "mime_type": f.content_type,
        "type": 1,
        "card_cover": false,
        "comment_id": f.comment_id,
        "card_id": f.card_id,
        "author_id": f.author_id,
        "deleted": false,
        "created": format_time(f.created),
        "updated": format_time(f.created),
    })
}

fn comment_json(w: &World, c: &Comment) -> Value {
    let mut comment = json!({
        "id": c.id,
        "uid": format!("c0000000-0000-4000-8000-{:012}", c.id),
        "text": c.text,
        "type": c.kind,
        "card_id": c.card_id,
        "author_id": c.author_id,
        "deleted": false,
        "edited": false,
        "sd_description": c.sd_description,
        "email_addresses_to": null,
        "sd_external_recipients_cc": null,
        "notification_sent": null,
        "created": format_time(c.created),
        "updated": format_time(c.created),
    });
    if let Some(object) = comment.as_object_mut() {
        if let Some(internal) = c.internal {
            object.insert("internal".into(), json!(internal));
        }
        if let (Some(author), true) = (c.author_id, c.embed_author) {
            object.insert("author".into(), user_json(w, author));
        }
    }
    comment
}

/// A card as Kaiten sends it; the list view carries the column and the members but omits the
/// files and the other embedded objects.
fn card_json(w: &World, c: &Card, full: bool) -> Value {
    let comments: Vec<&Comment> = w.comments.values().filter(|m| m.card_id == c.id).collect();
    let column = w.column(c.column_id);
    let mut card = json!({
        "id": c.id,
        "uid": format!("7c000000-0000-4000-8000-{:012}", c.id),
        "title": c.title,
        "description": c.description,
        "text_format_type_id": 1,
        "asap": c.asap,
        "due_date": c.due_date.map(|(at, _)| format_time(at)),
        "due_date_time_present": c.due_date.is_some_and(|(_, with_time)| with_time),
        "state": c.state,
        "condition": 1,
        "archived": false,
        "blocked": false,
        "created": format_time(c.created),
        "updated": format_time(c.updated),
        "board_id": c.board_id,
        "column_id": c.column_id,
        "lane_id": c.lane_id,
        "space_id": c.space_id,
        "type_id": c.type_id,
        "owner_id": c.owner_id,
        "external_id": c.external_id,
        "service_id": c.service_id,
        "sd_new_comment": false,
        "comments_total": comments.len(),
        "comment_last_added_at": comments.iter().map(|m| m.created).max().map(format_time),
        "properties": if c.properties.is_empty() { Value::Null } else { Value::Object(c.properties.clone()) },
        "column": {
            "id": c.column_id,
            "title": column.map(|c| c.title).unwrap_or_default(),
            "type": column.map(|c| c.column_type),
            "board_id": c.board_id,
        },
        "members": c.members.iter().map(|(id, kind)| {
            let mut member = user_json(w, *id);
            member["type"] = json!(kind);
            member["card_id"] = json!(c.id);
            member["user_id"] = json!(id);
            member
        }).collect::<Vec<_>>(),
    });
    if full {
        let extra = json!({
            "board": {
                "id": c.board_id,
                "title": w.board(c.board_id).map(|b| b.title).unwrap_or_default(),
                "space_id": c.space_id,
            },
            "lane": {"id": c.lane_id, "title": "Заявки"},
            "owner": user_json(w, c.owner_id),
            "tags": c.tags.iter().enumerate().map(|(i, name)| json!({
                "id": i + 1,
                "name": name,
                "color": 1,
                "card_id": c.id,
            })).collect::<Vec<_>>(),
            "files": w.files.values().filter(|f| f.card_id == c.id).map(|f| file_json(w, f)).collect::<Vec<_>>(),
        });
        if let (Some(card), Value::Object(extra)) = (card.as_object_mut(), extra) {
            card.extend(extra);
        }
    }
    super::oddities::decorate_card(w, c, &mut card, full);
    card
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

/// The fake's properties were all made at one moment, before any card.
const PROPERTY_TIME: &str = "2026-01-15T09:00:00.000Z";

fn property_json(p: &Property) -> Value {
    json!({
        "id": p.id,
        "uid": format!("9a000000-0000-4000-8000-{:012}", p.id),
        "name": p.name,
        "type": p.kind,
        "show_on_facade": false,
        "multiline": false,
        "fields_settings": null,
        "author_id": INTEGRATION_USER,
        "company_id": 1,
        "condition": "active",
        "colorful": false,
        "multi_select": p.multi_select,
        "values_creatable_by_users": false,
        "data": null,
        "values_type": null,
        "vote_variant": null,
        "protected": false,
        "color": null,
        "external_id": null,
        "created": PROPERTY_TIME,
        "updated": PROPERTY_TIME,
    })
}

fn select_value_json(property: i64, (id, value): &(i64, String), order: usize) -> Value {
    json!({
        "id": id,
        "uid": format!("5e000000-0000-4000-8000-{id:012}"),
        "custom_property_id": property,
        "value": value,
        "color": 1,
        "deleted": false,
        "condition": "active",
        "sort_order": order,
        "external_id": null,
        "author_id": INTEGRATION_USER,
        "company_id": 1,
        "created": PROPERTY_TIME,
        "updated": PROPERTY_TIME,
    })
}

fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn is_time(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 5 && b[2] == b':' && [0, 1, 3, 4].iter().all(|i| b[*i].is_ascii_digit())
}

/// Whether `value` has the shape Kaiten stores for a property of `p`'s type; `null` clears any.
fn value_fits(p: &Property, value: &Value) -> bool {
    match p.kind.as_str() {
        _ if value.is_null() => true,
        "string" | "email" | "phone" | "url" => value.is_string(),
        "number" => value.is_number(),
        "checkbox" => value.is_boolean(),
        "select" => value.as_array().is_some_and(|ids| {
            !ids.is_empty()
                && (p.multi_select || ids.len() == 1)
                && ids.iter().all(|id| {
                    id.as_i64()
                        .is_some_and(|id| p.options.iter().any(|(o, _)| *o == id))
                })
        }),
        "date" => value.as_object().is_some_and(|d| {
            d.get("date").and_then(Value::as_str).is_some_and(is_date)
                && d.get("time")
                    .is_none_or(|t| t.is_null() || t.as_str().is_some_and(is_time))
                && d.get("tzOffset").is_none_or(|t| t.is_null() || t.is_i64())
        }),
        "user" => value.is_i64(),
        // Formulas are computed; votes, catalogs and attachments have their own endpoints.
        _ => false,
    }
}

/// Refuses writes to properties the company does not have, or in the wrong shape for their type.
fn check_properties(w: &World, properties: &Map<String, Value>) -> Result<(), Reject> {
    for (key, value) in properties {
        let property = key
            .strip_prefix("id_")
            .and_then(|n| n.parse::<i64>().ok())
            .and_then(|id| w.property(id))
            .ok_or_else(|| bad_request(format!("Custom property {key} not found")))?;
        if !value_fits(property, value) {
            return Err(bad_request(format!(
                "Invalid value for custom property {key} of type {}",
                property.kind
            )));
        }
    }
    Ok(())
}

async fn list_properties(
    State(fake): State<FakeKaiten>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    let number = |key: &str| -> Result<Option<usize>, Reject> {
        query
            .get(key)
            .map(|v| {
                v.parse::<usize>()
                    .map_err(|_| bad_request(format!("{key} must be an integer")))
            })
            .transpose()
    };
    let limit = number("limit")?.map_or(MAX_PAGE, |l| l.min(MAX_PAGE));
    let offset = number("offset")?.unwrap_or(0);
    let w = fake.world();
    let page: Vec<Value> = w
        .properties
        .iter()
        .skip(offset)
        .take(limit)
        .map(property_json)
        .collect();
    Ok(Json(Value::Array(page)).into_response())
}

async fn list_select_values(State(fake): State<FakeKaiten>, Path(id): Path<String>) -> Answer {
    let id = parse_id(&id)?;
    let w = fake.world();
    let property = w.property(id).ok_or_else(|| Reject {
        status: StatusCode::NOT_FOUND,
        message: "Custom property not found".into(),
    })?;
    if property.kind != "select" {
        return Err(bad_request("Custom property is not a select"));
    }
    let values: Vec<Value> = property
        .options
        .iter()
        .enumerate()
        .map(|(order, option)| select_value_json(id, option, order))
        .collect();
    Ok(Json(Value::Array(values)).into_response())
}

fn parse_body(bytes: &Bytes) -> Result<Map<String, Value>, Reject> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(bad_request("Request body must be a JSON object")),
    }
}

/// An optional integer field; present but not an integer is a 400.
fn opt_int(body: &Map<String, Value>, key: &str) -> Result<Option<i64>, Reject> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_i64()
            .map(Some)
            .ok_or_else(|| bad_request(format!("{key} must be an integer"))),
    }
}

fn parse_id(text: &str) -> Result<i64, Reject> {
    text.parse().map_err(|_| bad_request("Invalid id"))
}

async fn current_user(State(fake): State<FakeKaiten>) -> Response {
    let w = fake.world();
    Json(user_json(&w, INTEGRATION_USER)).into_response()
}

async fn list_cards(
    State(fake): State<FakeKaiten>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    let int = |key: &str| -> Result<Option<i64>, Reject> {
        query
            .get(key)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| bad_request(format!("{key} must be an integer")))
            })
            .transpose()
    };
    let board_id = int("board_id")?;
    let space_id = int("space_id")?;
    let condition = int("condition")?;
    let limit = int("limit")?;
    let offset = int("offset")?;
    let states = query
        .get("states")
        .map(|text| {
            text.split(',')
                .map(|s| s.trim().parse::<i64>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| bad_request("states must be a comma-separated list of integers"))
        })
        .transpose()?;
    let updated_after = query
        .get("updated_after")
        .map(|text| {
            OffsetDateTime::parse(text, &Rfc3339)
                .map_err(|_| bad_request("updated_after must be an ISO 8601 date"))
        })
        .transpose()?;
    let descending = match query.get("order_direction").map(String::as_str) {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(bad_request("order_direction must be asc or desc")),
    };
    let order = match query.get("order_by").map(String::as_str) {
        None => None,
        Some(field @ ("updated" | "created" | "id" | "comment_last_added_at")) => Some(field),
        // Kaiten may know more fields; the fake refuses what it does not model rather than
        // ordering silently by something else.
        Some(other) => return Err(bad_request(format!("order_by {other} is not supported"))),
    };
    let limit = limit.map_or(MAX_PAGE, |l| (l.max(0) as usize).min(MAX_PAGE));
    let offset = offset.map_or(0, |o| o.max(0) as usize);
    let w = fake.world();
    let last_comment = |card: &Card| {
        w.comments
            .values()
            .filter(|m| m.card_id == card.id)
            .map(|m| m.created)
            .max()
    };
    let mut cards: Vec<&Card> = w
        .cards
        .values()
        .filter(|c| {
            query
                .get("external_id")
                .is_none_or(|e| c.external_id.as_ref() == Some(e))
        })
        .filter(|c| board_id.is_none_or(|b| c.board_id == b))
        .filter(|c| space_id.is_none_or(|s| c.space_id == s))
        .filter(|c| states.as_ref().is_none_or(|s| s.contains(&c.state)))
        // Every card of the fake is live (condition 1); none is archived.
        .filter(|_| condition.is_none_or(|c| c == 1))
        .filter(|c| updated_after.is_none_or(|at| c.updated >= at))
        .collect();
    let direct = |ordering: std::cmp::Ordering| {
        if descending {
            ordering.reverse()
        } else {
            ordering
        }
    };
    cards.sort_by(|a, b| {
        let by_field = match order {
            Some("updated") => direct(a.updated.cmp(&b.updated)),
            Some("created") => direct(a.created.cmp(&b.created)),
            Some("id") => direct(a.id.cmp(&b.id)),
            Some(_) => match (last_comment(a), last_comment(b)) {
                (Some(x), Some(y)) => direct(x.cmp(&y)),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            },
            // No order asked for: newest change first, which shifts under a client paging by
            // offset while cards change.
            None => b.updated.cmp(&a.updated),
        };
        by_field.then(a.id.cmp(&b.id))
    });
    let page: Vec<Value> = cards
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|c| card_json(&w, c, false))
        .collect();
    Ok(Json(Value::Array(page)).into_response())
}

async fn create_card(State(fake): State<FakeKaiten>, bytes: Bytes) -> Answer {
    let body = parse_body(&bytes)?;
    let title = match body.get("title").and_then(Value::as_str).map(str::trim) {
        Some(title) if !title.is_empty() => title.to_owned(),
        _ => return Err(bad_request("title is required")),
    };
    match opt_int(&body, "board_id")? {
        Some(FakeKaiten::BOARD_ID) => {}
        Some(other) => return Err(bad_request(format!("Board {other} not found"))),
        None => return Err(bad_request("board_id is required")),
    }
    let column_id = opt_int(&body, "column_id")?.unwrap_or(FakeKaiten::COLUMN_NEW);
    let lane_id = opt_int(&body, "lane_id")?.unwrap_or(FakeKaiten::LANE_ID);
    if lane_id != FakeKaiten::LANE_ID {
        return Err(bad_request(format!("Lane {lane_id} not found on board")));
    }
    let type_id = opt_int(&body, "type_id")?;
    let owner_id = opt_int(&body, "owner_id")?;
    let responsible_id = opt_int(&body, "responsible_id")?;
    let service_id = opt_int(&body, "service_id")?;
    let properties = match body.get("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(bad_request("properties must be an object")),
    };
    let external_id = match body.get("external_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad_request("external_id must be a string")),
    };
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let card = fake.change(|w| {
        check_properties(w, &properties)?;
        let Some(state) = w.column(column_id).map(|c| c.column_type) else {
            return Err(bad_request(format!(
                "Column {column_id} not found on board"
            )));
        };
        for user in [owner_id, responsible_id].into_iter().flatten() {
            if w.user(user).is_none() {
                return Err(bad_request(format!("User {user} not found")));
            }
        }
        let at = w.stamp();
        let id = w.next_card;
        w.next_card += 1;
        let card = Card {
            id,
            title,
            description,
            board_id: FakeKaiten::BOARD_ID,
            column_id,
            space_id: SPACE_ID,
            lane_id,
            type_id,
            owner_id: owner_id.unwrap_or(INTEGRATION_USER),
            external_id,
            service_id,
            properties,
            asap: body.get("asap").and_then(Value::as_bool).unwrap_or(false),
            members: responsible_id.map(|u| (u, 2)).into_iter().collect(),
            state,
            created: at,
            updated: at,
            tags: Vec::new(),
            due_date: None,
        };
        let json = card_json(w, &card, true);
        w.cards.insert(id, card);
        Ok(json)
    })?;
    Ok(Json(card).into_response())
}

async fn get_card(State(fake): State<FakeKaiten>, Path(id): Path<String>) -> Answer {
    let id = parse_id(&id)?;
    let w = fake.world();
    let card = w.cards.get(&id).ok_or_else(card_not_found)?;
    Ok(Json(card_json(&w, card, true)).into_response())
}

async fn update_card(
    State(fake): State<FakeKaiten>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Answer {
    let id = parse_id(&id)?;
    let body = parse_body(&bytes)?;
    let column_id = opt_int(&body, "column_id")?;
    let board_id = opt_int(&body, "board_id")?;
    let service_id = match body.get("service_id") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => {
            Some(Some(v.as_i64().ok_or_else(|| {
                bad_request("service_id must be an integer")
            })?))
        }
    };
    let card = fake.change(|w| {
        if !w.cards.contains_key(&id) {
            return Err(card_not_found());
        }
        if let Some(Value::Object(properties)) = body.get("properties") {
            check_properties(w, properties)?;
        }
        match (board_id, column_id) {
            (Some(board_id), Some(column_id)) if board_id != w.cards[&id].board_id => {
                w.move_card_to_board(id, board_id, column_id)
                    .map_err(bad_request)?;
            }
            (Some(_), None) => return Err(bad_request("column_id is required with board_id")),
            (_, Some(column_id)) => w.move_card(id, column_id).map_err(bad_request)?,
            (_, None) => {}
        }
        let card = w.card_mut(id);
        if let Some(service_id) = service_id {
            card.service_id = service_id;
        }
        if let Some(title) = body.get("title").and_then(Value::as_str) {
            card.title = title.to_owned();
        }
        if let Some(asap) = body.get("asap").and_then(Value::as_bool) {
            card.asap = asap;
        }
        if let Some(description) = body.get("description") {
            card.description = description.as_str().map(str::to_owned);
        }
        if let Some(Value::Object(properties)) = body.get("properties") {
            for (key, value) in properties {
                if value.is_null() {
                    card.properties.remove(key);
                } else {
                    card.properties.insert(key.clone(), value.clone());
                }
            }
        }
        w.touch(id);
        Ok(card_json(w, &w.cards[&id], true))
    })?;
    Ok(Json(card).into_response())
}

async fn list_comments(State(fake): State<FakeKaiten>, Path(id): Path<String>) -> Answer {
    let id = parse_id(&id)?;
    let w = fake.world();
    if !w.cards.contains_key(&id) {
        return Err(card_not_found());
    }
    let mut comments: Vec<Value> = w
        .comments
        .values()
        .filter(|c| c.card_id == id)
        .map(|c| comment_json(&w, c))
        .collect();
    super::oddities::extend_comments(&w, id, &mut comments);
    Ok(Json(Value::Array(comments)).into_response())
}

async fn create_comment(
    State(fake): State<FakeKaiten>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Answer {
    let id = parse_id(&id)?;
    let body = parse_body(&bytes)?;
    let text = match body.get("text").and_then(Value::as_str) {
        Some(text) if !text.trim().is_empty() => text.to_owned(),
        _ => return Err(bad_request("text is required")),
    };
    let internal = body
        .get("internal")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let comment = fake.change(|w| {
        if !w.cards.contains_key(&id) {
            return Err(card_not_found());
        }
        let comment = w.add_comment(id, INTEGRATION_USER, &text, internal);
        Ok(comment_json(w, &w.comments[&comment]))
    })?;
    Ok(Json(comment).into_response())
}

async fn upload_file(
    State(fake): State<FakeKaiten>,
    Path(id): Path<String>,
    mut multipart: Multipart,
) -> Answer {
    let id = parse_id(&id)?;
    let invalid = |_| bad_request("Invalid multipart body");
    let mut upload = None;
    while let Some(mut field) = multipart.next_field().await.map_err(invalid)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("file").to_owned();
        let content_type = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        // Chunk by chunk: a large upload is kept as its size and digest (see testkit::blob).
        let mut body = BlobWriter::new();
        while let Some(chunk) = field.chunk().await.map_err(invalid)? {
            body.write(&chunk);
        }
        upload = Some(NewFile {
            name,
            content_type,
            body: body.finish(),
            comment_id: None,
        });
    }
    let upload = upload.ok_or_else(|| bad_request("file is required"))?;
    let file = fake.change(|w| {
        if !w.cards.contains_key(&id) {
            return Err(card_not_found());
        }
        let file = w.add_file(id, INTEGRATION_USER, upload);
        Ok(file_json(w, &w.files[&file]))
    })?;
    Ok(Json(file).into_response())
}

async fn download_file(
    State(fake): State<FakeKaiten>,
    Path((id, _name)): Path<(String, String)>,
) -> Answer {
    let id = parse_id(&id)?;
    let (content_type, body) = {
        let w = fake.world();
        let file = w.files.get(&id).ok_or_else(|| Reject {
            status: StatusCode::NOT_FOUND,
            message: "File not found".into(),
        })?;
        (file.content_type.clone(), file.body.clone())
    };
    // Only the digest of a large upload is kept: serving it is a test the fake cannot run.
    let body = body.body().ok_or_else(|| Reject {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: "the fake keeps only the digest of uploads over testkit::blob::KEEP_UPLOAD_BYTES"
            .into(),
    })?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn latency_delays_every_answer_and_calls_record_their_arrival() {
        let fake = FakeKaiten::start().await;
        fake.set_rate_limit(Some(1));
        fake.set_latency(Duration::from_millis(150));
        let client = reqwest::Client::new();
        let url = format!("{}/api/latest/users/current", fake.url());
        let started = std::time::Instant::now();
        let mut statuses = Vec::new();
        for _ in 0..2 {
            let answer = client
                .get(&url)
                .bearer_auth(fake.token())
                .send()
                .await
                .unwrap();
            statuses.push(answer.status().as_u16());
        }
        // The refusal of the rate limit waits as long as an answer does.
        assert_eq!(statuses, [200, 429]);
        assert!(started.elapsed() >= Duration::from_millis(300));
        let calls = fake.calls();
        assert_eq!(calls.len(), 2);
        assert!(calls[0].received_at >= started);
        assert!(calls[1].received_at >= calls[0].received_at + Duration::from_millis(150));
    }

    fn property(kind: &str, multi_select: bool) -> Property {
        Property {
            id: 1,
            name: "Поле".into(),
            kind: kind.into(),
            multi_select,
            options: vec![(501, "Принтеры".into()), (502, "Сеть".into())],
        }
    }

    #[test]
    fn kaiten_property_values_fit_only_their_types_shape() {
        for (kind, value) in [
            ("string", json!("x")),
            ("url", json!("https://a.example")),
            ("number", json!(2.5)),
            ("checkbox", json!(false)),
            ("select", json!([502])),
            (
                "date",
                json!({"date": "2026-07-16", "time": "19:00", "tzOffset": 180}),
            ),
            (
                "date",
                json!({"date": "2026-07-16", "time": null, "tzOffset": null}),
            ),
            ("user", json!(100)),
            ("formula", Value::Null),
        ] {
            assert!(value_fits(&property(kind, false), &value), "{kind} {value}");
        }
        for (kind, value) in [
            ("string", json!(5)),
            ("number", json!("5")),
            ("checkbox", json!("true")),
            ("select", json!(502)),
            ("select", json!(["Сеть"])),
            ("select", json!([503])),
            ("select", json!([501, 502])),
            ("select", json!([])),
            ("date", json!("2026-07-16")),
            ("date", json!({"date": "16.07.2026"})),
            ("date", json!({"date": "2026-07-16", "time": "7pm"})),
            ("user", json!("ann")),
            ("formula", json!(1)),
            ("catalog", json!("x")),
        ] {
            assert!(
                !value_fits(&property(kind, false), &value),
                "{kind} {value}"
            );
        }
        assert!(value_fits(&property("select", true), &json!([501, 502])));
    }
}
