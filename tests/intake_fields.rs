//! Intake fields per chat (issue 14.1) end to end on the fakes: the private `/new` dialogue asks
//! the category and the chat's fields (buttons for choices, a retry for a wrong contract number),
//! the card lands where the category says with the values in Kaiten's own properties, the next
//! `/new` offers last time's answers, and `/ticket` in the group asks only for what its author
//! never gave.

use std::time::Duration;
use teledesk::daemon::Options;
use teledesk::demo::Stage;
use teledesk_testkit::kaiten::{FakeCard, FakeKaiten};
use teledesk_testkit::telegram::{ChatMessage, FakeTelegram, Outgoing};

const WAIT: Duration = Duration::from_secs(60);

/// The chat's form: two categories (the second a Service Desk service), a required contract number
/// with a pattern (a Kaiten string property), an optional choice (the select property, by
/// option name) and an optional phone kept in the description.
fn form(contract: i64) -> String {
    format!(
        r#"
[[chats.categories]]
id = "support"
label = "Поддержка"

[[chats.categories]]
id = "billing"
label = "Биллинг"
ticket = {{ service_id = 7 }}

[[chats.fields]]
id = "contract"
label = "№ договора"
type = "contract"
pattern = '\d{{2}}-\d{{4}}'
example = "12-3456"
required = true
target = "properties.id_{contract}"

[[chats.fields]]
id = "area"
label = "Направление"
type = "choice"
target = "properties.id_{select}"
choices = [{{ id = "Сеть", label = "Сеть" }}, {{ id = "1С", label = "1С" }}]

[[chats.fields]]
id = "phone"
label = "Контактный телефон"
type = "phone"
"#,
        select = FakeKaiten::PROPERTY_SELECT,
    )
}

/// The bot's newest message in `chat` after the first `seen` of its messages there.
async fn bot_message(tg: &FakeTelegram, chat: i64, seen: usize) -> ChatMessage {
    let what = format!(
        "the bot's message #{seen} in {chat}; so far: {:?}",
        tg.messages(chat)
            .iter()
            .map(|m| &m.text)
            .collect::<Vec<_>>()
    );
    tg.wait_until(WAIT, &what, move |t| {
        t.messages(chat)
            .into_iter()
            .filter(|m| m.from_bot)
            .nth(seen)
    })
    .await
}

fn bot_count(tg: &FakeTelegram, chat: i64) -> usize {
    tg.messages(chat).iter().filter(|m| m.from_bot).count()
}

