//! The daily counts against every answer, on SQLite and PostgreSQL: for each
//! slice the cube can answer, `day_rows`, `day_scores` and `day_pairs_all` give
//! exactly what reading the answers gives (`use_daily_counts(false)`), after
//! imports, after submissions and after a survey's rated dimensions change.
//!
//! PostgreSQL is reached at `CXSCORE_TEST_PG` as in `story.rs`. One test per
//! binary: it switches the daily counts off and on for the process.

use cx_core::model::survey::{AnswerValue, SurveyDefinition};
use cx_core::period::Date;
use cx_store::server::{ServerStore, Submission};
use cx_store::{AnyStore, NewResponse, ResponseSlice, ScoreColumn, Store, StoreError};

mod common;

const SURVEY: &str = r#"{"slug": "s", "title": {"zh": "问卷", "en": "Survey"}, "anonymous": false, "languages": ["zh"],
  "questions": [
    {"id": "nps", "kind": "nps", "text": {"zh": "推荐", "en": "NPS"}},
    {"id": "q", "kind": "rating", "scale": 5, "dimension": "quality", "text": {"zh": "质量", "en": "Quality"}},
    {"id": "p", "kind": "rating", "scale": 5, "dimension": "price", "text": {"zh": "价格", "en": "Price"}},
    {"id": "s", "kind": "csat", "scale": 5, "text": {"zh": "满意", "en": "CSAT"}}]}"#;

fn response(k: usize, regions: &[&str]) -> NewResponse {
    let mut metadata = serde_json::Map::new();
    metadata.insert("region".into(), regions[k % regions.len()].into());
    if k.is_multiple_of(3) {
        metadata.insert("tier".into(), "key".into());
    }
    let mut answers = vec![("nps".to_string(), AnswerValue::Score((k * 7 % 11) as i64))];
    if !k.is_multiple_of(4) {
        answers.push(("q".into(), AnswerValue::Score((k % 5 + 1) as i64)));
    }
    if !k.is_multiple_of(5) {
        answers.push(("p".into(), AnswerValue::Score((k * 3 % 5 + 1) as i64)));
    }
    answers.push(("s".into(), AnswerValue::Score((k * 2 % 5 + 1) as i64)));
    NewResponse {
        dedupe_key: format!("r{k}"),
        submitted_at: format!(
            "{}T08:00:00Z",
            Date::from_ymd(2026, 1, 1)
                .expect("date")
                .add_days((k % 90) as i32)
        ),
        submitted_on: Date::from_ymd(2026, 1, 1)
            .expect("date")
            .add_days((k % 90) as i32),
        channel: if k.is_multiple_of(2) { "web" } else { "email" }.into(),
        language: Some("zh".into()),
        account: None,
        contact: None,
        metadata,
        answers,
    }
}

fn slices(survey: cx_core::model::SurveyId) -> Vec<ResponseSlice> {
    let s = |by: &[&str], filters: &[(&str, &[&str])]| ResponseSlice {
        survey,
        by: by.iter().map(|x| x.to_string()).collect(),
        filters: filters
            .iter()
            .map(|(f, v)| (f.to_string(), v.iter().map(|x| x.to_string()).collect()))
            .collect(),
        collapse: None,
    };
    vec![
        s(&[], &[]),
        s(&["region"], &[]),
        s(&["channel"], &[]),
        s(&["tier"], &[]),
        s(&[], &[("region", &["华东", "Europe"])]),
        s(&["region"], &[("region", &["华东"])]),
        s(&[], &[("tier", &[""])]),
    ]
}

async fn both_ways<T: PartialEq + std::fmt::Debug + Ord>(
    what: &str,
    mut f: impl AsyncFnMut() -> Result<Vec<T>, StoreError>,
) -> Result<(), StoreError> {
    cx_store::use_daily_counts(true);
    let mut cube = f().await?;
    cx_store::use_daily_counts(false);
    let mut raw = f().await?;
    cx_store::use_daily_counts(true);
    cube.sort();
    raw.sort();
    assert!(!raw.is_empty(), "{what}: something to compare");
    assert_eq!(cube, raw, "{what}");
    Ok(())
}

async fn compare(
    store: &AnyStore,
    survey: cx_core::model::SurveyId,
    label: &str,
) -> Result<(), StoreError> {
    for slice in slices(survey) {
        let what = format!("{label} {slice:?}");
        both_ways(&format!("rows {what}"), async || {
            Ok(store
                .day_rows(&slice)
                .await?
                .into_iter()
                .map(|r| (r.key, r.day, r.count))
                .collect())
        })
        .await?;
        for q in ["nps", "q", "s"] {
            both_ways(&format!("scores {q} {what}"), async || {
                Ok(store
                    .day_scores(&slice, q, ScoreColumn::Value)
                    .await?
                    .into_iter()
                    .map(|r| (r.key, r.day, r.value, r.count))
                    .collect())
            })
            .await?;
        }
        let dims: Vec<String> = ["p", "q", "s"].iter().map(|s| s.to_string()).collect();
        let rated: Vec<String> = dims
            .iter()
            .filter(|d| *d != "s" || label == "after")
            .cloned()
            .collect();
        for questions in [rated.clone(), rated.iter().rev().cloned().collect()] {
            both_ways(&format!("pairs {questions:?} {what}"), async || {
                Ok(store
                    .day_pairs_all(&slice, &questions)
                    .await?
                    .into_iter()
                    .map(|(i, j, p)| (i, j, p.key, p.day, p.n, p.sum_x, p.sum_y, p.sum_xy))
                    .collect())
            })
            .await?;
        }
    }
    Ok(())
}

