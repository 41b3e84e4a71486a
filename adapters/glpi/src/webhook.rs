//! GLPI 11 webhooks: signature verification and the ticket a default payload is about.
//!
//! GLPI signs each webhook when it queues it (`src/Webhook.php`, `Webhook::raise`):
//! `X-GLPI-signature` = lowercase hex `hash_hmac('sha256', $body . $timestamp, $secret)` and
//! `X-GLPI-timestamp` = the Unix time of queueing, in seconds. The default body is
//! `{"item": {…v2 API representation…}, "event": "new|update|delete", "parent_item": {…}}`,
//! with `parent_item` only for child items (followups, solutions, tasks, validations).

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use teledesk_adapter::{Error, ErrorKind, Result, TicketId, WebhookRequest};

const OP: &str = "parse_webhook";
/// The header names as GLPI writes them; lookups are case-insensitive.
pub const SIGNATURE_HEADER: &str = "X-GLPI-signature";
/// See [`SIGNATURE_HEADER`].
pub const TIMESTAMP_HEADER: &str = "X-GLPI-timestamp";

fn denied(message: &str) -> Error {
    Error::new(ErrorKind::PermissionDenied, OP, message)
}

/// The signature GLPI sends for `body` queued at `timestamp`.
pub fn sign(secret: &str, body: &[u8], timestamp: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC-SHA256 takes keys of any length");
    mac.update(body);
    mac.update(timestamp.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks the signature in constant time; a missing, malformed or wrong one is
/// [`ErrorKind::PermissionDenied`].
///
/// The timestamp is not checked for freshness: GLPI signs at queue time and its cron delivers
/// (and retries) later, so an honest webhook can be hours old, and a replayed one only makes the
/// daemon re-read a ticket. It must be present and numeric, since it is part of what is signed.
pub fn verify(secret: &str, request: &WebhookRequest) -> Result<()> {
    let signature = request
        .header(SIGNATURE_HEADER)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| denied("the webhook has no X-GLPI-signature header"))?;
    let timestamp = request
        .header(TIMESTAMP_HEADER)
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| denied("the webhook has no numeric X-GLPI-timestamp header"))?;
    let expected = hex::decode(signature)
        .map_err(|_| denied("the X-GLPI-signature header is not hexadecimal"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC-SHA256 takes keys of any length");
    mac.update(&request.body);
    mac.update(timestamp.as_bytes());
    mac.verify_slice(&expected)
        .map_err(|_| denied("the webhook signature does not match webhook_secret"))
}

fn id_of(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|id| *id > 0)
}

/// The ticket a verified default-payload webhook is about.
///
/// - a child item naming its parent (`ITILFollowup`, `ITILSolution`: `itemtype`/`items_id`) is
///   about that parent when it is a `Ticket`, and about nothing we track otherwise (a `Change`);
/// - a ticket task is about its `tickets_id`, a validation about its `parent_item`;
/// - anything else is taken as the ticket itself (`item.id`), so configure webhooks on `Ticket`
///   and its timeline types only.
pub fn ticket_ids(body: &[u8]) -> Result<Vec<TicketId>> {
    let invalid = |message: String| Error::new(ErrorKind::InvalidInput, OP, message);
    let payload: Value = serde_json::from_slice(body).map_err(|e| {
        invalid(format!(
            "the webhook body is not JSON ({e}); use GLPI's default payload"
        ))
    })?;
    let item = payload
        .get("item")
        .filter(|i| i.is_object())
        .ok_or_else(|| {
            invalid("the webhook body has no \"item\" object; use GLPI's default payload".into())
        })?;
    let ticket = if let Some(parent_type) = item.get("itemtype").and_then(Value::as_str) {
        if parent_type != "Ticket" {
            return Ok(Vec::new());
        }
        id_of(item.get("items_id"))
    } else if let Some(ticket) = id_of(item.get("tickets_id")) {
        Some(ticket)
    } else if let Some(parent) = payload.get("parent_item").filter(|p| p.is_object()) {
        id_of(parent.get("id"))
    } else {
        id_of(item.get("id"))
    };
    let ticket = ticket.ok_or_else(|| {
        invalid("the webhook body names no ticket id (item.id / items_id / parent_item.id)".into())
    })?;
    Ok(vec![TicketId(ticket.to_string())])
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICKET_UPDATE: &[u8] =
        include_bytes!("../../../fixtures/glpi/webhook_ticket_update.json");
    const FOLLOWUP_NEW: &[u8] = include_bytes!("../../../fixtures/glpi/webhook_followup_new.json");
    const SECRET: &str = "Q8dN2vL0xYt5rW7mK3pZ9sA1cE6gH4jB0uF2iO8e";

    fn request(body: &[u8], timestamp: &str, signature: Option<String>) -> WebhookRequest {
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-glpi-timestamp".to_owned(), timestamp.to_owned()),
        ];
        if let Some(signature) = signature {
            headers.push(("x-glpi-signature".to_owned(), signature));
        }
        WebhookRequest {
            headers,
            body: body.to_vec(),
        }
    }

    fn signed(body: &[u8]) -> WebhookRequest {
        request(body, "1795262400", Some(sign(SECRET, body, "1795262400")))
    }

    #[test]
    fn signature_is_hmac_of_body_then_timestamp() {
        // hash_hmac('sha256', '{"a":1}1700000000', 'secret') in PHP.
        assert_eq!(
            sign("secret", br#"{"a":1}"#, "1700000000"),
            "5bfb71b792ec829c706a4d9bf7e6cb063d5abc4336963b9ecdb01288e5befb5b"
        );
    }

    #[test]
    fn a_signed_webhook_passes() {
        verify(SECRET, &signed(TICKET_UPDATE)).expect("valid");
    }

    #[test]
    fn tampering_is_refused() {
        let mut tampered = signed(TICKET_UPDATE);
        tampered.body.push(b' ');
        let e = verify(SECRET, &tampered).expect_err("tampered body");
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);

        let mut other_time = signed(TICKET_UPDATE);
        for (name, value) in &mut other_time.headers {
            if name == "x-glpi-timestamp" {
                *value = "1795262401".into();
            }
        }
        assert!(verify(SECRET, &other_time).is_err(), "timestamp is signed");
        assert!(verify("another secret", &signed(TICKET_UPDATE)).is_err());
    }

    #[test]
    fn missing_or_malformed_headers_are_refused() {
        let unsigned = request(TICKET_UPDATE, "1795262400", None);
        assert_eq!(
            verify(SECRET, &unsigned).expect_err("unsigned").kind(),
            ErrorKind::PermissionDenied
        );
        let not_hex = request(TICKET_UPDATE, "1795262400", Some("zz".into()));
        assert!(verify(SECRET, &not_hex).is_err());
        let signature = sign(SECRET, TICKET_UPDATE, "");
        let no_time = request(TICKET_UPDATE, "", Some(signature));
        assert!(verify(SECRET, &no_time).is_err());
    }

    #[test]
    fn header_names_are_case_insensitive() {
        let mut request = signed(TICKET_UPDATE);
        for (name, _) in &mut request.headers {
            *name = name.to_ascii_uppercase();
        }
        verify(SECRET, &request).expect("valid");
    }

    #[test]
    fn payloads_name_their_ticket() {
        assert_eq!(
            ticket_ids(TICKET_UPDATE).expect("ticket"),
            [TicketId("123".into())]
        );
        assert_eq!(
            ticket_ids(FOLLOWUP_NEW).expect("followup"),
            [TicketId("123".into())]
        );
        let task = br#"{"event":"new","item":{"id":9,"content":"x"},"parent_item":{"id":"77"}}"#;
        assert_eq!(ticket_ids(task).expect("task"), [TicketId("77".into())]);
        let own_key = br#"{"event":"update","item":{"id":9,"tickets_id":78,"content":"x"}}"#;
        assert_eq!(ticket_ids(own_key).expect("task"), [TicketId("78".into())]);
        let change = br#"{"event":"new","item":{"id":9,"itemtype":"Change","items_id":4}}"#;
        assert!(ticket_ids(change).expect("change").is_empty());
    }

    #[test]
    fn unusable_payloads_are_invalid_input() {
        for body in [
            &b"not json"[..],
            br#"{"event":"update"}"#,
            br#"{"item":{"name":"x"}}"#,
        ] {
            assert_eq!(
                ticket_ids(body).expect_err("invalid").kind(),
                ErrorKind::InvalidInput
            );
        }
    }
}
