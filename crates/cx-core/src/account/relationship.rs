//! Relationship scores (SPEC §1): each key person at an account is rated −2…+2
//! per period on the seven [`RELATIONSHIP_DIMENSIONS`]; a person's score is
//! their mean rating mapped onto 0–100, and the account's score is the
//! influence-weighted mean over its key people. Alongside the score come the
//! warnings an account manager acts on: a decision maker who prefers a
//! competitor, a key person nobody has talked to for months, a buying role no
//! contact covers.
//!
//! Ratings are assessed by the account team or derived from data
//! ([`derive_satisfaction`], [`derive_loyalty`], [`derive_engagement`]);
//! [`merge_ratings`] lets the assessment win and remembers which were derived.

use serde::{Deserialize, Serialize};

use crate::model::customer::{ContactRole, RELATIONSHIP_DIMENSIONS};

/// Position of `competitive_preference` in [`RELATIONSHIP_DIMENSIONS`].
const COMPETITIVE_PREFERENCE: usize = 6;

/// Days without contact after which a key person counts as not contacted.
pub const DEFAULT_STALE_DAYS: i32 = 90;

/// The buying roles an account should have a contact for.
pub const DEFAULT_REQUIRED_ROLES: [ContactRole; 5] = [
    ContactRole::DecisionMaker,
    ContactRole::Influencer,
    ContactRole::TechnicalEvaluator,
    ContactRole::Purchaser,
    ContactRole::User,
];

/// A key person at an account with their ratings for one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    /// The contact's code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Role in buying decisions.
    pub role: Option<ContactRole>,
    /// Influence weight, 0–1; NaN, infinite or negative counts as 0.
    pub influence: f64,
    /// Ratings −2…+2 in the order of [`RELATIONSHIP_DIMENSIONS`]; `None` = not
    /// rated. Values outside −2…+2 are clipped to it.
    pub ratings: [Option<i8>; 7],
    /// `derived[i]`: rating `i` was derived from data rather than assessed.
    #[serde(default)]
    pub derived: [bool; 7],
    /// Day number (days since 1970-01-01) of the last interaction with this
    /// person or their account; `None` = never.
    #[serde(default)]
    pub last_contact_day: Option<i32>,
}

/// Satisfaction from a CSAT answer on `1..=scale`: mapped linearly onto −2…+2
/// and rounded half away from zero (scale 5: 1 → −2 … 5 → +2; scale 7: 4 → 0,
/// 5 → +1). Answers outside the scale are clipped to it; a scale below 2
/// points gives 0.
pub fn derive_satisfaction(csat_value: u8, scale: u8) -> i8 {
    if scale < 2 {
        return 0;
    }
    let top = i32::from(scale) - 1;
    let step = i32::from(csat_value.clamp(1, scale)) - 1;
    // −2 + 4·step/top as the fraction num/top, rounded in integers so that an
    // exact half (scale 9, answer 2: −1.5) is never nudged by floating point.
    let num = 4 * step - 2 * top;
    let rounded = (2 * num.abs() + top) / (2 * top);
    (num.signum() * rounded) as i8
}

/// Loyalty from a 0–10 likelihood-to-recommend answer: promoters (9–10) +2,
/// passives (7–8) +1, and detractors split by how far below they are: 5–6 → 0,
/// 3–4 → −1, 0–2 → −2. Answers above 10 count as 10.
pub fn derive_loyalty(nps_value: u8) -> i8 {
    match nps_value {
        9.. => 2,
        7..=8 => 1,
        5..=6 => 0,
        3..=4 => -1,
        _ => -2,
    }
}

/// Engagement from the number of interactions in the period: 0 → −2, 1 → −1,
/// 2 → 0, 3–4 → +1, 5 or more → +2.
pub fn derive_engagement(interactions_in_period: u32) -> i8 {
    match interactions_in_period {
        0 => -2,
        1 => -1,
        2 => 0,
        3..=4 => 1,
        _ => 2,
    }
}

