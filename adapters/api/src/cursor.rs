//! The polling cursor: "what changed since", with an overlap window and de-duplication.

use crate::{Change, TicketId};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use time::OffsetDateTime;

/// How far back every poll re-asks, to catch changes written in the same second as the last poll
/// (helpdesks filter on second-granularity timestamps, and not always with `>=`).
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(2);

/// Where a helpdesk watcher stands: the newest server timestamp seen, plus the changes already
/// reported inside the overlap window so they are not reported twice.
///
/// The daemon stores it between polls (and restarts) and never looks inside; adapters build it with
/// [`Cursor::starting_at`] and move it with [`Cursor::advance`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The newest server update time seen so far; `None` before the first poll.
    #[serde(with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    /// `(ticket id, update time)` pairs already reported whose time lies within the overlap window
    /// before `since`.
    pub seen: Vec<(TicketId, i128)>,
    /// Where the adapter stands in its own feeds besides the main one (another ordering, a sweep
    /// of what has no feed), in a shape only that adapter reads. Absent in cursors stored before
    /// it existed, which must keep loading; [`Cursor::advance`] carries it over unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<serde_json::Value>,
}

impl Cursor {
    /// A cursor that reports changes made at or after `at` (the daemon starts with "now", so the
    /// helpdesk's history is not replayed).
    pub fn starting_at(at: OffsetDateTime) -> Self {
        Self {
            since: Some(at),
            seen: Vec::new(),
            vendor: None,
        }
    }

    /// The time to ask the helpdesk from: `since` minus the overlap window, or `None` for "from
    /// the beginning".
    pub fn query_from(&self, overlap: Duration) -> Option<OffsetDateTime> {
        self.since.map(|since| since - overlap)
    }

    /// Takes what the helpdesk returned for [`Cursor::query_from`] (ticket ids with their server
    /// update times, in any order, possibly including ones already reported) and returns the
    /// changes not yet reported, oldest first, with the cursor to use next time.
    ///
    /// The new `since` is the newest *server* time seen, never the local clock, so clock skew
    /// between teledesk and the helpdesk cannot hide a change.
    pub fn advance(
        &self,
        items: impl IntoIterator<Item = (TicketId, OffsetDateTime)>,
        overlap: Duration,
    ) -> (Vec<Change>, Cursor) {
        let mut seen = self.seen.clone();
        let mut changes: Vec<Change> = Vec::new();
        let mut newest = self.since;
        for (ticket, updated_at) in items {
            let stamp = updated_at.unix_timestamp_nanos();
            if seen.iter().any(|(id, at)| *id == ticket && *at == stamp) {
                continue;
            }
            // An item older than the window we asked for can only be a server that ignores the
            // filter; it was reported (or predates us) already.
            if let Some(since) = self.since
                && updated_at < since - overlap
            {
                continue;
            }
            seen.push((ticket.clone(), stamp));
            newest = Some(newest.map_or(updated_at, |n| n.max(updated_at)));
            changes.push(Change::new(ticket, updated_at));
        }
        changes.sort_by_key(|c| c.updated_at);
        // Two changes of one ticket in one poll are one piece of work.
        let mut reported: Vec<Change> = Vec::with_capacity(changes.len());
        for change in changes {
            reported.retain(|c| c.ticket != change.ticket);
            reported.push(change);
        }
        let next_since = newest;
        if let Some(since) = next_since {
            let floor = (since - overlap).unix_timestamp_nanos();
            seen.retain(|(_, at)| *at >= floor);
        }
        (
            reported,
            Cursor {
                since: next_since,
                seen,
                vendor: self.vendor.clone(),
            },
        )
    }
}

