//! What an adapter finds wrong in its config tables, as data: a [`Problem`] names the kind of
//! problem and carries the values it is about (keys, ids, examples), never a sentence. The daemon
//! words each kind in the operator's language; the English wording lives here, in [`Problem`]'s
//! `Display`, because adapters' own tests and logs read it without the daemon.

use std::fmt;

/// The address an adapter asks for in `url`, which decides how its problems are worded
/// ([`crate::TableReader::base_url`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Address {
    /// A Kaiten site, like `https://acme.kaiten.ru`; the adapter adds `/api/latest`.
    KaitenSite,
    /// GLPI's legacy REST API base, `…/apirest.php`.
    GlpiRestApi,
    /// Redmine's root address, where `/issues` lives.
    RedmineRoot,
    /// Request Tracker's web address; the adapter adds `/REST/2.0`.
    RtWeb,
    /// A Zammad site; the adapter adds `/api/v1`.
    ZammadSite,
    /// A Znuny web service of the Generic Interface.
    ZnunyWebService,
}

impl Address {
    /// A correct address of this kind.
    pub fn example(self) -> &'static str {
        match self {
            Self::KaitenSite => "https://acme.kaiten.ru",
            Self::GlpiRestApi => "https://glpi.example.com/apirest.php",
            Self::RedmineRoot => "https://redmine.example.com",
            Self::RtWeb => "https://rt.example.com",
            Self::ZammadSite => "https://support.acme.example",
            Self::ZnunyWebService => {
                "https://host/otrs/nph-genericinterface.pl/Webservice/teledesk"
            }
        }
    }
}

/// Why an e-mail address (or an address pattern) is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailFlaw {
    /// It contains white space.
    Spaces,
    /// It has no `@` between a name and a domain.
    NotAnAddress,
    /// A placeholder stands after the `@`.
    PlaceholderInDomain,
    /// A placeholder other than `{telegram_id}`.
    UnknownPlaceholder,
}

/// What a helpdesk field or property takes, as a problem names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// A string.
    String,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// One of a select's options, by name or id.
    Option,
    /// A date like `2026-07-16`.
    Date,
    /// A date, or a date with a time and offset.
    DateTime,
    /// A user id.
    UserId,
}

