//! Pre-aggregated daily counts ("the cube"): per survey, day, slice field and
//! value, question and score, how many answers — plus, per pair of rated
//! dimensions, the sums the CSI interval needs. They are added in the same
//! transaction that stores the responses, so they are never behind, and a
//! view that slices by at most one field (the overview, a breakdown by
//! region, the overview of one region) reads a few thousand rows instead of
//! every answer. Views the cube cannot answer (two fields, sentiment) go to
//! the answers as before; both give the same counts, which the differential
//! tests check.

use crate::{Dialect, ResponseSlice, StoreError};

/// The fields the cube is sliced by ('' = the totals).
pub(crate) const FIELDS: [&str; 7] = [
    "",
    "channel",
    "language",
    "region",
    "product_line",
    "sales_team",
    "tier",
];

/// How a slice reads the cube.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The cube's field.
    pub field: &'static str,
    /// Only these values of the field.
    pub values: Option<Vec<String>>,
    /// One group per value of the field.
    pub grouped: bool,
}

/// 0 = not decided yet (read `CXSCORE_NO_CUBE`), 1 = used, 2 = every answer read.
static MODE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Whether queries read the daily counts (`CXSCORE_NO_CUBE=1` or
/// [`use_daily_counts`]`(false)` reads every answer instead, to compare and
/// to measure); they are kept up to date either way.
pub fn daily_counts_used() -> bool {
    use std::sync::atomic::Ordering;
    match MODE.load(Ordering::Relaxed) {
        0 => {
            let off = std::env::var_os("CXSCORE_NO_CUBE").is_some_and(|v| v == "1");
            MODE.store(if off { 2 } else { 1 }, Ordering::Relaxed);
            !off
        }
        m => m == 1,
    }
}

/// Switches reading the daily counts on or off for this process.
pub fn use_daily_counts(on: bool) {
    MODE.store(if on { 1 } else { 2 }, std::sync::atomic::Ordering::Relaxed);
}

/// The plan for `slice`, or None when the cube cannot answer it.
pub(crate) fn plan(slice: &ResponseSlice) -> Option<Plan> {
    if !daily_counts_used() {
        return None;
    }
    if slice.by.len() > 1 || slice.filters.len() > 1 {
        return None;
    }
    let field_of = |f: &str| FIELDS.iter().copied().find(|x| !x.is_empty() && *x == f);
    let by = match slice.by.first() {
        Some(f) => Some(field_of(f)?),
        None => None,
    };
    let filter = match slice.filters.first() {
        Some((f, values)) => Some((
            field_of(f)?,
            values
                .iter()
                .map(|v| v.trim().to_string())
                .collect::<Vec<_>>(),
        )),
        None => None,
    };
    match (by, filter) {
        (None, None) => Some(Plan {
            field: "",
            values: None,
            grouped: false,
        }),
        (Some(b), None) => Some(Plan {
            field: b,
            values: None,
            grouped: true,
        }),
        (None, Some((f, v))) => Some(Plan {
            field: f,
            values: Some(v),
            grouped: false,
        }),
        (Some(b), Some((f, v))) if b == f => Some(Plan {
            field: b,
            values: Some(v),
            grouped: true,
        }),
        _ => None,
    }
}

impl Plan {
    /// `(select of the group, GROUP BY of the group, filter)` for a cube
    /// query whose parameters before the filter's are `$1…$(first-1)`; the
    /// filter's values are bound after them.
    pub(crate) fn sql(&self, first: usize) -> (&'static str, &'static str, String) {
        let filter = match &self.values {
            Some(v) => format!(
                " AND grp IN ({})",
                (0..v.len())
                    .map(|i| format!("${}", first + i))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => String::new(),
        };
        if self.grouped {
            ("grp, ", "grp, ", filter)
        } else {
            ("", "", filter)
        }
    }

    /// The values to bind after the fixed parameters.
    pub(crate) fn binds(&self) -> &[String] {
        self.values.as_deref().unwrap_or_default()
    }
}

/// A query of a cube table for `plan`: `keys` of the group (`grp` when
/// grouped), the day (or, collapsed to `[lo, hi]`, the window's first day with
/// rows), the `extra` grouped columns, then `aggs`. Parameters: the fixed
/// ones `$1…$(first-1)` in `fixed`, the plan's values, then `lo` and `hi`
/// when collapsed.
pub(crate) fn select(
    plan: &Plan,
    collapse: Option<(i32, i32)>,
    table: &str,
    fixed: &str,
    first: usize,
    extra: &[&str],
    aggs: &str,
) -> String {
    let (_, _, filter) = plan.sql(first);
    let nb = plan.binds().len();
    let mut columns: Vec<String> = Vec::new();
    let mut group: Vec<&str> = Vec::new();
    if plan.grouped {
        columns.push("grp".into());
        group.push("grp");
    }
    let days = match collapse {
        Some(_) => {
            columns.push("MIN(day)".into());
            format!(" AND day BETWEEN ${} AND ${}", first + nb, first + nb + 1)
        }
        None => {
            columns.push("day".into());
            group.push("day");
            String::new()
        }
    };
    columns.extend(extra.iter().map(|c| c.to_string()));
    group.extend(extra);
    columns.push(aggs.to_string());
    let group = if group.is_empty() {
        String::new()
    } else {
        format!(" GROUP BY {}", group.join(", "))
    };
    format!(
        "SELECT {} FROM {table} WHERE {fixed}{filter}{days}{group}",
        columns.join(", ")
    )
}

fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The statements that add the responses matched by `filter` (a condition on
/// responses `r`, e.g. `r.id IN (…)`) to the cube; `ratings` are the rated
/// dimensions of their survey, whose pairs are summed; `counts` false adds
/// only the pairs (after a survey's rated dimensions changed).
pub(crate) fn add_statements(
    dialect: &Dialect,
    filter: &str,
    ratings: &[String],
    counts: bool,
) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let list = ratings
        .iter()
        .map(|q| quoted(q))
        .collect::<Vec<_>>()
        .join(", ");
    for field in FIELDS {
        // PostgreSQL refuses a constant in GROUP BY: the totals group without it.
        let (expr, group) = if field.is_empty() {
            ("''".to_string(), String::new())
        } else {
            let e = crate::field_expr(dialect, field)?;
            (e.clone(), format!(", {e}"))
        };
        let name = quoted(field);
        if counts {
            out.push(format!(
            "INSERT INTO day_counts (survey_id, field, question_id, grp, day, value, n)
             SELECT r.survey_id, {name}, a.question_id, {expr}, r.submitted_day, a.value_int, COUNT(*)
             FROM responses r JOIN answers a ON a.response_id = r.id
             WHERE {filter} AND a.value_int IS NOT NULL
             GROUP BY r.survey_id, a.question_id{group}, r.submitted_day, a.value_int
             ORDER BY 1, 3, 4, 5, 6
             ON CONFLICT (survey_id, field, question_id, grp, day, value) DO UPDATE SET n = day_counts.n + excluded.n"
        ));
            out.push(format!(
            "INSERT INTO day_counts (survey_id, field, question_id, grp, day, value, n)
             SELECT r.survey_id, {name}, '', {expr}, r.submitted_day, 0, COUNT(*)
             FROM responses r
             WHERE {filter}
             GROUP BY r.survey_id{group}, r.submitted_day
             ORDER BY 1, 4, 5
             ON CONFLICT (survey_id, field, question_id, grp, day, value) DO UPDATE SET n = day_counts.n + excluded.n"
        ));
        }
        if ratings.len() > 1 {
            out.push(format!(
                "INSERT INTO day_pairs (survey_id, field, qx, qy, grp, day, n, sx, sy, sxy)
                 SELECT r.survey_id, {name}, x.question_id, y.question_id, {expr}, r.submitted_day, COUNT(*),
                        SUM(x.value_int), SUM(y.value_int), SUM(x.value_int * y.value_int)
                 FROM responses r JOIN answers x ON x.response_id = r.id
                 JOIN answers y ON y.response_id = r.id AND y.question_id > x.question_id
                 WHERE {filter} AND x.question_id IN ({list}) AND y.question_id IN ({list})
                   AND x.value_int IS NOT NULL AND y.value_int IS NOT NULL
                 GROUP BY r.survey_id, x.question_id, y.question_id{group}, r.submitted_day
                 ORDER BY 1, 3, 4, 5, 6
                 ON CONFLICT (survey_id, field, qx, qy, grp, day) DO UPDATE SET n = day_pairs.n + excluded.n,
                   sx = day_pairs.sx + excluded.sx, sy = day_pairs.sy + excluded.sy, sxy = day_pairs.sxy + excluded.sxy"
            ));
        }
    }
    Ok(out)
}

/// The rated dimensions of a survey definition (JSON), whose pairs the cube sums.
pub(crate) fn ratings_of(definition: &str) -> Vec<String> {
    serde_json::from_str::<cx_core::model::survey::SurveyDefinition>(definition)
        .map(|d| {
            d.questions
                .iter()
                .filter(|q| matches!(q.kind, cx_core::model::survey::QuestionKind::Rating))
                .map(|q| q.id.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// A field's value of a response as the SQL of the slower path reads it:
/// `COALESCE(field, '')`, metadata strings as they are, numbers as text.
fn field_value(r: &crate::NewResponse, field: &str) -> String {
    match field {
        "" => String::new(),
        "channel" => r.channel.clone(),
        "language" => r.language.clone().unwrap_or_default(),
        _ => match r.metadata.get(field) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
        },
    }
}

/// Counts to add: (field, question, group, day, value) → n; pairs:
/// (field, qx, qy, group, day) → (n, Σx, Σy, Σxy).
#[derive(Debug, Default)]
pub(crate) struct Deltas {
    counts: std::collections::BTreeMap<(&'static str, String, String, i64, i64), i64>,
    pairs: std::collections::BTreeMap<(&'static str, String, String, String, i64), [i64; 4]>,
}

/// The counts a batch of new responses adds, computed from the batch itself
/// (nothing is read back from the tables).
pub(crate) fn deltas(responses: &[&crate::NewResponse], ratings: &[String]) -> Deltas {
    let mut d = Deltas::default();
    for r in responses {
        let day = i64::from(r.submitted_on.days());
        let scores: Vec<(&String, i64)> = r
            .answers
            .iter()
            .filter_map(|(q, v)| match v {
                cx_core::model::survey::AnswerValue::Score(s) => Some((q, *s)),
                _ => None,
            })
            .collect();
        let mut rated: Vec<(&String, i64)> = scores
            .iter()
            .filter(|(q, _)| ratings.contains(q))
            .copied()
            .collect();
        rated.sort();
        for field in FIELDS {
            let grp = field_value(r, field);
            *d.counts
                .entry((field, String::new(), grp.clone(), day, 0))
                .or_default() += 1;
            for (q, v) in &scores {
                *d.counts
                    .entry((field, (*q).clone(), grp.clone(), day, *v))
                    .or_default() += 1;
            }
            for (i, (qx, x)) in rated.iter().enumerate() {
                for (qy, y) in &rated[i + 1..] {
                    if qx == qy {
                        continue;
                    }
                    let e = d
                        .pairs
                        .entry((field, (*qx).clone(), (*qy).clone(), grp.clone(), day))
                        .or_default();
                    e[0] += 1;
                    e[1] += x;
                    e[2] += y;
                    e[3] += x * y;
                }
            }
        }
    }
    d
}

/// Multi-row upserts of `d` for `survey` (values written inline, strings
/// quoted), in key order so that concurrent writers lock rows in one order.
pub(crate) fn delta_statements(survey: i64, d: &Deltas) -> Vec<String> {
    let mut out = Vec::new();
    let counts: Vec<String> = d
        .counts
        .iter()
        .map(|((f, q, g, day, v), n)| {
            format!(
                "({survey}, {}, {}, {}, {day}, {v}, {n})",
                quoted(f),
                quoted(q),
                quoted(g)
            )
        })
        .collect();
    for chunk in counts.chunks(2000) {
        out.push(format!(
            "INSERT INTO day_counts (survey_id, field, question_id, grp, day, value, n) VALUES {}
             ON CONFLICT (survey_id, field, question_id, grp, day, value) DO UPDATE SET n = day_counts.n + excluded.n",
            chunk.join(", ")
        ));
    }
    let pairs: Vec<String> = d
        .pairs
        .iter()
        .map(|((f, qx, qy, g, day), [n, sx, sy, sxy])| {
            format!(
                "({survey}, {}, {}, {}, {}, {day}, {n}, {sx}, {sy}, {sxy})",
                quoted(f),
                quoted(qx),
                quoted(qy),
                quoted(g)
            )
        })
        .collect();
    for chunk in pairs.chunks(2000) {
        out.push(format!(
            "INSERT INTO day_pairs (survey_id, field, qx, qy, grp, day, n, sx, sy, sxy) VALUES {}
             ON CONFLICT (survey_id, field, qx, qy, grp, day) DO UPDATE SET n = day_pairs.n + excluded.n,
               sx = day_pairs.sx + excluded.sx, sy = day_pairs.sy + excluded.sy, sxy = day_pairs.sxy + excluded.sxy",
            chunk.join(", ")
        ));
    }
    out
}

/// Adds the new responses `$responses` (`&[&NewResponse]`) of `$survey` to
/// the cube inside `$tx`.
macro_rules! cube_add {
    ($tx:expr, $survey:expr, $responses:expr) => {{
        let responses: &[&$crate::NewResponse] = $responses;
        if !responses.is_empty() {
            let definition: String =
                sqlx::query_scalar("SELECT definition FROM surveys WHERE id = $1")
                    .bind($survey)
                    .fetch_one(&mut *$tx)
                    .await?;
            let ratings = $crate::cube::ratings_of(&definition);
            let deltas = $crate::cube::deltas(responses, &ratings);
            for sql in $crate::cube::delta_statements($survey, &deltas) {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut *$tx)
                    .await?;
            }
        }
    }};
}

pub(crate) use cube_add;

/// Recomputes a survey's pair sums inside `$tx` when its rated dimensions
/// changed from `$old` to `$new` (survey definitions, JSON).
macro_rules! cube_pairs_refresh {
    ($tx:expr, $dialect:expr, $survey:expr, $old:expr, $new:expr) => {{
        let (old, new) = (
            $crate::cube::ratings_of($old),
            $crate::cube::ratings_of($new),
        );
        if old != new {
            sqlx::query("DELETE FROM day_pairs WHERE survey_id = $1")
                .bind($survey)
                .execute(&mut *$tx)
                .await?;
            let filter = format!("r.survey_id = {}", $survey);
            for sql in $crate::cube::add_statements(&$dialect, &filter, &new, false)? {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut *$tx)
                    .await?;
            }
        }
    }};
}

pub(crate) use cube_pairs_refresh;

/// The cube's setting: present once it has been filled from the stored responses.
pub(crate) const BUILT_KEY: &str = "day_counts_built";

/// `rebuild_day_counts` for a backend: refills the cube from every stored response.
macro_rules! impl_cube {
    ($ty:ident, $dialect:expr) => {
        impl $ty {
            /// Fills the cube from the responses already stored (once, when a
            /// database is first opened by a version that has it).
            pub async fn rebuild_day_counts(&self) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                // Claimed first: a second process opening the same database
                // waits here, then finds the cube built and leaves it alone.
                let claimed = sqlx::query(
                    "INSERT INTO settings (key, value, updated_at) VALUES ($1, '1', $2) ON CONFLICT (key) DO NOTHING",
                )
                .bind($crate::cube::BUILT_KEY)
                .bind($crate::now_rfc3339())
                .execute(&mut *tx)
                .await?;
                if claimed.rows_affected() == 0 {
                    return Ok(());
                }
                sqlx::query("DELETE FROM day_counts").execute(&mut *tx).await?;
                sqlx::query("DELETE FROM day_pairs").execute(&mut *tx).await?;
                let surveys: Vec<(i64, String)> = sqlx::query_as("SELECT id, definition FROM surveys")
                    .fetch_all(&mut *tx)
                    .await?;
                for (id, definition) in surveys {
                    let ratings = $crate::cube::ratings_of(&definition);
                    let filter = format!("r.survey_id = {id}");
                    for sql in $crate::cube::add_statements(&$dialect, &filter, &ratings, true)? {
                        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_cube;

#[cfg(test)]
mod tests {
    use super::*;
    use cx_core::model::SurveyId;

    fn slice(by: &[&str], filters: &[(&str, &[&str])]) -> ResponseSlice {
        ResponseSlice {
            survey: SurveyId(1),
            by: by.iter().map(|s| s.to_string()).collect(),
            filters: filters
                .iter()
                .map(|(f, v)| (f.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect(),
            collapse: None,
        }
    }

    #[test]
    fn which_slices_the_cube_answers() {
        assert_eq!(plan(&slice(&[], &[])).map(|p| p.field), Some(""));
        let p = plan(&slice(&["region"], &[])).expect("by region");
        assert!(p.grouped && p.values.is_none());
        let p = plan(&slice(&[], &[("region", &["华东 "])])).expect("one region");
        assert_eq!(
            (p.field, p.values, p.grouped),
            ("region", Some(vec!["华东".to_string()]), false)
        );
        assert!(plan(&slice(&["region"], &[("region", &["华东"])])).is_some());
        assert_eq!(plan(&slice(&["region"], &[("tier", &["key"])])), None);
        assert_eq!(plan(&slice(&["region", "tier"], &[])), None);
        assert_eq!(plan(&slice(&["account_manager"], &[])), None);
        assert_eq!(plan(&slice(&[], &[("", &["x"])])), None);
    }
}