impl Cursor {
    /// [`Cursor::advance`] for a poll merged from several listings, some of which may have
    /// stopped at their page limit with more left to read. `complete_through` is the earliest
    /// time through which every listing was read to the end (`None`: all were). What another
    /// listing found after it is left for the next poll, which asks again from there: otherwise
    /// its newer times would carry the cursor past what the cut listing has not read yet.
    pub fn advance_through(
        &self,
        items: impl IntoIterator<Item = (TicketId, OffsetDateTime)>,
        complete_through: Option<OffsetDateTime>,
        overlap: Duration,
    ) -> (Vec<Change>, Cursor) {
        let items = items
            .into_iter()
            .filter(|(_, at)| complete_through.is_none_or(|through| *at <= through));
        self.advance(items, overlap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_cut_listing_holds_the_cursor_where_it_stopped() {
        let start = Cursor::starting_at(datetime!(2026-01-01 10:00:00 UTC));
        // One listing read through 10:00:05 and stopped; another found a change at 10:00:30.
        let items = [
            (id("1"), datetime!(2026-01-01 10:00:04 UTC)),
            (id("2"), datetime!(2026-01-01 10:00:05 UTC)),
            (id("3"), datetime!(2026-01-01 10:00:30 UTC)),
        ];
        let (changes, next) = start.advance_through(
            items.clone(),
            Some(datetime!(2026-01-01 10:00:05 UTC)),
            DEFAULT_OVERLAP,
        );
        assert_eq!(
            changes
                .iter()
                .map(|c| c.ticket.0.as_str())
                .collect::<Vec<_>>(),
            ["1", "2"]
        );
        assert_eq!(next.since, Some(datetime!(2026-01-01 10:00:05 UTC)));
        // The next poll reads on from there and reports the later change once.
        let (changes, _) = next.advance_through(items, None, DEFAULT_OVERLAP);
        assert_eq!(
            changes
                .iter()
                .map(|c| c.ticket.0.as_str())
                .collect::<Vec<_>>(),
            ["3"]
        );
    }

    fn id(s: &str) -> TicketId {
        TicketId(s.to_owned())
    }

    #[test]
    fn reports_each_change_once_across_the_overlap() {
        let start = Cursor::starting_at(datetime!(2026-01-01 10:00:00 UTC));
        let (changes, next) = start.advance(
            [
                (id("1"), datetime!(2026-01-01 10:00:05 UTC)),
                (id("2"), datetime!(2026-01-01 10:00:06 UTC)),
            ],
            DEFAULT_OVERLAP,
        );
        assert_eq!(changes.len(), 2);
        assert_eq!(next.since, Some(datetime!(2026-01-01 10:00:06 UTC)));
        // The next poll asks from 10:00:04 and sees both again plus a third in the same second.
        let (changes, next) = next.advance(
            [
                (id("1"), datetime!(2026-01-01 10:00:05 UTC)),
                (id("2"), datetime!(2026-01-01 10:00:06 UTC)),
                (id("3"), datetime!(2026-01-01 10:00:06 UTC)),
            ],
            DEFAULT_OVERLAP,
        );
        assert_eq!(
            changes
                .iter()
                .map(|c| c.ticket.0.as_str())
                .collect::<Vec<_>>(),
            ["3"]
        );
        assert_eq!(next.since, Some(datetime!(2026-01-01 10:00:06 UTC)));
    }

    #[test]
    fn a_later_update_of_a_seen_ticket_is_reported_again() {
        let start = Cursor::starting_at(datetime!(2026-01-01 10:00:00 UTC));
        let (_, next) = start.advance(
            [(id("1"), datetime!(2026-01-01 10:00:05 UTC))],
            DEFAULT_OVERLAP,
        );
        let (changes, _) = next.advance(
            [(id("1"), datetime!(2026-01-01 10:00:09 UTC))],
            DEFAULT_OVERLAP,
        );
        assert_eq!(changes.len(), 1);
    }

    #[test]
    fn a_cursor_stored_before_the_vendor_part_still_loads() {
        let old = r#"{"since":"2026-01-01T10:00:00Z","seen":[["7",1767261600000000000]]}"#;
        let cursor: Cursor = serde_json::from_str(old).expect("an old cursor loads");
        assert_eq!(cursor.vendor, None);
        assert_eq!(cursor.seen.len(), 1);
        let mut with_vendor = cursor.clone();
        with_vendor.vendor = Some(serde_json::json!({"lap": 3}));
        let (_, next) = with_vendor.advance(Vec::new(), DEFAULT_OVERLAP);
        assert_eq!(
            next.vendor, with_vendor.vendor,
            "advance keeps the vendor part"
        );
        let text = serde_json::to_string(&cursor).expect("serializes");
        assert!(!text.contains("vendor"), "{text}");
    }

    #[test]
    fn cursor_never_moves_back_and_forgets_old_entries() {
        let start = Cursor::starting_at(datetime!(2026-01-01 10:00:00 UTC));
        let (_, next) = start.advance(
            [(id("1"), datetime!(2026-01-01 10:00:05 UTC))],
            DEFAULT_OVERLAP,
        );
        let (changes, next) = next.advance(Vec::new(), DEFAULT_OVERLAP);
        assert!(changes.is_empty());
        assert_eq!(next.since, Some(datetime!(2026-01-01 10:00:05 UTC)));
        let (_, next) = next.advance(
            [(id("2"), datetime!(2026-01-01 10:01:00 UTC))],
            DEFAULT_OVERLAP,
        );
        assert_eq!(next.seen.len(), 1);
    }
}