/// The kind of a config problem and the values it is about.
///
/// Keys, ids, names and examples inside are the config's or the helpdesk's own words and are
/// shown as they are in every language. A new kind needs its wording in the daemon's texts too
/// (`teledesk check --lang ru`), which its exhaustive match enforces.
#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    // --- the checks every adapter shares (TableReader) ---
    /// A key the table does not know; `expected` are the known ones, in order.
    UnknownKey {
        /// The keys the table knows.
        expected: Vec<String>,
    },
    /// A required key is absent.
    Required,
    /// A string with nothing but white space.
    Empty,
    /// Not a string.
    NotAString,
    /// Not a positive integer, where an id of `vendor`'s objects is wanted.
    PositiveId {
        /// The helpdesk, as its users name it (`Kaiten`).
        vendor: String,
    },
    /// `url` is absent.
    AddressRequired(Address),
    /// `url` does not start with `https://` or `http://`.
    AddressScheme,
    /// `url` has no host, or white space.
    AddressMalformed(Address),
    /// `url` has a query or a fragment.
    AddressQuery,
    /// `url` is not the base address the adapter expects (most often it names an API path the
    /// adapter appends itself).
    AddressRefused(Address),
    /// A request rate out of `(0, max]` in front of a helpdesk that limits nothing itself;
    /// `"unlimited"` would be taken too.
    RateOutOfRange {
        /// The highest rate taken.
        max: f64,
    },
    /// A request rate above what `vendor` allows (`max` per second), or not a number.
    RateOverVendorLimit {
        /// The helpdesk.
        vendor: String,
        /// Its limit, requests per second.
        max: f64,
    },
    /// `"unlimited"` where `vendor` limits requests to `max` per second itself.
    RateNotUnlimited {
        /// The helpdesk.
        vendor: String,
        /// Its limit, requests per second.
        max: f64,
    },
    /// Not a table of entries shaped like `shape` (TOML syntax with placeholders).
    TableOf {
        /// The entry's shape, like `"<column id>" = "<status class>"`.
        shape: String,
    },
    /// Not one of `expected` (a status class, say).
    OneOf {
        /// The values taken.
        expected: Vec<String>,
    },
    /// An entry of a table of plain values that is not a string, a number or a boolean.
    NotAScalar,
    /// A value must come with `other` set too, for `why`.
    Needs {
        /// The key that must be set too.
        other: String,
        /// Why.
        why: Dependency,
    },
    /// Two keys name the same helpdesk field, which cannot hold both.
    SameFieldAs {
        /// The other key.
        other: String,
    },
    /// Not one line.
    NotOneLine,
    /// Not a fixed UTC offset like `+03:00`; `of` says whose offset is wanted.
    UtcOffset {
        /// The helpdesk whose naive times it fixes.
        of: OffsetOf,
    },
    /// A UTC offset that is not a string.
    UtcOffsetNotAString,
    /// A status table's key that names no status of the helpdesk.
    StatusKey {
        /// What the key must be.
        must_be: StatusKeyForm,
    },
    /// A status that `statuses` maps to a done class, given where a reopened ticket goes.
    ReopenToDone {
        /// The status.
        status: String,
        /// The class it maps to.
        class: String,
    },
    /// A custom-field table's key that names no field the way the helpdesk does.
    FieldKey {
        /// What the key must be.
        must_be: FieldKeyForm,
    },
    /// A field value of a kind the helpdesk cannot take.
    FieldValue {
        /// What it may be.
        may_be: FieldValueForm,
    },
    /// A whole number out of the helpdesk's range.
    NumberChoice {
        /// The choice, as the helpdesk numbers it.
        of: Choice,
    },
    /// A list of priorities that is not one (of ids or of names, lowest first).
    PriorityList {
        /// What is wrong.
        flaw: PriorityListFlaw,
    },
    /// A priority that is not in the configured list, so escalation could not raise it.
    PriorityNotListed {
        /// The priority.
        priority: String,
        /// The configured priorities, lowest first.
        listed: Vec<String>,
    },
    /// A priority given neither as a whole number ≥ 0 nor as a label.
    PriorityValue,
    /// Redmine's project: neither a positive id nor an identifier.
    ProjectId,
    /// RT's token without a user id in it, and no `user` set.
    RtToken,
    /// Not an e-mail address or a list of them.
    EmailList,
    /// Zammad's customer rule is wrong; `flaw` says how, where the address is.
    Customer {
        /// What is wrong with the address, if that is what.
        flaw: Option<EmailFlaw>,
    },
    /// A Zammad core ticket field given as a custom attribute.
    CoreAttribute {
        /// The field.
        name: String,
    },
    /// The HTTP client could not be built; `error` is the library's own words.
    HttpClient {
        /// What the HTTP library said.
        error: String,
    },

    // --- what the live helpdesk says about the config (doctor) ---
    /// RT has no such queue.
    NoSuchQueue {
        /// The queue.
        queue: String,
    },
    /// An RT custom field that does not apply to the queue, so RT ignores its values.
    FieldNotInQueue {
        /// The field.
        field: String,
        /// The queue.
        queue: String,
    },
    /// No Redmine project by that id, or the integration user is not a member of it.
    NoSuchProject {
        /// The project's id or identifier.
        project: String,
        /// The integration user's login.
        user: String,
    },
    /// The helpdesk has no such custom field (Redmine: of issues) or, with `property`, custom
    /// property (Kaiten: of the company).
    NoSuchField {
        /// Its id.
        id: String,
        /// Whether the helpdesk calls it a property.
        property: bool,
    },
    /// A field or property of a type teledesk cannot write (or, for a resolution, read).
    FieldTypeUnusable {
        /// Its id.
        id: String,
        /// Its name in the helpdesk.
        name: String,
        /// Its type in the helpdesk.
        kind: String,
        /// Whether it was asked to hold the resolution (read as text) rather than be written.
        for_resolution: bool,
    },
    /// A value of the wrong type for a field or property.
    FieldWants {
        /// Its id.
        id: String,
        /// Its name in the helpdesk.
        name: String,
        /// Its type in the helpdesk.
        kind: String,
        /// What it takes.
        wanted: Wanted,
    },
    /// A value that is not among a list field's options.
    NotAnOption {
        /// The value given.
        value: String,
        /// The field's id, where the helpdesk speaks of it by id.
        id: Option<String>,
        /// The field's name in the helpdesk.
        name: String,
        /// Its options.
        options: Vec<String>,
    },
}

