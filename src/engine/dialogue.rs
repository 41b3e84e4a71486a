//! The `/new` conversation as a pure step machine: given a dialogue and what the user did, the
//! next state and what to ask.

use crate::config::FileLimits;
use crate::config::intake::{FieldConfig, FieldKind, IntakeConfig};
use crate::model::{Button, ClientFile, Dialogue, DialogueStep, Keyboard, REMEMBERED_CATEGORY};
use crate::telegram::texts::{Lang, escape};

/// How long a dialogue may sit idle before it is dropped.
pub const IDLE_LIMIT: time::Duration = time::Duration::minutes(30);

/// Something the user did while a dialogue is open.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// A message: its text (or caption) and file.
    Message {
        text: String,
        file: Option<ClientFile>,
    },
    /// Pressed a company button.
    Company(usize),
    /// Pressed a category button (index in the chat's categories).
    Category(usize),
    /// Pressed an option of the choice field being asked (index in its choices).
    Choice(usize),
    /// Pressed the button that answers the current question as last time.
    Remembered,
    Skip,
    Done,
    Cancel,
}

/// What the dialogue wants next.
#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    /// Ask this (HTML) with these buttons, in the given step.
    Ask { html: String, keyboard: Keyboard },
    /// Everything is known: open the ticket.
    Create,
    /// The user cancelled.
    Cancelled,
    /// Nothing to say (a file arrived while collecting files, say).
    Wait,
}

/// What the chat asks for: its companies (chains) and its intake questions.
#[derive(Clone, Copy, Debug)]
pub struct Form<'a> {
    pub companies: &'a [String],
    pub intake: &'a IntakeConfig,
}

impl<'a> Form<'a> {
    pub fn new(companies: &'a [String], intake: &'a IntakeConfig) -> Self {
        Self { companies, intake }
    }
}

/// The first missing piece, in the order the Mini App form (and seed 004's portal) asks:
/// company, category, the chat's fields, subject, description, files.
pub fn first_missing(dialogue: &Dialogue, form: &Form<'_>) -> DialogueStep {
    if dialogue.company.is_none() && form.companies.len() > 1 {
        return DialogueStep::Company;
    }
    if dialogue.intake.category.is_none() && form.intake.categories.len() > 1 {
        return DialogueStep::Category;
    }
    if let Some(index) = form.intake.fields.iter().position(|f| {
        !dialogue.intake.fields.iter().any(|a| a.id == f.id)
            && !dialogue.intake.skipped.contains(&f.id)
    }) {
        return DialogueStep::Field(index);
    }
    if dialogue.subject.is_none() {
        DialogueStep::Subject
    } else if dialogue.description.is_none() {
        DialogueStep::Description
    } else {
        DialogueStep::Files
    }
}

/// The question for a step.
pub fn ask(step: DialogueStep, form: &Form<'_>, dialogue: &Dialogue, lang: Lang) -> Next {
    let cancel = Button::callback(lang.button_cancel(), "new:cancel");
    let remembered = |key: &str| dialogue.intake.remembered.get(key);
    let (html, mut rows) = match step {
        DialogueStep::Company => (
            lang.ask_company().to_owned(),
            form.companies
                .iter()
                .enumerate()
                .map(|(i, name)| vec![Button::callback(name.clone(), format!("new:co:{i}"))])
                .collect(),
        ),
        DialogueStep::Category => {
            let last = remembered(REMEMBERED_CATEGORY);
            (
                lang.ask_category().to_owned(),
                form.intake
                    .categories
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        // Last time's category is marked, not preselected: a new request may be
                        // about something else.
                        let label = if last == Some(&c.id) {
                            format!("✓ {}", c.label)
                        } else {
                            c.label.clone()
                        };
                        vec![Button::callback(label, format!("new:cat:{i}"))]
                    })
                    .collect(),
            )
        }
        DialogueStep::Field(index) => {
            let Some(field) = form.intake.fields.get(index) else {
                return Next::Wait;
            };
            field_question(field, remembered(&field.id).map(String::as_str), lang)
        }
        DialogueStep::Subject => (lang.ask_subject().to_owned(), Vec::new()),
        DialogueStep::Description => (
            lang.ask_description().to_owned(),
            vec![vec![Button::callback(lang.button_skip(), "new:skip")]],
        ),
        DialogueStep::Files => (
            lang.ask_files().to_owned(),
            vec![vec![Button::callback(lang.button_done(), "new:done")]],
        ),
    };
    rows.push(vec![cancel]);
    Next::Ask {
        html,
        keyboard: Keyboard { rows },
    }
}

