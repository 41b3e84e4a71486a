//! Reports (`teledesk report`, `/report`): per chat and company, what happened to tickets in a
//! period — opened, closed, reopened, how fast staff first answered and resolved, how clients
//! rated — from the times teledesk observed ([`crate::model::TicketTimes`]). Sans-I/O: the
//! caller reads the ticket records; this module counts and formats.

use crate::model::TicketLink;
use serde::Serialize;
use std::collections::BTreeMap;
use time::{Date, OffsetDateTime};

/// The days a report covers, both ends included, in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub from: Date,
    pub to: Date,
}

impl Period {
    pub fn contains(self, at: OffsetDateTime) -> bool {
        let day = at.to_offset(time::UtcOffset::UTC).date();
        (self.from..=self.to).contains(&day)
    }
}

/// Median and 90th percentile of some durations, in seconds (nearest rank).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Spread {
    pub count: usize,
    pub median_secs: Option<i64>,
    pub p90_secs: Option<i64>,
}

impl Spread {
    fn of(mut secs: Vec<i64>) -> Self {
        secs.sort_unstable();
        let rank = |p: usize| {
            // Nearest rank: the smallest value with at least p% of them at or below it.
            let at = (p * secs.len()).div_ceil(100).max(1) - 1;
            secs.get(at).copied()
        };
        Self {
            count: secs.len(),
            median_secs: rank(50),
            p90_secs: rank(90),
        }
    }
}

/// One chat and company's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub chat_id: i64,
    /// The requester's company (a chain's branch), else the chat's configured name.
    pub company: String,
    /// Tickets registered in the period.
    pub opened: usize,
    /// Tickets whose standing resolution falls in the period.
    pub closed: usize,
    /// Times a done ticket was seen open again in the period.
    pub reopened: usize,
    /// From registration to the first public staff reply, for tickets registered in the period.
    pub first_response: Spread,
    /// From registration to resolution, for tickets closed in the period.
    pub resolution: Spread,
    /// Ratings of the tickets closed in the period.
    pub ratings: usize,
    pub rating_mean: Option<f64>,
    /// Tickets registered in the period that missed a due time the helpdesk set (answered or
    /// resolved late, or still not and past due when the report is made).
    pub sla_breaches: usize,
    /// Tickets registered in the period by the intake category the client chose, by the label
    /// the chat shows (its id when the category is no longer configured); tickets without one
    /// are not listed.
    pub by_category: BTreeMap<String, usize>,
}

/// What a report calls chats and categories: each chat's configured name (a chat without one is
/// shown by its id) and each `(chat, category id)`'s label.
#[derive(Clone, Debug, Default)]
pub struct Names {
    pub chats: BTreeMap<i64, String>,
    pub categories: BTreeMap<(i64, String), String>,
}

impl Names {
    /// From each chat's id, name and intake categories.
    pub fn of<'a>(
        chats: impl IntoIterator<Item = (i64, &'a str, &'a crate::config::intake::IntakeConfig)>,
    ) -> Self {
        let mut names = Self::default();
        for (id, name, intake) in chats {
            names.chats.insert(id, name.to_owned());
            for category in &intake.categories {
                names
                    .categories
                    .insert((id, category.id.clone()), category.label.clone());
            }
        }
        names
    }

    fn category(&self, chat_id: i64, id: &str) -> String {
        self.categories
            .get(&(chat_id, id.to_owned()))
            .cloned()
            .unwrap_or_else(|| id.to_owned())
    }
}

