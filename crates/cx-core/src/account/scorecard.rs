//! The composite customer score ("health") against the company's scorecard:
//! nine components, each normalised to 0–100 by a linear standard the company
//! sets, weighted by the company's weights, and graded A–D. A component without
//! data is left out and the other weights renormalised — missing is never
//! counted as zero — and the grade says `insufficient` when too little of the
//! weight had data. Each component reports the points it lost, so the reasons
//! an account is red come with the score.
//!
//! The scorecard is a JSON file the company writes ([`Scorecard::from_json`]):
//!
//! ```json
//! {"weights": {"nps": 30, "csat": 20, "relationship": 30, "complaints": 20},
//!  "standards": {"growth": {"worst": -30, "best": 30}},
//!  "grades": {"A": 85, "B": 70, "C": 55},
//!  "min_coverage": 0.4}
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use thiserror::Error;

/// One part of the composite score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// Net Promoter Score, −100…100.
    Nps,
    /// Customer satisfaction index, 0–100.
    Csat,
    /// Customer effort as an ease index, 0–100.
    Ces,
    /// Relationship score, 0–100.
    Relationship,
    /// Activity: days since the last purchase.
    Activity,
    /// Repeat purchases: orders in the trailing 12 months.
    Repeat,
    /// Sales growth, %.
    Growth,
    /// Customer lifetime value, money.
    Clv,
    /// Open complaints and negative feedback items, a count.
    Complaints,
}

/// The component names, as listed in error messages.
const COMPONENT_NAMES: &str =
    "nps, csat, ces, relationship, activity, repeat, growth, clv, complaints";

impl Component {
    /// All components, in report order.
    pub const ALL: [Component; 9] = [
        Component::Nps,
        Component::Csat,
        Component::Ces,
        Component::Relationship,
        Component::Activity,
        Component::Repeat,
        Component::Growth,
        Component::Clv,
        Component::Complaints,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Nps => "nps",
            Component::Csat => "csat",
            Component::Ces => "ces",
            Component::Relationship => "relationship",
            Component::Activity => "activity",
            Component::Repeat => "repeat",
            Component::Growth => "growth",
            Component::Clv => "clv",
            Component::Complaints => "complaints",
        }
    }

    /// Reads a snake_case name (case and surrounding space ignored).
    pub fn parse(text: &str) -> Option<Component> {
        let t = text.trim().to_lowercase();
        Component::ALL.into_iter().find(|c| c.as_str() == t)
    }

    /// The label in Chinese (`zh`) or English.
    pub fn label(self, zh: bool) -> &'static str {
        match (self, zh) {
            (Component::Nps, _) => "NPS",
            (Component::Csat, _) => "CSAT",
            (Component::Ces, true) => "CES(费力度)",
            (Component::Ces, false) => "CES",
            (Component::Relationship, true) => "关系",
            (Component::Relationship, false) => "Relationship",
            (Component::Activity, true) => "活跃度",
            (Component::Activity, false) => "Activity",
            (Component::Repeat, true) => "复购",
            (Component::Repeat, false) => "Repeat purchases",
            (Component::Growth, true) => "销售增长",
            (Component::Growth, false) => "Sales growth",
            (Component::Clv, true) => "客户终身价值",
            (Component::Clv, false) => "Lifetime value",
            (Component::Complaints, true) => "投诉与负面反馈",
            (Component::Complaints, false) => "Complaints & negative feedback",
        }
    }

    /// The weight in [`Scorecard::default`].
    pub fn default_weight(self) -> f64 {
        match self {
            Component::Nps | Component::Relationship => 20.0,
            Component::Csat => 15.0,
            Component::Activity | Component::Growth | Component::Clv => 10.0,
            Component::Ces | Component::Repeat | Component::Complaints => 5.0,
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Raw values for one account; `None` = no data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    /// NPS, −100…100.
    pub nps: Option<f64>,
    /// CSAT mean index, 0–100.
    pub csat: Option<f64>,
    /// CES ease index, 0–100.
    pub ces: Option<f64>,
    /// Relationship score, 0–100.
    pub relationship: Option<f64>,
    /// Days since the last purchase.
    pub days_since_purchase: Option<f64>,
    /// Orders in the trailing 12 months.
    pub orders_12m: Option<f64>,
    /// Sales growth, %.
    pub growth_pct: Option<f64>,
    /// Customer lifetime value, money in major units.
    pub clv: Option<f64>,
    /// Open complaints plus negative feedback items in the window.
    pub complaints: Option<f64>,
}

impl Inputs {
    /// The raw value behind `component`; NaN and infinities count as no data.
    pub fn raw(&self, component: Component) -> Option<f64> {
        let value = match component {
            Component::Nps => self.nps,
            Component::Csat => self.csat,
            Component::Ces => self.ces,
            Component::Relationship => self.relationship,
            Component::Activity => self.days_since_purchase,
            Component::Repeat => self.orders_12m,
            Component::Growth => self.growth_pct,
            Component::Clv => self.clv,
            Component::Complaints => self.complaints,
        };
        value.filter(|v| v.is_finite())
    }
}

/// A linear standard: a raw value at `worst` scores 0, at `best` 100, linearly
/// between and clipped to 0–100. `worst > best` means lower is better.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Standard {
    /// The raw value that scores 0.
    pub worst: f64,
    /// The raw value that scores 100.
    pub best: f64,
}