fn field_question(
    field: &FieldConfig,
    remembered: Option<&str>,
    lang: Lang,
) -> (String, Vec<Vec<Button>>) {
    let html = lang.ask_field(&field.label, field.required, field.example.as_deref());
    let mut rows: Vec<Vec<Button>> = Vec::new();
    if field.kind == FieldKind::Choice {
        for (i, choice) in field.choices.iter().enumerate() {
            let label = if remembered == Some(choice.key().as_str()) {
                format!("✓ {}", choice.label)
            } else {
                choice.label.clone()
            };
            rows.push(vec![Button::callback(label, format!("new:ch:{i}"))]);
        }
    } else if let Some(value) = remembered.filter(|v| field.accept(v).is_ok()) {
        rows.push(vec![Button::callback(
            lang.button_remembered(value),
            "new:mem",
        )]);
    }
    if !field.required {
        rows.push(vec![Button::callback(lang.button_skip(), "new:skip")]);
    }
    (html, rows)
}

/// Takes a file into the dialogue if the ticket can carry it; `false` when it was refused.
pub fn take_file(dialogue: &mut Dialogue, file: ClientFile, limits: FileLimits) -> bool {
    let bytes: u64 = dialogue.files.iter().filter_map(|f| f.size).sum();
    if !limits.admits(dialogue.files.len(), bytes, file.size) {
        return false;
    }
    dialogue.files.push(file);
    true
}

/// Applies the user's input to the dialogue and says what comes next. A file over the ticket's
/// limits is not taken, whatever the step, and the client is told so with the next question.
pub fn advance(
    dialogue: &mut Dialogue,
    input: Input,
    form: &Form<'_>,
    limits: FileLimits,
    lang: Lang,
) -> Next {
    let (mut took_file, mut refused) = (false, false);
    let input = match input {
        Input::Message {
            text,
            file: Some(file),
            // While a button is to be pressed, messages are not answers and their files are not kept.
        } if !matches!(
            dialogue.step,
            DialogueStep::Company | DialogueStep::Category
        ) =>
        {
            took_file = take_file(dialogue, file, limits);
            refused = !took_file;
            Input::Message { text, file: None }
        }
        other => other,
    };
    let next = step(dialogue, input, took_file, form, lang);
    if !refused {
        return next;
    }
    let note = escape(&lang.file_limit_reached(limits));
    match next {
        Next::Ask { html, keyboard } => Next::Ask {
            html: format!("{note}\n\n{html}"),
            keyboard,
        },
        // The refusal is said with the question of the step the dialogue stays in.
        Next::Wait => match ask(dialogue.step, form, dialogue, lang) {
            Next::Ask { html, keyboard } => Next::Ask {
                html: format!("{note}\n\n{html}"),
                keyboard,
            },
            other => other,
        },
        other => other,
    }
}

