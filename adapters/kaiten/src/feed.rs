//! "What changed since the cursor" on Kaiten, which has three kinds of change and one feed for
//! each, because the live service moves `updated` only for some of them (kaiten-rs, from live
//! calls):
//!
//! 1. **Field edits and moves** bump `updated`: `GET /cards?updated_after=…&order_by=updated&
//!    order_direction=asc`. The bound is inclusive, so the overlap window and the cursor's
//!    `(id, updated)` pairs drop what was reported already. Pages are read by moving the bound to
//!    the last `updated` seen (keyset), not by offset alone: a card that changes while we page
//!    moves to the end of the list, and an offset would then skip the card that slid into its
//!    place. Reading oldest first also means that stopping early loses nothing: the cursor only
//!    moves up to the newest time actually read.
//! 2. **Comments** (and the files staff attach to them) leave `updated` alone and show in
//!    `comment_last_added_at`: `GET /cards?order_by=comment_last_added_at&order_direction=desc`,
//!    read page by page until the entries are older than the comment cursor (a [`Cursor`] of its
//!    own, kept in the main cursor's vendor part). A card that gets a comment while we page jumps
//!    to the top: the pages after it shift down by one, which repeats an entry but skips none, and
//!    the card itself is newer than the cursor and found on the next poll.
//! 3. **Members**, the responsible included, have no feed at all. A bounded **sweep** covers them:
//!    each poll lists one page of open cards in creation order (1 request) and reads at most
//!    [`SWEEP_CARDS`] of teledesk's cards among them in full (`GET /cards/{id}`), reporting a card
//!    when the fingerprint of its members and files differs from the one kept in the cursor (or
//!    when it has none yet). The next poll continues where this one stopped and wraps around at
//!    the end, so every open teledesk card is looked at once per
//!    `max(open teledesk cards / SWEEP_CARDS, open cards / 100)` polls.
//!
//! A poll therefore costs `2 + ⌈changed / 100⌉` list requests (one more per extra page of either
//! feed) plus at most `1 + SWEEP_CARDS` for the sweep, whatever the number of open tickets. None of
//! the feeds is filtered by board or space: a card staff move elsewhere keeps being watched.
//!
//! Every feed lists whole cards (column, members, properties, `comments_total`,
//! `comment_last_added_at`), and the poll hands each reported card back with its change, so the
//! adapter can snapshot the ticket from the listing instead of reading it again.

use crate::client::KaitenClient;
use crate::map;
use crate::model;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use teledesk_adapter::{
    Change, ChangeBatch, Cursor, DEFAULT_OVERLAP, Error, ErrorKind, Result, TicketId,
};
use time::OffsetDateTime;

/// Kaiten's page size for `GET /cards`: the live service cuts larger `limit`s to 100.
pub const PAGE_SIZE: usize = 100;
/// Stops paging a server that ignores `offset` instead of looping forever.
pub(crate) const MAX_PAGES: usize = 100;
/// Full cards the sweep reads per poll: with the lists, one poll stays at about a second of
/// Kaiten's 5 requests/s.
pub const SWEEP_CARDS: usize = 3;

const OP: &str = "changes_since";

/// The Kaiten part of the poll cursor ([`Cursor::vendor`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct FeedState {
    /// Where the comment feed stands: card ids with their `comment_last_added_at`.
    #[serde(default)]
    comments: Option<Cursor>,
    /// Where the member sweep stands.
    #[serde(default)]
    sweep: Sweep,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Sweep {
    /// Position in the list of open cards (creation order) the next poll starts at.
    offset: usize,
    /// How many times the sweep has wrapped around; fingerprints not renewed for a whole lap
    /// belong to cards that are closed or gone, and are dropped.
    lap: u32,
    /// `(card id, fingerprint of members and files, lap it was taken in)`.
    prints: Vec<(i64, u64, u32)>,
}

/// The cards a poll listed, newest reading of each, by id: only those the listing showed whole
/// ([`model::ListedCard::complete`]).
pub type Listed = HashMap<i64, model::Card>;

