//! `teledesk check --config FILE`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use super::validate::{Analysis, analyse_file};
use crate::telegram::texts::Lang;
use crate::telegram::texts::ops::{MissingCapability, Ops};

/// Validates the config file and prints every finding, in `lang`; exit code 1 on any error.
///
/// Findings go to stderr (`warning: ...` / `error: ...`, in file order) and the one-line verdict to
/// stdout, so a script can read the verdict while a human sees everything in the terminal.
pub fn run_check(path: &Path, lang: Lang) -> ExitCode {
    let analysis = analyse_file(path);
    let (findings, verdict) = render(path, &analysis, lang);
    eprint!("{findings}");
    if let Some(config) = &analysis.config {
        eprint!("{}", capability_notes(config, Ops(lang)));
    }
    println!("{verdict}");
    if analysis.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn render(path: &Path, analysis: &Analysis, lang: Lang) -> (String, String) {
    let t = Ops(lang);
    let mut lines: Vec<_> = analysis
        .warnings
        .iter()
        .map(|finding| (false, finding))
        .chain(analysis.errors.iter().map(|finding| (true, finding)))
        .collect();
    lines.sort_by_key(|(_, finding)| finding.line);
    let mut findings = String::new();
    for (error, finding) in lines {
        let _ = writeln!(
            findings,
            "{}: {}",
            t.level(error),
            finding.to_string_in(lang)
        );
    }

    let path = path.display().to_string();
    let verdict = match (&analysis.config, analysis.errors.len()) {
        (Some(config), 0) => t.config_ok(&path, config.helpdesks.len(), config.chats.len()),
        (_, errors) => t.config_problems(&path, errors),
    };
    (findings, verdict)
}

/// What each helpdesk cannot do of what teledesk offers where the helpdesk allows (issue 14):
/// one note per missing capability, so an operator knows before a client or staff member finds
/// out.
fn capability_notes(config: &super::Config, t: Ops) -> String {
    let mut notes = String::new();
    for (name, helpdesk) in &config.helpdesks {
        let Ok(adapter) = crate::helpdesks::build(helpdesk) else {
            continue;
        };
        let capability = adapter.capability();
        for (has, missing) in [
            (capability.staff_tickets, MissingCapability::StaffTickets),
            (capability.due_times, MissingCapability::DueTimes),
        ] {
            if !has {
                let _ = writeln!(
                    notes,
                    "{}",
                    t.capability_missing(name, &helpdesk.kind, missing)
                );
            }
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::super::validate::analyse;
    use super::*;

    #[test]
    fn ok_verdict_counts_helpdesks_and_chats() {
        let text = r#"
            [telegram]
            token = "123:ABC"
            [store]
            path = "/tmp/x"
            [helpdesks.main]
            kind = "kaiten"
            url = "https://example.kaiten.ru"
            token = "env:KAITEN_TOKEN"
            board_id = 1
            column_id = 2
            [[chats]]
            id = -1001
            mode = "group"
            helpdesk = "main"
            name = "Acme"
        "#;
        let analysis = analyse(text, &|_| Some("kaiten-secret".into()));
        let (findings, verdict) = render(Path::new("m.toml"), &analysis, Lang::En);
        insta::assert_snapshot!(findings, @"warning: telegram.token (line 3): literal secret in the config file; use env:NAME or file:/path");
        insta::assert_snapshot!(verdict, @"m.toml: OK (1 helpdesk, 1 chat)");
    }

    #[test]
    fn check_notes_what_a_helpdesk_cannot_do() {
        let text = r#"
            [telegram]
            token = "env:T"
            [store]
            path = "/tmp/x"
            [helpdesks.main]
            kind = "kaiten"
            url = "https://example.kaiten.ru"
            token = "env:KAITEN_TOKEN"
            board_id = 1
            column_id = 2
            [helpdesks.tracker]
            kind = "redmine"
            url = "https://redmine.example.com"
            api_key = "env:REDMINE_KEY"
            project_id = "support"
            [[chats]]
            id = -1001
            mode = "group"
            helpdesk = "main"
            name = "Acme"
        "#;
        let analysis = analyse(text, &|_| Some("secret".into()));
        let config = analysis.config.as_ref().expect("valid");
        insta::assert_snapshot!(capability_notes(config, Ops(Lang::En)), @"note: helpdesks.tracker (redmine) does not publish tickets staff start in the helpdesk (staff_tickets); see the adapter's README");
        insta::assert_snapshot!(capability_notes(config, Ops(Lang::Ru)), @"примечание: helpdesks.tracker (redmine) не публикует заявки, которые сотрудники заводят в хелпдеске (staff_tickets); подробности в README адаптера");
    }

    /// Znuny, GLPI and Zammad publish staff tickets where their config names the address field
    /// (issue 14.3); `check` notes it only for the helpdesk whose config lacks it.
    #[test]
    fn check_notes_staff_tickets_only_where_the_address_field_is_missing() {
        let text = r#"
            [telegram]
            token = "env:T"
            [store]
            path = "/tmp/x"
            [helpdesks.znuny]
            kind = "znuny"
            url = "https://desk.example.com/otrs/nph-genericinterface.pl/Webservice/teledesk"
            user = "teledesk"
            password = "env:ZNUNY_PASSWORD"
            queue = "Support"
            customer_user = "telegram"
            chat_field = "TelegramChat"
            announcement_field = "TelegramAnnouncement"
            [helpdesks.glpi]
            kind = "glpi"
            url = "https://glpi.example.com/apirest.php"
            user_token = "env:GLPI_USER_TOKEN"
            chat_requesttype_id = 7
            [helpdesks.zammad]
            kind = "zammad"
            url = "https://support.example.com"
            token = "env:ZAMMAD_TOKEN"
            group = "Users"
            customer = "guess:tg{telegram_id}@telegram.example.com"
            chat_field = "telegram_chat"
            [helpdesks.plain]
            kind = "zammad"
            url = "https://support.example.com"
            token = "env:ZAMMAD_TOKEN"
            group = "Users"
            customer = "guess:tg{telegram_id}@telegram.example.com"
            [[chats]]
            id = -1001
            mode = "group"
            helpdesk = "znuny"
            name = "Acme"
        "#;
        let analysis = analyse(text, &|_| Some("secret".into()));
        let config = analysis.config.as_ref().expect("valid");
        insta::assert_snapshot!(capability_notes(config, Ops(Lang::En)), @"note: helpdesks.plain (zammad) does not publish tickets staff start in the helpdesk (staff_tickets); see the adapter's README");
    }

    #[test]
    fn problems_verdict_counts_errors_only() {
        let text = "[telegram]\ntoken = \"x\"\n";
        let analysis = analyse(text, &|_| None);
        let (findings, verdict) = render(Path::new("m.toml"), &analysis, Lang::En);
        insta::assert_snapshot!(findings, @"
        error: store: missing required table [store]
        error: helpdesks: missing required table [helpdesks]
        error: chats: at least one chat is required: add a [[chats]] section
        warning: telegram.token (line 2): literal secret in the config file; use env:NAME or file:/path
        ");
        insta::assert_snapshot!(verdict, @"m.toml: 3 problems");
    }
}
