//! Mini App submissions: a form filed in the app becomes a ticket exactly like a `/new` dialogue
//! does, except that there is no Telegram message to answer or to key it by.

use super::group::{Content, Origin, open_ticket};
use super::{Outcome, Settings, queued};
use crate::model::AppSubmission;
use crate::store::{Result, Tx};
use teledesk_adapter::IdempotencyKey;
use time::OffsetDateTime;

/// The inbox payload's field that marks a Mini App submission (Telegram updates never have it).
pub const PAYLOAD_FIELD: &str = "app_submission";

/// The inbox payload for a submission.
pub fn payload(submission: &AppSubmission) -> serde_json::Value {
    serde_json::json!({ PAYLOAD_FIELD: submission })
}

/// Opens the ticket a submission asks for, once: a submission already turned into a ticket (the
/// same form sent twice) changes nothing.
pub fn on_submission(
    tx: &mut Tx<'_>,
    settings: &Settings,
    submission: &AppSubmission,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let user_id = submission.author.telegram_id;
    let Some(mut record) = tx.submission(user_id, &submission.id)? else {
        return Ok(Outcome::skipped("a Mini App submission without its record"));
    };
    if record.ticket.is_some() || record.refused.is_some() {
        return Ok(Outcome::skipped("a Mini App submission already handled"));
    }
    let Some(chat) = settings.chats.get(&submission.chat_id).cloned() else {
        record.refused = Some("the chat is no longer served".into());
        tx.put_submission(&record);
        drop_uploads(tx, submission);
        return Ok(Outcome::skipped(format!(
            "Mini App submission for chat {}, which is no longer configured",
            submission.chat_id
        )));
    };
    let local = open_ticket(
        tx,
        &chat,
        submission.author.clone(),
        Origin {
            message_id: None,
            key: IdempotencyKey::mini_app(user_id, &submission.id),
            registered_at: submission.submitted_at,
            url: None,
        },
        Content {
            subject: submission.subject.clone(),
            description: submission.description.clone(),
            files: submission.files.clone(),
        },
        &[],
        None,
        submission.intake.clone(),
        now,
    )?;
    record.ticket = Some(local);
    tx.put_submission(&record);
    Ok(queued())
}

fn drop_uploads(tx: &mut Tx<'_>, submission: &AppSubmission) {
    for upload in submission.files.iter().filter_map(|f| f.upload_id()) {
        tx.remove_upload(upload);
    }
}
