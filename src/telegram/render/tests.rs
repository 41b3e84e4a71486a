use super::*;
use crate::model::{CommentLine, TicketView};
use teledesk_adapter::{Requester, StatusClass};
use time::macros::datetime;

fn link(status: StatusClass) -> TicketLink {
    TicketLink {
        local: 1,
        helpdesk: "main".into(),
        ticket_id: Some(teledesk_adapter::TicketId("17".into())),
        number: Some("17".into()),
        chat_id: -1001,
        source_message_id: Some(5),
        card_message_id: Some(6),
        author: Requester {
            display_name: "Ann <Smith>".into(),
            telegram_id: 42,
            username: Some("ann".into()),
            company: Some("Acme".into()),
        },
        view: TicketView {
            subject: "Printer does not print".into(),
            description: "Since the morning & after restart".into(),
            status,
            state: "In progress".into(),
            assignee: Some("Ivan Petrov".into()),
            resolution: status.is_done().then(|| "Replaced the cartridge".into()),
            last_comments: vec![
                CommentLine {
                    author: "Ann Smith".into(),
                    text: "Still broken".into(),
                },
                CommentLine {
                    author: "Ivan Petrov".into(),
                    text: "On my way".into(),
                },
            ],
            due: Default::default(),
            priority: None,
        },
        rendered_hash: None,
        known_comments: vec![],
        comment_authors: vec![],
        created_at: datetime!(2026-11-21 10:00 UTC),
        rating: None,
        feedback_given: false,
        escalated_at: None,
        follow_up_of: None,
        notified_reply: false,
        notified_done: false,
        source_chat_id: None,
        thread: None,
        topic: None,
        topic_closed: false,
        comment_mark: None,
        times: Default::default(),
        category: None,
        intake_fields: vec![],
        staff_started: None,
    }
}

const BOT: &str = "acme_support_bot";

/// The card as a client sees it: the text, then each keyboard row as `[label → target]`.
fn shown(card: &Card) -> String {
    let mut text = card.html.clone();
    for row in card.keyboard.iter().flat_map(|k| &k.rows) {
        let buttons: Vec<String> = row
            .iter()
            .map(|b| format!("[{} → {}]", b.label, b.url.as_deref().unwrap_or(&b.data)))
            .collect();
        text.push_str(&format!("\n{}", buttons.join(" ")));
    }
    text
}

/// Every status class in both languages: the post text clients read is pinned.
#[test]
fn card_for_every_status_in_both_languages() {
    for lang in [Lang::Ru, Lang::En] {
        for status in StatusClass::ALL {
            let name = format!(
                "card_{}_{}",
                if lang == Lang::Ru { "ru" } else { "en" },
                status
            );
            insta::assert_snapshot!(name, shown(&card(&link(status), lang, BOT)));
        }
    }
}

/// After a rating the card shows the stars and offers feedback in a DM; after feedback, only
/// reopening is left. A follow-up names the ticket it continues.
#[test]
fn card_after_rating_feedback_and_as_a_follow_up() {
    let mut l = link(StatusClass::Closed);
    l.rating = Some(4);
    insta::assert_snapshot!("card_ru_rated", shown(&card(&l, Lang::Ru, BOT)));
    l.feedback_given = true;
    insta::assert_snapshot!(
        "card_en_rated_with_feedback",
        shown(&card(&l, Lang::En, BOT))
    );
    let mut f = link(StatusClass::New);
    f.follow_up_of = Some(crate::model::FollowUp {
        local: 7,
        number: Some("12".into()),
    });
    insta::assert_snapshot!("card_ru_follow_up", shown(&card(&f, Lang::Ru, BOT)));
}

/// A channel post sends comments to the discussion under it, in both languages.
#[test]
fn channel_post_points_to_its_discussion() {
    let l = link(StatusClass::InProgress);
    let ru = card_on(&l, Lang::Ru, BOT, Surface::ChannelPost).html;
    assert!(
        ru.ends_with("<i>Комментарии к заявке — в обсуждении под этим постом.</i>"),
        "{ru}"
    );
    let en = card_on(&l, Lang::En, BOT, Surface::ChannelPost).html;
    assert!(
        en.ends_with("<i>Comment on the ticket in the discussion under this post.</i>"),
        "{en}"
    );
}

