//! What the Mini App's API refuses, and how: each problem knows its HTTP status, the code the page
//! reacts to, and the sentence the page shows as it is, in the user's language.

use super::uploads::FileProblem;
use crate::telegram::texts::Lang;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::time::Duration;

/// One reason a request was refused.
#[derive(Debug)]
pub(super) enum Problem {
    InitDataMissing,
    InitDataInvalid,
    InitDataExpired,
    ChatTokenInvalid,
    ChatNotServed,
    NotAMember,
    TelegramUnavailable,
    Unavailable,
    NotMultipart,
    BadForm,
    BodyTooLarge,
    BadSubmissionId,
    SubjectRequired,
    SubjectTooLong,
    DescriptionTooLong,
    CompanyRequired,
    TooManyFiles,
    FilesNotAccepted,
    FileTooLarge {
        file: String,
        max_bytes: u64,
    },
    FileType {
        file: String,
        problem: FileProblem,
    },
    UnknownSubmission,
    SubmissionRefused,
    TooManySubmissions,
    /// Too many requests of this user, or about this chat, lately (membership lookups, uploads
    /// at once).
    TooManyRequests,
    /// The server takes as many uploads at once as it can; another one must wait.
    UploadsBusy,
    BadQuery,
    /// An intake field (or the category) the chat asks for did not pass: the text says why, in
    /// the user's language (the bot's own retry wording).
    Intake(String),
}

impl Problem {
    fn status(&self) -> StatusCode {
        use Problem::*;
        match self {
            InitDataMissing | InitDataInvalid | InitDataExpired => StatusCode::UNAUTHORIZED,
            ChatTokenInvalid | ChatNotServed | NotAMember => StatusCode::FORBIDDEN,
            TelegramUnavailable | Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            NotMultipart => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BodyTooLarge | FileTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            FileType { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            UnknownSubmission => StatusCode::NOT_FOUND,
            SubmissionRefused => StatusCode::GONE,
            TooManySubmissions | TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            UploadsBusy => StatusCode::SERVICE_UNAVAILABLE,
            BadForm | BadSubmissionId | SubjectRequired | SubjectTooLong | DescriptionTooLong
            | CompanyRequired | TooManyFiles | FilesNotAccepted | BadQuery | Intake(_) => {
                StatusCode::BAD_REQUEST
            }
        }
    }

    /// The stable code the page's script matches on.
    fn code(&self) -> &'static str {
        use Problem::*;
        match self {
            InitDataMissing => "init_data_missing",
            InitDataInvalid => "init_data_invalid",
            InitDataExpired => "init_data_expired",
            ChatTokenInvalid => "chat_token_invalid",
            ChatNotServed => "chat_not_served",
            NotAMember => "not_a_member",
            TelegramUnavailable => "telegram_unavailable",
            Unavailable => "unavailable",
            NotMultipart => "not_multipart",
            BadForm => "bad_form",
            BodyTooLarge => "body_too_large",
            BadSubmissionId => "bad_submission_id",
            SubjectRequired => "subject_required",
            SubjectTooLong => "subject_too_long",
            DescriptionTooLong => "description_too_long",
            CompanyRequired => "company_required",
            TooManyFiles => "too_many_files",
            FilesNotAccepted => "files_not_accepted",
            FileTooLarge { .. } => "file_too_large",
            FileType { .. } => "file_type",
            UnknownSubmission => "unknown_submission",
            SubmissionRefused => "submission_refused",
            TooManySubmissions => "too_many_submissions",
            TooManyRequests => "too_many_requests",
            UploadsBusy => "uploads_busy",
            BadQuery => "bad_query",
            Intake(_) => "intake_field",
        }
    }