impl Standard {
    /// The default standard for `component`:
    ///
    /// | component | raw value | worst → 0 | best → 100 |
    /// |---|---|---|---|
    /// | nps | NPS | −100 | 100 |
    /// | csat | CSAT index | 0 | 100 |
    /// | ces | ease index | 0 | 100 |
    /// | relationship | relationship score | 0 | 100 |
    /// | activity | days since purchase | 365 | 30 |
    /// | repeat | orders in 12 months | 0 | 12 |
    /// | growth | sales growth % | −50 | 50 |
    /// | clv | lifetime value | 0 | — |
    /// | complaints | complaints + negative feedback | 4 | 0 |
    ///
    /// CLV has none (`None`): without a company standard it is scored by its
    /// percentile rank among the accounts scored together ([`score_all`]).
    pub fn default_for(component: Component) -> Option<Standard> {
        let (worst, best) = match component {
            Component::Nps => (-100.0, 100.0),
            Component::Csat | Component::Ces | Component::Relationship => (0.0, 100.0),
            Component::Activity => (365.0, 30.0),
            Component::Repeat => (0.0, 12.0),
            Component::Growth => (-50.0, 50.0),
            Component::Clv => return None,
            Component::Complaints => (4.0, 0.0),
        };
        Some(Standard { worst, best })
    }

    /// `value` on 0–100; `None` when the value or the standard is not finite,
    /// or the standard is flat (`worst == best`).
    pub fn normalise(self, value: f64) -> Option<f64> {
        let span = self.best - self.worst;
        if !(value.is_finite() && self.worst.is_finite() && span.is_finite()) || span == 0.0 {
            return None;
        }
        Some((100.0 * (value - self.worst) / span).clamp(0.0, 100.0))
    }
}

/// Grade thresholds: A at `a` or above, B at `b`, C at `c`, D below.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Grades {
    /// Lowest score graded A.
    #[serde(rename = "A")]
    pub a: f64,
    /// Lowest score graded B.
    #[serde(rename = "B")]
    pub b: f64,
    /// Lowest score graded C.
    #[serde(rename = "C")]
    pub c: f64,
}

impl Default for Grades {
    fn default() -> Self {
        Grades {
            a: 80.0,
            b: 65.0,
            c: 50.0,
        }
    }
}

impl Grades {
    /// The grade of a 0–100 score.
    pub fn grade(&self, score: f64) -> Grade {
        if score >= self.a {
            Grade::A
        } else if score >= self.b {
            Grade::B
        } else if score >= self.c {
            Grade::C
        } else {
            Grade::D
        }
    }
}

/// A composite score's grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Grade {
    /// At or above the A threshold.
    A,
    /// At or above the B threshold.
    B,
    /// At or above the C threshold.
    C,
    /// Below the C threshold.
    D,
    /// Too little of the weight had data to grade.
    #[serde(rename = "insufficient")]
    Insufficient,
}

impl Grade {
    /// The health a grade stands for: A and B healthy, C at risk, D critical.
    pub fn health(self) -> Health {
        match self {
            Grade::A | Grade::B => Health::Healthy,
            Grade::C => Health::AtRisk,
            Grade::D => Health::Critical,
            Grade::Insufficient => Health::Unknown,
        }
    }

    /// `A` … `D`, `insufficient`.
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
            Grade::D => "D",
            Grade::Insufficient => "insufficient",
        }
    }

    /// The label in Chinese (`zh`) or English.
    pub fn label(self, zh: bool) -> &'static str {
        match (self, zh) {
            (Grade::Insufficient, true) => "数据不足",
            (Grade::Insufficient, false) => "Not enough data",
            (grade, _) => grade.as_str(),
        }
    }
}

/// An account's health, from its grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Grade A or B.
    Healthy,
    /// Grade C.
    AtRisk,
    /// Grade D.
    Critical,
    /// Not enough data to grade.
    Unknown,
}

impl Health {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::AtRisk => "at_risk",
            Health::Critical => "critical",
            Health::Unknown => "unknown",
        }
    }

    /// The label in Chinese (`zh`) or English.
    pub fn label(self, zh: bool) -> &'static str {
        match (self, zh) {
            (Health::Healthy, true) => "健康",
            (Health::Healthy, false) => "Healthy",
            (Health::AtRisk, true) => "关注",
            (Health::AtRisk, false) => "At risk",
            (Health::Critical, true) => "危险",
            (Health::Critical, false) => "Critical",
            (Health::Unknown, true) => "数据不足",
            (Health::Unknown, false) => "Not enough data",
        }
    }
}