/// Merges assessed and derived ratings: the assessment wins per dimension, a
/// derived rating fills a gap and sets that dimension's `derived` flag.
pub fn merge_ratings(
    assessed: [Option<i8>; 7],
    derived: [Option<i8>; 7],
) -> ([Option<i8>; 7], [bool; 7]) {
    let mut ratings = assessed;
    let mut flags = [false; 7];
    for ((rating, flag), from_data) in ratings.iter_mut().zip(&mut flags).zip(derived) {
        if rating.is_none() && from_data.is_some() {
            *rating = from_data;
            *flag = true;
        }
    }
    (ratings, flags)
}

/// What [`account_relationship`] checks against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationshipSettings {
    /// A key person last contacted more than this many days ago is flagged
    /// (default [`DEFAULT_STALE_DAYS`]).
    #[serde(default = "default_stale_days")]
    pub stale_days: i32,
    /// Roles some contact should hold (default [`DEFAULT_REQUIRED_ROLES`]).
    #[serde(default = "default_required_roles")]
    pub required_roles: Vec<ContactRole>,
    /// Today, as a day number (days since 1970-01-01).
    pub today: i32,
}

fn default_stale_days() -> i32 {
    DEFAULT_STALE_DAYS
}

fn default_required_roles() -> Vec<ContactRole> {
    DEFAULT_REQUIRED_ROLES.to_vec()
}

impl RelationshipSettings {
    /// The default settings as of `today` (a day number).
    pub fn new(today: i32) -> RelationshipSettings {
        RelationshipSettings {
            stale_days: DEFAULT_STALE_DAYS,
            required_roles: default_required_roles(),
            today,
        }
    }
}

/// Where a person stands towards us, from their mean rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stance {
    /// Mean rating ≥ +0.5.
    Supporter,
    /// Mean rating between −0.5 and +0.5.
    Neutral,
    /// Mean rating ≤ −0.5.
    Opponent,
    /// No ratings.
    Unknown,
}

impl Stance {
    /// The stance for a mean rating on −2…+2; `None` = not rated.
    pub fn from_mean(mean: Option<f64>) -> Stance {
        match mean {
            Some(m) if m >= 0.5 => Stance::Supporter,
            Some(m) if m <= -0.5 => Stance::Opponent,
            Some(_) => Stance::Neutral,
            None => Stance::Unknown,
        }
    }

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stance::Supporter => "supporter",
            Stance::Neutral => "neutral",
            Stance::Opponent => "opponent",
            Stance::Unknown => "unknown",
        }
    }

    /// The label in Chinese (`zh`) or English.
    pub fn label(self, zh: bool) -> &'static str {
        match (self, zh) {
            (Stance::Supporter, true) => "支持者",
            (Stance::Supporter, false) => "Supporter",
            (Stance::Neutral, true) => "中立",
            (Stance::Neutral, false) => "Neutral",
            (Stance::Opponent, true) => "反对者",
            (Stance::Opponent, false) => "Opponent",
            (Stance::Unknown, true) => "未评估",
            (Stance::Unknown, false) => "Not assessed",
        }
    }
}

/// A role's label in Chinese (`zh`) or English (capitalised, to start a sentence).
pub fn role_label(role: ContactRole, zh: bool) -> &'static str {
    match (role, zh) {
        (ContactRole::DecisionMaker, true) => "决策者",
        (ContactRole::DecisionMaker, false) => "Decision maker",
        (ContactRole::Influencer, true) => "影响者",
        (ContactRole::Influencer, false) => "Influencer",
        (ContactRole::TechnicalEvaluator, true) => "技术评估者",
        (ContactRole::TechnicalEvaluator, false) => "Technical evaluator",
        (ContactRole::Purchaser, true) => "采购",
        (ContactRole::Purchaser, false) => "Purchaser",
        (ContactRole::User, true) => "使用者",
        (ContactRole::User, false) => "User",
        (ContactRole::Gatekeeper, true) => "把关者",
        (ContactRole::Gatekeeper, false) => "Gatekeeper",
    }
}

