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
        source_message_id: 5,
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
        },
        rendered_hash: None,
        known_comments: vec![],
        comment_authors: vec![],
        created_at: datetime!(2026-11-21 10:00 UTC),
    }
}

#[test]
fn card_in_progress_ru() {
    insta::assert_snapshot!(card(&link(StatusClass::InProgress), Lang::Ru).html, @"
    📋 <b>Заявка #17</b>
    <b>Проблема:</b> Printer does not print
    <b>Описание:</b> Since the morning &amp; after restart
    <b>Автор:</b> Ann &lt;Smith&gt; (@ann), Acme
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
    insta::assert_snapshot!(card(&link(StatusClass::Resolved), Lang::En).html, @"
    📋 <b>Ticket #17</b>
    <b>Problem:</b> Printer does not print
    <b>Description:</b> Since the morning &amp; after restart
    <b>Author:</b> Ann &lt;Smith&gt; (@ann), Acme
    <b>Status:</b> ✅ resolved, please check
    <b>Assignee:</b> Ivan Petrov
    <b>Resolution:</b> Replaced the cartridge

    <b>Latest comments:</b>
    — <i>Ann Smith:</i> Still broken
    — <i>Ivan Petrov:</i> On my way
    ");
}

#[test]
fn card_before_registration_and_without_optional_fields() {
    let mut l = link(StatusClass::New);
    l.number = None;
    l.view.description.clear();
    l.view.assignee = None;
    l.view.last_comments.clear();
    insta::assert_snapshot!(card(&l, Lang::Ru).html, @"
    📋 <b>Заявка регистрируется…</b>
    <b>Проблема:</b> Printer does not print
    <b>Автор:</b> Ann &lt;Smith&gt; (@ann), Acme
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
    assert!(card(&l, Lang::Ru).html.chars().count() < 4096);
}