/// Why one key needs another ([`Problem::Needs`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dependency {
    /// Only a ticket addressed to a chat can be an announcement (`ticket` or `issue`).
    AnnouncementNeedsChat {
        /// How the helpdesk calls a ticket: `ticket`, `issue`.
        issue: bool,
    },
    /// A Kaiten column belongs to its own board.
    ColumnOfBoard,
    /// A Redmine issue category belongs to one project.
    CategoryOfProject,
}

/// Whose UTC offset [`Problem::UtcOffset`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetOf {
    /// GLPI's API times carry no offset.
    Glpi,
    /// Znuny's `OTRSTimeZone`.
    Znuny,
}

/// What a key of a status table must be ([`Problem::StatusKey`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusKeyForm {
    /// A Kaiten column id.
    ColumnId,
    /// A GLPI status code 1–6.
    GlpiCode,
    /// A state name of the helpdesk (`vendor`: Znuny, Zammad).
    StateName {
        /// The helpdesk.
        vendor: &'static str,
    },
    /// An RT status name.
    RtStatus,
    /// A Redmine status id or name.
    StatusIdOrName,
    /// A Redmine status id given as a number that is not positive.
    PositiveStatusId,
}

/// What a custom-field key must be ([`Problem::FieldKey`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKeyForm {
    /// Kaiten's `id_<n>` as a table key.
    PropertyKey,
    /// Kaiten's `id_<n>` as a value (`resolution_property`).
    PropertyName,
    /// Kaiten's `id_<n>`, given as something other than a string.
    PropertyNameString,
    /// A Redmine custom field id.
    CustomFieldId,
    /// An RT custom field name.
    CustomFieldName,
    /// A Znuny dynamic field name (a table key).
    DynamicFieldKey,
    /// A Znuny dynamic field name (a value).
    DynamicFieldName,
    /// A Zammad ticket attribute name.
    Attribute,
}

/// What a field value may be ([`Problem::FieldValue`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValueForm {
    /// A string, a number, a boolean or a list of strings (Redmine).
    ScalarOrStrings,
    /// A string, a number or a list of them (RT).
    StringsOrNumbers,
    /// A string or an array of strings (Znuny).
    Strings,
    /// A whole number ≥ 0 (an RT priority).
    WholeNumber,
    /// Two labels of RT's priorities have the same number.
    DistinctNumbers,
    /// RT's priority table.
    PriorityTable,
}

/// A numbered choice of the helpdesk ([`Problem::NumberChoice`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// A GLPI entity: 0 (root) or a positive id.
    GlpiEntity,
    /// A GLPI ticket type: 1 or 2.
    GlpiType,
    /// A GLPI urgency or impact: 1 to 5.
    GlpiScale,
    /// A GLPI priority: 1 to 6.
    GlpiPriority,
}