fn step(
    dialogue: &mut Dialogue,
    input: Input,
    took_file: bool,
    form: &Form<'_>,
    lang: Lang,
) -> Next {
    if input == Input::Cancel {
        return Next::Cancelled;
    }
    let step = dialogue.step;
    match (step, input) {
        (DialogueStep::Company, Input::Company(index)) => {
            let Some(name) = form.companies.get(index) else {
                return Next::Wait;
            };
            dialogue.company = Some(name.clone());
        }
        (DialogueStep::Company, _) => return Next::Wait,
        (DialogueStep::Category, Input::Category(index)) => {
            let Some(category) = form.intake.categories.get(index) else {
                return Next::Wait;
            };
            dialogue.intake.category = Some(category.id.clone());
        }
        (DialogueStep::Category, Input::Message { text, .. }) => {
            // A typed label is as good as its button.
            let text = text.trim();
            let Some(category) = form
                .intake
                .categories
                .iter()
                .find(|c| c.label.eq_ignore_ascii_case(text) || c.id == text)
            else {
                return Next::Wait;
            };
            dialogue.intake.category = Some(category.id.clone());
        }
        (DialogueStep::Category, _) => return Next::Wait,
        (DialogueStep::Field(index), input) => {
            let Some(field) = form.intake.fields.get(index) else {
                return Next::Wait;
            };
            let answer = match input {
                Input::Message { text, .. } if text.trim().is_empty() => return Next::Wait,
                Input::Message { text, .. } => text,
                Input::Choice(choice) => match field.choices.get(choice) {
                    Some(choice) => choice.key(),
                    None => return Next::Wait,
                },
                Input::Remembered => match dialogue.intake.remembered.get(&field.id) {
                    Some(value) => value.clone(),
                    None => return Next::Wait,
                },
                Input::Skip if !field.required => {
                    dialogue.intake.skipped.push(field.id.clone());
                    return advance_to_next(dialogue, form, lang);
                }
                _ => return Next::Wait,
            };
            match field.accept(&answer) {
                Ok(value) => {
                    dialogue.intake.fields.retain(|f| f.id != field.id);
                    dialogue.intake.fields.push(value);
                }
                Err(why) => {
                    let note =
                        escape(&lang.field_rejected(&field.label, why, field.example.as_deref()));
                    return match ask(step, form, dialogue, lang) {
                        Next::Ask { html, keyboard } => Next::Ask {
                            html: format!("{note}\n\n{html}"),
                            keyboard,
                        },
                        other => other,
                    };
                }
            }
        }
        (DialogueStep::Subject, Input::Message { text, .. }) => {
            let text = text.trim();
            if text.is_empty() {
                return Next::Wait;
            }
            // A long first answer is both: its first line the subject, the whole the description.
            let first_line = text.lines().next().unwrap_or(text).trim().to_owned();
            if first_line.chars().count() > 120 || text.lines().count() > 1 {
                dialogue.subject = Some(crate::telegram::texts::truncate(&first_line, 120));
                dialogue.description = Some(text.to_owned());
            } else {
                dialogue.subject = Some(first_line);
            }
        }
        (DialogueStep::Subject, _) => return Next::Wait,
        (DialogueStep::Description, Input::Message { text, .. }) => {
            let text = text.trim();
            if text.is_empty() {
                return Next::Wait;
            }
            dialogue.description = Some(text.to_owned());
        }
        (DialogueStep::Description, Input::Skip) => dialogue.description = Some(String::new()),
        // `/done` means "that is all": no description, no files, file the ticket now.
        (DialogueStep::Description, Input::Done) => {
            dialogue.description = Some(String::new());
            return Next::Create;
        }
        (DialogueStep::Description, _) => return Next::Wait,
        (DialogueStep::Files, Input::Message { text, .. }) => {
            let text = text.trim();
            if !text.is_empty() {
                // More words while collecting files belong to the description.
                let description = dialogue.description.get_or_insert_with(String::new);
                if !description.is_empty() {
                    description.push('\n');
                }
                description.push_str(text);
            }
            if took_file {
                let mut next = ask(DialogueStep::Files, form, dialogue, lang);
                if let Next::Ask { html, .. } = &mut next {
                    *html = escape(&lang.files_received(dialogue.files.len()));
                }
                return next;
            }
            return Next::Wait;
        }
        (DialogueStep::Files, Input::Done | Input::Skip) => return Next::Create,
        (DialogueStep::Files, _) => return Next::Wait,
    }
    advance_to_next(dialogue, form, lang)
}