/// `(text, callback data)` of a message's buttons.
fn buttons(message: &ChatMessage) -> Vec<(String, String)> {
    let Some(markup) = &message.reply_markup else {
        return Vec::new();
    };
    markup["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .map(|b| {
            (
                b["text"].as_str().unwrap_or_default().to_owned(),
                b["callback_data"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn press(tg: &FakeTelegram, chat: i64, user: i64, message: &ChatMessage, label: &str) {
    let (_, data) = buttons(message)
        .into_iter()
        .find(|(text, _)| text.contains(label))
        .unwrap_or_else(|| panic!("no button {label:?} in {:?}", buttons(message)));
    tg.press(chat, message.message_id, user, &data);
}

async fn card_titled(kaiten: &FakeKaiten, title: &str) -> FakeCard {
    let title = title.to_owned();
    let what = format!("the card {title:?}");
    kaiten
        .wait_until(WAIT, &what, move |k| {
            k.cards().into_iter().find(|c| c.title == title)
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dialogue_asks_the_chats_fields_and_kaiten_gets_them_in_its_own_properties() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_test_writer()
        .try_init();
    let stage = Stage::new(1, "ru", "1s").await;
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let contract = stage.kaiten.add_property("№ договора", "string", false);
    let mut text = std::fs::read_to_string(&stage.config_path).expect("config");
    text.push_str(&form(contract));
    std::fs::write(&stage.config_path, text).expect("config");
    let daemon = stage.start(Options::default()).await;
    tg.set_can_dm(ann, true);

    // The private dialogue: category, contract (a wrong one first), choice, phone, then the rest.
    tg.send(ann, ann, Outgoing::text("/new"));
    let category = bot_message(tg, ann, 0).await;
    assert!(
        category.text.contains("к чему относится"),
        "{}",
        category.text
    );
    press(tg, ann, ann, &category, "Биллинг");
    let contract_q = bot_message(tg, ann, 1).await;
    assert!(contract_q.text.contains("№ договора") && contract_q.text.contains("12-3456"));
    assert!(
        buttons(&contract_q).iter().all(|(_, d)| d != "new:skip"),
        "a required field has no skip: {:?}",
        buttons(&contract_q)
    );
    tg.send(ann, ann, Outgoing::text("123456"));
    let retry = bot_message(tg, ann, 2).await;
    assert!(
        retry.text.contains("не подходит по формату") && retry.text.contains("ещё раз"),
        "{}",
        retry.text
    );
    tg.send(ann, ann, Outgoing::text("12-3456"));
    let area = bot_message(tg, ann, 3).await;
    assert!(area.text.contains("Направление"), "{}", area.text);
    press(tg, ann, ann, &area, "Сеть");
    let phone = bot_message(tg, ann, 4).await;
    assert!(phone.text.contains("Контактный телефон"), "{}", phone.text);
    tg.send(ann, ann, Outgoing::text("+7 (999) 123-45-67"));
    bot_message(tg, ann, 5).await;
    tg.send(ann, ann, Outgoing::text("Не проходит оплата"));
    bot_message(tg, ann, 6).await;
    tg.send(ann, ann, Outgoing::text("Карта отклонена с утра"));
    bot_message(tg, ann, 7).await;
    tg.send(ann, ann, Outgoing::text("/done"));

    card_titled(&stage.kaiten, "Не проходит оплата").await;
    // Kaiten takes `service_id` on update only: the adapter sets it right after the create.
    let card = stage
        .kaiten
        .wait_until(WAIT, "the category's Service Desk service", |k| {
            k.cards()
                .into_iter()
                .find(|c| c.title == "Не проходит оплата" && c.service_id == Some(7))
        })
        .await;
    assert_eq!(
        card.properties[&format!("id_{contract}")],
        serde_json::json!("12-3456")
    );
    assert_eq!(
        card.properties[&format!("id_{}", FakeKaiten::PROPERTY_SELECT)],
        serde_json::json!([502]),
        "the select option named by the choice"
    );
    assert!(
        card.description
            .contains("Контактный телефон: +79991234567"),
        "a field without target stays in the description: {}",
        card.description
    );

    // The next /new offers last time's answers: the category marked, the contract one tap.
    let seen = bot_count(tg, ann);
    tg.send(ann, ann, Outgoing::text("/new"));
    let category = bot_message(tg, ann, seen).await;
    assert!(
        buttons(&category).iter().any(|(t, _)| t == "✓ Биллинг"),
        "{:?}",
        buttons(&category)
    );
    press(tg, ann, ann, &category, "Поддержка");
    let contract_q = bot_message(tg, ann, seen + 1).await;
    press(tg, ann, ann, &contract_q, "↩ 12-3456");
    let area = bot_message(tg, ann, seen + 2).await;
    press(tg, ann, ann, &area, "Пропустить");
    let phone = bot_message(tg, ann, seen + 3).await;
    press(tg, ann, ann, &phone, "↩ +79991234567");
    bot_message(tg, ann, seen + 4).await;
    tg.send(ann, ann, Outgoing::text("Второй вопрос\nподробности"));
    bot_message(tg, ann, seen + 5).await;
    tg.send(ann, ann, Outgoing::text("/done"));
    let second = card_titled(&stage.kaiten, "Второй вопрос").await;
    assert_eq!(
        second.service_id, None,
        "the other category sets no service"
    );
    assert_eq!(
        second.properties.get(&format!("id_{contract}")),
        Some(&serde_json::json!("12-3456"))
    );
    assert!(
        !second
            .properties
            .contains_key(&format!("id_{}", FakeKaiten::PROPERTY_SELECT)),
        "a skipped field is not written"
    );

    // /ticket on a message of someone who never answered: asked in the thread, only the
    // required field and the category; Ann answers for Bob.
    let bob = tg.add_user("Борис", None, Some("bob"));
    tg.add_member(group, bob);
    let source = tg.send(group, bob, Outgoing::text("Упал сайт"));
    let command = tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));
    let ask = tg
        .wait_until(WAIT, "the question in the thread", |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.text.contains("не хватает данных"))
        })
        .await;
    assert_eq!(ask.reply_to, Some(command), "asked in the thread");
    assert!(ask.text.contains("не хватает данных"), "{}", ask.text);
    press(tg, group, ann, &ask, "Поддержка");
    let contract_q = tg
        .wait_until(WAIT, "the contract question", |t| {
            t.messages(group)
                .into_iter()
                .find(|m| m.from_bot && m.text.starts_with("№ договора"))
        })
        .await;
    tg.send(
        group,
        ann,
        Outgoing::text("77-0001").reply_to(contract_q.message_id),
    );
    let bobs = card_titled(&stage.kaiten, "Упал сайт").await;
    assert_eq!(
        bobs.properties.get(&format!("id_{contract}")),
        Some(&serde_json::json!("77-0001"))
    );
    assert!(bobs.description.contains("Борис"), "{}", bobs.description);

    // Bob's answers are remembered now: his next /ticket opens at once, nothing asked.
    let source = tg.send(group, bob, Outgoing::text("Снова упал сайт"));
    tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));
    let again = card_titled(&stage.kaiten, "Снова упал сайт").await;
    assert_eq!(
        again.properties.get(&format!("id_{contract}")),
        Some(&serde_json::json!("77-0001"))
    );
    assert!(
        tg.messages(group)
            .iter()
            .filter(|m| m.from_bot && m.text.contains("не хватает данных"))
            .count()
            == 1,
        "asked once only"
    );
    assert_eq!(stage.kaiten.cards().len(), 4);
    assert_eq!(daemon.queues().dead, 0);
    daemon.shutdown().await;
}

