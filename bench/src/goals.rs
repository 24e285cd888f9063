//! The speed goals the bench measures, each printed as measured / target with a plain `met` or
//! `NOT met`. Ratios are against the raw insert rate measured in the same run; times only indicate.

use serde::Serialize;

/// Which way a goal is met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// Met when the measured value is at most the target.
    AtMost,
    /// Met when the measured value is at least the target.
    AtLeast,
}

/// One goal as measured in this run.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    pub goal: String,
    pub measured: f64,
    pub target: f64,
    /// `ms` or `x raw` (a ratio to the raw insert rate of the same run).
    pub unit: String,
    pub bound: Bound,
    pub met: bool,
}

impl Goal {
    /// A goal on a time in milliseconds: met at or under `target`.
    pub fn at_most_ms(goal: impl Into<String>, measured: f64, target: f64) -> Goal {
        Goal::new(goal, measured, target, "ms", Bound::AtMost)
    }

    /// A goal on a ratio to the raw insert rate: met at or over `target`.
    pub fn at_least_raw(goal: impl Into<String>, measured: f64, target: f64) -> Goal {
        Goal::new(goal, measured, target, "x raw", Bound::AtLeast)
    }

    /// A goal on a ratio to another figure of the run (not to the raw rate): met at or over.
    pub fn at_least_ratio(goal: impl Into<String>, measured: f64, target: f64, unit: &str) -> Goal {
        Goal::new(goal, measured, target, unit, Bound::AtLeast)
    }

    fn new(goal: impl Into<String>, measured: f64, target: f64, unit: &str, bound: Bound) -> Goal {
        let met = measured.is_finite()
            && match bound {
                Bound::AtMost => measured <= target,
                Bound::AtLeast => measured >= target,
            };
        Goal {
            goal: goal.into(),
            measured,
            target,
            unit: unit.to_string(),
            bound,
            met,
        }
    }

    fn measured_text(&self) -> String {
        match self.unit.as_str() {
            "ms" => format!("{:.3} ms", self.measured),
            "x raw" => format!("{:.2}×", self.measured),
            unit => format!("{:.2}× {unit}", self.measured),
        }
    }

    fn target_text(&self) -> String {
        let sign = match self.bound {
            Bound::AtMost => "≤",
            Bound::AtLeast => "≥",
        };
        match self.unit.as_str() {
            "ms" => format!("{sign} {} ms", self.target),
            "x raw" => format!("{sign} {:.1}× raw", self.target),
            unit => format!("{sign} {:.1}× {unit}", self.target),
        }
    }
}

/// The goals as lines: `goal  measured / target  met|NOT met`.
pub fn table(title: &str, goals: &[Goal]) -> String {
    let width = goals
        .iter()
        .map(|goal| goal.goal.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!("{title}\n");
    for goal in goals {
        let padding = " ".repeat(width - goal.goal.chars().count());
        out.push_str(&format!(
            "    {}{padding}  {:>12} / {:<14} {}\n",
            goal.goal,
            goal.measured_text(),
            goal.target_text(),
            if goal.met { "met" } else { "NOT met" }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goals_are_met_on_the_right_side_of_their_target() {
        assert!(Goal::at_most_ms("p50", 0.4, 0.5).met);
        assert!(!Goal::at_most_ms("p50", 0.6, 0.5).met);
        assert!(Goal::at_least_raw("100 people", 1.0, 1.0).met);
        assert!(!Goal::at_least_raw("100 people", 0.99, 1.0).met);
        assert!(!Goal::at_least_raw("nothing measured", f64::NAN, 1.0).met);
        let text = table(
            "Goals:",
            &[
                Goal::at_most_ms("p99", 3.0, 2.0),
                Goal::at_least_raw("one", 0.6, 0.5),
            ],
        );
        assert!(text.contains("3.000 ms / ≤ 2 ms"), "{text}");
        assert!(text.contains("NOT met"), "{text}");
        assert!(text.contains("0.60× / ≥ 0.5× raw"), "{text}");
    }
}