/// What is wrong with a list of priorities ([`Problem::PriorityList`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PriorityListFlaw {
    /// Redmine: not a list of ids.
    NotIdList,
    /// Redmine: fewer than two positive ids.
    TooFewIds,
    /// Redmine: an id repeated.
    RepeatedId,
    /// Zammad: not at least two distinct positive ids.
    DistinctIds,
    /// Znuny: not an array of names.
    NotNameList,
    /// Znuny: an empty array.
    NoNames,
    /// Znuny: a name listed twice.
    Twice {
        /// The name.
        name: String,
    },
    /// Znuny: an entry that is not a non-empty name.
    EmptyName,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Problem::*;
        match self {
            UnknownKey { expected } => {
                write!(f, "unknown key; expected one of {}", expected.join(", "))
            }
            Required => f.write_str("required"),
            Empty => f.write_str("must not be empty"),
            NotAString => f.write_str("must be a string"),
            PositiveId { vendor } => write!(f, "must be a positive integer (a {vendor} id)"),
            AddressRequired(address) => {
                let what = match address {
                    Address::KaitenSite => "the Kaiten site",
                    Address::GlpiRestApi => "the REST API address",
                    Address::RedmineRoot => "the Redmine address",
                    Address::RtWeb => "RT's web address",
                    Address::ZammadSite => "the Zammad site",
                    Address::ZnunyWebService => "the web service address",
                };
                write!(f, "required: {what}, like {}", address.example())
            }
            AddressScheme => f.write_str("must start with https:// (or http://)"),
            AddressMalformed(address) => {
                let form = match address {
                    Address::KaitenSite | Address::ZammadSite => "a site address",
                    Address::RtWeb => "a web address",
                    Address::GlpiRestApi | Address::RedmineRoot | Address::ZnunyWebService => {
                        "an address"
                    }
                };
                write!(f, "must be {form} like {}", address.example())
            }
            AddressQuery => f.write_str("must not contain a query or fragment"),
            AddressRefused(address) => match address {
                Address::KaitenSite => f.write_str(
                    "give the site address without /api/...; the adapter adds /api/latest",
                ),
                Address::GlpiRestApi => f.write_str(
                    "give the legacy REST API base (…/apirest.php), not an endpoint or the v2 API",
                ),
                Address::RedmineRoot => f.write_str(
                    "give Redmine's root address (where /issues lives), not an API path",
                ),
                Address::RtWeb => f.write_str(
                    "give RT's web address without /REST/...; the adapter adds /REST/2.0",
                ),
                Address::ZammadSite => {
                    f.write_str("give the site address without /api/...; the adapter adds /api/v1")
                }
                Address::ZnunyWebService => write!(
                    f,
                    "must end with the web service, like {}",
                    address.example()
                ),
            },
            RateOutOfRange { max } => write!(
                f,
                "must be a number greater than 0 and at most {max}, or \"{}\" (no client-side \
                 limit)",
                crate::UNLIMITED
            ),
            RateOverVendorLimit { vendor, max } => write!(
                f,
                "must be a number greater than 0 and at most {max} ({vendor} allows {max} \
                 requests per second)"
            ),
            RateNotUnlimited { vendor, max } => write!(
                f,
                "cannot be \"{}\" ({vendor} allows {max} requests per second); give a number \
                 greater than 0 and at most {max}",
                crate::UNLIMITED
            ),
            TableOf { shape } => write!(f, "must be a table of {shape}"),
            OneOf { expected } => write!(f, "must be one of {}", expected.join(", ")),
            NotAScalar => f.write_str("must be a string, a number or a boolean"),
            Needs { other, why } => match why {
                Dependency::AnnouncementNeedsChat { issue } => write!(
                    f,
                    "needs {other}: only {} addressed to a chat can be an announcement",
                    if *issue { "an issue" } else { "a ticket" }
                ),
                Dependency::ColumnOfBoard => write!(
                    f,
                    "set {other} too: the helpdesk's column belongs to its own board"
                ),
                Dependency::CategoryOfProject => write!(
                    f,
                    "set {other} too: an issue category belongs to one project"
                ),
            },
            SameFieldAs { other } => {
                write!(f, "must differ from {other}: one field cannot hold both")
            }
            NotOneLine => f.write_str("must be one line"),
            UtcOffset { of } => match of {
                OffsetOf::Glpi => f.write_str(
                    "must be a fixed UTC offset like \"+03:00\" or \"-05:00\" (GLPI's times carry \
                     none)",
                ),
                OffsetOf::Znuny => f.write_str(
                    "must be a fixed UTC offset like \"+03:00\" or \"-05:30\" (the offset of \
                     Znuny's OTRSTimeZone)",
                ),
            },
            UtcOffsetNotAString => f.write_str("must be a string like \"+03:00\""),
            StatusKey { must_be } => match must_be {
                StatusKeyForm::ColumnId => {
                    f.write_str("the key must be a column id (a positive integer)")
                }
                StatusKeyForm::GlpiCode => f.write_str(
                    "the key must be a GLPI status code: \"1\" new, \"2\" assigned, \"3\" \
                     planned, \"4\" waiting, \"5\" solved, \"6\" closed",
                ),
                StatusKeyForm::StateName { vendor } => {
                    write!(f, "the key must be a {vendor} state name")
                }
                StatusKeyForm::RtStatus => f.write_str("the key must be an RT status name"),
                StatusKeyForm::StatusIdOrName => f.write_str("the key must be a status id or name"),
                StatusKeyForm::PositiveStatusId => {
                    f.write_str("a status id must be a positive integer")
                }
            },
            ReopenToDone { status, class } => write!(
                f,
                "\"{status}\" maps to {class}; a reopened ticket must not be done"
            ),
            FieldKey { must_be } => f.write_str(match must_be {
                FieldKeyForm::PropertyKey => "the key must name a custom property as id_<n>",
                FieldKeyForm::PropertyName => {
                    "must name a custom property as id_<n> (like \"id_42\")"
                }
                FieldKeyForm::PropertyNameString => "must be a string like \"id_42\"",
                FieldKeyForm::CustomFieldId => {
                    "the key must be a custom field id (a positive integer)"
                }
                FieldKeyForm::CustomFieldName => "the key must be a custom field name",
                FieldKeyForm::DynamicFieldKey => {
                    "the key must be a dynamic field name (letters and digits only)"
                }
                FieldKeyForm::DynamicFieldName => {
                    "must be a dynamic field name (letters and digits only, as Znuny requires)"
                }
                FieldKeyForm::Attribute => {
                    "must name a ticket attribute: lower case letters, digits and _, starting \
                     with a letter"
                }
            }),
            FieldValue { may_be } => f.write_str(match may_be {
                FieldValueForm::ScalarOrStrings => {
                    "must be a string, a number, a boolean or a list of strings"
                }
                FieldValueForm::StringsOrNumbers => "must be a string, a number or a list of them",
                FieldValueForm::Strings => "must be a string or an array of strings",
                FieldValueForm::WholeNumber => "must be a whole number ≥ 0",
                FieldValueForm::DistinctNumbers => "two labels have the same number",
                FieldValueForm::PriorityTable => {
                    "must be a non-empty table of \"<label>\" = <number>, like RT's \
                     %PriorityAsString"
                }
            }),
            NumberChoice { of } => f.write_str(match of {
                Choice::GlpiEntity => {
                    "must be an entity id: 0 (the root entity) or a positive integer"
                }
                Choice::GlpiType => "must be 1 (incident) or 2 (request)",
                Choice::GlpiScale => "must be 1 (very low) to 5 (very high)",
                Choice::GlpiPriority => "must be 1 (very low) to 6 (major)",
            }),
            PriorityList { flaw } => match flaw {
                PriorityListFlaw::NotIdList => {
                    f.write_str("must be a list of priority ids, lowest first")
                }
                PriorityListFlaw::TooFewIds => f.write_str(
                    "must list at least two priority ids (positive integers), lowest first",
                ),
                PriorityListFlaw::RepeatedId => f.write_str("must not repeat a priority id"),
                PriorityListFlaw::DistinctIds => f.write_str(
                    "must be a list of at least two distinct priority ids, lowest first",
                ),
                PriorityListFlaw::NotNameList => {
                    f.write_str("must be an array of priority names, lowest first")
                }
                PriorityListFlaw::NoNames => f.write_str("must name at least one priority"),
                PriorityListFlaw::Twice { name } => write!(f, "{name:?} is listed twice"),
                PriorityListFlaw::EmptyName => f.write_str("must be a non-empty priority name"),
            },
            PriorityNotListed { priority, listed } => write!(
                f,
                "{priority:?} is not in priorities ({}); escalation could not raise it",
                listed.join(", ")
            ),
            PriorityValue => f.write_str("must be a whole number ≥ 0 or a priority label"),
            ProjectId => f.write_str(
                "must be a project id (a positive integer) or its identifier (like \"support\")",
            ),
            RtToken => f.write_str(
                "is not an RT auth token of the form 1-<user id>-<32 hex digits>; set `user` to \
                 the token owner's login",
            ),
            EmailList => f.write_str(
                "must be an e-mail address or a list of them (like \"support@acme.example\")",
            ),
            Customer { flaw } => {
                f.write_str(
                    "must be a customer id, an e-mail address or \"guess:<e-mail>\" \
                     (\"{telegram_id}\" may stand in the address)",
                )?;
                match flaw {
                    None => Ok(()),
                    Some(EmailFlaw::Spaces) => f.write_str(": the address contains spaces"),
                    Some(EmailFlaw::NotAnAddress) => f.write_str(": not an e-mail address"),
                    Some(EmailFlaw::PlaceholderInDomain) => {
                        f.write_str(": only the part before @ may contain a placeholder")
                    }
                    Some(EmailFlaw::UnknownPlaceholder) => {
                        f.write_str(": the only placeholder is {telegram_id}")
                    }
                }
            }
            CoreAttribute { name } => {
                write!(f, "`{name}` is a core ticket field, not a custom attribute")
            }
            HttpClient { error } => write!(f, "cannot set up the HTTP client: {error}"),
            NoSuchQueue { queue } => write!(f, "RT has no queue \"{queue}\""),
            FieldNotInQueue { field, queue } => write!(
                f,
                "custom field \"{field}\" does not apply to queue \"{queue}\" (RT ignores values \
                 of fields that do not apply)"
            ),
            NoSuchProject { project, user } => write!(
                f,
                "no project {project}, or the integration user ({user}) is not a member of it"
            ),
            NoSuchField { id, property } => match property {
                true => write!(f, "the company has no custom property {id}"),
                false => write!(f, "Redmine has no issue custom field {id}"),
            },
            FieldTypeUnusable {
                id,
                name,
                kind,
                for_resolution,
            } => {
                if *for_resolution {
                    write!(
                        f,
                        "property {id} «{name}» is of type {kind}, which teledesk cannot show as \
                         a resolution; use a string, number, select, date, url, email or phone \
                         property"
                    )
                } else {
                    write!(
                        f,
                        "property {id} «{name}» is of type {kind}, which teledesk cannot write"
                    )
                }
            }
            FieldWants {
                id,
                name,
                kind,
                wanted,
            } => {
                let wanted = match wanted {
                    Wanted::String => "a string",
                    Wanted::Number => "a number",
                    Wanted::Boolean => "true or false",
                    Wanted::Option => "an option's name or id",
                    Wanted::Date => "a date like \"2026-07-16\"",
                    Wanted::DateTime => {
                        "a date like \"2026-07-16\" or \"2026-07-16T19:00:00+03:00\""
                    }
                    Wanted::UserId => "a user id",
                };
                write!(
                    f,
                    "property {id} «{name}» is of type {kind} and needs {wanted}"
                )
            }
            NotAnOption {
                value,
                id,
                name,
                options,
            } => match id {
                Some(id) => write!(
                    f,
                    "property {id} «{name}» has no option {value}; its options: {}",
                    options.join(", ")
                ),
                None => write!(
                    f,
                    "\"{value}\" is not a value of the list field \"{name}\" (possible: {})",
                    options.join(", ")
                ),
            },
        }
    }
}