    fn text(&self, lang: Lang) -> String {
        use Problem::*;
        let ru = lang == Lang::Ru;
        let pick = |ru_text: &str, en_text: &str| if ru { ru_text } else { en_text }.to_owned();
        match self {
            InitDataMissing => pick(
                "Откройте форму из Telegram: кнопка «Новая заявка» в чате поддержки.",
                "Open the form from Telegram: the «New ticket» button in your support chat.",
            ),
            InitDataInvalid => pick(
                "Не удалось подтвердить, что форма открыта из Telegram. Закройте её и откройте снова кнопкой «Новая заявка».",
                "Could not confirm the form was opened from Telegram. Close it and open it again with the «New ticket» button.",
            ),
            InitDataExpired => pick(
                "Форма открыта слишком давно. Закройте её и откройте снова — введённое придётся повторить.",
                "The form has been open too long. Close it and open it again.",
            ),
            ChatTokenInvalid => pick(
                "Ссылка на форму недействительна. Откройте форму кнопкой «Новая заявка» в чате поддержки.",
                "This form link is not valid. Open the form with the «New ticket» button in your support chat.",
            ),
            ChatNotServed => pick(
                "Этот чат больше не обслуживается поддержкой.",
                "Support is no longer provided in this chat.",
            ),
            NotAMember => pick(
                "Форма доступна только участникам чата поддержки.",
                "Only members of the support chat can use this form.",
            ),
            TelegramUnavailable => pick(
                "Telegram сейчас не отвечает. Попробуйте ещё раз через минуту — введённое не потеряется.",
                "Telegram is not answering right now. Try again in a minute; nothing you entered is lost.",
            ),
            Unavailable => pick(
                "Сервис временно недоступен. Попробуйте ещё раз через минуту.",
                "The service is unavailable for a moment. Try again in a minute.",
            ),
            NotMultipart => pick(
                "Форма отправлена в неожиданном формате.",
                "The form was sent in an unexpected format.",
            ),
            BadForm => pick(
                "Форма пришла повреждённой. Отправьте ещё раз.",
                "The form arrived damaged. Please send it again.",
            ),
            BodyTooLarge => pick(
                "Файлы слишком большие вместе. Уберите часть файлов.",
                "The files are too large together. Remove some of them.",
            ),
            BadSubmissionId => pick(
                "Форма устарела. Обновите страницу.",
                "The form is out of date. Reload the page.",
            ),
            SubjectRequired => pick("Укажите тему заявки.", "Enter a subject."),
            SubjectTooLong => pick("Тема слишком длинная.", "The subject is too long."),
            DescriptionTooLong => pick("Описание слишком длинное.", "The description is too long."),
            CompanyRequired => pick("Выберите компанию.", "Choose a company."),
            Intake(text) => text.clone(),
            TooManyFiles => pick("Слишком много файлов.", "Too many files."),
            FilesNotAccepted => pick(
                "Эта служба поддержки не принимает файлы.",
                "This helpdesk does not accept files.",
            ),
            FileTooLarge { file, max_bytes } => {
                let mb = max_bytes.div_ceil(1024 * 1024);
                if ru {
                    format!("«{file}» больше {mb} МБ.")
                } else {
                    format!("“{file}” is larger than {mb} MB.")
                }
            }
            FileType { file, problem } => match (ru, problem) {
                (true, FileProblem::Type) => format!("«{file}»: такой тип файла не принимается."),
                (false, FileProblem::Type) => {
                    format!("“{file}”: this type of file is not accepted.")
                }
                (true, FileProblem::TypeMismatch | FileProblem::Content) => {
                    format!("«{file}»: содержимое файла не соответствует его типу.")
                }
                (false, FileProblem::TypeMismatch | FileProblem::Content) => {
                    format!("“{file}”: the content does not match the file type.")
                }
            },
            UnknownSubmission => pick("Заявка не найдена.", "Ticket request not found."),
            SubmissionRefused => pick(
                "Заявку не удалось зарегистрировать: чат больше не обслуживается.",
                "The ticket could not be filed: the chat is no longer served.",
            ),
            TooManySubmissions => pick(
                "Слишком много заявок подряд. Подождите пару минут — введённое не потеряется.",
                "Too many tickets in a row. Wait a couple of minutes; nothing you entered is lost.",
            ),
            TooManyRequests => pick(
                "Слишком много запросов подряд. Подождите минуту — введённое не потеряется.",
                "Too many requests in a row. Wait a minute; nothing you entered is lost.",
            ),
            UploadsBusy => pick(
                "Сервер сейчас принимает много файлов. Отправьте ещё раз через минуту — введённое не потеряется.",
                "The server is taking in many files right now. Send again in a minute; nothing you entered is lost.",
            ),
            BadQuery => pick("Неверный запрос.", "Bad request."),
        }
    }
}

/// A refusal as the page gets it: `{error, message, field}`, the message already in the user's
/// language and `field` naming the form field to show it next to.
#[derive(Debug)]
pub(super) struct ApiError {
    problem: Problem,
    lang: Lang,
    field: Option<std::borrow::Cow<'static, str>>,
    /// Sent as `Retry-After` (whole seconds, rounded up).
    retry_after: Option<Duration>,
}

impl ApiError {
    pub(super) fn new(lang: Lang, problem: Problem) -> Self {
        Self {
            problem,
            lang,
            field: None,
            retry_after: None,
        }
    }

    /// Tells the page (and any HTTP client) when asking again may succeed.
    pub(super) fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// Shows the message next to form field `field`.
    pub(super) fn on(mut self, field: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub(super) fn store(lang: Lang, error: crate::store::StoreError) -> Self {
        tracing::error!(%error, "Mini App request failed on the store.");
        Self::new(lang, Problem::Unavailable)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": self.problem.code(),
            "message": self.problem.text(self.lang),
            "field": self.field,
        });
        let mut response = (self.problem.status(), Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}
