//! Finding tickets (`/find`, the Mini App's search box): what a query means and which tickets
//! answer it. Sans-I/O: the caller reads the candidates from the store's per-author and per-chat
//! indexes, so a search costs the size of the lists the user may see, never the whole store.

use crate::model::TicketLink;
use time::{Date, Month};

/// What the user typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// Nothing: every ticket they may see.
    All,
    /// A ticket number (`123`, `#123`): tickets whose number is or contains it.
    Number(String),
    /// Tickets registered on these days, inclusive (`21.11.2026`, `2026-11-01..2026-11-30`).
    Dates(Date, Date),
    /// Tickets whose subject or description holds every word (any case).
    Words(Vec<String>),
}

/// Which tickets by state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Filter {
    #[default]
    All,
    Open,
    Closed,
}

/// In which order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    /// Registered last first.
    #[default]
    Newest,
    Oldest,
    /// Changed last first.
    Activity,
}

impl Filter {
    pub const ALL: [Self; 3] = [Self::All, Self::Open, Self::Closed];

    /// The spelling in callback data and the Mini App's query string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }

    /// An argument word, in English or Russian.
    pub fn parse(word: &str) -> Option<Self> {
        match word.to_lowercase().as_str() {
            "all" | "все" => Some(Self::All),
            "open" | "открытые" => Some(Self::Open),
            "closed" | "закрытые" => Some(Self::Closed),
            _ => None,
        }
    }

    fn admits(self, link: &TicketLink) -> bool {
        match self {
            Self::All => true,
            Self::Open => !link.view.status.is_done(),
            Self::Closed => link.view.status.is_done(),
        }
    }
}

impl Sort {
    pub const ALL: [Self; 3] = [Self::Newest, Self::Oldest, Self::Activity];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Newest => "newest",
            Self::Oldest => "oldest",
            Self::Activity => "activity",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        match word.to_lowercase().as_str() {
            "newest" | "новые" => Some(Self::Newest),
            "oldest" | "старые" => Some(Self::Oldest),
            "activity" | "активность" => Some(Self::Activity),
            _ => None,
        }
    }
}

/// A whole request: `[filter] [sort] query`, the two leading words optional and in any order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub text: String,
    pub query: Query,
    pub filter: Filter,
    pub sort: Sort,
}

impl Request {
    /// Reads `/find`'s arguments.
    pub fn parse_args(args: &str) -> Self {
        let mut filter = None;
        let mut sort = None;
        let mut rest = args.trim();
        while let Some((word, tail)) = split_word(rest) {
            if filter.is_none()
                && let Some(f) = Filter::parse(word)
            {
                filter = Some(f);
            } else if sort.is_none()
                && let Some(s) = Sort::parse(word)
            {
                sort = Some(s);
            } else {
                break;
            }
            rest = tail;
        }
        Self::new(rest, filter.unwrap_or_default(), sort.unwrap_or_default())
    }

    pub fn new(text: &str, filter: Filter, sort: Sort) -> Self {
        Self {
            text: text.trim().to_owned(),
            query: Query::parse(text),
            filter,
            sort,
        }
    }

    /// The tickets among `candidates` that answer, in order; duplicates (a ticket found both as
    /// the user's own and as their chat's) appear once.
    pub fn run(&self, candidates: Vec<TicketLink>) -> Vec<TicketLink> {
        let mut found: Vec<TicketLink> = candidates
            .into_iter()
            .filter(|l| self.filter.admits(l) && self.query.matches(l))
            .collect();
        found.sort_by_key(|l| l.local);
        found.dedup_by_key(|l| l.local);
        match self.sort {
            Sort::Newest => found.sort_by_key(|l| std::cmp::Reverse((l.registered_at(), l.local))),
            Sort::Oldest => found.sort_by_key(|l| (l.registered_at(), l.local)),
            Sort::Activity => {
                found.sort_by_key(|l| std::cmp::Reverse((l.last_activity_at(), l.local)))
            }
        }
        found
    }
}

fn split_word(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start();
    if text.is_empty() {
        return None;
    }
    Some(match text.find(char::is_whitespace) {
        Some(end) => (&text[..end], &text[end..]),
        None => (text, ""),
    })
}

impl Query {
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        if text.is_empty() {
            return Self::All;
        }
        let number = text.strip_prefix('#').unwrap_or(text);
        if !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) {
            return Self::Number(number.to_owned());
        }
        if let Some((from, to)) = date_range(text) {
            return Self::Dates(from.min(to), from.max(to));
        }
        Self::Words(text.split_whitespace().map(str::to_lowercase).collect())
    }

    fn matches(&self, link: &TicketLink) -> bool {
        match self {
            Self::All => true,
            Self::Number(n) => link.number.as_deref().is_some_and(|own| own.contains(n)),
            Self::Dates(from, to) => (*from..=*to).contains(&link.registered_at().date()),
            Self::Words(words) => {
                let subject = link.view.subject.to_lowercase();
                let description = link.view.description.to_lowercase();
                words
                    .iter()
                    .all(|w| subject.contains(w) || description.contains(w))
            }
        }
    }
}