/// Counts `tickets` for `period`, one row per chat and company, in chat then company order.
/// `names` names chats and categories; `chat` keeps one chat only; `now` decides whether a due time not yet met is missed.
pub fn aggregate(
    tickets: &[TicketLink],
    period: Period,
    names: &Names,
    chat: Option<i64>,
    now: OffsetDateTime,
) -> Vec<Row> {
    #[derive(Default)]
    struct Acc {
        opened: usize,
        closed: usize,
        reopened: usize,
        first: Vec<i64>,
        resolution: Vec<i64>,
        ratings: Vec<u8>,
        breaches: usize,
        by_category: BTreeMap<String, usize>,
    }
    let mut groups: BTreeMap<(i64, String), Acc> = BTreeMap::new();
    for link in tickets
        .iter()
        .filter(|l| chat.is_none_or(|c| l.chat_id == c))
    {
        let company = link
            .author
            .company
            .clone()
            .or_else(|| names.chats.get(&link.chat_id).cloned())
            .unwrap_or_else(|| link.chat_id.to_string());
        let opened = period.contains(link.registered_at());
        let closed = link.times.resolved_at.is_some_and(|at| period.contains(at));
        let reopened = link
            .times
            .reopened_at
            .iter()
            .filter(|at| period.contains(at.0))
            .count();
        if !opened && !closed && reopened == 0 {
            continue;
        }
        let acc = groups.entry((link.chat_id, company)).or_default();
        acc.reopened += reopened;
        if opened {
            acc.opened += 1;
            acc.breaches += usize::from(link.breaches(now).any());
            if let Some(category) = &link.category {
                *acc.by_category
                    .entry(names.category(link.chat_id, category))
                    .or_default() += 1;
            }
            if let Some(took) = link.first_response_time() {
                acc.first.push(took.whole_seconds());
            }
        }
        if closed {
            acc.closed += 1;
            if let Some(took) = link.resolution_time() {
                acc.resolution.push(took.whole_seconds());
            }
            if let Some(score) = link.rating {
                acc.ratings.push(score);
            }
        }
    }
    groups
        .into_iter()
        .map(|((chat_id, company), acc)| Row {
            chat_id,
            company,
            opened: acc.opened,
            closed: acc.closed,
            reopened: acc.reopened,
            first_response: Spread::of(acc.first),
            resolution: Spread::of(acc.resolution),
            ratings: acc.ratings.len(),
            rating_mean: (!acc.ratings.is_empty()).then(|| {
                acc.ratings.iter().map(|&r| f64::from(r)).sum::<f64>() / acc.ratings.len() as f64
            }),
            sla_breaches: acc.breaches,
            by_category: acc.by_category,
        })
        .collect()
}

/// `1d 02h`, `3h 05m`, `12m`, `—` for none.
pub fn human(secs: Option<i64>) -> String {
    let Some(secs) = secs else {
        return "—".to_owned();
    };
    let minutes = secs.max(0) / 60;
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{minutes}m"),
        (0, _) => format!("{hours}h {minutes:02}m"),
        _ => format!("{days}d {hours:02}h"),
    }
}

fn mean(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |m| format!("{m:.2}"))
}