/// What is wrong with a scorecard file.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ScorecardError {
    /// Not JSON at all; serde's message says the line and column.
    #[error("the scorecard is not valid JSON: {0}")]
    Json(String),
    /// A value of the wrong JSON type.
    #[error("{at} must be {expected}")]
    WrongType {
        /// Where (`weights.nps`, `grades`, …).
        at: String,
        /// What it must be.
        expected: &'static str,
    },
    /// A key that means nothing there.
    #[error("unknown key {key:?} in {at}: use {expected}")]
    UnknownKey {
        /// Where.
        at: String,
        /// The key given.
        key: String,
        /// The keys allowed there.
        expected: &'static str,
    },
    /// A component name that does not exist.
    #[error("unknown component {name:?} in {at}: use one of {COMPONENT_NAMES}")]
    UnknownComponent {
        /// Where (`weights` or `standards`).
        at: &'static str,
        /// The name given.
        name: String,
    },
    /// The same component named twice (e.g. `nps` and `NPS`).
    #[error("{at}.{component} is given twice")]
    Duplicate {
        /// Where (`weights` or `standards`).
        at: &'static str,
        /// The component.
        component: Component,
    },
    /// A negative or non-finite weight.
    #[error("weights.{component} is {value}: a weight must be a finite number ≥ 0")]
    BadWeight {
        /// The component.
        component: Component,
        /// The weight given.
        value: f64,
    },
    /// Every weight is zero.
    #[error("all weights are zero: give at least one component a weight above 0")]
    AllWeightsZero,
    /// A grade threshold outside 0–100.
    #[error("grades.{grade} is {value}: a grade threshold must be between 0 and 100")]
    GradeOutOfRange {
        /// `A`, `B` or `C`.
        grade: &'static str,
        /// The threshold given.
        value: f64,
    },
    /// Grade thresholds that do not descend.
    #[error("grades must descend A > B > C, got A {a}, B {b}, C {c}")]
    GradesNotDescending {
        /// A threshold.
        a: f64,
        /// B threshold.
        b: f64,
        /// C threshold.
        c: f64,
    },
    /// A standard whose worst and best are the same value.
    #[error("standards.{component}: worst and best are both {value}; they must differ")]
    FlatStandard {
        /// The component.
        component: Component,
        /// The value of both.
        value: f64,
    },
    /// A standard with a non-finite end.
    #[error("standards.{component}: worst and best must be finite numbers")]
    StandardNotFinite {
        /// The component.
        component: Component,
    },
    /// A standard that leaves out an end that has no default.
    #[error(
        "standards.{component} needs \"best\" (it has no default; leave the standard out to score by percentile rank)"
    )]
    MissingBest {
        /// The component.
        component: Component,
    },
    /// A minimum coverage outside 0–1.
    #[error("min_coverage is {value}: it must be a share between 0 and 1 (e.g. 0.5)")]
    MinCoverage {
        /// The value given.
        value: f64,
    },
}

/// The company's scorecard: weights, standards, grade thresholds and the
/// share of the weight that must have data.
///
/// [`Scorecard::default`] weighs nps 20, csat 15, ces 5, relationship 20,
/// activity 10, repeat 5, growth 10, clv 10, complaints 5 (of 100); standards
/// as in [`Standard::default_for`]; grades A ≥ 80, B ≥ 65, C ≥ 50; minimum
/// coverage 0.5.
#[derive(Debug, Clone, PartialEq)]
pub struct Scorecard {
    /// Weight per component; a component not listed weighs 0.
    pub weights: Vec<(Component, f64)>,
    /// Standard per component; a component not listed uses
    /// [`Standard::default_for`].
    pub standards: Vec<(Component, Standard)>,
    /// Grade thresholds.
    pub grades: Grades,
    /// Share (0–1) of the total weight that must have data for a grade.
    pub min_coverage: f64,
}

impl Default for Scorecard {
    fn default() -> Self {
        Scorecard {
            weights: Component::ALL
                .iter()
                .map(|&c| (c, c.default_weight()))
                .collect(),
            standards: Component::ALL
                .iter()
                .filter_map(|&c| Standard::default_for(c).map(|s| (c, s)))
                .collect(),
            grades: Grades::default(),
            min_coverage: 0.5,
        }
    }
}

impl Scorecard {
    /// The weight of `component` (0 when not listed).
    pub fn weight(&self, component: Component) -> f64 {
        self.weights
            .iter()
            .find(|(c, _)| *c == component)
            .map_or(0.0, |&(_, w)| w)
    }

    /// The standard of `component`; `None` for CLV without a company standard.
    pub fn standard(&self, component: Component) -> Option<Standard> {
        self.standards
            .iter()
            .find(|(c, _)| *c == component)
            .map(|&(_, s)| s)
            .or_else(|| Standard::default_for(component))
    }

    /// Reads a scorecard file. Keys left out keep their defaults, except that
    /// components left out of a given `"weights"` weigh 0; a standard may give
    /// only `worst` or `best`, the other keeping its default.
    pub fn from_json(text: &str) -> Result<Scorecard, ScorecardError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| ScorecardError::Json(e.to_string()))?;
        let top = object(&value, "the scorecard")?;
        let mut card = Scorecard::default();
        for (key, v) in top {
            match key.as_str() {
                "weights" => card.weights = read_weights(v)?,
                "standards" => read_standards(v, &mut card.standards)?,
                "grades" => card.grades = read_grades(v, card.grades)?,
                "min_coverage" => card.min_coverage = number(v, "min_coverage")?,
                _ => {
                    return Err(ScorecardError::UnknownKey {
                        at: "the scorecard".into(),
                        key: key.clone(),
                        expected: "weights, standards, grades or min_coverage",
                    });
                }
            }
        }
        card.validate()?;
        Ok(card)
    }

    /// Checks weights, standards, grades and the minimum coverage.
    pub fn validate(&self) -> Result<(), ScorecardError> {
        for &(component, value) in &self.weights {
            if !value.is_finite() || value < 0.0 {
                return Err(ScorecardError::BadWeight { component, value });
            }
        }
        if Component::ALL.iter().all(|&c| self.weight(c) <= 0.0) {
            return Err(ScorecardError::AllWeightsZero);
        }
        for &(component, s) in &self.standards {
            if !(s.worst.is_finite() && s.best.is_finite()) {
                return Err(ScorecardError::StandardNotFinite { component });
            }
            if s.worst == s.best {
                return Err(ScorecardError::FlatStandard {
                    component,
                    value: s.worst,
                });
            }
        }
        let Grades { a, b, c } = self.grades;
        for (grade, value) in [("A", a), ("B", b), ("C", c)] {
            if !(0.0..=100.0).contains(&value) {
                return Err(ScorecardError::GradeOutOfRange { grade, value });
            }
        }
        if !(a > b && b > c) {
            return Err(ScorecardError::GradesNotDescending { a, b, c });
        }
        if !(0.0..=1.0).contains(&self.min_coverage) {
            return Err(ScorecardError::MinCoverage {
                value: self.min_coverage,
            });
        }
        Ok(())
    }

    /// The scorecard as a pretty JSON file that [`Scorecard::from_json`] reads
    /// back: every weight (0 for dropped components) and every standard in force.
    pub fn to_json(&self) -> String {
        let weights: Map<String, Value> = Component::ALL
            .iter()
            .map(|&c| (c.as_str().to_string(), json!(self.weight(c))))
            .collect();
        let standards: Map<String, Value> = Component::ALL
            .iter()
            .filter_map(|&c| {
                self.standard(c).map(|s| {
                    (
                        c.as_str().to_string(),
                        json!({"worst": s.worst, "best": s.best}),
                    )
                })
            })
            .collect();
        let value = json!({
            "weights": weights,
            "standards": standards,
            "grades": {"A": self.grades.a, "B": self.grades.b, "C": self.grades.c},
            "min_coverage": self.min_coverage,
        });
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}