/// One person's relationship figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonScore {
    /// The contact's code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Role in buying decisions.
    pub role: Option<ContactRole>,
    /// Influence weight as used (NaN, infinite or negative → 0).
    pub influence: f64,
    /// `100 · (mean + 2) / 4` over the rated dimensions, 0–100; `None` = not rated.
    pub score: Option<f64>,
    /// Where the person stands.
    pub stance: Stance,
    /// Ratings −2…+2 (clipped), in the order of [`RELATIONSHIP_DIMENSIONS`].
    pub ratings: [Option<i8>; 7],
    /// `derived[i]`: rating `i` was derived from data.
    pub derived: [bool; 7],
    /// Days since the last contact (0 when it is dated after today); `None` = never.
    pub days_since_contact: Option<i32>,
}

/// One dimension's figures over an account's people.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DimensionScore {
    /// The dimension's name (from [`RELATIONSHIP_DIMENSIONS`]).
    pub dimension: &'static str,
    /// People who rated it.
    pub n: usize,
    /// Influence-weighted mean rating on −2…+2; `None` = nobody rated it.
    pub mean: Option<f64>,
    /// The mean on 0–100.
    pub score: Option<f64>,
}

/// A warning about an account's relationship.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Flag {
    /// A decision maker (or anyone with influence ≥ 0.5) rates their
    /// competitive preference below 0.
    CompetitorPreferred {
        /// The contact's code.
        contact: String,
        /// Name.
        name: String,
        /// Role.
        role: Option<ContactRole>,
    },
    /// A key person (decision maker, or influence ≥ 0.5) last contacted more
    /// than `stale_days` ago, or never.
    NotContacted {
        /// The contact's code.
        contact: String,
        /// Name.
        name: String,
        /// Days since the last contact; `None` = never.
        days: Option<i32>,
    },
    /// A required role that no contact holds.
    CoverageGap {
        /// The uncovered role.
        role: ContactRole,
    },
    /// Nobody at the account has any rating.
    NotAssessed,
}

impl Flag {
    /// The warning as a sentence in Chinese (`zh`) or English.
    pub fn message(&self, zh: bool) -> String {
        match self {
            Flag::CompetitorPreferred {
                contact,
                name,
                role,
            } => {
                let who = display_name(name, contact);
                let role = match (role, zh) {
                    (Some(r), _) => role_label(*r, zh),
                    (None, true) => "关键人",
                    (None, false) => "Key person",
                };
                if zh {
                    format!("{role} {who} 更倾向竞争对手")
                } else {
                    format!("{role} {who} prefers a competitor")
                }
            }
            Flag::NotContacted {
                contact,
                name,
                days,
            } => {
                let who = display_name(name, contact);
                match (days, zh) {
                    (Some(d), true) => format!("已 {d} 天未联系 {who}"),
                    (Some(1), false) => format!("{who} has not been contacted for 1 day"),
                    (Some(d), false) => format!("{who} has not been contacted for {d} days"),
                    (None, true) => format!("从未联系过 {who}"),
                    (None, false) => format!("{who} has never been contacted"),
                }
            }
            Flag::CoverageGap { role } => {
                if zh {
                    format!("没有担任{}角色的联系人", role_label(*role, true))
                } else {
                    format!("No contact covers the {} role", role_label(*role, false))
                }
            }
            Flag::NotAssessed => {
                if zh {
                    "尚未评估任何关键人的关系".to_string()
                } else {
                    "No key person's relationship has been assessed yet".to_string()
                }
            }
        }
    }
}

/// The name, or the code when the name is blank.
fn display_name<'a>(name: &'a str, code: &'a str) -> &'a str {
    if name.trim().is_empty() { code } else { name }
}