/// `Касса 3, Сеть 1`, `—` for none.
fn categories(by_category: &BTreeMap<String, usize>) -> String {
    if by_category.is_empty() {
        return "—".to_owned();
    }
    by_category
        .iter()
        .map(|(label, count)| format!("{label} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

const HEADER: [&str; 13] = [
    "chat",
    "company",
    "opened",
    "closed",
    "reopened",
    "first response median",
    "first response p90",
    "resolution median",
    "resolution p90",
    "ratings",
    "rating mean",
    "SLA breaches",
    "by category",
];

/// A plain-text table with aligned columns.
pub fn table(rows: &[Row]) -> String {
    let mut cells: Vec<Vec<String>> = vec![HEADER.iter().map(|h| (*h).to_owned()).collect()];
    for r in rows {
        cells.push(vec![
            r.chat_id.to_string(),
            r.company.clone(),
            r.opened.to_string(),
            r.closed.to_string(),
            r.reopened.to_string(),
            human(r.first_response.median_secs),
            human(r.first_response.p90_secs),
            human(r.resolution.median_secs),
            human(r.resolution.p90_secs),
            r.ratings.to_string(),
            mean(r.rating_mean),
            r.sla_breaches.to_string(),
            categories(&r.by_category),
        ]);
    }
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|i| {
            cells
                .iter()
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &cells {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, &w))| {
                let pad = w - cell.chars().count();
                // Names read left-aligned, figures right-aligned.
                if i == 1 || i == HEADER.len() - 1 {
                    format!("{cell}{}", " ".repeat(pad))
                } else {
                    format!("{}{cell}", " ".repeat(pad))
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("(no tickets in the period)\n");
    }
    out
}

/// CSV (RFC 4180), durations in seconds.
pub fn csv(rows: &[Row]) -> String {
    let quote = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let secs = |s: Option<i64>| s.map(|s| s.to_string()).unwrap_or_default();
    let mut out = "chat,company,opened,closed,reopened,first_response_median_secs,\
                   first_response_p90_secs,resolution_median_secs,resolution_p90_secs,ratings,\
                   rating_mean,sla_breaches,by_category\n"
        .to_owned();
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.chat_id,
            quote(&r.company),
            r.opened,
            r.closed,
            r.reopened,
            secs(r.first_response.median_secs),
            secs(r.first_response.p90_secs),
            secs(r.resolution.median_secs),
            secs(r.resolution.p90_secs),
            r.ratings,
            r.rating_mean.map(|m| format!("{m:.2}")).unwrap_or_default(),
            r.sla_breaches,
            // One cell: `label=count` pairs separated by `;`.
            quote(
                &r.by_category
                    .iter()
                    .map(|(label, count)| format!("{label}={count}"))
                    .collect::<Vec<_>>()
                    .join(";")
            ),
        ));
    }
    out
}

/// JSON: `{"from", "to", "rows": [...]}`.
pub fn json(rows: &[Row], period: Period) -> String {
    let value = serde_json::json!({
        "from": period.from.to_string(),
        "to": period.to.to_string(),
        "rows": rows,
    });
    serde_json::to_string_pretty(&value).expect("rows serialize") + "\n"
}

/// `YYYY-MM-DD` or `DD.MM.YYYY`.
pub fn parse_date(text: &str) -> Option<Date> {
    match crate::engine::search::Query::parse(text) {
        crate::engine::search::Query::Dates(from, to) if from == to => Some(from),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TicketTimes, TicketView, TimeStamp};
    use teledesk_adapter::{Requester, StatusClass};
    use time::macros::{date, datetime};

    fn link(local: u64, chat_id: i64, company: Option<&str>, times: TicketTimes) -> TicketLink {
        let sample = TicketLink::sample(local);
        TicketLink {
            number: Some(local.to_string()),
            chat_id,
            author: Requester {
                company: company.map(Into::into),
                ..sample.author.clone()
            },
            view: TicketView {
                subject: "s".into(),
                status: StatusClass::InProgress,
                ..sample.view.clone()
            },
            created_at: times.registered_at.unwrap(),
            times,
            ..sample
        }
    }

    /// A ticket registered on November `day` at 10:00, answered after `answer` minutes and
    /// resolved after `resolve` minutes.
    fn timed(
        local: u64,
        chat: i64,
        day: u8,
        answer: Option<i64>,
        resolve: Option<i64>,
    ) -> TicketLink {
        let at = datetime!(2026-11-01 10:00 UTC).replace_day(day).unwrap();
        link(
            local,
            chat,
            None,
            TicketTimes {
                registered_at: Some(at),
                first_response_at: answer.map(|m| at + time::Duration::minutes(m)),
                resolved_at: resolve.map(|m| at + time::Duration::minutes(m)),
                ..TicketTimes::default()
            },
        )
    }

    fn november() -> Period {
        Period {
            from: date!(2026 - 11 - 01),
            to: date!(2026 - 11 - 30),
        }
    }

    /// When the reports of these tests are made.
    fn december() -> OffsetDateTime {
        datetime!(2026-12-01 00:00 UTC)
    }

    fn names() -> Names {
        Names {
            chats: [(-1, "Acme".to_owned()), (-2, "Globex".to_owned())].into(),
            categories: [
                ((-1, "pos".to_owned()), "Касса".to_owned()),
                ((-1, "net".to_owned()), "Сеть".to_owned()),
            ]
            .into(),
        }
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        assert_eq!(Spread::of(vec![]).median_secs, None);
        let one = Spread::of(vec![7]);
        assert_eq!((one.median_secs, one.p90_secs), (Some(7), Some(7)));
        let ten = Spread::of((1..=10).rev().collect());
        assert_eq!((ten.median_secs, ten.p90_secs), (Some(5), Some(9)));
        let eleven = Spread::of((1..=11).collect());
        assert_eq!((eleven.median_secs, eleven.p90_secs), (Some(6), Some(10)));
    }

    #[test]
    fn a_period_counts_what_happened_in_it() {
        let mut reopened = timed(4, -1, 2, Some(5), None);
        reopened.times.reopened_at = vec![
            TimeStamp(datetime!(2026-10-30 10:00 UTC)),
            TimeStamp(datetime!(2026-11-03 10:00 UTC)),
        ];
        let mut rated = timed(2, -1, 10, Some(30), Some(24 * 60));
        rated.rating = Some(5);
        // Answered 30 minutes in, due in 15: a breach.
        rated.view.due.respond_by = rated
            .times
            .registered_at
            .map(|at| at + time::Duration::minutes(15));
        let mut rated_low = timed(3, -1, 12, None, Some(60));
        rated_low.rating = Some(2);
        // Categories by their labels; one whose category is no longer configured by its id.
        rated.category = Some("pos".into());
        rated_low.category = Some("pos".into());
        reopened.category = Some("net".into());
        // Registered in October, resolved in November: closed counts it, opened does not.
        let mut october = timed(5, -1, 28, Some(10), Some(5 * 24 * 60));
        october.times.registered_at = Some(datetime!(2026-10-28 10:00 UTC));
        october.times.first_response_at = Some(datetime!(2026-10-28 10:10 UTC));
        october.times.resolved_at = Some(datetime!(2026-11-02 10:00 UTC));
        // Answered 10 minutes in, due in 15: in time.
        let mut answered = timed(1, -1, 1, Some(10), None);
        answered.view.due.respond_by = answered
            .times
            .registered_at
            .map(|at| at + time::Duration::minutes(15));
        // Still open when the report is made, due on the 21st: a breach.
        let mut kazan = link(
            7,
            -1,
            Some("Acme Kazan"),
            TicketTimes {
                registered_at: Some(datetime!(2026-11-20 09:00 UTC)),
                ..TicketTimes::default()
            },
        );
        kazan.view.due.resolve_by = Some(datetime!(2026-11-21 09:00 UTC));
        let mut gone = timed(9, -2, 7, None, None);
        gone.category = Some("printers".into());
        let tickets = vec![
            gone,
            answered,
            rated,
            rated_low,
            reopened,
            october,
            // Another chat, and a branch of the first one.
            timed(6, -2, 5, Some(60), Some(120)),
            kazan,
            // Nothing happened in November.
            timed(8, -2, 1, None, None).tap_registered(datetime!(2026-12-01 00:00 UTC)),
        ];
        let rows = aggregate(&tickets, november(), &names(), None, december());
        insta::assert_snapshot!(table(&rows), @r"
        chat  company     opened  closed  reopened  first response median  first response p90  resolution median  resolution p90  ratings  rating mean  SLA breaches  by category
          -2  Globex           2       1         0                 1h 00m              1h 00m             2h 00m          2h 00m        0            —             0  printers 1
          -1  Acme             4       3         1                    10m                 30m             1d 00h          5d 00h        2         3.50             1  Касса 2, Сеть 1
          -1  Acme Kazan       1       0         0                      —                   —                  —               —        0            —             1  —
        ");
        let acme = &rows[1];
        assert_eq!(acme.first_response.count, 3);
        assert_eq!(acme.resolution.count, 3);
        assert_eq!(
            aggregate(&tickets, november(), &names(), Some(-2), december()).len(),
            1
        );
        insta::assert_snapshot!(csv(&rows[..1]), @r"
        chat,company,opened,closed,reopened,first_response_median_secs,first_response_p90_secs,resolution_median_secs,resolution_p90_secs,ratings,rating_mean,sla_breaches,by_category
        -2,Globex,2,1,0,3600,3600,7200,7200,0,,0,printers=1
        ");
        insta::assert_snapshot!(csv(&rows[1..2]).lines().nth(1).unwrap(), @"-1,Acme,4,3,1,600,1800,86400,432000,2,3.50,1,Касса=2;Сеть=1");
        assert_eq!(json_rows(&rows)[2]["sla_breaches"], 1);
        let json: serde_json::Value = serde_json::from_str(&json(&rows, november())).unwrap();
        assert_eq!(json["rows"][1]["rating_mean"], 3.5);
        assert_eq!(json["rows"][1]["by_category"]["Касса"], 2);
        assert_eq!(json["from"], "2026-11-01");
    }

    fn json_rows(rows: &[Row]) -> Vec<serde_json::Value> {
        let json: serde_json::Value = serde_json::from_str(&json(rows, november())).unwrap();
        json["rows"].as_array().unwrap().clone()
    }

    trait TapRegistered {
        fn tap_registered(self, at: OffsetDateTime) -> Self;
    }

    impl TapRegistered for TicketLink {
        fn tap_registered(mut self, at: OffsetDateTime) -> Self {
            self.times.registered_at = Some(at);
            self
        }
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(None), "—");
        assert_eq!(human(Some(59)), "0m");
        assert_eq!(human(Some(12 * 60)), "12m");
        assert_eq!(human(Some(3 * 3600 + 5 * 60)), "3h 05m");
        assert_eq!(human(Some(26 * 3600)), "1d 02h");
    }

    #[test]
    fn dates_read_in_either_spelling() {
        assert_eq!(parse_date("2026-11-21"), Some(date!(2026 - 11 - 21)));
        assert_eq!(parse_date("21.11.2026"), Some(date!(2026 - 11 - 21)));
        assert_eq!(parse_date("2026-11-01..2026-11-30"), None);
        assert_eq!(parse_date("yesterday"), None);
    }
}