/// One poll of all three feeds; see the module docs.
pub async fn changes_since(
    client: &KaitenClient,
    cursor: &Cursor,
) -> Result<(ChangeBatch, Listed)> {
    let mut listed = Listed::new();
    let (Some(since), Some(from)) = (cursor.since, cursor.query_from(DEFAULT_OVERLAP)) else {
        // A first poll starts now: replaying the company's history would flood Telegram.
        let now = OffsetDateTime::now_utc();
        let mut cursor = Cursor::starting_at(now);
        cursor.vendor = Some(state_json(&FeedState {
            comments: Some(Cursor::starting_at(now)),
            sweep: Sweep::default(),
        })?);
        return Ok((
            ChangeBatch {
                changes: Vec::new(),
                cursor,
            },
            listed,
        ));
    };
    let mut state: FeedState = cursor
        .vendor
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();

    let updated = updated_cards(client, from, &mut listed).await?;
    let (mut changes, mut next) = cursor.advance(updated, DEFAULT_OVERLAP);

    // A cursor stored before the comment feed existed starts it where the main feed stands.
    let comments = state
        .comments
        .take()
        .unwrap_or_else(|| Cursor::starting_at(since));
    let comments_from = comments.query_from(DEFAULT_OVERLAP).unwrap_or(since);
    let commented = commented_cards(client, comments_from, &mut listed).await?;
    let (commented, comments) = comments.advance(commented, DEFAULT_OVERLAP);
    state.comments = Some(comments);

    let swept = sweep(client, &mut state.sweep, &mut listed).await?;

    changes.extend(commented);
    changes.extend(
        swept
            .into_iter()
            .map(|(ticket, updated_at)| Change::new(ticket, updated_at)),
    );
    next.vendor = Some(state_json(&state)?);
    let changes = one_per_ticket(changes);
    let reported: std::collections::HashSet<&str> =
        changes.iter().map(|c| c.ticket.0.as_str()).collect();
    listed.retain(|id, _| reported.contains(id.to_string().as_str()));
    Ok((
        ChangeBatch {
            changes,
            cursor: next,
        },
        listed,
    ))
}

/// Keeps the listing's reading of `card` when it is whole; a later reading replaces an earlier.
fn keep(listed: &mut Listed, card: &model::ListedCard) {
    if card.complete {
        listed.insert(card.card.id, card.card.clone());
    }
}

fn state_json(state: &FeedState) -> Result<serde_json::Value> {
    serde_json::to_value(state).map_err(|e| {
        Error::new(
            ErrorKind::Unexpected,
            OP,
            format!("cannot store the feed position: {e}"),
        )
    })
}

/// Oldest first, each ticket once (at its newest change).
fn one_per_ticket(mut changes: Vec<Change>) -> Vec<Change> {
    changes.sort_by_key(|c| c.updated_at);
    let mut out: Vec<Change> = Vec::with_capacity(changes.len());
    for change in changes {
        out.retain(|c| c.ticket != change.ticket);
        out.push(change);
    }
    out
}

fn ticket(card: &model::Card) -> TicketId {
    TicketId(card.id.to_string())
}

/// Feed 1: cards whose `updated` is at or after `from`, oldest first.
async fn updated_cards(
    client: &KaitenClient,
    from: OffsetDateTime,
    listed: &mut Listed,
) -> Result<Vec<(TicketId, OffsetDateTime)>> {
    let mut items = Vec::new();
    let mut bound = from;
    // Cards at exactly `bound` already read: the bound is inclusive, so they come again.
    let mut at_bound = 0usize;
    for _ in 0..MAX_PAGES {
        let query = [
            ("updated_after", map::query_time(bound)),
            ("order_by", "updated".to_owned()),
            ("order_direction", "asc".to_owned()),
            ("limit", PAGE_SIZE.to_string()),
            ("offset", at_bound.to_string()),
        ];
        let page: Vec<model::ListedCard> = client.get(OP, "/cards", &query).await?;
        for listed_card in &page {
            keep(listed, listed_card);
        }
        let page: Vec<model::Card> = page.into_iter().map(|l| l.card).collect();
        items.extend(page.iter().map(|card| (ticket(card), card.updated)));
        let Some(last) = page.last().map(|card| card.updated) else {
            return Ok(items);
        };
        if page.len() < PAGE_SIZE {
            return Ok(items);
        }
        let at_last = page.iter().filter(|card| card.updated == last).count();
        if last == bound {
            at_bound += at_last;
        } else {
            bound = last;
            at_bound = at_last;
        }
    }
    // Oldest first, so what was not read is newer than everything reported: the next poll
    // starts from the newest time read and finds it.
    tracing::warn!(
        adapter = crate::KIND,
        pages = MAX_PAGES,
        "More changed cards than one poll reads; the rest comes with the next poll."
    );
    Ok(items)
}

/// Feed 2: cards whose newest comment was added at or after `from`.
async fn commented_cards(
    client: &KaitenClient,
    from: OffsetDateTime,
    listed: &mut Listed,
) -> Result<Vec<(TicketId, OffsetDateTime)>> {
    let mut items = Vec::new();
    let mut offset = 0;
    for _ in 0..MAX_PAGES {
        let query = [
            ("order_by", "comment_last_added_at".to_owned()),
            ("order_direction", "desc".to_owned()),
            ("limit", PAGE_SIZE.to_string()),
            ("offset", offset.to_string()),
        ];
        let page: Vec<model::ListedCard> = client.get(OP, "/cards", &query).await?;
        let count = page.len();
        for listed_card in page {
            // Cards without comments sort after every commented one (kaiten-rs reads one page
            // this way); an older comment ends the feed too.
            match listed_card.card.comment_last_added_at {
                Some(at) if at >= from => {
                    keep(listed, &listed_card);
                    items.push((ticket(&listed_card.card), at));
                }
                _ => return Ok(items),
            }
        }
        if count < PAGE_SIZE {
            return Ok(items);
        }
        offset += count;
    }
    // Newest first: stopping here would let the cursor pass comments never read.
    Err(Error::new(
        ErrorKind::Unexpected,
        OP,
        format!(
            "more than {} cards commented in one poll; is Kaiten ignoring `offset`?",
            PAGE_SIZE * MAX_PAGES
        ),
    ))
}