fn object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, ScorecardError> {
    value.as_object().ok_or_else(|| ScorecardError::WrongType {
        at: at.to_string(),
        expected: "an object",
    })
}

fn number(value: &Value, at: &str) -> Result<f64, ScorecardError> {
    value.as_f64().ok_or_else(|| ScorecardError::WrongType {
        at: at.to_string(),
        expected: "a number",
    })
}

fn component(name: &str, at: &'static str) -> Result<Component, ScorecardError> {
    Component::parse(name).ok_or_else(|| ScorecardError::UnknownComponent {
        at,
        name: name.to_string(),
    })
}

/// All components, with the weight given or 0.
fn read_weights(value: &Value) -> Result<Vec<(Component, f64)>, ScorecardError> {
    let mut given: Vec<(Component, f64)> = Vec::new();
    for (name, w) in object(value, "weights")? {
        let c = component(name, "weights")?;
        if given.iter().any(|(g, _)| *g == c) {
            return Err(ScorecardError::Duplicate {
                at: "weights",
                component: c,
            });
        }
        given.push((c, number(w, &format!("weights.{name}"))?));
    }
    Ok(Component::ALL
        .iter()
        .map(|&c| {
            let w = given.iter().find(|(g, _)| *g == c).map_or(0.0, |&(_, w)| w);
            (c, w)
        })
        .collect())
}

/// Overrides the standards given, keeping `standards` in component order.
fn read_standards(
    value: &Value,
    standards: &mut Vec<(Component, Standard)>,
) -> Result<(), ScorecardError> {
    let mut seen: Vec<Component> = Vec::new();
    for (name, s) in object(value, "standards")? {
        let c = component(name, "standards")?;
        if seen.contains(&c) {
            return Err(ScorecardError::Duplicate {
                at: "standards",
                component: c,
            });
        }
        seen.push(c);
        let at = format!("standards.{name}");
        let (mut worst, mut best) = (None, None);
        for (key, v) in object(s, &at)? {
            match key.as_str() {
                "worst" => worst = Some(number(v, &format!("{at}.worst"))?),
                "best" => best = Some(number(v, &format!("{at}.best"))?),
                _ => {
                    return Err(ScorecardError::UnknownKey {
                        at,
                        key: key.clone(),
                        expected: "worst or best",
                    });
                }
            }
        }
        let current = standards
            .iter()
            .find(|(g, _)| *g == c)
            .map(|&(_, s)| s)
            .or_else(|| Standard::default_for(c));
        // CLV's worst is 0 (no value); its best has no default.
        let worst = worst.unwrap_or(current.map_or(0.0, |s| s.worst));
        let best = best
            .or(current.map(|s| s.best))
            .ok_or(ScorecardError::MissingBest { component: c })?;
        standards.retain(|(g, _)| *g != c);
        standards.push((c, Standard { worst, best }));
    }
    standards.sort_by_key(|&(c, _)| c);
    Ok(())
}

/// Thresholds given override `current`; keys `A`, `B`, `C` (any case).
fn read_grades(value: &Value, current: Grades) -> Result<Grades, ScorecardError> {
    let mut grades = current;
    for (key, v) in object(value, "grades")? {
        let slot = match key.to_ascii_uppercase().as_str() {
            "A" => &mut grades.a,
            "B" => &mut grades.b,
            "C" => &mut grades.c,
            _ => {
                return Err(ScorecardError::UnknownKey {
                    at: "grades".into(),
                    key: key.clone(),
                    expected: "A, B or C",
                });
            }
        };
        *slot = number(v, &format!("grades.{key}"))?;
    }
    Ok(grades)
}

/// One component's part in an account's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentScore {
    /// The component.
    pub component: Component,
    /// The raw value; `None` = no data.
    pub raw: Option<f64>,
    /// The value on 0–100 (for CLV without a standard: its percentile rank).
    pub normalised: Option<f64>,
    /// The weight as configured.
    pub weight: f64,
    /// `weight / Σ weights of the present components`; 0 when missing.
    pub share: f64,
    /// `share · normalised`: its contribution to the score.
    pub points: f64,
    /// `share · (100 − normalised)`: the points it lost.
    pub lost: f64,
    /// No data: left out of the score.
    pub missing: bool,
}

