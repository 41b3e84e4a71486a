//! Helpdesk → Telegram: what a freshly read ticket means for its card and its thread.

use crate::model::{CommentLine, TicketLink, TicketView, TimeStamp};
use crate::telegram::texts::truncate;
use teledesk_adapter::{Comment, Origin, Ticket, TicketId, TicketRef, TicketSnapshot, Visibility};
use time::OffsetDateTime;

/// How many comments the card shows.
pub const CARD_COMMENTS: usize = 3;

/// The result of comparing what teledesk knew with what the helpdesk says now.
#[derive(Clone, Debug, PartialEq)]
pub struct Sync {
    /// The card's new content.
    pub view: TicketView,
    /// Staff public replies not yet mirrored, oldest first.
    pub replies: Vec<Comment>,
    /// Comments to remember as handled (the replies, plus internal notes and others never sent).
    pub newly_known: Vec<teledesk_adapter::CommentId>,
}

impl Sync {
    pub fn card_changed(&self, link: &TicketLink) -> bool {
        self.view != link.view
    }
}

/// Compares a ticket read from the helpdesk with its link.
pub fn diff(link: &TicketLink, ticket: &Ticket) -> Sync {
    let mut replies = Vec::new();
    let mut newly_known = Vec::new();
    for comment in &ticket.comments {
        if link.knows_comment(&comment.id) {
            continue;
        }
        newly_known.push(comment.id.clone());
        // Internal notes never leave the helpdesk; teledesk's own comments are not echoed; the
        // requester's own portal/e-mail messages are already known to them.
        if comment.visibility == Visibility::Public && comment.origin == Origin::Staff {
            replies.push(comment.clone());
        }
    }
    let shown: Vec<&Comment> = ticket
        .comments
        .iter()
        .filter(|c| c.visibility == Visibility::Public)
        .filter(|c| !c.body.trim().is_empty() || !c.attachments.is_empty())
        .collect();
    let last_comments: Vec<CommentLine> = shown[shown.len().saturating_sub(CARD_COMMENTS)..]
        .iter()
        .map(|c| CommentLine {
            author: author_of(c, link),
            text: comment_line(c),
        })
        .collect();
    Sync {
        view: TicketView {
            subject: ticket.subject.clone(),
            description: if ticket.description.trim().is_empty() {
                link.view.description.clone()
            } else {
                ticket.description.clone()
            },
            status: ticket.status,
            state: ticket.state.clone(),
            assignee: ticket.assignee.clone(),
            resolution: ticket.resolution.clone(),
            last_comments,
            due: ticket.due,
            priority: ticket.priority.clone(),
        },
        replies,
        newly_known,
    }
}

/// What a snapshot alone means for the card: its fields, with the comments the card already
/// shows (the snapshot's comment mark says none were added or removed).
pub fn apply_snapshot(link: &TicketLink, snapshot: &TicketSnapshot) -> Sync {
    Sync {
        view: TicketView {
            subject: snapshot.subject.clone(),
            description: snapshot
                .description
                .clone()
                .filter(|d| !d.trim().is_empty())
                .unwrap_or_else(|| link.view.description.clone()),
            status: snapshot.status,
            state: snapshot.state.clone(),
            assignee: snapshot.assignee.clone(),
            resolution: snapshot.resolution.clone(),
            last_comments: link.view.last_comments.clone(),
            due: snapshot.due,
            priority: snapshot.priority.clone(),
        },
        replies: Vec::new(),
        newly_known: Vec::new(),
    }
}

/// The ticket a snapshot and the comments read for it make, for [`diff`].
pub fn ticket_from(link: &TicketLink, snapshot: &TicketSnapshot, comments: Vec<Comment>) -> Ticket {
    Ticket {
        reference: TicketRef {
            id: link.ticket_id.clone().unwrap_or(TicketId(String::new())),
            number: link.number.clone().unwrap_or_default(),
            url: None,
        },
        subject: snapshot.subject.clone(),
        description: snapshot.description.clone().unwrap_or_default(),
        state: snapshot.state.clone(),
        status: snapshot.status,
        assignee: snapshot.assignee.clone(),
        resolution: snapshot.resolution.clone(),
        updated_at: snapshot.updated_at,
        comments,
        addressed_to: None,
        due: snapshot.due,
        priority: snapshot.priority.clone(),
    }
}

