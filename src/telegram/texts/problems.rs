//! What an adapter finds wrong in its config tables ([`Problem`]), as `teledesk check` and
//! `teledesk doctor` say it. English is the adapter API's own wording (its `Display`), so the
//! adapters' tests and logs read the same words; Russian is written here, one arm per kind, and
//! the match has no catch-all: a new kind does not compile until it is said in Russian.
//! Keys, ids, examples and the helpdesk's own names stay as they are.

use super::Lang;
use teledesk_adapter::{
    Address, Choice, Dependency, EmailFlaw, FieldKeyForm, FieldValueForm, OffsetOf,
    PriorityListFlaw, Problem, StatusKeyForm, UNLIMITED, Wanted,
};

/// `problem` in `lang`.
pub fn problem(lang: Lang, problem: &Problem) -> String {
    match lang {
        Lang::En => problem.to_string(),
        Lang::Ru => ru(problem),
    }
}

fn ru(problem: &Problem) -> String {
    use Problem::*;
    match problem {
        UnknownKey { expected } => {
            format!(
                "неизвестный ключ; ожидается один из: {}",
                expected.join(", ")
            )
        }
        Required => "обязательный ключ не задан".into(),
        Empty => "не может быть пустым".into(),
        NotAString => "должно быть строкой".into(),
        PositiveId { vendor } => format!("должно быть положительным целым числом (id в {vendor})"),
        AddressRequired(address) => {
            let what = match address {
                Address::KaitenSite => "адрес сайта Kaiten",
                Address::GlpiRestApi => "адрес REST API",
                Address::RedmineRoot => "адрес Redmine",
                Address::RtWeb => "веб-адрес RT",
                Address::ZammadSite => "адрес сайта Zammad",
                Address::ZnunyWebService => "адрес веб-сервиса",
            };
            format!(
                "обязательный ключ не задан: {what}, например {}",
                address.example()
            )
        }
        AddressScheme => "должно начинаться с https:// (или http://)".into(),
        AddressMalformed(address) => {
            format!("должно быть адресом вида {}", address.example())
        }
        AddressQuery => "не должно содержать запрос (?) или фрагмент (#)".into(),
        AddressRefused(address) => match address {
            Address::KaitenSite => {
                "укажите адрес сайта без /api/...; адаптер сам добавляет /api/latest".into()
            }
            Address::GlpiRestApi => "укажите базовый адрес старого REST API (…/apirest.php), а \
                                     не отдельный метод и не API v2"
                .into(),
            Address::RedmineRoot => {
                "укажите корневой адрес Redmine (где находится /issues), а не путь API".into()
            }
            Address::RtWeb => {
                "укажите веб-адрес RT без /REST/...; адаптер сам добавляет /REST/2.0".into()
            }
            Address::ZammadSite => {
                "укажите адрес сайта без /api/...; адаптер сам добавляет /api/v1".into()
            }
            Address::ZnunyWebService => format!(
                "должно заканчиваться веб-сервисом, например {}",
                address.example()
            ),
        },
        RateOutOfRange { max } => format!(
            "должно быть числом больше 0 и не больше {max} или \"{UNLIMITED}\" (без ограничения \
             на стороне teledesk)"
        ),
        RateOverVendorLimit { vendor, max } => format!(
            "должно быть числом больше 0 и не больше {max} ({vendor} разрешает не больше {max} \
             запросов в секунду)"
        ),
        RateNotUnlimited { vendor, max } => format!(
            "не может быть \"{UNLIMITED}\" ({vendor} разрешает не больше {max} запросов в \
             секунду); укажите число больше 0 и не больше {max}"
        ),
        TableOf { shape } => format!("должно быть таблицей вида {shape}"),
        OneOf { expected } => format!("должно быть одним из: {}", expected.join(", ")),
        NotAScalar => "должно быть строкой, числом или логическим значением".into(),
        Needs { other, why } => match why {
            Dependency::AnnouncementNeedsChat { issue } => format!(
                "нужен и {other}: объявлением может быть только {} для чата",
                if *issue {
                    "задача"
                } else {
                    "заявка"
                }
            ),
            Dependency::ColumnOfBoard => {
                format!("задайте и {other}: колонка хелпдеска принадлежит его собственной доске")
            }
            Dependency::CategoryOfProject => {
                format!("задайте и {other}: категория задач принадлежит одному проекту")
            }
        },
        SameFieldAs { other } => {
            format!("должно отличаться от {other}: одно поле не может хранить и то и другое")
        }
        NotOneLine => "должно быть одной строкой".into(),
        UtcOffset { of } => match of {
            OffsetOf::Glpi => "должно быть постоянным смещением от UTC вроде \"+03:00\" или \
                               \"-05:00\" (время в GLPI записано без смещения)"
                .into(),
            OffsetOf::Znuny => "должно быть постоянным смещением от UTC вроде \"+03:00\" или \
                                \"-05:30\" (смещение OTRSTimeZone в Znuny)"
                .into(),
        },
        UtcOffsetNotAString => "должно быть строкой вроде \"+03:00\"".into(),
        StatusKey { must_be } => match must_be {
            StatusKeyForm::ColumnId => {
                "ключ должен быть id колонки (положительным целым числом)".into()
            }
            StatusKeyForm::GlpiCode => "ключ должен быть кодом статуса GLPI: \"1\" новая, \"2\" \
                                        назначена, \"3\" запланирована, \"4\" ожидает, \"5\" \
                                        решена, \"6\" закрыта"
                .into(),
            StatusKeyForm::StateName { vendor } => {
                format!("ключ должен быть названием состояния {vendor}")
            }
            StatusKeyForm::RtStatus => "ключ должен быть названием статуса RT".into(),
            StatusKeyForm::StatusIdOrName => "ключ должен быть id или названием статуса".into(),
            StatusKeyForm::PositiveStatusId => {
                "id статуса должен быть положительным целым числом".into()
            }
        },
        ReopenToDone { status, class } => format!(
            "\"{status}\" соответствует классу {class}; переоткрытая заявка не может быть \
             завершённой"
        ),
        FieldKey { must_be } => match must_be {
            FieldKeyForm::PropertyKey => {
                "ключ должен называть пользовательское свойство в виде id_<n>"
            }
            FieldKeyForm::PropertyName => {
                "должно называть пользовательское свойство в виде id_<n> (например \"id_42\")"
            }
            FieldKeyForm::PropertyNameString => "должно быть строкой вроде \"id_42\"",
            FieldKeyForm::CustomFieldId => {
                "ключ должен быть id пользовательского поля (положительным целым числом)"
            }
            FieldKeyForm::CustomFieldName => "ключ должен быть названием пользовательского поля",
            FieldKeyForm::DynamicFieldKey => {
                "ключ должен быть названием динамического поля (только латинские буквы и цифры)"
            }
            FieldKeyForm::DynamicFieldName => {
                "должно быть названием динамического поля (только латинские буквы и цифры, как \
                 требует Znuny)"
            }
            FieldKeyForm::Attribute => {
                "должно называть атрибут заявки: строчные латинские буквы, цифры и _, первой \
                 идёт буква"
            }
        }
        .into(),
        FieldValue { may_be } => match may_be {
            FieldValueForm::ScalarOrStrings => {
                "должно быть строкой, числом, логическим значением или списком строк"
            }
            FieldValueForm::StringsOrNumbers => "должно быть строкой, числом или списком из них",
            FieldValueForm::Strings => "должно быть строкой или массивом строк",
            FieldValueForm::WholeNumber => "должно быть целым числом ≥ 0",
            FieldValueForm::DistinctNumbers => "у двух меток одинаковое число",
            FieldValueForm::PriorityTable => {
                "должно быть непустой таблицей \"<метка>\" = <число>, как %PriorityAsString в RT"
            }
        }
        .into(),
        Problem::NumberChoice { of } => match of {
            Choice::GlpiEntity => {
                "должно быть id организации: 0 (корневая) или положительное целое число"
            }
            Choice::GlpiType => "должно быть 1 (инцидент) или 2 (запрос)",
            Choice::GlpiScale => "должно быть от 1 (очень низкая) до 5 (очень высокая)",
            Choice::GlpiPriority => "должно быть от 1 (очень низкий) до 6 (наивысший)",
        }
        .into(),
        PriorityList { flaw } => match flaw {
            PriorityListFlaw::NotIdList => {
                "должно быть списком id приоритетов, от низшего к высшему".into()
            }
            PriorityListFlaw::TooFewIds => "должно перечислять хотя бы два id приоритетов \
                                            (положительные целые числа), от низшего к высшему"
                .into(),
            PriorityListFlaw::RepeatedId => "id приоритета не должен повторяться".into(),
            PriorityListFlaw::DistinctIds => "должно быть списком хотя бы из двух разных id \
                                              приоритетов, от низшего к высшему"
                .into(),
            PriorityListFlaw::NotNameList => {
                "должно быть массивом названий приоритетов, от низшего к высшему".into()
            }
            PriorityListFlaw::NoNames => "должно называть хотя бы один приоритет".into(),
            PriorityListFlaw::Twice { name } => format!("{name:?} указан дважды"),
            PriorityListFlaw::EmptyName => "должно быть непустым названием приоритета".into(),
        },
        PriorityNotListed { priority, listed } => format!(
            "{priority:?} нет среди priorities ({}); эскалация не сможет его повысить",
            listed.join(", ")
        ),
        PriorityValue => "должно быть целым числом ≥ 0 или меткой приоритета".into(),
        ProjectId => "должно быть id проекта (положительным целым числом) или его \
                      идентификатором (например \"support\")"
            .into(),
        RtToken => "это не токен RT вида 1-<id пользователя>-<32 шестнадцатеричные цифры>; \
                    укажите в `user` логин владельца токена"
            .into(),
        EmailList => {
            "должно быть адресом e-mail или списком адресов (например \"support@acme.example\")"
                .into()
        }
        Customer { flaw } => {
            let how = "должно быть id клиента, адресом e-mail или \"guess:<e-mail>\" (в адресе \
                       можно использовать \"{telegram_id}\")";
            let why = match flaw {
                None => return how.into(),
                Some(EmailFlaw::Spaces) => "в адресе есть пробелы",
                Some(EmailFlaw::NotAnAddress) => "это не адрес e-mail",
                Some(EmailFlaw::PlaceholderInDomain) => "подстановка допустима только в части до @",
                Some(EmailFlaw::UnknownPlaceholder) => "единственная подстановка — {telegram_id}",
            };
            format!("{how}: {why}")
        }
        CoreAttribute { name } => {
            format!("`{name}` — стандартное поле заявки, а не пользовательский атрибут")
        }
        HttpClient { error } => format!("не удалось подготовить HTTP-клиент: {error}"),
        NoSuchQueue { queue } => format!("в RT нет очереди \"{queue}\""),
        FieldNotInQueue { field, queue } => format!(
            "пользовательское поле \"{field}\" не относится к очереди \"{queue}\" (RT \
             пропускает значения таких полей)"
        ),
        NoSuchProject { project, user } => {
            format!("нет проекта {project}, или пользователь интеграции ({user}) не его участник")
        }
        NoSuchField { id, property } => match property {
            true => format!("в компании нет пользовательского свойства {id}"),
            false => format!("в Redmine нет пользовательского поля задач {id}"),
        },
        FieldTypeUnusable {
            id,
            name,
            kind,
            for_resolution,
        } => match for_resolution {
            true => format!(
                "свойство {id} «{name}» имеет тип {kind}, который teledesk не может показать как \
                 описание решения; используйте свойство типа string, number, select, date, url, \
                 email или phone"
            ),
            false => format!(
                "свойство {id} «{name}» имеет тип {kind}, в который teledesk не умеет писать"
            ),
        },
        FieldWants {
            id,
            name,
            kind,
            wanted,
        } => {
            let wanted = match wanted {
                Wanted::String => "строка",
                Wanted::Number => "число",
                Wanted::Boolean => "true или false",
                Wanted::Option => "название или id одного из вариантов",
                Wanted::Date => "дата вроде \"2026-07-16\"",
                Wanted::DateTime => "дата вроде \"2026-07-16\" или \"2026-07-16T19:00:00+03:00\"",
                Wanted::UserId => "id пользователя",
            };
            format!("свойство {id} «{name}» имеет тип {kind}, и ему нужно: {wanted}")
        }
        NotAnOption {
            value,
            id,
            name,
            options,
        } => match id {
            Some(id) => format!(
                "у свойства {id} «{name}» нет варианта {value}; его варианты: {}",
                options.join(", ")
            ),
            None => format!(
                "\"{value}\" — не значение списка «{name}» (возможные: {})",
                options.join(", ")
            ),
        },
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One problem of every kind and sub-kind. `ordinal` has no catch-all, so a new kind fails to
    /// compile there; the count below then makes the test fail until a sample is added here.
    pub(crate) fn every_problem() -> Vec<Problem> {
        let addresses = [
            Address::KaitenSite,
            Address::GlpiRestApi,
            Address::RedmineRoot,
            Address::RtWeb,
            Address::ZammadSite,
            Address::ZnunyWebService,
        ];
        let mut all = vec![
            Problem::UnknownKey {
                expected: vec!["url".into(), "token".into()],
            },
            Problem::Required,
            Problem::Empty,
            Problem::NotAString,
            Problem::PositiveId {
                vendor: "Kaiten".into(),
            },
            Problem::AddressScheme,
            Problem::AddressQuery,
            Problem::RateOutOfRange { max: 100.0 },
            Problem::RateOverVendorLimit {
                vendor: "Kaiten".into(),
                max: 5.0,
            },
            Problem::RateNotUnlimited {
                vendor: "Kaiten".into(),
                max: 5.0,
            },
            Problem::TableOf {
                shape: "\"<column id>\" = \"<status class>\"".into(),
            },
            Problem::OneOf {
                expected: vec!["new".into(), "closed".into()],
            },
            Problem::NotAScalar,
            Problem::SameFieldAs {
                other: "idempotency_field".into(),
            },
            Problem::NotOneLine,
            Problem::UtcOffsetNotAString,
            Problem::ReopenToDone {
                status: "resolved".into(),
                class: "resolved".into(),
            },
            Problem::PriorityNotListed {
                priority: "5 very high".into(),
                listed: vec!["1 very low".into(), "3 normal".into()],
            },
            Problem::PriorityValue,
            Problem::ProjectId,
            Problem::RtToken,
            Problem::EmailList,
            Problem::CoreAttribute {
                name: "title".into(),
            },
            Problem::HttpClient {
                error: "builder error".into(),
            },
            Problem::NoSuchQueue {
                queue: "Support".into(),
            },
            Problem::FieldNotInQueue {
                field: "Telegram".into(),
                queue: "Support".into(),
            },
            Problem::NoSuchProject {
                project: "support".into(),
                user: "teledesk".into(),
            },
            Problem::NotAnOption {
                value: "\"Gold\"".into(),
                id: Some("46".into()),
                name: "Plan".into(),
                options: vec!["Silver".into()],
            },
            Problem::NotAnOption {
                value: "Gold".into(),
                id: None,
                name: "Plan".into(),
                options: vec!["Silver".into()],
            },
        ];
        for address in addresses {
            all.push(Problem::AddressRequired(address));
            all.push(Problem::AddressMalformed(address));
            all.push(Problem::AddressRefused(address));
        }
        for why in [
            Dependency::AnnouncementNeedsChat { issue: true },
            Dependency::AnnouncementNeedsChat { issue: false },
            Dependency::ColumnOfBoard,
            Dependency::CategoryOfProject,
        ] {
            all.push(Problem::Needs {
                other: "chat_field".into(),
                why,
            });
        }
        for of in [OffsetOf::Glpi, OffsetOf::Znuny] {
            all.push(Problem::UtcOffset { of });
        }
        for must_be in [
            StatusKeyForm::ColumnId,
            StatusKeyForm::GlpiCode,
            StatusKeyForm::StateName { vendor: "Znuny" },
            StatusKeyForm::RtStatus,
            StatusKeyForm::StatusIdOrName,
            StatusKeyForm::PositiveStatusId,
        ] {
            all.push(Problem::StatusKey { must_be });
        }
        for must_be in [
            FieldKeyForm::PropertyKey,
            FieldKeyForm::PropertyName,
            FieldKeyForm::PropertyNameString,
            FieldKeyForm::CustomFieldId,
            FieldKeyForm::CustomFieldName,
            FieldKeyForm::DynamicFieldKey,
            FieldKeyForm::DynamicFieldName,
            FieldKeyForm::Attribute,
        ] {
            all.push(Problem::FieldKey { must_be });
        }
        for may_be in [
            FieldValueForm::ScalarOrStrings,
            FieldValueForm::StringsOrNumbers,
            FieldValueForm::Strings,
            FieldValueForm::WholeNumber,
            FieldValueForm::DistinctNumbers,
            FieldValueForm::PriorityTable,
        ] {
            all.push(Problem::FieldValue { may_be });
        }
        for of in [
            Choice::GlpiEntity,
            Choice::GlpiType,
            Choice::GlpiScale,
            Choice::GlpiPriority,
        ] {
            all.push(Problem::NumberChoice { of });
        }
        for flaw in [
            PriorityListFlaw::NotIdList,
            PriorityListFlaw::TooFewIds,
            PriorityListFlaw::RepeatedId,
            PriorityListFlaw::DistinctIds,
            PriorityListFlaw::NotNameList,
            PriorityListFlaw::NoNames,
            PriorityListFlaw::Twice {
                name: "3 normal".into(),
            },
            PriorityListFlaw::EmptyName,
        ] {
            all.push(Problem::PriorityList { flaw });
        }
        for flaw in [
            None,
            Some(EmailFlaw::Spaces),
            Some(EmailFlaw::NotAnAddress),
            Some(EmailFlaw::PlaceholderInDomain),
            Some(EmailFlaw::UnknownPlaceholder),
        ] {
            all.push(Problem::Customer { flaw });
        }
        for property in [true, false] {
            all.push(Problem::NoSuchField {
                id: "99".into(),
                property,
            });
        }
        for for_resolution in [true, false] {
            all.push(Problem::FieldTypeUnusable {
                id: "46".into(),
                name: "Cost".into(),
                kind: "formula".into(),
                for_resolution,
            });
        }
        for wanted in [
            Wanted::String,
            Wanted::Number,
            Wanted::Boolean,
            Wanted::Option,
            Wanted::Date,
            Wanted::DateTime,
            Wanted::UserId,
        ] {
            all.push(Problem::FieldWants {
                id: "46".into(),
                name: "Cost".into(),
                kind: "number".into(),
                wanted,
            });
        }
        all
    }

    /// The kind of `problem`, numbered; no catch-all arm, on purpose.
    fn ordinal(problem: &Problem) -> usize {
        use Problem::*;
        match problem {
            UnknownKey { .. } => 0,
            Required => 1,
            Empty => 2,
            NotAString => 3,
            PositiveId { .. } => 4,
            AddressRequired(_) => 5,
            AddressScheme => 6,
            AddressMalformed(_) => 7,
            AddressQuery => 8,
            AddressRefused(_) => 9,
            RateOutOfRange { .. } => 10,
            RateOverVendorLimit { .. } => 11,
            RateNotUnlimited { .. } => 12,
            TableOf { .. } => 13,
            OneOf { .. } => 14,
            NotAScalar => 15,
            Needs { .. } => 16,
            SameFieldAs { .. } => 17,
            NotOneLine => 18,
            UtcOffset { .. } => 19,
            UtcOffsetNotAString => 20,
            StatusKey { .. } => 21,
            ReopenToDone { .. } => 22,
            FieldKey { .. } => 23,
            FieldValue { .. } => 24,
            Problem::NumberChoice { .. } => 25,
            PriorityList { .. } => 26,
            PriorityNotListed { .. } => 27,
            PriorityValue => 28,
            ProjectId => 29,
            RtToken => 30,
            EmailList => 31,
            Customer { .. } => 32,
            CoreAttribute { .. } => 33,
            HttpClient { .. } => 34,
            NoSuchField { .. } => 35,
            FieldTypeUnusable { .. } => 36,
            FieldWants { .. } => 37,
            NotAnOption { .. } => 38,
            NoSuchQueue { .. } => 39,
            FieldNotInQueue { .. } => 40,
            NoSuchProject { .. } => 41,
        }
    }
    const KINDS: usize = 42;

    fn has_cyrillic(text: &str) -> bool {
        text.chars()
            .any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c)))
    }

    #[test]
    fn every_problem_is_said_in_both_languages() {
        let all = every_problem();
        let mut seen = [false; KINDS];
        for p in &all {
            seen[ordinal(p)] = true;
        }
        let missing: Vec<usize> = (0..KINDS).filter(|i| !seen[*i]).collect();
        assert!(missing.is_empty(), "no sample of kinds {missing:?}");

        let mut russian = std::collections::HashSet::new();
        for p in &all {
            let en = problem(Lang::En, p);
            let ru = problem(Lang::Ru, p);
            assert_eq!(en, p.to_string(), "English is the adapter API's wording");
            assert!(has_cyrillic(&ru), "{p:?} has no Russian: {ru}");
            assert!(!has_cyrillic(&en), "{p:?}: {en}");
            // Each sub-kind reads differently, so none borrowed another's words by mistake.
            assert!(russian.insert(ru.clone()), "said twice: {ru}");
        }
    }

    #[test]
    fn values_stay_as_they_are() {
        let p = Problem::UnknownKey {
            expected: vec!["url".into(), "board_id".into()],
        };
        assert_eq!(
            problem(Lang::Ru, &p),
            "неизвестный ключ; ожидается один из: url, board_id"
        );
        let p = Problem::RateOverVendorLimit {
            vendor: "Kaiten".into(),
            max: 5.0,
        };
        assert_eq!(
            problem(Lang::Ru, &p),
            "должно быть числом больше 0 и не больше 5 (Kaiten разрешает не больше 5 запросов в \
             секунду)"
        );
        assert_eq!(
            problem(Lang::Ru, &Problem::AddressMalformed(Address::RtWeb)),
            "должно быть адресом вида https://rt.example.com"
        );
    }
}
