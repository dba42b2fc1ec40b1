//! `cxscore metrics`: flags → a [`MetricsRequest`] → a report, printed.

use anyhow::{Context, anyhow};
use cx_core::model::survey::{Question, QuestionKind, SurveyDefinition};
use cx_core::period::{Date, Interval, TimeFilter};
use cx_core::survey::Disclosure;
use cx_core::survey::ces::CesDirection;
use cx_core::survey::group::{DimensionSpec, MetricsSpec};
use cx_core::survey::scale::Scale;
use cx_io::metrics::{MetricsRequest, compute};
use cx_io::{EncodingChoice, ScanOptions};
use cx_store::metrics::{SurveyMetricsRequest, survey_metrics};
use cx_store::{ResponseSlice, Store};

use crate::Failure;
use crate::cli::{CesDirectionArg, MetricsArgs, OutputFormat};
use crate::output;
use crate::progress::Progress;

/// Runs `cxscore metrics`.
pub fn run(args: &MetricsArgs, db: &str, format: OutputFormat) -> Result<(), Failure> {
    if let Some(survey) = &args.survey {
        return run_on_database(args, survey, db, format);
    }
    let request = request_from(args).map_err(Failure::bad_input)?;
    let encoding = EncodingChoice::parse(&args.encoding).ok_or_else(|| {
        Failure::bad_input(anyhow!(
            "--encoding {:?}: use auto, utf-8 or gb18030",
            args.encoding
        ))
    })?;
    let options = ScanOptions {
        encoding,
        threads: args.threads,
        ..ScanOptions::default()
    };
    let progress = Progress::new(&args.input);
    let report = compute(&args.input, &request, &options, &|b| progress.advance(b));
    progress.finish();
    let report = report.map_err(|e| {
        if e.is_bad_input() {
            Failure::bad_input(e)
        } else {
            Failure::runtime(e)
        }
    })?;
    output::warn_exclusions(&report);
    output::print_report(&report, &request.by, &request.time, format).map_err(Failure::runtime)
}

/// `--survey`: the database counts, cx-core finishes.
fn run_on_database(
    args: &MetricsArgs,
    survey: &str,
    db: &str,
    format: OutputFormat,
) -> Result<(), Failure> {
    let (time, filters) = (time_filter(args, true), filters(args));
    let (time, filters) = (
        time.map_err(Failure::bad_input)?,
        filters.map_err(Failure::bad_input)?,
    );
    crate::block_on(async {
        let store = cx_store::open(db).await.map_err(crate::store_failure)?;
        let stored = store.survey(survey).await.map_err(crate::store_failure)?;
        let (spec, slot_questions) =
            survey_spec(args, &stored.definition).map_err(Failure::bad_input)?;
        let request = SurveyMetricsRequest {
            spec,
            slot_questions,
            slice: ResponseSlice {
                survey: stored.id,
                by: args.by.clone(),
                filters,
            },
            time,
        };
        let report = survey_metrics(&store, &request)
            .await
            .map_err(crate::store_failure)?;
        output::print_report(&report, &args.by, &time, format).map_err(Failure::runtime)
    })
}