/// teledesk's own cards carry the Telegram key (`tg:…`, `tg-app:…`) as their `external_id`; the
/// sweep reads only those in full.
fn is_teledesk_card(card: &model::Card) -> bool {
    card.external_id
        .as_deref()
        .is_some_and(|id| id.starts_with("tg:") || id.starts_with("tg-"))
}

/// Feed 3: the bounded member sweep. Reports `(card, its updated)` for each card read whose
/// fingerprint moved.
async fn sweep(
    client: &KaitenClient,
    sweep: &mut Sweep,
    listed: &mut Listed,
) -> Result<Vec<(TicketId, OffsetDateTime)>> {
    let query = [
        // Open cards only: a responsible changed on a closed ticket is not worth a request.
        ("states", "1,2".to_owned()),
        ("condition", "1".to_owned()),
        ("order_by", "created".to_owned()),
        ("order_direction", "asc".to_owned()),
        ("limit", PAGE_SIZE.to_string()),
        ("offset", sweep.offset.to_string()),
    ];
    let page: Vec<model::Card> = client.get(OP, "/cards", &query).await?;
    let mut examined = page.len();
    let mut chosen = Vec::with_capacity(SWEEP_CARDS);
    for (index, card) in page.iter().enumerate() {
        if is_teledesk_card(card) {
            chosen.push(card.id);
            if chosen.len() == SWEEP_CARDS {
                examined = index + 1;
                break;
            }
        }
    }
    let mut changed = Vec::new();
    for card_id in chosen {
        let card: model::ListedCard = match client.get(OP, &format!("/cards/{card_id}"), &[]).await
        {
            Ok(card) => card,
            // Deleted, or no longer visible to the integration user, since it was listed.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::PermissionDenied) => {
                continue;
            }
            Err(e) => return Err(e),
        };
        let model::ListedCard { card, complete } = card;
        let print = fingerprint(&card);
        let lap = sweep.lap;
        match sweep.prints.iter_mut().find(|(id, _, _)| *id == card.id) {
            Some(entry) if entry.1 == print => entry.2 = lap,
            Some(entry) => {
                *entry = (card.id, print, lap);
                changed.push((ticket(&card), card.updated));
            }
            None => {
                // Never looked at: whatever staff did before is news to the daemon at most
                // once per card, and reading it costs the processor one fetch.
                sweep.prints.push((card.id, print, lap));
                changed.push((ticket(&card), card.updated));
            }
        }
        // The full card is the freshest reading of it this poll.
        keep(listed, &model::ListedCard { card, complete });
    }
    sweep.offset += examined;
    if examined == page.len() && page.len() < PAGE_SIZE {
        sweep.offset = 0;
        sweep.lap = sweep.lap.wrapping_add(1);
        let keep_from = sweep.lap.saturating_sub(2);
        sweep.prints.retain(|(_, _, lap)| *lap >= keep_from);
    }
    Ok(changed)
}

/// FNV-1a over the members (id, type) and the files' ids: stable across runs and Rust versions,
/// since the cursor that keeps it outlives both.
fn fingerprint(card: &model::Card) -> u64 {
    let mut members: Vec<(i64, i64)> = card.members.iter().map(|m| (m.id, m.member_type)).collect();
    members.sort_unstable();
    // File ids are numbers on uploads and UUIDs on private files: hashed as text.
    let mut files: Vec<&str> = card
        .files
        .iter()
        .filter(|f| !f.deleted)
        .map(|f| f.id.as_str())
        .collect();
    files.sort_unstable();
    let mut hash = teledesk_adapter::StableHash::new();
    let mut eat = |bytes: &[u8]| hash.write(bytes);
    eat(&(members.len() as i64).to_le_bytes());
    for (id, kind) in members {
        eat(&id.to_le_bytes());
        eat(&kind.to_le_bytes());
    }
    eat(&(files.len() as i64).to_le_bytes());
    for id in files {
        eat(&(id.len() as i64).to_le_bytes());
        eat(id.as_bytes());
    }
    hash.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(id: &str, secs: i64) -> Change {
        Change::new(
            TicketId(id.to_owned()),
            OffsetDateTime::from_unix_timestamp(secs).expect("a time"),
        )
    }

    #[test]
    fn each_ticket_is_reported_once_at_its_newest_change() {
        let merged = one_per_ticket(vec![change("1", 30), change("2", 10), change("1", 20)]);
        assert_eq!(merged, vec![change("2", 10), change("1", 30)]);
    }

    #[test]
    fn a_cursor_without_the_kaiten_part_reads_as_a_fresh_state() {
        let state: FeedState = serde_json::from_value(serde_json::json!({})).expect("loads");
        assert_eq!(state, FeedState::default());
    }
}