/// The Mini App renders the chat's category and fields from its session and the server checks
/// them with the dialogue's rules: a wrong contract number or a missing category is refused
/// next to its field, a good form lands in Kaiten like the dialogue's, and last time's answers
/// come back as the form's initial values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mini_app_form_asks_the_same_fields_and_the_server_checks_them() {
    use reqwest::StatusCode;
    use reqwest::multipart::Form;
    use serde_json::Value;
    use teledesk::telegram::chat_token;
    use teledesk_adapter::Secret;

    let stage = Stage::channel("en", "1s").await;
    let contract = stage.kaiten.add_property("№ договора", "string", false);
    let mut text = std::fs::read_to_string(&stage.config_path).expect("config");
    text.push_str(&form(contract));
    std::fs::write(&stage.config_path, text).expect("config");
    let daemon = stage.start(Options::default()).await;
    let base = format!("http://{}", daemon.http_addr().expect("a [server]"));
    let channel = stage.channel.expect("a channel stage");
    let token = chat_token::sign(&Secret::new(stage.telegram.token()), channel);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let init = stage.telegram.mini_app_init_data(stage.client, &token, now);
    let http = reqwest::Client::new();
    let session = || async {
        let body: Value = http
            .get(format!("{base}/api/app/session"))
            .header("Authorization", format!("tma {init}"))
            .send()
            .await
            .expect("the daemon answers")
            .json()
            .await
            .expect("json");
        body["intake"].clone()
    };
    let submit = |fields: Vec<(&'static str, &'static str)>| {
        let mut form = Form::new()
            .text("submission_id", "5f0c1e2a-0000-4000-8000-0000000000a1")
            .text("subject", "Счёт не пришёл")
            .text("description", "За ноябрь");
        for (name, value) in fields {
            form = form.text(name, value);
        }
        let request = http
            .post(format!("{base}/api/app/tickets"))
            .header("Authorization", format!("tma {init}"))
            .multipart(form);
        async move {
            let response = request.send().await.expect("the daemon answers");
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };

    let intake = session().await;
    assert_eq!(
        intake["categories"].as_array().map(Vec::len),
        Some(2),
        "{intake}"
    );
    let fields: Vec<&str> = intake["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(fields, ["contract", "area", "phone"]);
    assert_eq!(intake["fields"][0]["required"], true);
    assert_eq!(intake["fields"][1]["choices"][1]["id"], "1С");

    let (status, body) = submit(vec![("category", "billing"), ("field.contract", "12")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        (body["error"].as_str(), body["field"].as_str()),
        (Some("intake_field"), Some("field.contract"))
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("12-3456"),
        "the retry names the example: {body}"
    );
    let (status, body) = submit(vec![("field.contract", "12-3456")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "category", "{body}");
    let (status, body) = submit(vec![
        ("category", "billing"),
        ("field.contract", "12-3456"),
        ("field.area", "gold"),
    ])
    .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("field.area"))
    );

    let (status, body) = submit(vec![
        ("category", "billing"),
        ("field.contract", "12-3456"),
        ("field.area", "1С"),
        ("field.phone", ""),
    ])
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let card = stage
        .kaiten
        .wait_until(WAIT, "the card with its service", |k| {
            k.cards()
                .into_iter()
                .find(|c| c.title == "Счёт не пришёл" && c.service_id == Some(7))
        })
        .await;
    assert_eq!(
        card.properties.get(&format!("id_{contract}")),
        Some(&serde_json::json!("12-3456"))
    );
    assert_eq!(
        card.properties
            .get(&format!("id_{}", FakeKaiten::PROPERTY_SELECT)),
        Some(&serde_json::json!([503]))
    );
    // The ticket records its category; the list shows it.
    let list: Value = http
        .get(format!("{base}/api/app/tickets?scope=last"))
        .header("Authorization", format!("tma {init}"))
        .send()
        .await
        .expect("the daemon answers")
        .json()
        .await
        .expect("json");
    assert_eq!(
        list["tickets"][0]["category"],
        serde_json::json!({"id": "billing", "label": "Биллинг"}),
        "{list}"
    );
    let intake = session().await;
    assert_eq!(intake["last_category"], "billing", "{intake}");
    assert_eq!(intake["fields"][0]["last"], "12-3456", "{intake}");
    assert_eq!(daemon.queues().dead, 0);
    daemon.shutdown().await;
}

/// `teledesk doctor` asks Kaiten about the intake mapping: a property the company does not have
/// and a choice that is not an option of the select property are named with the chat's table
/// they come from; a sound mapping passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_the_intake_mapping_against_the_helpdesk() {
    let stage = Stage::new(1, "en", "1s").await;
    let contract = stage.kaiten.add_property("№ договора", "string", false);
    let base = std::fs::read_to_string(&stage.config_path).expect("config");
    let doctor = |text: String| {
        std::fs::write(&stage.config_path, text).expect("config");
        let config = stage.config_path.clone();
        async move {
            let output = tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_teledesk"))
                    .arg("doctor")
                    .arg("--config")
                    .arg(config)
                    .output()
                    .expect("the teledesk binary runs")
            })
            .await
            .expect("doctor finishes");
            String::from_utf8_lossy(&output.stdout).into_owned()
        }
    };
    let sound = doctor(format!("{base}{}", form(contract))).await;
    assert!(
        !sound.contains("category \"") && !sound.contains(" fields"),
        "a sound mapping has nothing to say: {sound}"
    );
    let broken = form(contract)
        .replace(&format!("properties.id_{contract}"), "properties.id_999")
        .replace(
            "{ id = \"1С\", label = \"1С\" }",
            "{ id = \"Касса\", label = \"Касса\" }",
        )
        .replace(
            "service_id = 7",
            "service_id = 7, properties = { id_998 = \"x\" }",
        );
    let report = doctor(format!("{base}{broken}")).await;
    let fields: Vec<&str> = report.lines().filter(|l| l.contains(" fields")).collect();
    assert!(
        fields
            .iter()
            .any(|l| l.contains("FAIL") && l.contains("id_999")),
        "the unknown property: {report}"
    );
    assert!(
        fields.iter().any(|l| l.contains("Касса")),
        "the choice that is no option: {report}"
    );
    assert!(
        report
            .lines()
            .any(|l| l.contains("category \"billing\"") && l.contains("id_998")),
        "the category's own property: {report}"
    );
}