/// An account's relationship figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountRelationship {
    /// Influence-weighted mean of the people's scores, 0–100; `None` = nobody rated.
    pub score: Option<f64>,
    /// People, by influence (highest first), then code.
    pub people: Vec<PersonScore>,
    /// The seven dimensions, in the order of [`RELATIONSHIP_DIMENSIONS`].
    pub dimensions: Vec<DimensionScore>,
    /// Warnings: competitor preferred, not contacted, coverage gaps, not assessed.
    pub flags: Vec<Flag>,
    /// People with a score.
    pub assessed: usize,
}

/// The account's relationship over its `people`.
///
/// The account score is `Σ wᵢ·scoreᵢ / Σ wᵢ` over the people with a score,
/// `w` = influence; when every one of them has influence 0 the people count
/// equally. Each dimension's mean is weighted the same way over the people who
/// rated it.
pub fn account_relationship(
    people: &[Person],
    settings: &RelationshipSettings,
) -> AccountRelationship {
    let mut scored: Vec<PersonScore> = people
        .iter()
        .map(|p| person_score(p, settings.today))
        .collect();
    scored.sort_by(|a, b| {
        b.influence
            .total_cmp(&a.influence)
            .then_with(|| a.code.cmp(&b.code))
    });
    let scores: Vec<(f64, f64)> = scored
        .iter()
        .filter_map(|p| p.score.map(|s| (p.influence, s)))
        .collect();
    let dimensions = RELATIONSHIP_DIMENSIONS
        .iter()
        .enumerate()
        .map(|(i, &dimension)| {
            let rated: Vec<(f64, f64)> = scored
                .iter()
                .filter_map(|p| p.ratings[i].map(|r| (p.influence, f64::from(r))))
                .collect();
            let mean = weighted_mean(&rated);
            DimensionScore {
                dimension,
                n: rated.len(),
                mean,
                score: mean.map(to_score),
            }
        })
        .collect();
    AccountRelationship {
        score: weighted_mean(&scores),
        flags: flags(&scored, settings),
        dimensions,
        assessed: scores.len(),
        people: scored,
    }
}

fn person_score(person: &Person, today: i32) -> PersonScore {
    let ratings = person.ratings.map(|r| r.map(|v| v.clamp(-2, 2)));
    let rated: Vec<f64> = ratings.iter().flatten().map(|&r| f64::from(r)).collect();
    let mean = (!rated.is_empty()).then(|| rated.iter().sum::<f64>() / rated.len() as f64);
    PersonScore {
        code: person.code.clone(),
        name: person.name.clone(),
        role: person.role,
        influence: clean_influence(person.influence),
        score: mean.map(to_score),
        stance: Stance::from_mean(mean),
        ratings,
        derived: person.derived,
        days_since_contact: person
            .last_contact_day
            .map(|day| today.saturating_sub(day).max(0)),
    }
}

/// A mean rating on −2…+2 as 0–100.
fn to_score(mean: f64) -> f64 {
    100.0 * (mean + 2.0) / 4.0
}

fn clean_influence(influence: f64) -> f64 {
    if influence.is_finite() && influence > 0.0 {
        influence
    } else {
        0.0
    }
}

/// `Σ w·x / Σ w` over `(w, x)` pairs; the plain mean when every weight is 0.
fn weighted_mean(items: &[(f64, f64)]) -> Option<f64> {
    if items.is_empty() {
        return None;
    }
    // Scaling by the largest weight keeps the sums finite for any finite weights.
    let top = items.iter().map(|&(w, _)| w).fold(0.0, f64::max);
    if top > 0.0 {
        let total: f64 = items.iter().map(|&(w, _)| w / top).sum();
        Some(items.iter().map(|&(w, x)| w / top * x).sum::<f64>() / total)
    } else {
        Some(items.iter().map(|&(_, x)| x).sum::<f64>() / items.len() as f64)
    }
}