fn advance_to_next(dialogue: &mut Dialogue, form: &Form<'_>, lang: Lang) -> Next {
    let next_step = first_missing(dialogue, form);
    // `/ticket` on a message asks only the missing intake fields: the message is the rest.
    if dialogue.intake.on_behalf.is_some()
        && !matches!(next_step, DialogueStep::Category | DialogueStep::Field(_))
    {
        return Next::Create;
    }
    dialogue.step = next_step;
    ask(next_step, form, dialogue, lang)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::intake::FieldKind;
    use teledesk_adapter::Requester;
    use time::OffsetDateTime;

    const LIMITS: FileLimits = FileLimits::DEFAULT;
    static NONE: IntakeConfig = IntakeConfig {
        categories: Vec::new(),
        fields: Vec::new(),
    };

    fn dialogue(subject: Option<&str>) -> Dialogue {
        Dialogue {
            chat_id: -1,
            user: Requester {
                display_name: "Ann".into(),
                telegram_id: 1,
                username: None,
                company: None,
            },
            step: DialogueStep::Subject,
            started_by: 10,
            company: None,
            subject: subject.map(Into::into),
            description: None,
            files: vec![],
            prompt_message_id: None,
            target_chat: None,
            started_at: OffsetDateTime::UNIX_EPOCH,
            touched_at: OffsetDateTime::UNIX_EPOCH,
            intake: Default::default(),
        }
    }

    fn text(t: &str) -> Input {
        Input::Message {
            text: t.into(),
            file: None,
        }
    }

    fn file(id: &str) -> Input {
        Input::Message {
            text: String::new(),
            file: Some(ClientFile {
                file_id: id.into(),
                file_name: "a.jpg".into(),
                content_type: "image/jpeg".into(),
                size: Some(3),
                source: crate::model::FileSource::Telegram,
            }),
        }
    }

    #[test]
    fn asks_company_first_for_chains_then_everything_else() {
        let companies = vec!["Acme Moscow".to_owned(), "Acme Kazan".to_owned()];
        let mut d = dialogue(Some("Printer"));
        d.step = first_missing(&d, &Form::new(&companies, &NONE));
        assert_eq!(d.step, DialogueStep::Company);
        advance(
            &mut d,
            Input::Company(1),
            &Form::new(&companies, &NONE),
            LIMITS,
            Lang::Ru,
        );
        assert_eq!(d.company.as_deref(), Some("Acme Kazan"));
        assert_eq!(d.step, DialogueStep::Description);
        advance(
            &mut d,
            text("It jams"),
            &Form::new(&companies, &NONE),
            LIMITS,
            Lang::Ru,
        );
        assert_eq!(d.step, DialogueStep::Files);
        assert!(matches!(
            advance(
                &mut d,
                file("f1"),
                &Form::new(&companies, &NONE),
                LIMITS,
                Lang::Ru
            ),
            Next::Ask { .. }
        ));
        assert!(matches!(
            advance(
                &mut d,
                file("f2"),
                &Form::new(&companies, &NONE),
                LIMITS,
                Lang::Ru
            ),
            Next::Ask { .. }
        ));
        assert_eq!(
            advance(
                &mut d,
                Input::Done,
                &Form::new(&companies, &NONE),
                LIMITS,
                Lang::Ru
            ),
            Next::Create
        );
        assert_eq!(d.files.len(), 2);
    }

    fn sized(id: &str, size: u64) -> Input {
        let Input::Message {
            file: Some(mut file),
            text,
        } = file(id)
        else {
            unreachable!()
        };
        file.size = Some(size);
        Input::Message {
            text,
            file: Some(file),
        }
    }

    #[test]
    fn a_dialogue_takes_no_more_files_than_one_ticket_may_carry() {
        let companies = vec!["Only".to_owned()];
        let limits = FileLimits {
            max_count: 3,
            max_bytes: 100,
        };
        let mut d = dialogue(Some("Printer"));
        d.description = Some(String::new());
        d.step = DialogueStep::Files;
        for n in 0..3 {
            advance(
                &mut d,
                file(&format!("f{n}")),
                &Form::new(&companies, &NONE),
                limits,
                Lang::Ru,
            );
        }
        assert_eq!(d.files.len(), 3);
        let Next::Ask { html, .. } = advance(
            &mut d,
            file("one too many"),
            &Form::new(&companies, &NONE),
            limits,
            Lang::En,
        ) else {
            panic!("the client is told");
        };
        assert!(html.contains("at most 3 files and 100 bytes"), "{html}");
        assert!(html.contains(Lang::En.ask_files()), "{html}");
        assert_eq!(d.files.len(), 3);
        // By size too: one big file after a small one.
        let mut d = dialogue(Some("Printer"));
        d.description = Some(String::new());
        d.step = DialogueStep::Files;
        advance(
            &mut d,
            sized("small", 10),
            &Form::new(&companies, &NONE),
            limits,
            Lang::Ru,
        );
        advance(
            &mut d,
            sized("big", 91),
            &Form::new(&companies, &NONE),
            limits,
            Lang::Ru,
        );
        assert_eq!(d.files.len(), 1);
        advance(
            &mut d,
            sized("fits", 90),
            &Form::new(&companies, &NONE),
            limits,
            Lang::Ru,
        );
        assert_eq!(d.files.len(), 2);
        assert_eq!(
            advance(
                &mut d,
                Input::Done,
                &Form::new(&companies, &NONE),
                limits,
                Lang::Ru
            ),
            Next::Create
        );
    }

    #[test]
    fn the_limits_hold_in_every_step_that_takes_files() {
        let limits = FileLimits {
            max_count: 1,
            max_bytes: 100,
        };
        // Files sent while the subject and the description are asked for count too.
        let mut d = dialogue(None);
        assert_eq!(
            advance(&mut d, file("f0"), &Form::new(&[], &NONE), limits, Lang::En),
            Next::Wait
        );
        let Next::Ask { html, .. } =
            advance(&mut d, file("f1"), &Form::new(&[], &NONE), limits, Lang::En)
        else {
            panic!("the client is told");
        };
        assert!(html.contains("at most 1 file"), "{html}");
        assert!(html.contains(Lang::En.ask_subject()), "{html}");
        assert_eq!(d.step, DialogueStep::Subject);
        // A refused file with a caption: the caption still answers the step.
        let Input::Message { file: f2, .. } = file("f2") else {
            unreachable!()
        };
        let Next::Ask { html, .. } = advance(
            &mut d,
            Input::Message {
                text: "VPN down".into(),
                file: f2,
            },
            &Form::new(&[], &NONE),
            limits,
            Lang::En,
        ) else {
            panic!("the next question");
        };
        assert_eq!(d.subject.as_deref(), Some("VPN down"));
        assert!(html.contains("not added") && html.contains(Lang::En.ask_description()));
        advance(
            &mut d,
            sized("f3", 1),
            &Form::new(&[], &NONE),
            limits,
            Lang::En,
        );
        assert_eq!(d.files.len(), 1);
        // No files at all where the chat takes none.
        let none = FileLimits {
            max_count: 0,
            ..limits
        };
        let mut d = dialogue(Some("VPN down"));
        d.step = DialogueStep::Description;
        let Next::Ask { html, .. } =
            advance(&mut d, file("f"), &Form::new(&[], &NONE), none, Lang::Ru)
        else {
            panic!("the client is told");
        };
        assert!(html.contains("не принимаются"), "{html}");
        assert!(d.files.is_empty());
    }

    #[test]
    fn single_company_is_not_asked_and_description_can_be_skipped() {
        let companies = vec!["Only".to_owned()];
        let mut d = dialogue(None);
        d.step = first_missing(&d, &Form::new(&companies, &NONE));
        assert_eq!(d.step, DialogueStep::Subject);
        advance(
            &mut d,
            text("VPN down"),
            &Form::new(&companies, &NONE),
            LIMITS,
            Lang::En,
        );
        assert_eq!(d.step, DialogueStep::Description);
        advance(
            &mut d,
            Input::Skip,
            &Form::new(&companies, &NONE),
            LIMITS,
            Lang::En,
        );
        assert_eq!(d.description.as_deref(), Some(""));
        assert_eq!(
            advance(
                &mut d,
                Input::Done,
                &Form::new(&companies, &NONE),
                LIMITS,
                Lang::En
            ),
            Next::Create
        );
    }

    #[test]
    fn done_at_the_description_files_the_ticket_at_once() {
        let mut d = dialogue(Some("VPN down"));
        d.step = first_missing(&d, &Form::new(&[], &NONE));
        assert_eq!(d.step, DialogueStep::Description);
        assert_eq!(
            advance(
                &mut d,
                Input::Done,
                &Form::new(&[], &NONE),
                LIMITS,
                Lang::Ru
            ),
            Next::Create
        );
        assert_eq!(d.description.as_deref(), Some(""));
    }

    #[test]
    fn a_long_first_answer_fills_subject_and_description() {
        let mut d = dialogue(None);
        advance(
            &mut d,
            text("VPN down\nsince 9am, all offices"),
            &Form::new(&[], &NONE),
            LIMITS,
            Lang::En,
        );
        assert_eq!(d.subject.as_deref(), Some("VPN down"));
        assert_eq!(d.step, DialogueStep::Files);
    }

    #[test]
    fn cancel_works_in_every_step() {
        let mut d = dialogue(None);
        assert_eq!(
            advance(
                &mut d,
                Input::Cancel,
                &Form::new(&[], &NONE),
                LIMITS,
                Lang::Ru
            ),
            Next::Cancelled
        );
    }

    fn form_intake() -> IntakeConfig {
        use crate::config::intake::{CategoryConfig, Choice};
        IntakeConfig {
            categories: vec![
                CategoryConfig {
                    id: "net".into(),
                    label: "Интернет".into(),
                    ticket: Default::default(),
                },
                CategoryConfig {
                    id: "tv".into(),
                    label: "ТВ".into(),
                    ticket: Default::default(),
                },
            ],
            fields: vec![
                FieldConfig {
                    id: "contract".into(),
                    label: "№ договора".into(),
                    kind: FieldKind::Contract,
                    required: true,
                    pattern: Some(regex::Regex::new(r"^(?:\d{2}-\d{4})$").expect("valid")),
                    example: Some("12-3456".into()),
                    target: Some("custom_fields.8".into()),
                    choices: vec![],
                },
                FieldConfig {
                    id: "tariff".into(),
                    label: "Тариф".into(),
                    kind: FieldKind::Choice,
                    required: false,
                    pattern: None,
                    example: None,
                    target: None,
                    choices: vec![Choice {
                        id: serde_json::json!(5),
                        label: "VIP".into(),
                    }],
                },
                FieldConfig {
                    id: "phone".into(),
                    label: "Телефон".into(),
                    kind: FieldKind::Phone,
                    required: false,
                    pattern: None,
                    example: None,
                    target: None,
                    choices: vec![],
                },
            ],
        }
    }

    fn buttons(next: &Next) -> Vec<String> {
        let Next::Ask { keyboard, .. } = next else {
            panic!("a question, got {next:?}");
        };
        keyboard
            .rows
            .iter()
            .flatten()
            .map(|b| format!("{b:?}"))
            .collect()
    }

    #[test]
    fn intake_asks_category_then_fields_retrying_a_wrong_answer() {
        let intake = form_intake();
        let form = Form::new(&[], &intake);
        let mut d = dialogue(None);
        d.intake
            .remembered
            .insert("phone".into(), "+79991234567".into());
        d.step = first_missing(&d, &form);
        assert_eq!(d.step, DialogueStep::Category);
        // Typing instead of pressing a button is not an answer, unless it is a label.
        assert_eq!(
            advance(&mut d, text("что-то"), &form, LIMITS, Lang::Ru),
            Next::Wait
        );
        let next = advance(&mut d, Input::Category(1), &form, LIMITS, Lang::Ru);
        assert_eq!(d.intake.category.as_deref(), Some("tv"));
        assert_eq!(d.step, DialogueStep::Field(0));
        assert!(
            buttons(&next).iter().all(|b| !b.contains("new:skip")),
            "required: no skip"
        );
        // A wrong contract number: told why, with the example, and asked again.
        let Next::Ask { html, .. } = advance(&mut d, text("123456"), &form, LIMITS, Lang::En)
        else {
            panic!("a retry");
        };
        assert!(
            html.contains("expected format") && html.contains("12-3456"),
            "{html}"
        );
        assert!(html.contains("Please try again"), "{html}");
        assert_eq!(d.step, DialogueStep::Field(0));
        let next = advance(&mut d, text("12-3456"), &form, LIMITS, Lang::Ru);
        assert_eq!(d.step, DialogueStep::Field(1));
        assert!(
            buttons(&next).iter().any(|b| b.contains("new:ch:0")),
            "{next:?}"
        );
        assert!(
            buttons(&next).iter().any(|b| b.contains("new:skip")),
            "optional"
        );
        let next = advance(&mut d, Input::Choice(0), &form, LIMITS, Lang::Ru);
        assert_eq!(d.step, DialogueStep::Field(2));
        // Last time's phone is offered as one tap.
        assert!(
            buttons(&next).iter().any(|b| b.contains("new:mem")),
            "{next:?}"
        );
        advance(&mut d, Input::Remembered, &form, LIMITS, Lang::Ru);
        assert_eq!(d.step, DialogueStep::Subject);
        let values: Vec<_> = d
            .intake
            .fields
            .iter()
            .map(|f| (f.id.as_str(), f.wire.clone()))
            .collect();
        assert_eq!(
            values,
            [
                ("contract", serde_json::json!("12-3456")),
                ("tariff", serde_json::json!(5)),
                ("phone", serde_json::json!("+79991234567")),
            ]
        );
    }

    #[test]
    fn optional_fields_can_be_skipped_and_are_not_asked_again() {
        let intake = form_intake();
        let form = Form::new(&[], &intake);
        let mut d = dialogue(None);
        d.intake.category = Some("net".into());
        d.step = first_missing(&d, &form);
        advance(&mut d, text("12-3456"), &form, LIMITS, Lang::Ru);
        // Skip on a required field does nothing.
        let mut required = dialogue(None);
        required.intake.category = Some("net".into());
        required.step = first_missing(&required, &form);
        assert_eq!(
            advance(&mut required, Input::Skip, &form, LIMITS, Lang::Ru),
            Next::Wait
        );
        assert_eq!(required.step, DialogueStep::Field(0));
        advance(&mut d, Input::Skip, &form, LIMITS, Lang::Ru);
        advance(&mut d, Input::Skip, &form, LIMITS, Lang::Ru);
        assert_eq!(d.step, DialogueStep::Subject);
        assert_eq!(d.intake.skipped, ["tariff", "phone"]);
        assert_eq!(d.intake.fields.len(), 1);
    }
}