/// Records on `link` the moments this refresh shows: the first staff reply, a resolution, a
/// reopening, the helpdesk's last change. Call it before `link.view` takes `sync.view`, as it
/// compares the two.
///
/// A moment is the helpdesk's own stamp where it has one (the reply's date, the ticket's last
/// change), as polling sees changes late; a stamp outside registration..now (a skewed clock)
/// gives way to `now`, when teledesk saw it.
/// `updated_at` is the helpdesk's last change of the ticket (from the listing or the read).
pub fn observe_times(
    link: &mut TicketLink,
    sync: &Sync,
    updated_at: OffsetDateTime,
    now: OffsetDateTime,
) {
    let registered = link.registered_at();
    let stamp = |at: OffsetDateTime| {
        if at >= registered && at <= now {
            at
        } else {
            now
        }
    };
    let times = &mut link.times;
    if times.first_response_at.is_none()
        && let Some(first) = sync.replies.first()
    {
        times.first_response_at = Some(stamp(first.created_at));
    }
    let was_done = link.view.status.is_done();
    let is_done = sync.view.status.is_done();
    if is_done && (!was_done || times.resolved_at.is_none()) {
        times.resolved_at = Some(stamp(updated_at));
    } else if was_done && !is_done {
        times.resolved_at = None;
        times.reopened_at.push(TimeStamp(now));
    }
    times.last_activity_at = Some(stamp(updated_at)).max(times.last_activity_at);
}

fn author_of(comment: &Comment, link: &TicketLink) -> String {
    match comment.origin {
        // teledesk writes client comments under its integration account; the card names the
        // Telegram author it recorded when it wrote the comment.
        Origin::Teledesk => link
            .comment_author(&comment.id)
            .unwrap_or(&link.author.display_name)
            .to_owned(),
        _ if comment.author.is_empty() => link.author.display_name.clone(),
        _ => comment.author.clone(),
    }
}

