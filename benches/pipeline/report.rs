//! Figures as they are measured (one JSON line each) and the table at the end.

use serde_json::json;

/// What the issue asks of a figure.
#[derive(Clone, Copy, Debug)]
pub enum Goal {
    AtMost(f64),
    AtLeast(f64),
}

impl Goal {
    fn met_by(self, value: f64) -> bool {
        match self {
            Goal::AtMost(limit) => value <= limit,
            Goal::AtLeast(limit) => value >= limit,
        }
    }

    fn text(self, unit: &str) -> String {
        match self {
            Goal::AtMost(limit) => format!("≤ {} {unit}", number(limit)),
            Goal::AtLeast(limit) => format!("≥ {} {unit}", number(limit)),
        }
    }
}

struct Figure {
    scenario: String,
    name: String,
    value: f64,
    unit: &'static str,
    goal: Option<Goal>,
    note: String,
}

#[derive(Default)]
pub struct Report {
    figures: Vec<Figure>,
}

fn number(value: f64) -> String {
    if (value.fract() == 0.0 && value.abs() < 1e15) || value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

impl Report {
    /// Records a figure and prints its JSON line at once, so a long run shows progress and a run
    /// cut short still leaves what it measured.
    pub fn add(
        &mut self,
        scenario: &str,
        name: &str,
        value: f64,
        unit: &'static str,
        goal: Option<Goal>,
        note: impl Into<String>,
    ) {
        let note = note.into();
        println!(
            "{}",
            json!({
                "scenario": scenario,
                "figure": name,
                "value": (value * 1000.0).round() / 1000.0,
                "unit": unit,
                "goal": goal.map(|g| g.text(unit)),
                "meets": goal.map(|g| g.met_by(value)),
                "note": note,
            })
        );
        self.figures.push(Figure {
            scenario: scenario.to_owned(),
            name: name.to_owned(),
            value,
            unit,
            goal,
            note,
        });
    }

    /// The table of every figure, in the order measured (Markdown, for BENCHMARKS.md).
    pub fn print_table(&self) {
        println!();
        println!("| scenario | figure | value | goal | meets | note |");
        println!("|---|---|---:|---|---|---|");
        for f in &self.figures {
            println!(
                "| {} | {} | {} {} | {} | {} | {} |",
                f.scenario,
                f.name,
                number(f.value),
                f.unit,
                f.goal.map(|g| g.text(f.unit)).unwrap_or_default(),
                match f.goal.map(|g| g.met_by(f.value)) {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "",
                },
                f.note,
            );
        }
    }
}

/// The `p`-quantile (0..=1) of `sorted` by the nearest-rank method.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