/// A stage whose group asks the chat's form, with the daemon running; returns the contract
/// property's id.
async fn intake_stage(lang: &str) -> (Stage, teledesk::daemon::Daemon, i64) {
    let stage = Stage::new(1, lang, "1s").await;
    let contract = stage.kaiten.add_property("№ договора", "string", false);
    let mut text = std::fs::read_to_string(&stage.config_path).expect("config");
    text.push_str(&form(contract));
    std::fs::write(&stage.config_path, text).expect("config");
    let daemon = stage.start(Options::default()).await;
    (stage, daemon, contract)
}

/// The bot's message in `chat` whose text contains `needle`.
async fn bot_saying(tg: &FakeTelegram, chat: i64, needle: &str) -> ChatMessage {
    let needle = needle.to_owned();
    let what = format!("the bot saying {needle:?}");
    tg.wait_until(WAIT, &what, move |t| {
        t.messages(chat)
            .into_iter()
            .find(|m| m.from_bot && m.text.contains(&needle))
    })
    .await
}

/// A comment on a closed ticket opens a follow-up (issue 14.1): it goes where the closed ticket's
/// category put it and carries its field values, with no question asked, although the colleague
/// who wrote the comment never answered any; and what it inherited is not remembered as that
/// colleague's own answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_inherits_the_closed_tickets_category_and_fields() {
    let (stage, daemon, contract) = intake_stage("ru").await;
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let property = format!("id_{contract}");

    // Ann files Bob's message: asked the category and the contract once, in the thread.
    let bob = tg.add_user("Борис", None, Some("bob"));
    tg.add_member(group, bob);
    let source = tg.send(group, bob, Outgoing::text("Не проходит оплата"));
    tg.send(group, ann, Outgoing::text("/ticket").reply_to(source));
    let ask = bot_saying(tg, group, "не хватает данных").await;
    press(tg, group, ann, &ask, "Биллинг");
    let contract_q = bot_saying(tg, group, "№ договора").await;
    tg.send(
        group,
        ann,
        Outgoing::text("77-0001").reply_to(contract_q.message_id),
    );
    let first = stage
        .kaiten
        .wait_until(WAIT, "the first card in the billing service", |k| {
            k.cards()
                .into_iter()
                .find(|c| c.title == "Не проходит оплата" && c.service_id == Some(7))
        })
        .await;
    assert_eq!(
        first.properties.get(&property),
        Some(&serde_json::json!("77-0001"))
    );
    let card = bot_saying(tg, group, &format!("#{}", first.id)).await;
    stage
        .kaiten
        .move_to_column(first.id, FakeKaiten::COLUMN_DONE);
    tg.wait_until(WAIT, "the closing keyboard", |t| {
        let m = t.message(group, card.message_id)?;
        buttons(&m)
            .iter()
            .any(|(_, d)| d.starts_with("rate:"))
            .then_some(())
    })
    .await;
    let questions = |t: &FakeTelegram| {
        t.messages(group)
            .iter()
            .filter(|m| m.from_bot && m.text.contains("не хватает данных"))
            .count()
    };
    assert_eq!(questions(tg), 1);

    // Carl, who never answered anything here, comments on the closed card.
    let carl = tg.add_user("Карл", None, Some("carl"));
    tg.add_member(group, carl);
    tg.send(
        group,
        carl,
        Outgoing::text("Опять не проходит").reply_to(card.message_id),
    );
    let follow_up = stage
        .kaiten
        .wait_until(WAIT, "the follow-up in the billing service", |k| {
            k.cards()
                .into_iter()
                .find(|c| c.id != first.id && c.service_id == Some(7))
        })
        .await;
    assert!(
        follow_up.title.contains(&format!("#{}", first.id)),
        "{}",
        follow_up.title
    );
    assert_eq!(
        follow_up.properties.get(&property),
        Some(&serde_json::json!("77-0001")),
        "the closed ticket's contract number"
    );
    bot_saying(tg, group, &format!("#{}", follow_up.id)).await;
    assert_eq!(questions(tg), 1, "nothing was asked for the follow-up");

    // Carl's own next ticket asks him: the inherited answers were not his.
    let own = tg.send(group, carl, Outgoing::text("Не печатает чек"));
    tg.send(group, carl, Outgoing::text("/ticket").reply_to(own));
    tg.wait_until(WAIT, "Carl asked for his own ticket", |t| {
        (questions(t) == 2).then_some(())
    })
    .await;
    assert_eq!(stage.kaiten.cards().len(), 2);
    assert_eq!(daemon.queues().dead, 0);
    daemon.shutdown().await;
}