fn comment_line(comment: &Comment) -> String {
    let text = comment.body.trim();
    if text.is_empty() {
        let names: Vec<&str> = comment
            .attachments
            .iter()
            .map(|a| a.file_name.as_str())
            .collect();
        return format!("📎 {}", names.join(", "));
    }
    truncate(&text.replace('\n', " "), 300)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TicketView;
    use teledesk_adapter::{CommentId, StatusClass, TicketId, TicketRef};
    use time::OffsetDateTime;

    fn comment(id: &str, visibility: Visibility, origin: Origin, body: &str) -> Comment {
        Comment {
            id: CommentId(id.into()),
            author: if origin == Origin::Teledesk {
                String::new()
            } else {
                "Ivan".into()
            },
            body: body.into(),
            visibility,
            origin,
            created_at: OffsetDateTime::UNIX_EPOCH,
            attachments: vec![],
        }
    }

    fn link(known: &[&str]) -> TicketLink {
        let sample = TicketLink::sample(1);
        TicketLink {
            ticket_id: Some(TicketId("7".into())),
            number: Some("7".into()),
            chat_id: -1,
            source_message_id: Some(1),
            card_message_id: Some(2),
            view: TicketView {
                subject: "s".into(),
                description: "d".into(),
                state: "Новые".into(),
                ..sample.view.clone()
            },
            known_comments: known.iter().map(|k| CommentId((*k).into())).collect(),
            ..sample
        }
    }

    fn ticket(comments: Vec<Comment>) -> Ticket {
        Ticket {
            reference: TicketRef {
                id: TicketId("7".into()),
                number: "7".into(),
                url: None,
            },
            subject: "s".into(),
            description: "d".into(),
            state: "В работе".into(),
            status: StatusClass::InProgress,
            assignee: Some("Ivan".into()),
            resolution: None,
            updated_at: OffsetDateTime::UNIX_EPOCH,
            comments,
            addressed_to: None,
            due: Default::default(),
            priority: None,
        }
    }

    #[test]
    fn only_new_public_staff_replies_are_mirrored() {
        let t = ticket(vec![
            comment("1", Visibility::Public, Origin::Teledesk, "client text"),
            comment("2", Visibility::Internal, Origin::Staff, "secret note"),
            comment("3", Visibility::Public, Origin::Staff, "we are on it"),
            comment("4", Visibility::Public, Origin::Staff, "already sent"),
        ]);
        let sync = diff(&link(&["1", "4"]), &t);
        assert_eq!(
            sync.replies
                .iter()
                .map(|c| c.id.0.as_str())
                .collect::<Vec<_>>(),
            ["3"]
        );
        assert_eq!(sync.newly_known.len(), 2);
        assert!(
            sync.view
                .last_comments
                .iter()
                .all(|c| c.text != "secret note")
        );
        assert_eq!(sync.view.last_comments.len(), 3);
        assert_eq!(sync.view.last_comments[0].author, "Ann");
        assert_eq!(sync.view.status, StatusClass::InProgress);
        assert!(sync.card_changed(&link(&[])));
    }

    fn snapshot(status: StatusClass, description: Option<&str>) -> TicketSnapshot {
        TicketSnapshot {
            subject: "s2".into(),
            description: description.map(str::to_owned),
            state: "Готово".into(),
            status,
            assignee: Some("Пётр".into()),
            resolution: Some("Заменили картридж".into()),
            updated_at: OffsetDateTime::UNIX_EPOCH,
            comments: teledesk_adapter::CommentMark {
                count: 2,
                last_added_at: None,
            },
            due: Default::default(),
            priority: None,
        }
    }

    #[test]
    fn a_snapshot_changes_the_fields_and_keeps_the_comments_shown() {
        let mut old = link(&["1"]);
        old.view.last_comments = vec![CommentLine {
            author: "Ann".into(),
            text: "hello".into(),
        }];
        let sync = apply_snapshot(&old, &snapshot(StatusClass::Resolved, None));
        assert_eq!(sync.view.status, StatusClass::Resolved);
        assert_eq!(sync.view.state, "Готово");
        assert_eq!(sync.view.assignee.as_deref(), Some("Пётр"));
        assert_eq!(sync.view.resolution.as_deref(), Some("Заменили картридж"));
        assert_eq!(sync.view.subject, "s2");
        assert_eq!(
            sync.view.description, "d",
            "no description in the listing keeps ours"
        );
        assert_eq!(sync.view.last_comments, old.view.last_comments);
        assert!(sync.replies.is_empty() && sync.newly_known.is_empty());
        let described = apply_snapshot(&old, &snapshot(StatusClass::Resolved, Some("new")));
        assert_eq!(described.view.description, "new");
    }

    #[test]
    fn a_snapshot_with_comments_read_diffs_like_a_full_read() {
        let comments = vec![
            comment("1", Visibility::Public, Origin::Teledesk, "client text"),
            comment("3", Visibility::Public, Origin::Staff, "we are on it"),
        ];
        let old = link(&["1"]);
        let from_snapshot = diff(
            &old,
            &ticket_from(
                &old,
                &snapshot(StatusClass::InProgress, Some("d")),
                comments.clone(),
            ),
        );
        let mut full = ticket(comments);
        full.subject = "s2".into();
        full.state = "Готово".into();
        full.assignee = Some("Пётр".into());
        full.resolution = Some("Заменили картридж".into());
        assert_eq!(from_snapshot, diff(&old, &full));
    }

    #[test]
    fn card_shows_the_three_newest_public_comments_newest_last() {
        let comments = (1..=5)
            .map(|i| {
                comment(
                    &i.to_string(),
                    Visibility::Public,
                    Origin::Staff,
                    &format!("c{i}"),
                )
            })
            .collect();
        let sync = diff(&link(&[]), &ticket(comments));
        let texts: Vec<&str> = sync
            .view
            .last_comments
            .iter()
            .map(|c| c.text.as_str())
            .collect();
        assert_eq!(texts, ["c3", "c4", "c5"]);
    }

    fn at(minutes: i64) -> OffsetDateTime {
        time::macros::datetime!(2026-11-21 10:00 UTC) + time::Duration::minutes(minutes)
    }

    fn staff_reply(id: &str, minutes: i64) -> Comment {
        Comment {
            created_at: at(minutes),
            ..comment(id, Visibility::Public, Origin::Staff, "on it")
        }
    }

    fn read(status: StatusClass, updated: i64, comments: Vec<Comment>) -> Ticket {
        Ticket {
            status,
            updated_at: at(updated),
            ..ticket(comments)
        }
    }

    /// Refreshes `link` with `ticket` as the runner does: times first, then the view.
    fn refresh(link: &mut TicketLink, ticket: &Ticket, now: OffsetDateTime) {
        let sync = diff(link, ticket);
        observe_times(link, &sync, ticket.updated_at, now);
        link.view = sync.view;
        link.known_comments.extend(sync.newly_known);
    }

    #[test]
    fn first_response_is_the_first_staff_reply_and_stays() {
        let mut link = link(&[]);
        link.times.registered_at = Some(at(0));
        assert_eq!(link.first_response_time(), None);
        let internal = comment("1", Visibility::Internal, Origin::Staff, "note");
        refresh(
            &mut link,
            &read(StatusClass::InProgress, 5, vec![internal.clone()]),
            at(6),
        );
        assert_eq!(link.times.first_response_at, None, "a note is no response");
        let first = staff_reply("2", 12);
        refresh(
            &mut link,
            &read(
                StatusClass::InProgress,
                12,
                vec![internal.clone(), first.clone()],
            ),
            at(14),
        );
        assert_eq!(
            link.first_response_time(),
            Some(time::Duration::minutes(12))
        );
        refresh(
            &mut link,
            &read(
                StatusClass::InProgress,
                30,
                vec![internal, first, staff_reply("3", 30)],
            ),
            at(31),
        );
        assert_eq!(link.times.first_response_at, Some(at(12)));
        assert_eq!(link.last_activity_at(), at(30));
    }

    #[test]
    fn a_skewed_helpdesk_stamp_gives_way_to_when_teledesk_saw_it() {
        let mut link = link(&[]);
        link.times.registered_at = Some(at(0));
        // The helpdesk's clock says the reply came before the client asked.
        refresh(
            &mut link,
            &read(StatusClass::Resolved, -60, vec![staff_reply("1", -60)]),
            at(9),
        );
        assert_eq!(link.times.first_response_at, Some(at(9)));
        assert_eq!(link.times.resolved_at, Some(at(9)));
    }

    #[test]
    fn resolution_reopen_and_resolution_again() {
        let mut link = link(&[]);
        link.times.registered_at = Some(at(0));
        refresh(&mut link, &read(StatusClass::Resolved, 60, vec![]), at(61));
        assert_eq!(link.resolution_time(), Some(time::Duration::minutes(60)));
        // Seen done again: the resolution that stands does not move.
        refresh(&mut link, &read(StatusClass::Closed, 90, vec![]), at(91));
        assert_eq!(link.times.resolved_at, Some(at(60)));
        refresh(
            &mut link,
            &read(StatusClass::InProgress, 100, vec![]),
            at(101),
        );
        assert_eq!(link.resolution_time(), None);
        assert_eq!(link.times.reopened_at, [TimeStamp(at(101))]);
        refresh(&mut link, &read(StatusClass::Closed, 200, vec![]), at(201));
        assert_eq!(link.resolution_time(), Some(time::Duration::minutes(200)));
        assert_eq!(link.times.reopened_at.len(), 1);
    }

    #[test]
    fn old_records_load_and_count_from_when_teledesk_opened_them() {
        let mut json = serde_json::to_value(link(&[])).unwrap();
        json.as_object_mut().unwrap().remove("times");
        let old: TicketLink = serde_json::from_value(json).unwrap();
        assert_eq!(old.times, Default::default());
        assert_eq!(old.registered_at(), old.created_at);
        assert_eq!(old.last_activity_at(), old.created_at);
    }
}