/// `D`, `D..D`, `D - D`, `D—D`, where D is `dd.mm.yyyy` or `yyyy-mm-dd`.
fn date_range(text: &str) -> Option<(Date, Date)> {
    if let Some(day) = date(text) {
        return Some((day, day));
    }
    for separator in ["..", "—", "–", " - ", "-"] {
        // `yyyy-mm-dd` holds '-' itself: try every split point.
        for (at, _) in text.match_indices(separator) {
            let (from, to) = (&text[..at], &text[at + separator.len()..]);
            if let (Some(from), Some(to)) = (date(from.trim()), date(to.trim())) {
                return Some((from, to));
            }
        }
    }
    None
}

fn date(text: &str) -> Option<Date> {
    let parts: Vec<&str> = text.split(['.', '-']).collect();
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    let (year, month, day) = if text.contains('.') {
        (c, b, a)
    } else {
        (a, b, c)
    };
    if year.len() != 4 {
        return None;
    }
    let month = Month::try_from(month.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TicketTimes, TicketView};
    use teledesk_adapter::StatusClass;
    use time::macros::{date, datetime};

    fn link(local: u64, number: &str, subject: &str, status: StatusClass, day: u8) -> TicketLink {
        let registered = datetime!(2026-11-01 09:00 UTC).replace_day(day).unwrap();
        let sample = TicketLink::sample(local);
        TicketLink {
            number: Some(number.into()),
            view: TicketView {
                subject: subject.into(),
                description: "Описание".into(),
                status,
                ..sample.view.clone()
            },
            // Opened in teledesk a day late (an outage): the registration is what counts.
            created_at: registered + time::Duration::days(1),
            times: TicketTimes {
                registered_at: Some(registered),
                // The oldest ticket changed last.
                last_activity_at: Some(
                    datetime!(2026-12-01 09:00 UTC) - time::Duration::days(i64::from(day)),
                ),
                ..TicketTimes::default()
            },
            ..sample
        }
    }

    fn sample() -> Vec<TicketLink> {
        vec![
            link(1, "101", "Не печатает принтер", StatusClass::Closed, 3),
            link(
                2,
                "102",
                "Акт сверки за октябрь",
                StatusClass::InProgress,
                10,
            ),
            link(3, "1102", "Принтер снова", StatusClass::New, 20),
        ]
    }

    fn numbers(found: &[TicketLink]) -> Vec<&str> {
        found.iter().map(|l| l.number.as_deref().unwrap()).collect()
    }

    #[test]
    fn queries_read_as_numbers_dates_or_words() {
        assert_eq!(Query::parse(" "), Query::All);
        assert_eq!(Query::parse("#102"), Query::Number("102".into()));
        assert_eq!(
            Query::parse("21.11.2026"),
            Query::Dates(date!(2026 - 11 - 21), date!(2026 - 11 - 21))
        );
        for range in [
            "2026-11-30..2026-11-01",
            "01.11.2026-30.11.2026",
            "01.11.2026 — 30.11.2026",
            "2026-11-01 - 2026-11-30",
            "2026-11-01-2026-11-30",
        ] {
            assert_eq!(
                Query::parse(range),
                Query::Dates(date!(2026 - 11 - 01), date!(2026 - 11 - 30)),
                "{range}"
            );
        }
        assert_eq!(
            Query::parse("31.02.2026"),
            Query::Words(vec!["31.02.2026".into()])
        );
        assert_eq!(
            Query::parse("Принтер  HP"),
            Query::Words(vec!["принтер".into(), "hp".into()])
        );
    }

    #[test]
    fn leading_words_choose_filter_and_sort() {
        let r = Request::parse_args("открытые старые принтер");
        assert_eq!((r.filter, r.sort), (Filter::Open, Sort::Oldest));
        assert_eq!(r.query, Query::Words(vec!["принтер".into()]));
        let r = Request::parse_args("activity closed");
        assert_eq!(
            (r.filter, r.sort, r.query),
            (Filter::Closed, Sort::Activity, Query::All)
        );
        // Only leading words are options: later ones are searched for.
        let r = Request::parse_args("принтер open");
        assert_eq!(r.filter, Filter::All);
        assert_eq!(r.query, Query::Words(vec!["принтер".into(), "open".into()]));
    }

    #[test]
    fn search_filters_and_sorts() {
        let run = |args: &str| Request::parse_args(args).run(sample());
        assert_eq!(numbers(&run("")), ["1102", "102", "101"]);
        assert_eq!(numbers(&run("старые")), ["101", "102", "1102"]);
        assert_eq!(numbers(&run("activity")), ["101", "102", "1102"]);
        assert_eq!(numbers(&run("принтер")), ["1102", "101"]);
        assert_eq!(numbers(&run("open принтер")), ["1102"]);
        assert_eq!(numbers(&run("closed")), ["101"]);
        assert_eq!(numbers(&run("102")), ["1102", "102"]);
        assert_eq!(numbers(&run("описание СВЕРКИ")), ["102"]);
        // By registration date, not by when teledesk opened it (a day later).
        assert_eq!(numbers(&run("10.11.2026")), ["102"]);
        assert_eq!(numbers(&run("04.11.2026")), Vec::<&str>::new());
        assert_eq!(numbers(&run("2026-11-01..2026-11-15")), ["102", "101"]);
    }

    #[test]
    fn a_ticket_found_twice_is_listed_once() {
        let mut twice = sample();
        twice.extend(sample());
        assert_eq!(Request::parse_args("").run(twice).len(), 3);
    }
}
