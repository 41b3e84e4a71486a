//! `teledesk doctor --config FILE`, the real binary against the testkit's fake Telegram and fake
//! Kaiten: a healthy setup, then chats and a helpdesk set up wrong in the ways admins get wrong.

use std::process::Command;
use teledesk::demo::Stage;
use teledesk_testkit::telegram::{BotRights, FakeError};

/// What `teledesk doctor` printed on stdout, what it printed on stderr, and its exit code.
async fn doctor(stage: &Stage) -> (String, String, i32) {
    doctor_in(stage, "en").await
}

async fn doctor_in(stage: &Stage, lang: &'static str) -> (String, String, i32) {
    let config = stage.config_path.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_teledesk"))
            .arg("doctor")
            .arg("--config")
            .arg(config)
            .args(["--lang", lang])
            .output()
            .expect("the teledesk binary runs")
    })
    .await
    .expect("the doctor run finishes");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status.code().expect("exited, not killed"),
    )
}

/// Adds a `[[chats]]` entry for `id` to the stage's config.
fn configure_chat(stage: &Stage, id: i64, mode: &str, name: &str) {
    let mut text = std::fs::read_to_string(&stage.config_path).expect("read config");
    text.push_str(&format!(
        "\n[[chats]]\nid = {id}\nmode = \"{mode}\"\nhelpdesk = \"main\"\nname = \"{name}\"\n"
    ));
    std::fs::write(&stage.config_path, text).expect("write config");
}

fn configure_mini_app(stage: &Stage) {
    let text = std::fs::read_to_string(&stage.config_path).expect("read config");
    let text = text.replacen(
        "[server]\n",
        "[server]\npublic_url = \"https://support.example.com\"\nmini_app = \"support\"\n",
        1,
    );
    std::fs::write(&stage.config_path, text).expect("write config");
}