#[test]
fn card_in_progress_ru() {
    insta::assert_snapshot!(card(&link(StatusClass::InProgress), Lang::Ru, BOT).html, @"
    📋 <b>Заявка #17</b>
    <b>Проблема:</b> Printer does not print
    <b>Описание:</b> Since the morning &amp; after restart
    <b>Автор:</b> Ann &lt;Smith&gt; (@ann), Acme
    <b>Зарегистрирована:</b> 21.11.2026 10:00 UTC
    <b>Статус:</b> В работе
    <b>Ответственный:</b> Ivan Petrov

    <b>Последние комментарии:</b>
    — <i>Ann Smith:</i> Still broken
    — <i>Ivan Petrov:</i> On my way

    <i>Ответьте на это сообщение, чтобы добавить комментарий.</i>
    ");
}

#[test]
fn card_resolved_en() {
    insta::assert_snapshot!(card(&link(StatusClass::Resolved), Lang::En, BOT).html, @"
    📋 <b>Ticket #17</b>
    <b>Problem:</b> Printer does not print
    <b>Description:</b> Since the morning &amp; after restart
    <b>Author:</b> Ann &lt;Smith&gt; (@ann), Acme
    <b>Registered:</b> 21.11.2026 10:00 UTC
    <b>Status:</b> ✅ resolved, please check
    <b>Assignee:</b> Ivan Petrov
    <b>Resolution:</b> Replaced the cartridge

    <b>Latest comments:</b>
    — <i>Ann Smith:</i> Still broken
    — <i>Ivan Petrov:</i> On my way

    <i>Please rate how the ticket was solved:</i>
    ");
}

#[test]
fn card_before_registration_and_without_optional_fields() {
    let mut l = link(StatusClass::New);
    l.number = None;
    l.view.description.clear();
    l.view.assignee = None;
    l.view.last_comments.clear();
    insta::assert_snapshot!(card(&l, Lang::Ru, BOT).html, @"
    📋 <b>Заявка регистрируется…</b>
    <b>Проблема:</b> Printer does not print
    <b>Автор:</b> Ann &lt;Smith&gt; (@ann), Acme
    <b>Зарегистрирована:</b> 21.11.2026 10:00 UTC
    <b>Статус:</b> Новая
    <b>Ответственный:</b> не назначен

    <i>Ответьте на это сообщение, чтобы добавить комментарий.</i>
    ");
}

#[test]
fn huge_texts_still_fit_telegram() {
    let mut l = link(StatusClass::InProgress);
    l.view.subject = "s".repeat(5000);
    l.view.description = "d".repeat(5000);
    l.view.last_comments = vec![
        CommentLine {
            author: "x".into(),
            text: "c".repeat(5000)
        };
        3
    ];
    assert!(card(&l, Lang::Ru, BOT).html.chars().count() < 4096);
}

/// Telegram counts UTF-16 units after entity parsing: an emoji is two, so a card that fits in
/// characters can still be refused as too long.
#[test]
fn a_card_written_in_emoji_fits_telegram() {
    let emoji = "😀".repeat(5000);
    let mut l = link(StatusClass::Resolved);
    l.view.subject = emoji.clone();
    l.view.description = emoji.clone();
    l.view.resolution = Some(emoji.clone());
    l.author.display_name = emoji.clone();
    l.author.company = Some(emoji.clone());
    l.view.assignee = Some(emoji.clone());
    l.view.last_comments = vec![
        CommentLine {
            author: emoji.clone(),
            text: emoji.clone()
        };
        3
    ];
    for lang in [Lang::Ru, Lang::En] {
        let html = card(&l, lang, BOT).html;
        let units = crate::telegram::split::visible_len(&html);
        assert!(units <= crate::telegram::split::TEXT_LIMIT, "{units} units");
        assert!(!html.contains('\u{fffd}'));
    }
}

/// A ticket staff started says so; an announcement shows no status, no assignee and no buttons
/// even when done, and says no reply is needed.
#[test]
fn staff_started_and_announcement_cards() {
    let mut l = link(StatusClass::InProgress);
    l.staff_started = Some(crate::model::StaffStarted {
        announcement: false,
    });
    let html = card(&l, Lang::Ru, BOT).html;
    assert!(html.contains("<i>Сообщение от поддержки</i>"), "{html}");
    assert!(html.contains("<b>Статус:</b>"), "{html}");
    l.staff_started = Some(crate::model::StaffStarted { announcement: true });
    l.view.status = StatusClass::Closed;
    let shown = card(&l, Lang::En, BOT);
    insta::assert_snapshot!(shown.html, @"
    📋 <b>Ticket #17</b>
    📢 <i>Announcement</i>
    <b>Problem:</b> Printer does not print
    <b>Description:</b> Since the morning &amp; after restart
    <b>Author:</b> Ann &lt;Smith&gt; (@ann), Acme

    <b>Latest comments:</b>
    — <i>Ann Smith:</i> Still broken
    — <i>Ivan Petrov:</i> On my way

    <i>This is a notice; no reply is needed.</i>
    ");
    assert_eq!(shown.keyboard, None);
}

/// The card says when the client asked: the source message's own date, not when teledesk or
/// the helpdesk took the ticket, on every surface; records older than that date show when
/// teledesk opened the ticket.
#[test]
fn the_registration_time_is_the_messages_own_date_on_every_surface() {
    let mut l = link(StatusClass::InProgress);
    l.created_at = datetime!(2026-11-21 14:05 UTC);
    l.times.registered_at = Some(datetime!(2026-11-21 09:58:41 UTC));
    for surface in [Surface::Group, Surface::ChannelPost, Surface::ForumTopic] {
        let ru = card_on(&l, Lang::Ru, BOT, surface).html;
        assert!(
            ru.contains("<b>Зарегистрирована:</b> 21.11.2026 09:58 UTC\n"),
            "{surface:?}: {ru}"
        );
        let en = card_on(&l, Lang::En, BOT, surface).html;
        assert!(
            en.contains("<b>Registered:</b> 21.11.2026 09:58 UTC\n"),
            "{surface:?}: {en}"
        );
        assert!(!en.contains("14:05"), "{surface:?}: {en}");
    }
    l.times.registered_at = None;
    let old = card(&l, Lang::En, BOT).html;
    assert!(
        old.contains("<b>Registered:</b> 21.11.2026 14:05 UTC"),
        "{old}"
    );
}

/// Due times are shown; one missed (answered late, or past due and still open) is marked.
#[test]
fn due_times_and_their_breaches() {
    let now = datetime!(2026-11-22 12:00 UTC);
    let mut l = link(StatusClass::InProgress);
    l.times.registered_at = Some(datetime!(2026-11-21 10:00 UTC));
    l.view.due = teledesk_adapter::DueTimes {
        respond_by: Some(datetime!(2026-11-21 11:00 UTC)),
        resolve_by: Some(datetime!(2026-11-23 18:30 UTC)),
    };
    l.times.first_response_at = Some(datetime!(2026-11-21 10:30 UTC));
    let html = card_at(&l, Lang::Ru, BOT, Surface::Group, now).html;
    assert!(
        html.contains(
            "<b>Ответ до:</b> 21.11.2026 11:00 UTC\n<b>Решение до:</b> 23.11.2026 18:30 UTC\n"
        ),
        "{html}"
    );
    // Answered late.
    l.times.first_response_at = Some(datetime!(2026-11-21 11:30 UTC));
    let html = card_at(&l, Lang::En, BOT, Surface::Group, now).html;
    assert!(
        html.contains("<b>Response due:</b> 21.11.2026 11:00 UTC ⚠️ <b>overdue</b>"),
        "{html}"
    );
    assert!(!html.contains("18:30 UTC ⚠️"), "{html}");
    // Still open two days after the resolution was due.
    let later = datetime!(2026-11-25 12:00 UTC);
    let html = card_at(&l, Lang::Ru, BOT, Surface::Group, later).html;
    assert!(
        html.contains("<b>Решение до:</b> 23.11.2026 18:30 UTC ⚠️ <b>просрочено</b>"),
        "{html}"
    );
    // Resolved in time: no mark, however late it is now.
    l.times.resolved_at = Some(datetime!(2026-11-23 09:00 UTC));
    let breaches = l.breaches(later);
    assert!(breaches.response && !breaches.resolution, "{breaches:?}");
}