/// Pair sums per (i, j, group): (n, Σx, Σy, Σxy).
type PairTotals = std::collections::BTreeMap<(usize, usize, Vec<String>), (u64, i64, i64, i64)>;

/// Totals over a window: the cube's collapsed rows against the answers' days summed.
async fn compare_collapsed(
    store: &AnyStore,
    survey: cx_core::model::SurveyId,
) -> Result<(), StoreError> {
    use std::collections::BTreeMap;
    let (lo, hi) = (
        Date::from_ymd(2026, 1, 10).expect("date").days(),
        Date::from_ymd(2026, 2, 20).expect("date").days(),
    );
    for mut slice in slices(survey) {
        cx_store::use_daily_counts(false);
        let mut raw: BTreeMap<(Vec<String>, i64), u64> = BTreeMap::new();
        for r in store.day_scores(&slice, "nps", ScoreColumn::Value).await? {
            if (lo..=hi).contains(&r.day) {
                *raw.entry((r.key, r.value)).or_default() += r.count;
            }
        }
        let mut raw_pairs: PairTotals = BTreeMap::new();
        let dims = vec!["q".to_string(), "p".to_string()];
        for (i, j, p) in store.day_pairs_all(&slice, &dims).await? {
            if (lo..=hi).contains(&p.day) {
                let e = raw_pairs.entry((i, j, p.key)).or_default();
                *e = (e.0 + p.n, e.1 + p.sum_x, e.2 + p.sum_y, e.3 + p.sum_xy);
            }
        }
        cx_store::use_daily_counts(true);
        slice.collapse = Some((lo, hi));
        let mut cube: BTreeMap<(Vec<String>, i64), u64> = BTreeMap::new();
        for r in store.day_scores(&slice, "nps", ScoreColumn::Value).await? {
            assert!((lo..=hi).contains(&r.day), "a day inside the window");
            *cube.entry((r.key, r.value)).or_default() += r.count;
        }
        assert_eq!(cube, raw, "collapsed scores {slice:?}");
        let mut cube_pairs: PairTotals = BTreeMap::new();
        for (i, j, p) in store.day_pairs_all(&slice, &dims).await? {
            let e = cube_pairs.entry((i, j, p.key)).or_default();
            *e = (e.0 + p.n, e.1 + p.sum_x, e.2 + p.sum_y, e.3 + p.sum_xy);
        }
        assert_eq!(cube_pairs, raw_pairs, "collapsed pairs {slice:?}");
    }
    Ok(())
}

async fn cube_story(store: &AnyStore) -> Result<(), StoreError> {
    let def: SurveyDefinition = serde_json::from_str(SURVEY).expect("survey");
    let survey = store.create_survey(&def).await?;
    let regions = ["华东", "华南", "Europe"];
    let first: Vec<NewResponse> = (0..300).map(|k| response(k, &regions)).collect();
    store.insert_responses(survey, &first).await?;
    // The same rows again add nothing to the counts either.
    store.insert_responses(survey, &first[..50]).await?;
    let more: Vec<Submission> = (300..420)
        .map(|k| Submission::new(survey, response(k, &regions), None))
        .collect();
    store.submit(&more).await?;
    compare(store, survey, "before").await?;
    // CSAT becomes a rated dimension: its pairs are summed from now on, for the old answers too.
    let mut changed = def.clone();
    changed.questions[3].kind = cx_core::model::survey::QuestionKind::Rating;
    changed.questions[3].dimension = Some("overall".into());
    store.update_survey(survey, &changed).await?;
    compare(store, survey, "after").await?;
    compare_collapsed(store, survey).await?;
    Ok(())
}

#[tokio::test]
async fn the_cube_gives_what_the_answers_give() {
    let dir = std::env::temp_dir().join(format!("cx-store-cube-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).expect("dir");
    let store = cx_store::open(&format!("sqlite://{}", dir.join("c.db").display()))
        .await
        .expect("opens");
    cube_story(&store).await.expect("sqlite");
    std::fs::remove_dir_all(&dir).ok();

    common::on_postgres("cube", async |url: &str| {
        let store = cx_store::open(url).await?;
        cube_story(&store).await?;
        common::close(store).await;
        Ok(())
    })
    .await;
}