/// An account's composite score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerScore {
    /// `Σ points`, 0–100; `None` when no component has data.
    pub score: Option<f64>,
    /// The grade; `insufficient` when coverage is below the scorecard's minimum.
    pub grade: Grade,
    /// The health the grade stands for.
    pub health: Health,
    /// `Σ weights of the present components / Σ all weights`.
    pub coverage: f64,
    /// Every component with a weight above 0, in [`Component::ALL`] order.
    pub components: Vec<ComponentScore>,
}

impl CustomerScore {
    /// Why the score is what it is: up to `n` present components that lost
    /// points, the biggest loss first (ties in [`Component::ALL`] order).
    pub fn reasons(&self, n: usize) -> Vec<&ComponentScore> {
        // Compared at 1e-9 points so equal losses reached by different
        // arithmetic tie rather than differ in the last bit.
        let key = |c: &ComponentScore| (c.lost * 1e9).round();
        let mut reasons: Vec<&ComponentScore> = self
            .components
            .iter()
            .filter(|c| !c.missing && c.lost > 0.0)
            .collect();
        reasons.sort_by(|a, b| {
            key(b)
                .total_cmp(&key(a))
                .then_with(|| a.component.cmp(&b.component))
        });
        reasons.truncate(n);
        reasons
    }
}

/// One account's composite score against `card`.
///
/// Components without data are left out and the other weights renormalised.
/// CLV uses the card's standard when it has one, otherwise `clv_rank` (a
/// percentile 0–100 among the accounts scored together, see [`score_all`]);
/// either way it needs the account's CLV.
pub fn score(inputs: &Inputs, card: &Scorecard, clv_rank: Option<f64>) -> CustomerScore {
    let mut components: Vec<ComponentScore> = Component::ALL
        .iter()
        .filter_map(|&component| {
            let weight = card.weight(component);
            if !(weight.is_finite() && weight > 0.0) {
                return None;
            }
            let raw = inputs.raw(component);
            let normalised = raw.and_then(|v| match card.standard(component) {
                Some(standard) => standard.normalise(v),
                None => clv_rank
                    .filter(|r| r.is_finite())
                    .map(|r| r.clamp(0.0, 100.0)),
            });
            Some(ComponentScore {
                component,
                raw,
                normalised,
                weight,
                share: 0.0,
                points: 0.0,
                lost: 0.0,
                missing: normalised.is_none(),
            })
        })
        .collect();
    let total: f64 = components.iter().map(|c| c.weight).sum();
    let present: f64 = components
        .iter()
        .filter(|c| !c.missing)
        .map(|c| c.weight)
        .sum();
    for c in &mut components {
        if let Some(x) = c.normalised {
            c.share = c.weight / present;
            c.points = c.share * x;
            c.lost = c.share * (100.0 - x);
        }
    }
    let coverage = if total > 0.0 { present / total } else { 0.0 };
    let score = (present > 0.0).then(|| components.iter().map(|c| c.points).sum::<f64>());
    let grade = match score {
        Some(s) if coverage >= card.min_coverage => card.grades.grade(s),
        _ => Grade::Insufficient,
    };
    CustomerScore {
        score,
        grade,
        health: grade.health(),
        coverage,
        components,
    }
}

/// Mid-rank percentiles, 0–100, of the values present (finite):
/// `100 · (below + (equal − 1) / 2) / (m − 1)` over the `m` values present,
/// where `below` counts values strictly lower and `equal` the values equal
/// (itself included). The lowest scores 0, the highest 100, ties share the
/// middle of their ranks; a lone value (or one everybody shares) scores 50.
pub fn percentile_ranks(values: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut sorted: Vec<f64> = values
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    sorted.sort_by(f64::total_cmp);
    let m = sorted.len();
    values
        .iter()
        .map(|v| {
            let v = v.filter(|v| v.is_finite())?;
            if m == 1 {
                return Some(50.0);
            }
            let below = sorted.partition_point(|x| *x < v);
            let equal = sorted.partition_point(|x| *x <= v) - below;
            Some(100.0 * (below as f64 + (equal as f64 - 1.0) / 2.0) / (m as f64 - 1.0))
        })
        .collect()
}