/// A decision maker, or anyone with influence ≥ 0.5.
fn is_key(person: &PersonScore) -> bool {
    person.role == Some(ContactRole::DecisionMaker) || person.influence >= 0.5
}

fn flags(people: &[PersonScore], settings: &RelationshipSettings) -> Vec<Flag> {
    let mut flags: Vec<Flag> = people
        .iter()
        .filter(|p| is_key(p) && p.ratings[COMPETITIVE_PREFERENCE].is_some_and(|r| r < 0))
        .map(|p| Flag::CompetitorPreferred {
            contact: p.code.clone(),
            name: p.name.clone(),
            role: p.role,
        })
        .collect();
    flags.extend(
        people
            .iter()
            .filter(|p| {
                is_key(p)
                    && p.days_since_contact
                        .is_none_or(|days| days > settings.stale_days)
            })
            .map(|p| Flag::NotContacted {
                contact: p.code.clone(),
                name: p.name.clone(),
                days: p.days_since_contact,
            }),
    );
    let mut gaps: Vec<ContactRole> = Vec::new();
    for &role in &settings.required_roles {
        if !gaps.contains(&role) && !people.iter().any(|p| p.role == Some(role)) {
            gaps.push(role);
        }
    }
    flags.extend(gaps.into_iter().map(|role| Flag::CoverageGap { role }));
    if people.iter().all(|p| p.score.is_none()) {
        flags.push(Flag::NotAssessed);
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: i32 = 20_000;

    fn person(code: &str, role: Option<ContactRole>, influence: f64) -> Person {
        Person {
            code: code.into(),
            name: code.to_uppercase(),
            role,
            influence,
            ratings: [None; 7],
            derived: [false; 7],
            last_contact_day: Some(TODAY - 10),
        }
    }

    /// A decision maker all +2, a technical evaluator with mean 0 over four
    /// dimensions, a user all −1.
    fn three_people() -> Vec<Person> {
        let mut a = person("a", Some(ContactRole::DecisionMaker), 0.5);
        a.ratings = [Some(2); 7];
        let mut b = person("b", Some(ContactRole::TechnicalEvaluator), 0.3);
        b.ratings = [Some(1), Some(-1), Some(0), Some(0), None, None, None];
        let mut c = person("c", Some(ContactRole::User), 0.2);
        c.ratings = [Some(-1); 7];
        // Out of order on purpose: the output sorts by influence.
        vec![c, a, b]
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn competitive_preference_is_the_seventh_dimension() {
        assert_eq!(
            RELATIONSHIP_DIMENSIONS[COMPETITIVE_PREFERENCE],
            "competitive_preference"
        );
    }

    #[test]
    fn account_score_is_influence_weighted() {
        let r = account_relationship(&three_people(), &RelationshipSettings::new(TODAY));
        let codes: Vec<&str> = r.people.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes, ["a", "b", "c"]);
        // A: mean +2 → 100; B: mean 0 → 50; C: mean −1 → 25.
        assert!(close(r.people[0].score, 100.0));
        assert!(close(r.people[1].score, 50.0));
        assert!(close(r.people[2].score, 25.0));
        // 0.5·100 + 0.3·50 + 0.2·25 = 50 + 15 + 5 = 70 (weights sum to 1).
        assert!(close(r.score, 70.0), "{:?}", r.score);
        assert_eq!(r.assessed, 3);
        assert_eq!(
            [r.people[0].stance, r.people[1].stance, r.people[2].stance],
            [Stance::Supporter, Stance::Neutral, Stance::Opponent]
        );
        assert_eq!(r.people[2].days_since_contact, Some(10));
    }

    #[test]
    fn dimension_means_are_weighted_over_raters() {
        let r = account_relationship(&three_people(), &RelationshipSettings::new(TODAY));
        assert_eq!(r.dimensions.len(), 7);
        let names: Vec<&str> = r.dimensions.iter().map(|d| d.dimension).collect();
        assert_eq!(names, RELATIONSHIP_DIMENSIONS);
        // satisfaction: 0.5·2 + 0.3·1 + 0.2·(−1) = 1.1 → 100·3.1/4 = 77.5.
        let d = &r.dimensions[0];
        assert_eq!(d.n, 3);
        assert!(close(d.mean, 1.1) && close(d.score, 77.5));
        // loyalty: 0.5·2 + 0.3·(−1) + 0.2·(−1) = 0.5 → 62.5.
        assert!(close(r.dimensions[1].mean, 0.5) && close(r.dimensions[1].score, 62.5));
        // engagement: 0.5·2 + 0.3·0 + 0.2·(−1) = 0.8 → 70.
        assert!(close(r.dimensions[2].mean, 0.8) && close(r.dimensions[2].score, 70.0));
        // daily_guidance, B did not rate: (0.5·2 + 0.2·(−1)) / 0.7 = 0.8/0.7.
        let d = &r.dimensions[4];
        assert_eq!(d.n, 2);
        assert!(close(d.mean, 0.8 / 0.7));
        assert!(close(d.score, 25.0 * (0.8 / 0.7 + 2.0)));
    }

    #[test]
    fn zero_or_invalid_influences_count_equally() {
        let mut people = three_people();
        people[0].influence = 0.0;
        people[1].influence = f64::NAN;
        people[2].influence = -1.0;
        let r = account_relationship(&people, &RelationshipSettings::new(TODAY));
        // (100 + 50 + 25) / 3.
        assert!(close(r.score, 175.0 / 3.0), "{:?}", r.score);
        assert!(r.people.iter().all(|p| p.influence == 0.0));
        // Equal influence: ordered by code.
        let codes: Vec<&str> = r.people.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes, ["a", "b", "c"]);
        // satisfaction (2 + 1 − 1) / 3.
        assert!(close(r.dimensions[0].mean, 2.0 / 3.0));
    }

    #[test]
    fn unrated_people_carry_no_weight() {
        let mut people = three_people();
        people.push(person("d", Some(ContactRole::Purchaser), 0.9));
        let r = account_relationship(&people, &RelationshipSettings::new(TODAY));
        assert!(close(r.score, 70.0));
        assert_eq!(r.assessed, 3);
        assert_eq!(r.people[0].code, "d");
        assert_eq!(r.people[0].stance, Stance::Unknown);
        assert_eq!(r.people[0].score, None);
    }

    #[test]
    fn stance_thresholds() {
        for (ratings, stance) in [
            (vec![1, 0], Stance::Supporter),   // 0.5
            (vec![1, 0, 0], Stance::Neutral),  // 0.33
            (vec![-1, 0, 0], Stance::Neutral), // −0.33
            (vec![-1, 0], Stance::Opponent),   // −0.5
            (vec![], Stance::Unknown),
        ] {
            let mut p = person("p", None, 0.1);
            for (slot, r) in p.ratings.iter_mut().zip(&ratings) {
                *slot = Some(*r);
            }
            let r = account_relationship(&[p], &RelationshipSettings::new(TODAY));
            assert_eq!(r.people[0].stance, stance, "{ratings:?}");
        }
        assert_eq!(Stance::from_mean(Some(0.49)), Stance::Neutral);
        assert_eq!(Stance::from_mean(Some(-0.49)), Stance::Neutral);
        assert_eq!(Stance::Unknown.label(true), "未评估");
        assert_eq!(Stance::Opponent.label(false), "Opponent");
    }

    #[test]
    fn ratings_outside_the_scale_are_clipped() {
        let mut p = person("p", None, 1.0);
        p.ratings[0] = Some(5);
        p.ratings[1] = Some(-9);
        let r = account_relationship(&[p], &RelationshipSettings::new(TODAY));
        assert_eq!(r.people[0].ratings[0], Some(2));
        assert_eq!(r.people[0].ratings[1], Some(-2));
        assert!(close(r.score, 50.0));
    }

    #[test]
    fn flags_competitor_stale_contact_and_coverage() {
        let mut wang = person("w1", Some(ContactRole::DecisionMaker), 0.3);
        wang.name = "王总".into();
        wang.ratings[COMPETITIVE_PREFERENCE] = Some(-1);
        wang.last_contact_day = Some(TODAY - 120);
        // Influential but not a decision maker: also a key person; never contacted.
        let mut li = person("l1", Some(ContactRole::Influencer), 0.5);
        li.ratings[COMPETITIVE_PREFERENCE] = Some(-2);
        li.last_contact_day = None;
        // Not a key person: neither flag, however stale or hostile.
        let mut user = person("u1", Some(ContactRole::User), 0.2);
        user.ratings[COMPETITIVE_PREFERENCE] = Some(-2);
        user.last_contact_day = Some(TODAY - 400);
        // Exactly stale_days ago is not yet stale.
        let mut tech = person("t1", Some(ContactRole::TechnicalEvaluator), 0.6);
        tech.ratings[COMPETITIVE_PREFERENCE] = Some(0);
        tech.last_contact_day = Some(TODAY - 90);
        let r = account_relationship(&[wang, li, user, tech], &RelationshipSettings::new(TODAY));
        assert_eq!(
            r.flags,
            [
                Flag::CompetitorPreferred {
                    contact: "l1".into(),
                    name: "L1".into(),
                    role: Some(ContactRole::Influencer),
                },
                Flag::CompetitorPreferred {
                    contact: "w1".into(),
                    name: "王总".into(),
                    role: Some(ContactRole::DecisionMaker),
                },
                Flag::NotContacted {
                    contact: "l1".into(),
                    name: "L1".into(),
                    days: None,
                },
                Flag::NotContacted {
                    contact: "w1".into(),
                    name: "王总".into(),
                    days: Some(120),
                },
                Flag::CoverageGap {
                    role: ContactRole::Purchaser
                },
            ]
        );
        assert_eq!(r.flags[1].message(true), "决策者 王总 更倾向竞争对手");
        assert_eq!(
            r.flags[1].message(false),
            "Decision maker 王总 prefers a competitor"
        );
        assert_eq!(r.flags[3].message(true), "已 120 天未联系 王总");
        assert_eq!(
            r.flags[3].message(false),
            "王总 has not been contacted for 120 days"
        );
        assert_eq!(r.flags[2].message(false), "L1 has never been contacted");
        assert_eq!(r.flags[4].message(true), "没有担任采购角色的联系人");
        assert_eq!(
            r.flags[4].message(false),
            "No contact covers the Purchaser role"
        );
    }

    #[test]
    fn flags_serialise_with_their_kind() {
        let json = serde_json::to_string(&Flag::CoverageGap {
            role: ContactRole::Purchaser,
        })
        .expect("serialises");
        assert_eq!(json, r#"{"kind":"coverage_gap","role":"purchaser"}"#);
        let json = serde_json::to_string(&Flag::NotAssessed).expect("serialises");
        assert_eq!(json, r#"{"kind":"not_assessed"}"#);
        let json = serde_json::to_string(&Flag::NotContacted {
            contact: "c".into(),
            name: "N".into(),
            days: None,
        })
        .expect("serialises");
        assert_eq!(
            json,
            r#"{"kind":"not_contacted","contact":"c","name":"N","days":null}"#
        );
        assert_eq!(
            serde_json::to_string(&Stance::Supporter).expect("serialises"),
            r#""supporter""#
        );
    }

    #[test]
    fn nobody_rated_or_nobody_there() {
        let r = account_relationship(
            &[person("x", Some(ContactRole::Gatekeeper), 0.1)],
            &RelationshipSettings::new(TODAY),
        );
        assert_eq!(r.score, None);
        assert_eq!(r.assessed, 0);
        assert_eq!(r.flags.last(), Some(&Flag::NotAssessed));
        assert!(r.dimensions.iter().all(|d| d.n == 0 && d.mean.is_none()));
        assert_eq!(Flag::NotAssessed.message(true), "尚未评估任何关键人的关系");

        let r = account_relationship(&[], &RelationshipSettings::new(TODAY));
        let gaps = r
            .flags
            .iter()
            .filter(|f| matches!(f, Flag::CoverageGap { .. }))
            .count();
        assert_eq!(gaps, DEFAULT_REQUIRED_ROLES.len());
        assert_eq!(r.flags.last(), Some(&Flag::NotAssessed));
    }

    #[test]
    fn settings_from_json_take_defaults() {
        let s: RelationshipSettings = serde_json::from_str(r#"{"today": 20000}"#).expect("parses");
        assert_eq!(s, RelationshipSettings::new(20_000));
        let s: RelationshipSettings =
            serde_json::from_str(r#"{"today": 1, "stale_days": 30, "required_roles": ["user"]}"#)
                .expect("parses");
        assert_eq!(s.stale_days, 30);
        assert_eq!(s.required_roles, [ContactRole::User]);
    }

    #[test]
    fn satisfaction_from_csat() {
        for (value, expected) in [(1, -2), (2, -1), (3, 0), (4, 1), (5, 2)] {
            assert_eq!(derive_satisfaction(value, 5), expected, "{value}/5");
        }
        // Scale 7: −2 + 4·(v−1)/6.
        for (value, expected) in [(1, -2), (2, -1), (3, -1), (4, 0), (5, 1), (6, 1), (7, 2)] {
            assert_eq!(derive_satisfaction(value, 7), expected, "{value}/7");
        }
        // Scale 9, exact halves round away from zero: 2 → −1.5 → −2, 8 → 1.5 → 2.
        assert_eq!(derive_satisfaction(2, 9), -2);
        assert_eq!(derive_satisfaction(8, 9), 2);
        assert_eq!(derive_satisfaction(5, 9), 0);
        // Out of the scale is clipped; a degenerate scale gives 0.
        assert_eq!(derive_satisfaction(0, 5), -2);
        assert_eq!(derive_satisfaction(9, 5), 2);
        assert_eq!(derive_satisfaction(1, 1), 0);
        assert_eq!(derive_satisfaction(1, 0), 0);
    }

    #[test]
    fn loyalty_from_nps() {
        let expected = [-2, -2, -2, -1, -1, 0, 0, 1, 1, 2, 2];
        for (value, e) in (0u8..=10).zip(expected) {
            assert_eq!(derive_loyalty(value), e, "{value}");
        }
        assert_eq!(derive_loyalty(200), 2);
    }

    #[test]
    fn engagement_from_interactions() {
        for (n, e) in [(0, -2), (1, -1), (2, 0), (3, 1), (4, 1), (5, 2), (50, 2)] {
            assert_eq!(derive_engagement(n), e, "{n}");
        }
    }

    #[test]
    fn assessed_ratings_win_over_derived() {
        let assessed = [Some(1), None, None, Some(-2), None, None, None];
        let derived = [Some(-1), Some(2), None, Some(0), None, Some(1), None];
        let (ratings, flags) = merge_ratings(assessed, derived);
        assert_eq!(
            ratings,
            [Some(1), Some(2), None, Some(-2), None, Some(1), None]
        );
        assert_eq!(flags, [false, true, false, false, false, true, false]);
    }

    #[test]
    fn role_labels() {
        let zh: Vec<&str> = ContactRole::ALL
            .iter()
            .map(|&r| role_label(r, true))
            .collect();
        assert_eq!(
            zh,
            ["决策者", "影响者", "技术评估者", "采购", "使用者", "把关者"]
        );
        assert_eq!(
            role_label(ContactRole::TechnicalEvaluator, false),
            "Technical evaluator"
        );
    }
}