fn replace_secret(stage: &Stage, file: &str, value: &str) {
    std::fs::write(stage.dir.path().join(file), value).expect("write the secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_setup_passes() {
    let stage = Stage::channel("ru", "1s").await;
    let tg = &stage.telegram;
    configure_chat(
        &stage,
        tg.add_supergroup("Beta — поддержка"),
        "group",
        "Beta",
    );
    configure_chat(&stage, tg.add_forum("Gamma — заявки"), "forum", "Gamma");
    configure_mini_app(&stage);

    let (stdout, stderr, code) = doctor(&stage).await;
    insta::assert_snapshot!(stdout, @"
    ok    telegram: the token works: @teledesk_test_bot (id 123456789); privacy mode is on, so the bot sees every message only where it is an admin
    ok    channel -1001000000002 «Acme — заявки»: the bot is an admin that may post, edit and pin
    ok    channel -1001000000002 «Acme — заявки»: discussion group -1001000000001 «Acme — поддержка» is linked; the bot is an admin there and sees every comment
    ok    group -1001000000003 «Beta — поддержка»: the bot is an admin and sees every message
    ok    group -1001000000003 «Beta — поддержка»: the bot may pin the «Новая заявка» post (`teledesk pin`)
    ok    forum -1001000000004 «Gamma — заявки»: the bot is an admin that may manage topics and sees every message
    ok    forum -1001000000004 «Gamma — заявки»: the bot may pin the «Новая заявка» post (`teledesk pin`)
    ok    helpdesk main (kaiten): authorised as teledesk bot (id 1)
    info  mini app: in @BotFather (/newapp, or /myapps for an existing app) the app with short name `support` must have the Web App URL https://support.example.com/app/
    all checks passed
    ");
    assert_eq!(code, 0, "{stderr}");

    let (stdout, _, code) = doctor_in(&stage, "ru").await;
    insta::assert_snapshot!(stdout, @"
    ok    Telegram: токен работает: @teledesk_test_bot (id 123456789); режим приватности включён, поэтому бот видит все сообщения только там, где он администратор
    ok    канал -1001000000002 «Acme — заявки»: бот — администратор, который может публиковать, редактировать и закреплять
    ok    канал -1001000000002 «Acme — заявки»: группа обсуждения -1001000000001 «Acme — поддержка» привязана; бот в ней администратор и видит все комментарии
    ok    группа -1001000000003 «Beta — поддержка»: бот — администратор и видит все сообщения
    ok    группа -1001000000003 «Beta — поддержка»: бот может закрепить пост «Новая заявка» (`teledesk pin`)
    ok    форум -1001000000004 «Gamma — заявки»: бот — администратор, который может управлять темами, и видит все сообщения
    ok    форум -1001000000004 «Gamma — заявки»: бот может закрепить пост «Новая заявка» (`teledesk pin`)
    ok    хелпдеск main (kaiten): авторизован как teledesk bot (id 1)
    инфо  мини-приложение: в @BotFather (/newapp, или /myapps для существующего приложения) у приложения с коротким именем `support` должен быть Web App URL https://support.example.com/app/
    все проверки пройдены
    ");
    assert_eq!(code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_setup_fails_with_what_to_do() {
    let stage = Stage::channel("ru", "1s").await;
    let tg = &stage.telegram;
    // The configured channel's discussion group, where the bot is a plain member in privacy
    // mode: it would never see a comment.
    tg.set_bot_rights(stage.group(), BotRights::MEMBER);
    let unlinked = tg.add_channel("Beta — заявки");
    tg.set_bot_rights(
        unlinked,
        BotRights {
            can_edit_messages: false,
            ..BotRights::ADMIN
        },
    );
    configure_chat(&stage, unlinked, "channel", "Beta");
    let not_admin = tg.add_channel("Gamma — заявки");
    tg.set_bot_rights(not_admin, BotRights::MEMBER);
    configure_chat(&stage, not_admin, "channel", "Gamma");
    let group = tg.add_supergroup("Delta — поддержка");
    tg.set_bot_rights(group, BotRights::MEMBER);
    configure_chat(&stage, group, "group", "Delta");
    let forum = tg.add_forum("Epsilon — темы");
    tg.set_bot_rights(
        forum,
        BotRights {
            can_manage_topics: false,
            ..BotRights::ADMIN
        },
    );
    configure_chat(&stage, forum, "forum", "Epsilon");
    replace_secret(&stage, "kaiten-secret", "a-revoked-kaiten-token");

    let (stdout, stderr, code) = doctor(&stage).await;
    insta::assert_snapshot!(stdout, @"
    ok    telegram: the token works: @teledesk_test_bot (id 123456789); privacy mode is on, so the bot sees every message only where it is an admin
    ok    channel -1001000000002 «Acme — заявки»: the bot is an admin that may post, edit and pin
    FAIL  channel -1001000000002 «Acme — заявки»: the bot is not an admin of discussion group -1001000000001 «Acme — поддержка» and privacy mode is on, so comments never reach it: make the bot an admin of the group, or turn off privacy mode in @BotFather → Bot Settings → Group Privacy (then remove the bot from the group and add it again)
    WARN  channel -1001000000003 «Beta — заявки»: the bot may post but lacks «Edit messages of others», so `teledesk pin` cannot pin the «Новая заявка» post here: give it that right
    WARN  channel -1001000000003 «Beta — заявки»: no discussion group is linked, so tickets get no comments: link a discussion group to the channel (channel → Edit → Discussion) and make the bot an admin there
    FAIL  channel -1001000000004 «Gamma — заявки»: the bot is not an admin of the channel: make the bot an admin of the channel with «Post messages» and «Edit messages of others»
    FAIL  group -1001000000005 «Delta — поддержка»: the bot is not an admin and privacy mode is on, so comments that do not reply to the bot's own messages, and the files of albums, never reach it: make the bot an admin of the group, or turn off privacy mode in @BotFather → Bot Settings → Group Privacy (then remove the bot from the group and add it again)
    WARN  group -1001000000005 «Delta — поддержка»: the bot may not pin, so `teledesk pin` cannot pin the «Новая заявка» post: make it an admin with «Pin messages»
    FAIL  forum -1001000000006 «Epsilon — темы»: the bot may not manage topics, so ticket topics cannot be created or closed: make the bot an admin of the group with «Manage topics»
    ok    forum -1001000000006 «Epsilon — темы»: the bot may pin the «Новая заявка» post (`teledesk pin`)
    FAIL  helpdesk main (kaiten): the helpdesk refused the credentials (HTTP 401: Unauthorized): check the token or user and password in [helpdesks.main], and that the account may use the API
    5 check(s) failed, 3 warning(s)
    ");
    assert_eq!(code, 1, "{stderr}");
    assert!(!stdout.contains("a-revoked-kaiten-token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_bot_token_fails_without_being_printed() {
    let stage = Stage::new(1, "ru", "1s").await;
    let wrong = format!("{}-revoked", stage.telegram.token());
    replace_secret(&stage, "telegram-token", &wrong);

    let (stdout, stderr, code) = doctor(&stage).await;
    insta::assert_snapshot!(stdout, @"
    FAIL  telegram: the token is wrong or revoked (Telegram: Unauthorized): put the current one from @BotFather → /mybots → API Token into telegram.token
    ok    helpdesk main (kaiten): authorised as teledesk bot (id 1)
    1 check(s) failed, 0 warning(s)
    ");
    assert_eq!(code, 1, "{stderr}");
    let secret = wrong.split_once(':').expect("a bot token").1;
    assert!(
        !stdout.contains(secret) && !stderr.contains(secret),
        "the token leaked:\n{stdout}\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privacy_off_lets_a_member_bot_see_everything_with_warnings_only() {
    let stage = Stage::new(1, "ru", "1s").await;
    stage
        .telegram
        .set_bot_rights(stage.group(), BotRights::MEMBER);
    stage.telegram.set_privacy_mode(false);

    let (stdout, stderr, code) = doctor(&stage).await;
    insta::assert_snapshot!(stdout, @"
    ok    telegram: the token works: @teledesk_test_bot (id 123456789); privacy mode is off
    ok    group -1001000000001 «Acme — поддержка»: the bot is a member with privacy mode off and sees every message
    WARN  group -1001000000001 «Acme — поддержка»: the bot may not pin, so `teledesk pin` cannot pin the «Новая заявка» post: make it an admin with «Pin messages»
    ok    helpdesk main (kaiten): authorised as teledesk bot (id 1)
    no failures, 1 warning(s)
    ");
    assert_eq!(code, 0, "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_group_names_its_new_id_and_is_checked_there() {
    let stage = Stage::basic_group("ru", "1s").await;
    let tg = &stage.telegram;
    let supergroup = tg.migrate_to_supergroup(stage.group());
    // The Bot API server refuses every call about an upgraded group with its new id; the fake
    // answers reads of the old id, so the refusal is injected.
    tg.inject_error(
        "getChat",
        1,
        FakeError::MigrateTo {
            chat_id: supergroup,
        },
    );
    tg.set_bot_rights(
        supergroup,
        BotRights {
            can_pin_messages: false,
            ..BotRights::ADMIN
        },
    );

    let (stdout, stderr, code) = doctor(&stage).await;
    insta::assert_snapshot!(stdout, @"
    ok    telegram: the token works: @teledesk_test_bot (id 123456789); privacy mode is on, so the bot sees every message only where it is an admin
    FAIL  group -4001000001 «Acme — поддержка»: the group was upgraded to a supergroup with id -1001000000001; use that id in [[chats]] (a running teledesk follows an upgrade only if it saw it happen; the checks below are about the supergroup)
    ok    group -4001000001 «Acme — поддержка»: the bot is an admin and sees every message
    WARN  group -4001000001 «Acme — поддержка»: the bot may not pin, so `teledesk pin` cannot pin the «Новая заявка» post: make it an admin with «Pin messages»
    ok    helpdesk main (kaiten): authorised as teledesk bot (id 1)
    1 check(s) failed, 1 warning(s)
    ");
    assert_eq!(code, 1, "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kaiten_properties_that_do_not_exist_or_fit_are_named() {
    let stage = Stage::channel("ru", "1s").await;
    // A formula cannot be shown as a resolution.
    let text = std::fs::read_to_string(&stage.config_path).expect("read config");
    let text = text.replacen(
        &format!(
            "resolution_property = \"{}\"",
            teledesk::demo::RESOLUTION_PROPERTY
        ),
        "resolution_property = \"id_46\"",
        1,
    );
    std::fs::write(&stage.config_path, text).expect("write config");
    stage.set_chat_option(
        "ticket",
        "{ properties = { id_99 = \"x\", id_43 = \"Сеть\", id_48 = \"да\" } }",
    );

    let (stdout, stderr, code) = doctor(&stage).await;
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("helpdesk main") || l.contains("[chats.ticket]"))
        .collect();
    insta::assert_snapshot!(lines.join("\n"), @"
    FAIL  helpdesk main (kaiten): resolution_property: property 46 «Стоимость» is of type formula, which teledesk cannot show as a resolution; use a string, number, select, date, url, email or phone property: fix it in [helpdesks.main]
    FAIL  chat -1001000000002 [chats.ticket]: properties.id_48: property 48 «VIP» is of type checkbox and needs true or false; properties.id_99: the company has no custom property 99: new tickets of this chat will fail until it is fixed
    ");
    assert_eq!(code, 1, "{stderr}");

    // The adapter's findings, in Russian; the keys and Kaiten's names stay as they are.
    let (stdout, _, code) = doctor_in(&stage, "ru").await;
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("хелпдеск main") || l.contains("[chats.ticket]"))
        .collect();
    insta::assert_snapshot!(lines.join("\n"), @"
    СБОЙ  хелпдеск main (kaiten): resolution_property: свойство 46 «Стоимость» имеет тип formula, который teledesk не может показать как описание решения; используйте свойство типа string, number, select, date, url, email или phone: исправьте в [helpdesks.main]
    СБОЙ  чат -1001000000002 [chats.ticket]: properties.id_48: свойство 48 «VIP» имеет тип checkbox, и ему нужно: true или false; properties.id_99: в компании нет пользовательского свойства 99: новые заявки этого чата не создадутся, пока это не исправлено
    ");
    assert_eq!(code, 1);
}

#[test]
fn a_config_doctor_cannot_use_is_reported_in_the_asked_language() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = dir.path().join("m.toml");
    std::fs::write(
        &config,
        "[telegram]\ntoken = \"env:TELEDESK_BOT_TOKEN\"\n[store]\npath = \"/tmp/x\"\n\
         [helpdesks.main]\nkind = \"kaiten\"\nurl = \"https://acme.kaiten.ru/api/latest\"\n\
         token = \"k\"\nboard_id = 1\ncolumn_id = 2\n[[chats]]\nid = -1001\nmode = \"group\"\n\
         helpdesk = \"main\"\nname = \"Acme\"\n",
    )
    .expect("write config");
    let output = Command::new(env!("CARGO_BIN_EXE_teledesk"))
        .args(["doctor", "--lang", "ru", "--config"])
        .arg(&config)
        .env("TELEDESK_BOT_TOKEN", "1:x")
        .output()
        .expect("the teledesk binary runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr =
        String::from_utf8_lossy(&output.stderr).replace(&config.display().to_string(), "m.toml");
    insta::assert_snapshot!(stderr, @"
    ошибка: helpdesks.main.url (строка 7): укажите адрес сайта без /api/...; адаптер сам добавляет /api/latest
    m.toml: 1 проблема; запустите `teledesk check --config m.toml`
    ");
}