/// Scores accounts together: without a CLV standard on the card, each
/// account's CLV is scored by its [`percentile_ranks`] among the accounts that
/// have one.
pub fn score_all(inputs: &[Inputs], card: &Scorecard) -> Vec<CustomerScore> {
    let ranks = if card.standard(Component::Clv).is_none() {
        percentile_ranks(&inputs.iter().map(|i| i.clv).collect::<Vec<_>>())
    } else {
        vec![None; inputs.len()]
    };
    inputs
        .iter()
        .zip(ranks)
        .map(|(i, rank)| score(i, card, rank))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn full() -> Inputs {
        Inputs {
            nps: Some(40.0),
            csat: Some(80.0),
            ces: Some(60.0),
            relationship: Some(70.0),
            days_since_purchase: Some(97.0),
            orders_12m: Some(6.0),
            growth_pct: Some(10.0),
            clv: Some(123_456.0),
            complaints: Some(1.0),
        }
    }

    fn part(s: &CustomerScore, c: Component) -> &ComponentScore {
        s.components
            .iter()
            .find(|x| x.component == c)
            .expect("component")
    }

    #[test]
    fn every_component_present() {
        let s = score(&full(), &Scorecard::default(), Some(90.0));
        // Normalised: nps (40+100)/200 = 70; csat 80; ces 60; relationship 70;
        // activity (97−365)/(30−365) = 0.8 → 80; repeat 6/12 → 50;
        // growth (10+50)/100 → 60; clv rank 90; complaints (1−4)/(0−4) → 75.
        // Weights 20 15 5 20 10 5 10 10 5 (Σ 100):
        // 1400 + 1200 + 300 + 1400 + 800 + 250 + 600 + 900 + 375 = 7225 → 72.25.
        let expected = [70.0, 80.0, 60.0, 70.0, 80.0, 50.0, 60.0, 90.0, 75.0];
        assert_eq!(s.components.len(), 9);
        for (c, e) in s.components.iter().zip(expected) {
            assert!(close(c.normalised.expect("present"), e), "{c:?}");
            assert!(!c.missing);
        }
        assert!(close(s.score.expect("score"), 72.25), "{:?}", s.score);
        assert!(close(s.coverage, 1.0));
        assert_eq!(s.grade, Grade::B);
        assert_eq!(s.health, Health::Healthy);
        let nps = part(&s, Component::Nps);
        assert!(close(nps.share, 0.2) && close(nps.points, 14.0) && close(nps.lost, 6.0));
        assert_eq!(part(&s, Component::Clv).raw, Some(123_456.0));
        let points: f64 = s.components.iter().map(|c| c.points + c.lost).sum();
        assert!(close(points, 100.0));
    }

    #[test]
    fn reasons_by_points_lost() {
        let s = score(&full(), &Scorecard::default(), Some(90.0));
        // Lost: nps 0.2·30 = 6, relationship 0.2·30 = 6, growth 0.1·40 = 4,
        // csat 0.15·20 = 3, repeat 0.05·50 = 2.5, ces 0.05·40 = 2,
        // activity 0.1·20 = 2, complaints 0.05·25 = 1.25, clv 0.1·10 = 1.
        let order: Vec<Component> = s.reasons(20).iter().map(|c| c.component).collect();
        use Component::*;
        assert_eq!(
            order,
            [
                Nps,
                Relationship,
                Growth,
                Csat,
                Repeat,
                Ces,
                Activity,
                Complaints,
                Clv
            ]
        );
        let top: Vec<Component> = s.reasons(3).iter().map(|c| c.component).collect();
        assert_eq!(top, [Nps, Relationship, Growth]);
        // A perfect component lost nothing and is no reason.
        let perfect = Inputs {
            nps: Some(100.0),
            csat: Some(50.0),
            ..Inputs::default()
        };
        let s = score(&perfect, &Scorecard::default(), None);
        let order: Vec<Component> = s.reasons(5).iter().map(|c| c.component).collect();
        assert_eq!(order, [Csat]);
    }

    #[test]
    fn missing_components_are_renormalised() {
        let only = Inputs {
            nps: Some(40.0),
            csat: Some(80.0),
            ..Inputs::default()
        };
        let s = score(&only, &Scorecard::default(), None);
        // (20·70 + 15·80) / 35 = 2600 / 35 = 74.2857…
        assert!(
            close(s.score.expect("score"), 2600.0 / 35.0),
            "{:?}",
            s.score
        );
        // 35 of 100 weight present < 0.5: reported, but not graded.
        assert!(close(s.coverage, 0.35));
        assert_eq!(s.grade, Grade::Insufficient);
        assert_eq!(s.health, Health::Unknown);
        let nps = part(&s, Component::Nps);
        assert!(close(nps.share, 20.0 / 35.0) && close(nps.points, 40.0));
        let ces = part(&s, Component::Ces);
        assert!(ces.missing && ces.raw.is_none() && ces.share == 0.0 && ces.points == 0.0);
        // CLV has data but no rank and no standard: missing.
        let with_clv = Inputs {
            clv: Some(10.0),
            ..only.clone()
        };
        assert!(
            part(
                &score(&with_clv, &Scorecard::default(), None),
                Component::Clv
            )
            .missing
        );
        // Coverage at the minimum grades.
        let card = Scorecard {
            min_coverage: 0.35,
            ..Scorecard::default()
        };
        assert_eq!(score(&only, &card, None).grade, Grade::B);
        // Nothing at all.
        let s = score(&Inputs::default(), &Scorecard::default(), Some(50.0));
        assert_eq!(
            (s.score, s.grade, s.coverage),
            (None, Grade::Insufficient, 0.0)
        );
        // NaN is no data.
        let nan = Inputs {
            nps: Some(f64::NAN),
            csat: Some(80.0),
            ..Inputs::default()
        };
        assert!(part(&score(&nan, &Scorecard::default(), None), Component::Nps).missing);
    }

    #[test]
    fn zero_weights_are_left_out() {
        let card =
            Scorecard::from_json(r#"{"weights": {"nps": 1, "complaints": 1}}"#).expect("valid");
        let s = score(&full(), &card, None);
        let listed: Vec<Component> = s.components.iter().map(|c| c.component).collect();
        assert_eq!(listed, [Component::Nps, Component::Complaints]);
        // (70 + 75) / 2.
        assert!(close(s.score.expect("score"), 72.5));
    }

    #[test]
    fn standards_lower_is_better_and_clipped() {
        let complaints = Standard::default_for(Component::Complaints).expect("default");
        for (raw, expected) in [
            (0.0, 100.0),
            (1.0, 75.0),
            (2.0, 50.0),
            (4.0, 0.0),
            (9.0, 0.0),
        ] {
            assert_eq!(complaints.normalise(raw), Some(expected), "{raw}");
        }
        let activity = Standard::default_for(Component::Activity).expect("default");
        assert_eq!(activity.normalise(5.0), Some(100.0));
        assert_eq!(activity.normalise(365.0), Some(0.0));
        assert_eq!(activity.normalise(700.0), Some(0.0));
        assert!(close(activity.normalise(197.5).expect("value"), 50.0));
        let nps = Standard::default_for(Component::Nps).expect("default");
        assert_eq!(nps.normalise(150.0), Some(100.0));
        assert_eq!(nps.normalise(-150.0), Some(0.0));
        let flat = Standard {
            worst: 1.0,
            best: 1.0,
        };
        assert_eq!(flat.normalise(1.0), None);
        assert_eq!(nps.normalise(f64::INFINITY), None);
        assert_eq!(Standard::default_for(Component::Clv), None);
    }

    #[test]
    fn grade_thresholds() {
        let g = Grades::default();
        for (s, grade) in [
            (100.0, Grade::A),
            (80.0, Grade::A),
            (79.99, Grade::B),
            (65.0, Grade::B),
            (64.9, Grade::C),
            (50.0, Grade::C),
            (49.9, Grade::D),
            (0.0, Grade::D),
        ] {
            assert_eq!(g.grade(s), grade, "{s}");
        }
        assert_eq!(Grade::C.health(), Health::AtRisk);
        assert_eq!(Grade::D.health(), Health::Critical);
        assert_eq!(Health::AtRisk.label(true), "关注");
        assert_eq!(Health::Critical.label(false), "Critical");
        assert_eq!(Grade::Insufficient.label(true), "数据不足");
        assert_eq!(
            serde_json::to_string(&[Grade::A, Grade::Insufficient]).expect("serialises"),
            r#"["A","insufficient"]"#
        );
        assert_eq!(
            serde_json::to_string(&Health::AtRisk).expect("serialises"),
            r#""at_risk""#
        );
    }

    #[test]
    fn scorecard_from_json() {
        let card = Scorecard::from_json(
            r#"{"weights": {"nps": 30, "csat": 20, "relationship": 30, "complaints": 20},
                "standards": {"growth": {"worst": -30, "best": 30}},
                "grades": {"A": 85, "B": 70, "C": 55},
                "min_coverage": 0.4}"#,
        )
        .expect("valid");
        assert_eq!(card.weight(Component::Nps), 30.0);
        assert_eq!(card.weight(Component::Ces), 0.0);
        assert_eq!(card.weight(Component::Clv), 0.0);
        assert_eq!(
            card.standard(Component::Growth),
            Some(Standard {
                worst: -30.0,
                best: 30.0
            })
        );
        assert_eq!(
            card.standard(Component::Nps),
            Standard::default_for(Component::Nps)
        );
        assert_eq!(
            card.grades,
            Grades {
                a: 85.0,
                b: 70.0,
                c: 55.0
            }
        );
        assert_eq!(card.min_coverage, 0.4);
        // Empty file: the defaults.
        assert_eq!(
            Scorecard::from_json("{}").expect("valid"),
            Scorecard::default()
        );
        // A partial standard keeps the other end; a CLV standard needs best.
        let card = Scorecard::from_json(
            r#"{"standards": {"activity": {"best": 7}, "clv": {"best": 500000}}}"#,
        )
        .expect("valid");
        assert_eq!(
            card.standard(Component::Activity),
            Some(Standard {
                worst: 365.0,
                best: 7.0
            })
        );
        assert_eq!(
            card.standard(Component::Clv),
            Some(Standard {
                worst: 0.0,
                best: 500_000.0
            })
        );
        assert_eq!(card.weight(Component::Clv), 10.0, "weights keep defaults");
    }

    #[test]
    fn scorecard_errors_say_what_and_where() {
        for (text, message) in [
            (
                r#"{"weights": {"nsp": 10}}"#,
                "unknown component \"nsp\" in weights: use one of nps, csat, ces, relationship, activity, repeat, growth, clv, complaints",
            ),
            (
                r#"{"standards": {"loyalty": {"worst": 0, "best": 1}}}"#,
                "unknown component \"loyalty\" in standards: use one of nps, csat, ces, relationship, activity, repeat, growth, clv, complaints",
            ),
            (
                r#"{"weights": {"nps": -5}}"#,
                "weights.nps is -5: a weight must be a finite number ≥ 0",
            ),
            (
                r#"{"weights": {"nps": 0, "csat": 0}}"#,
                "all weights are zero: give at least one component a weight above 0",
            ),
            (
                r#"{"weights": {"nps": "high"}}"#,
                "weights.nps must be a number",
            ),
            (
                r#"{"weights": {"nps": 1, "NPS": 2}}"#,
                "weights.nps is given twice",
            ),
            (
                r#"{"grades": {"A": 60, "B": 70, "C": 55}}"#,
                "grades must descend A > B > C, got A 60, B 70, C 55",
            ),
            (
                r#"{"grades": {"A": 70, "B": 70, "C": 55}}"#,
                "grades must descend A > B > C, got A 70, B 70, C 55",
            ),
            (
                r#"{"grades": {"A": 120}}"#,
                "grades.A is 120: a grade threshold must be between 0 and 100",
            ),
            (
                r#"{"grades": {"D": 10}}"#,
                "unknown key \"D\" in grades: use A, B or C",
            ),
            (
                r#"{"standards": {"growth": {"worst": 5, "best": 5}}}"#,
                "standards.growth: worst and best are both 5; they must differ",
            ),
            (
                r#"{"standards": {"growth": {"wrost": 5}}}"#,
                "unknown key \"wrost\" in standards.growth: use worst or best",
            ),
            (
                r#"{"standards": {"clv": {"worst": 0}}}"#,
                "standards.clv needs \"best\" (it has no default; leave the standard out to score by percentile rank)",
            ),
            (
                r#"{"min_coverage": 40}"#,
                "min_coverage is 40: it must be a share between 0 and 1 (e.g. 0.5)",
            ),
            (
                r#"{"weight": {}}"#,
                "unknown key \"weight\" in the scorecard: use weights, standards, grades or min_coverage",
            ),
            (r#"[1, 2]"#, "the scorecard must be an object"),
        ] {
            let err = Scorecard::from_json(text).expect_err(text);
            assert_eq!(err.to_string(), message, "{text}");
        }
        let err = Scorecard::from_json("{\n  \"weights\": {\"nps\": 10,}\n}").expect_err("bad");
        assert!(matches!(err, ScorecardError::Json(_)));
        assert!(err.to_string().contains("line 2 column"), "{err}");
        let bad = Scorecard {
            weights: vec![(Component::Nps, f64::NAN)],
            ..Scorecard::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(ScorecardError::BadWeight { .. })
        ));
    }

    #[test]
    fn to_json_round_trips() {
        for card in [
            Scorecard::default(),
            Scorecard::from_json(
                r#"{"weights": {"nps": 30, "csat": 20.5, "clv": 10},
                    "standards": {"growth": {"worst": -30, "best": 30}, "clv": {"best": 1e6}},
                    "grades": {"A": 85, "B": 70, "C": 55.5}, "min_coverage": 0.4}"#,
            )
            .expect("valid"),
        ] {
            let text = card.to_json();
            assert_eq!(Scorecard::from_json(&text).expect(&text), card, "{text}");
        }
        let text = Scorecard::default().to_json();
        assert!(text.contains("\"complaints\": 5.0"), "{text}");
        assert!(
            !text.contains("\"clv\": {"),
            "no CLV standard by default: {text}"
        );
    }

    #[test]
    fn percentile_ranks_are_mid_ranks() {
        let ranks = percentile_ranks(&[
            Some(10.0),
            None,
            Some(20.0),
            Some(20.0),
            Some(40.0),
            Some(f64::NAN),
        ]);
        // m = 4: 10 → 0/3; 20 → (1 + 1/2)/3 = 50; 40 → 3/3.
        assert_eq!(
            ranks,
            [Some(0.0), None, Some(50.0), Some(50.0), Some(100.0), None]
        );
        assert_eq!(
            percentile_ranks(&[Some(3.0), Some(1.0), Some(2.0)]),
            [Some(100.0), Some(0.0), Some(50.0)]
        );
        assert_eq!(percentile_ranks(&[Some(7.0), None]), [Some(50.0), None]);
        assert_eq!(
            percentile_ranks(&[Some(7.0), Some(7.0), Some(7.0)]),
            [Some(50.0); 3]
        );
        // m = 5: 1 → 0; 2, 2 → (1 + 1/2)/4 = 37.5; 3 → 75; 4 → 100.
        assert_eq!(
            percentile_ranks(&[Some(1.0), Some(2.0), Some(2.0), Some(3.0), Some(4.0)]),
            [Some(0.0), Some(37.5), Some(37.5), Some(75.0), Some(100.0)]
        );
    }

    #[test]
    fn score_all_ranks_clv_among_accounts() {
        let only_clv = |clv: Option<f64>| Inputs {
            clv,
            ..Inputs::default()
        };
        let card = Scorecard::from_json(r#"{"weights": {"clv": 1}}"#).expect("valid");
        let inputs = [
            only_clv(Some(100.0)),
            only_clv(None),
            only_clv(Some(300.0)),
            only_clv(Some(200.0)),
        ];
        let scores: Vec<Option<f64>> = score_all(&inputs, &card).iter().map(|s| s.score).collect();
        assert_eq!(scores, [Some(0.0), None, Some(100.0), Some(50.0)]);
        // With a CLV standard the rank is not used.
        let card =
            Scorecard::from_json(r#"{"weights": {"clv": 1}, "standards": {"clv": {"best": 400}}}"#)
                .expect("valid");
        let scores: Vec<Option<f64>> = score_all(&inputs, &card).iter().map(|s| s.score).collect();
        assert_eq!(scores, [Some(25.0), None, Some(75.0), Some(50.0)]);
    }

    #[test]
    fn component_names_and_labels() {
        for c in Component::ALL {
            assert_eq!(Component::parse(c.as_str()), Some(c));
            assert_eq!(
                serde_json::to_string(&c).expect("serialises"),
                format!("\"{}\"", c.as_str())
            );
        }
        assert_eq!(Component::parse(" NPS "), Some(Component::Nps));
        assert_eq!(Component::parse("loyalty"), None);
        let names: Vec<&str> = Component::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.join(", "), COMPONENT_NAMES);
        let total: f64 = Component::ALL.iter().map(|c| c.default_weight()).sum();
        assert_eq!(total, 100.0);
        assert_eq!(Component::Ces.label(true), "CES(费力度)");
        assert_eq!(
            Component::Complaints.label(false),
            "Complaints & negative feedback"
        );
        assert_eq!(Component::Clv.label(true), "客户终身价值");
    }
}