/// The metrics of a stored survey: the questions named by the flags, or every
/// rated question when none is named. Scales and directions come from the survey.
pub fn survey_spec(
    args: &MetricsArgs,
    survey: &SurveyDefinition,
) -> anyhow::Result<(MetricsSpec, Vec<String>)> {
    let named =
        args.nps.is_some() || args.csat.is_some() || args.ces.is_some() || !args.dim.is_empty();
    let question = |id: &str, kinds: &[QuestionKind], flag: &str| -> anyhow::Result<&Question> {
        let q = survey.question(id).with_context(|| {
            let ids: Vec<&str> = survey.questions.iter().map(|q| q.id.as_str()).collect();
            format!(
                "{flag} {id:?}: the survey has no such question (questions: {})",
                ids.join(", ")
            )
        })?;
        if !kinds.contains(&q.kind) {
            anyhow::bail!("{flag} {id:?}: that question is a {:?} question", q.kind);
        }
        Ok(q)
    };
    let pick = |flag: &Option<String>,
                kind: QuestionKind,
                name: &str|
     -> anyhow::Result<Option<&Question>> {
        match flag {
            Some(id) => question(id, &[kind], name).map(Some),
            None if !named => Ok(survey.first_of(kind)),
            None => Ok(None),
        }
    };
    let nps = pick(&args.nps, QuestionKind::Nps, "--nps")?;
    let csat = pick(&args.csat, QuestionKind::Csat, "--csat")?;
    let ces = pick(&args.ces, QuestionKind::Ces, "--ces")?;
    let mut dims: Vec<(String, &Question)> = Vec::new();
    if named {
        for text in &args.dim {
            let (name, id) = match text.split_once('=') {
                Some((n, q)) => (n.trim().to_string(), q.trim()),
                None => (String::new(), text.trim()),
            };
            let q = question(
                id,
                &[QuestionKind::Rating, QuestionKind::Csat, QuestionKind::Ces],
                "--dim",
            )?;
            let name = if name.is_empty() {
                q.dimension.clone().unwrap_or_else(|| q.id.clone())
            } else {
                name
            };
            dims.push((name, q));
        }
    } else {
        for q in survey
            .questions
            .iter()
            .filter(|q| q.kind == QuestionKind::Rating)
        {
            dims.push((q.dimension.clone().unwrap_or_else(|| q.id.clone()), q));
        }
    }
    let scale = |q: &Question| {
        q.rating_scale()
            .with_context(|| format!("question {:?} has no rating scale", q.id))
    };
    let mut slot_questions = Vec::new();
    slot_questions.extend(nps.map(|q| q.id.clone()));
    slot_questions.extend(csat.map(|q| q.id.clone()));
    slot_questions.extend(ces.map(|q| q.id.clone()));
    slot_questions.extend(dims.iter().map(|(_, q)| q.id.clone()));
    let dim_specs = dims
        .iter()
        .map(|(name, q)| {
            Ok(DimensionSpec {
                name: name.clone(),
                scale: scale(q)?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let weights = match &args.weights {
        None => Vec::new(),
        Some(text) => parse_weights(text, &dim_specs)?,
    };
    let spec = MetricsSpec {
        nps: nps.is_some(),
        csat: csat.map(scale).transpose()?,
        ces: ces
            .map(|q| Ok::<_, anyhow::Error>((scale(q)?, q.direction.unwrap_or_default())))
            .transpose()?,
        dims: dim_specs,
        weights,
        disclosure: Disclosure {
            anonymous: args.anonymous || survey.anonymous,
        },
    };
    spec.validate()?;
    Ok((spec, slot_questions))
}

/// `--interval`, `--from`, `--to`, `--compare`; in the database the date is
/// always the submission date, so `--time` is not needed there.
fn time_filter(args: &MetricsArgs, database: bool) -> anyhow::Result<TimeFilter> {
    let date = |flag: &str, text: &Option<String>| -> anyhow::Result<Option<Date>> {
        text.as_deref()
            .map(|t| {
                Date::parse(t).ok_or_else(|| {
                    anyhow!("{flag} {t:?} is not a date; write it like 2026-03-01, 2026/3/1 or 2026年3月1日")
                })
            })
            .transpose()
    };
    let interval = args.interval.as_deref().map(Interval::parse).transpose()?;
    let time = TimeFilter::new(
        interval,
        date("--from", &args.from)?,
        date("--to", &args.to)?,
        args.compare.is_some(),
    )?;
    if interval.is_some() && args.by.iter().any(|b| b == "period") {
        anyhow::bail!(
            "--by period clashes with the period that --interval adds to each group's key"
        );
    }
    if !database && time.needs_dates() && args.time.is_none() {
        anyhow::bail!(
            "--interval, --from and --to need --time COL, the column with the response date"
        );
    }
    Ok(time)
}

/// `--where COL=VALUE`, values for one column gathered as alternatives.
fn filters(args: &MetricsArgs) -> anyhow::Result<Vec<(String, Vec<String>)>> {
    let mut filters: Vec<(String, Vec<String>)> = Vec::new();
    for text in &args.filters {
        let (col, value) = text.split_once('=').with_context(|| {
            format!("--where {text:?}: write it as COL=VALUE, e.g. --where region=华东")
        })?;
        let col = col.trim().to_string();
        match filters.iter_mut().find(|(c, _)| *c == col) {
            Some((_, values)) => values.push(value.to_string()),
            None => filters.push((col, vec![value.to_string()])),
        }
    }
    Ok(filters)
}

/// Builds the request from the flags, checking everything that can be checked
/// before reading a byte.
pub fn request_from(args: &MetricsArgs) -> anyhow::Result<MetricsRequest> {
    let mut slot_columns = Vec::new();
    if let Some(c) = &args.nps {
        slot_columns.push(c.clone());
    }
    if let Some(c) = &args.csat {
        slot_columns.push(c.clone());
    }
    if let Some(c) = &args.ces {
        slot_columns.push(c.clone());
    }
    let mut dims = Vec::new();
    for text in &args.dim {
        let (name, column, scale) = parse_dim(text)?;
        dims.push(DimensionSpec { name, scale });
        slot_columns.push(column);
    }
    let weights = match &args.weights {
        None => Vec::new(),
        Some(text) => parse_weights(text, &dims)?,
    };
    let spec = MetricsSpec {
        nps: args.nps.is_some(),
        csat: args
            .csat
            .as_ref()
            .map(|_| Scale::one_to(args.csat_scale))
            .transpose()?,
        ces: match &args.ces {
            None => None,
            Some(_) => Some((
                Scale::one_to(args.ces_scale)?,
                match args.ces_direction {
                    CesDirectionArg::HigherIsEasier => CesDirection::HigherIsEasier,
                    CesDirectionArg::HigherIsHarder => CesDirection::HigherIsHarder,
                },
            )),
        },
        dims,
        weights,
        disclosure: Disclosure {
            anonymous: args.anonymous,
        },
    };
    spec.validate()?;

    let time = time_filter(args, false)?;
    let filters = filters(args)?;
    Ok(MetricsRequest {
        spec,
        slot_columns,
        by: args.by.clone(),
        time_column: args.time.clone(),
        time,
        filters,
    })
}

/// `NAME=COL[:MIN-MAX]` or `COL[:MIN-MAX]`.
fn parse_dim(text: &str) -> anyhow::Result<(String, String, Scale)> {
    let (spec, scale) = match text.rsplit_once(':') {
        Some((head, tail))
            if tail.contains('-') && tail.trim().starts_with(|c: char| c.is_ascii_digit()) =>
        {
            (
                head,
                Scale::parse(tail).with_context(|| format!("--dim {text:?}"))?,
            )
        }
        _ => (text, Scale { min: 1, max: 5 }),
    };
    let (name, column) = match spec.split_once('=') {
        Some((n, c)) => (n.trim(), c.trim()),
        None => (spec.trim(), spec.trim()),
    };
    if name.is_empty() || column.is_empty() {
        anyhow::bail!("--dim {text:?}: write it as NAME=COL, e.g. --dim product_quality=q1");
    }
    Ok((name.to_string(), column.to_string(), scale))
}

/// `NAME=W,NAME=W,…`, one weight per dimension.
fn parse_weights(text: &str, dims: &[DimensionSpec]) -> anyhow::Result<Vec<f64>> {
    let mut weights = vec![None; dims.len()];
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, w) = part.split_once('=').with_context(|| {
            format!("--weights {part:?}: write NAME=WEIGHT, e.g. product_quality=2")
        })?;
        let i = dims
            .iter()
            .position(|d| d.name == name.trim())
            .with_context(|| {
                let names: Vec<&str> = dims.iter().map(|d| d.name.as_str()).collect();
                format!(
                    "--weights: no dimension {:?}; the dimensions are: {}",
                    name.trim(),
                    names.join(", ")
                )
            })?;
        weights[i] = Some(
            w.trim()
                .parse::<f64>()
                .with_context(|| format!("--weights {part:?}: not a number"))?,
        );
    }
    weights
        .into_iter()
        .zip(dims)
        .map(|(w, d)| w.with_context(|| format!("--weights: no weight for dimension {:?}", d.name)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dims() {
        assert_eq!(
            parse_dim("product_quality=q1").expect("valid"),
            (
                "product_quality".into(),
                "q1".into(),
                Scale { min: 1, max: 5 }
            )
        );
        assert_eq!(
            parse_dim("price").expect("valid"),
            ("price".into(), "price".into(), Scale { min: 1, max: 5 })
        );
        assert_eq!(
            parse_dim("price=q7:0-10").expect("valid").2,
            Scale { min: 0, max: 10 }
        );
        assert_eq!(parse_dim("服务态度=服务:1-7").expect("valid").1, "服务");
        assert!(parse_dim("=q1").is_err());
        assert!(parse_dim("x=q:5-1").is_err());
    }

    #[test]
    fn weights() {
        let dims = vec![
            DimensionSpec {
                name: "a".into(),
                scale: Scale { min: 1, max: 5 },
            },
            DimensionSpec {
                name: "b".into(),
                scale: Scale { min: 1, max: 5 },
            },
        ];
        assert_eq!(
            parse_weights("a=2, b=1", &dims).expect("valid"),
            vec![2.0, 1.0]
        );
        assert!(parse_weights("a=2", &dims).is_err());
        assert!(parse_weights("a=2,c=1", &dims).is_err());
        assert!(parse_weights("a=x,b=1", &dims).is_err());
    }
}
