//! `cxscore metrics`: flags → a [`MetricsRequest`] → a report, printed.

use anyhow::{Context, anyhow};
use cx_core::period::TimeFilter;
use cx_core::survey::Disclosure;
use cx_core::survey::ces::CesDirection;
use cx_core::survey::group::{DimensionSpec, MetricsSpec};
use cx_core::survey::scale::Scale;
use cx_io::ScanOptions;
use cx_io::metrics::{MetricsRequest, compute};
use cx_store::Store;
use cx_store::metrics::{MetricsQuery, parse_filters, parse_weights, survey_metrics};

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
    let encoding = crate::encoding_flag(&args.encoding)?;
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
    let query = query_from(args);
    crate::block_on(async {
        let store = cx_store::open(db).await.map_err(crate::store_failure)?;
        let stored = store.survey(survey).await.map_err(crate::store_failure)?;
        let request = query
            .resolve(&stored)
            .map_err(|e| Failure::bad_input(anyhow!(e)))?;
        let report = survey_metrics(&store, &request)
            .await
            .map_err(crate::store_failure)?;
        output::print_report(&report, &args.by, &request.time, format).map_err(Failure::runtime)
    })
}

/// The flags of a database question, as the query the HTTP endpoint shares.
pub fn query_from(args: &MetricsArgs) -> MetricsQuery {
    MetricsQuery {
        nps: args.nps.clone(),
        csat: args.csat.clone(),
        ces: args.ces.clone(),
        sentiment: args.sentiment.clone(),
        dim: args.dim.clone(),
        weights: args.weights.clone(),
        by: args.by.clone(),
        interval: args.interval.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        filters: args.filters.clone(),
        compare: args.compare.is_some(),
        anonymous: args.anonymous,
    }
}

/// `--interval`, `--from`, `--to`, `--compare` for files, which need `--time`.
fn time_filter(args: &MetricsArgs) -> anyhow::Result<TimeFilter> {
    let time = cx_store::metrics::time_filter(
        args.interval.as_deref(),
        args.from.as_deref(),
        args.to.as_deref(),
        args.compare.is_some(),
        &args.by,
    )
    .map_err(|e| anyhow!(e))?;
    if time.needs_dates() && args.time.is_none() {
        anyhow::bail!(
            "--interval, --from and --to need --time COL, the column with the response date"
        );
    }
    Ok(time)
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
    if let Some(c) = &args.sentiment {
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
        Some(text) => parse_weights(text, &dims).map_err(|e| anyhow!(e))?,
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
        sentiment: args.sentiment.is_some(),
        dims,
        weights,
        disclosure: Disclosure {
            anonymous: args.anonymous,
        },
    };
    spec.validate()?;

    let time = time_filter(args)?;
    let filters = parse_filters(&args.filters).map_err(|e| anyhow!(e))?;
    Ok(MetricsRequest {
        spec,
        slot_columns,
        by: args.by.clone(),
        time_column: args.time.clone(),
        time,
        filters,
        polarity: Some(cx_io::metrics::TextPolarity(std::sync::Arc::new(
            |text: &str| cx_text::Analyzer::builtin().analyze(text).sentiment.value(),
        ))),
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