/// `/new` in a group asks only for what is missing, as `/ticket` does: never the optional fields,
/// and nothing at all of the intake once the author's answers are remembered (issue 14.1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_in_a_group_asks_only_for_what_is_missing() {
    use teledesk::telegram::texts::Lang;
    let (stage, daemon, contract) = intake_stage("ru").await;
    let (tg, group, ann) = (&stage.telegram, stage.group(), stage.client);
    let property = format!("id_{contract}");

    // Nothing remembered: the category and the required contract, then the description.
    let seen = bot_count(tg, group);
    tg.send(group, ann, Outgoing::text("/new Не печатает принтер"));
    let category = bot_message(tg, group, seen).await;
    assert!(
        category.text.contains("к чему относится"),
        "{}",
        category.text
    );
    press(tg, group, ann, &category, "Поддержка");
    let contract_q = bot_message(tg, group, seen + 1).await;
    assert!(
        contract_q.text.contains("№ договора"),
        "{}",
        contract_q.text
    );
    tg.send(group, ann, Outgoing::text("12-3456"));
    let next = bot_message(tg, group, seen + 2).await;
    assert!(
        next.text.contains(Lang::Ru.ask_description()),
        "the optional fields are not asked in a group: {}",
        next.text
    );
    tg.send(group, ann, Outgoing::text("/done"));
    let first = card_titled(&stage.kaiten, "Не печатает принтер").await;
    assert_eq!(
        first.properties.get(&property),
        Some(&serde_json::json!("12-3456"))
    );
    assert!(
        !first
            .properties
            .contains_key(&format!("id_{}", FakeKaiten::PROPERTY_SELECT)),
        "the optional choice was not asked, so not written"
    );

    // Remembered now: the next /new asks none of the intake.
    bot_saying(tg, group, &format!("#{}", first.id)).await;
    let seen = bot_count(tg, group);
    tg.send(group, ann, Outgoing::text("/new Не сканирует сканер"));
    let next = bot_message(tg, group, seen).await;
    assert!(
        next.text.contains(Lang::Ru.ask_description()),
        "the remembered category and contract are not asked again: {}",
        next.text
    );
    tg.send(group, ann, Outgoing::text("/done"));
    let second = card_titled(&stage.kaiten, "Не сканирует сканер").await;
    assert_eq!(
        second.properties.get(&property),
        Some(&serde_json::json!("12-3456"))
    );
    assert_eq!(second.service_id, None, "the remembered category: support");
    assert_eq!(daemon.queues().dead, 0);
    daemon.shutdown().await;
}
