//! The `/new` conversation as a pure step machine: given a dialogue and what the user did, the
//! next state and what to ask.

use crate::config::FileLimits;
use crate::model::{Button, ClientFile, Dialogue, DialogueStep, Keyboard};
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

/// The first missing piece, in the order the Mini App form asks: company, subject, description,
/// files.
pub fn first_missing(dialogue: &Dialogue, companies: &[String]) -> DialogueStep {
    if dialogue.company.is_none() && companies.len() > 1 {
        DialogueStep::Company
    } else if dialogue.subject.is_none() {
        DialogueStep::Subject
    } else if dialogue.description.is_none() {
        DialogueStep::Description
    } else {
        DialogueStep::Files
    }
}

/// The question for a step.
pub fn ask(step: DialogueStep, companies: &[String], lang: Lang) -> Next {
    let cancel = Button::callback(lang.button_cancel(), "new:cancel");
    let (html, mut rows) = match step {
        DialogueStep::Company => (
            lang.ask_company().to_owned(),
            companies
                .iter()
                .enumerate()
                .map(|(i, name)| vec![Button::callback(name.clone(), format!("new:co:{i}"))])
                .collect(),
        ),
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
    companies: &[String],
    limits: FileLimits,
    lang: Lang,
) -> Next {
    let (mut took_file, mut refused) = (false, false);
    let input = match input {
        Input::Message {
            text,
            file: Some(file),
            // While a company is to be chosen, messages are not answers and their files are not kept.
        } if dialogue.step != DialogueStep::Company => {
            took_file = take_file(dialogue, file, limits);
            refused = !took_file;
            Input::Message { text, file: None }
        }
        other => other,
    };
    let next = step(dialogue, input, took_file, companies, lang);
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
        Next::Wait => match ask(dialogue.step, companies, lang) {
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
    companies: &[String],
    lang: Lang,
) -> Next {
    if input == Input::Cancel {
        return Next::Cancelled;
    }
    let step = dialogue.step;
    match (step, input) {
        (DialogueStep::Company, Input::Company(index)) => {
            let Some(name) = companies.get(index) else {
                return Next::Wait;
            };
            dialogue.company = Some(name.clone());
        }
        (DialogueStep::Company, _) => return Next::Wait,
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
                let mut next = ask(DialogueStep::Files, companies, lang);
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
    let next_step = first_missing(dialogue, companies);
    dialogue.step = next_step;
    ask(next_step, companies, lang)
}

#[cfg(test)]
mod tests {
    use super::*;
    use teledesk_adapter::Requester;
    use time::OffsetDateTime;

    const LIMITS: FileLimits = FileLimits::DEFAULT;

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
        d.step = first_missing(&d, &companies);
        assert_eq!(d.step, DialogueStep::Company);
        advance(&mut d, Input::Company(1), &companies, LIMITS, Lang::Ru);
        assert_eq!(d.company.as_deref(), Some("Acme Kazan"));
        assert_eq!(d.step, DialogueStep::Description);
        advance(&mut d, text("It jams"), &companies, LIMITS, Lang::Ru);
        assert_eq!(d.step, DialogueStep::Files);
        assert!(matches!(
            advance(&mut d, file("f1"), &companies, LIMITS, Lang::Ru),
            Next::Ask { .. }
        ));
        assert!(matches!(
            advance(&mut d, file("f2"), &companies, LIMITS, Lang::Ru),
            Next::Ask { .. }
        ));
        assert_eq!(
            advance(&mut d, Input::Done, &companies, LIMITS, Lang::Ru),
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
            advance(&mut d, file(&format!("f{n}")), &companies, limits, Lang::Ru);
        }
        assert_eq!(d.files.len(), 3);
        let Next::Ask { html, .. } =
            advance(&mut d, file("one too many"), &companies, limits, Lang::En)
        else {
            panic!("the client is told");
        };
        assert!(html.contains("at most 3 files and 100 bytes"), "{html}");
        assert!(html.contains(Lang::En.ask_files()), "{html}");
        assert_eq!(d.files.len(), 3);
        // By size too: one big file after a small one.
        let mut d = dialogue(Some("Printer"));
        d.description = Some(String::new());
        d.step = DialogueStep::Files;
        advance(&mut d, sized("small", 10), &companies, limits, Lang::Ru);
        advance(&mut d, sized("big", 91), &companies, limits, Lang::Ru);
        assert_eq!(d.files.len(), 1);
        advance(&mut d, sized("fits", 90), &companies, limits, Lang::Ru);
        assert_eq!(d.files.len(), 2);
        assert_eq!(
            advance(&mut d, Input::Done, &companies, limits, Lang::Ru),
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
            advance(&mut d, file("f0"), &[], limits, Lang::En),
            Next::Wait
        );
        let Next::Ask { html, .. } = advance(&mut d, file("f1"), &[], limits, Lang::En) else {
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
            &[],
            limits,
            Lang::En,
        ) else {
            panic!("the next question");
        };
        assert_eq!(d.subject.as_deref(), Some("VPN down"));
        assert!(html.contains("not added") && html.contains(Lang::En.ask_description()));
        advance(&mut d, sized("f3", 1), &[], limits, Lang::En);
        assert_eq!(d.files.len(), 1);
        // No files at all where the chat takes none.
        let none = FileLimits {
            max_count: 0,
            ..limits
        };
        let mut d = dialogue(Some("VPN down"));
        d.step = DialogueStep::Description;
        let Next::Ask { html, .. } = advance(&mut d, file("f"), &[], none, Lang::Ru) else {
            panic!("the client is told");
        };
        assert!(html.contains("не принимаются"), "{html}");
        assert!(d.files.is_empty());
    }

    #[test]
    fn single_company_is_not_asked_and_description_can_be_skipped() {
        let companies = vec!["Only".to_owned()];
        let mut d = dialogue(None);
        d.step = first_missing(&d, &companies);
        assert_eq!(d.step, DialogueStep::Subject);
        advance(&mut d, text("VPN down"), &companies, LIMITS, Lang::En);
        assert_eq!(d.step, DialogueStep::Description);
        advance(&mut d, Input::Skip, &companies, LIMITS, Lang::En);
        assert_eq!(d.description.as_deref(), Some(""));
        assert_eq!(
            advance(&mut d, Input::Done, &companies, LIMITS, Lang::En),
            Next::Create
        );
    }

    #[test]
    fn done_at_the_description_files_the_ticket_at_once() {
        let mut d = dialogue(Some("VPN down"));
        d.step = first_missing(&d, &[]);
        assert_eq!(d.step, DialogueStep::Description);
        assert_eq!(
            advance(&mut d, Input::Done, &[], LIMITS, Lang::Ru),
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
            &[],
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
            advance(&mut d, Input::Cancel, &[], LIMITS, Lang::Ru),
            Next::Cancelled
        );
    }
}
