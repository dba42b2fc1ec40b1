//! `cxscore drivers`: which rated aspects drive the outcome — relative weights
//! (Johnson 2000) with the importance–performance quadrants.

use std::io::Write;

use anyhow::{Context, anyhow};
use cx_core::survey::drivers::{quadrants, relative_weights};
use cx_io::ScanOptions;
use cx_io::table::TableSource;
use serde::Serialize;

use crate::Failure;
use crate::cli::{DriversArgs, OutputFormat};

#[derive(Debug, Serialize)]
struct Driver {
    name: String,
    weight: f64,
    share_pct: f64,
    mean: f64,
    quadrant: cx_core::survey::drivers::Quadrant,
}

#[derive(Debug, Serialize)]
struct DriversReport {
    target: String,
    n: usize,
    excluded_rows: u64,
    r_squared: f64,
    drivers: Vec<Driver>,
}

/// Runs `cxscore drivers`.
pub fn run(args: &DriversArgs, format: OutputFormat) -> Result<(), Failure> {
    let dims: Vec<String> = args
        .dims
        .iter()
        .flat_map(|d| d.split(','))
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty())
        .collect();
    if dims.len() < 2 {
        return Err(Failure::bad_input(anyhow!(
            "--dims needs at least two columns, e.g. --dims product_quality,service_attitude,price"
        )));
    }
    let encoding = crate::encoding_flag(&args.encoding)?;
    let options = ScanOptions {
        encoding,
        ..ScanOptions::default()
    };
    let source = TableSource::open(&args.input, &options).map_err(Failure::bad_input)?;
    let column = |name: &str| -> Result<usize, Failure> {
        source
            .header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| {
                Failure::bad_input(anyhow!(
                    "{}: no column {name:?} (columns: {})",
                    args.input.display(),
                    source.header.join(", ")
                ))
            })
    };
    let target = column(&args.target)?;
    let cols = dims
        .iter()
        .map(|d| column(d))
        .collect::<Result<Vec<_>, _>>()?;
    let (mut x, mut y, mut excluded) = (Vec::new(), Vec::new(), 0u64);
    let number = |s: &str| s.trim().parse::<f64>().ok().filter(|v| v.is_finite());
    source
        .for_each_row(&options, &|_| {}, &mut |_, row| {
            let t = row.get(target).and_then(|s| number(s));
            let values: Option<Vec<f64>> = cols
                .iter()
                .map(|&c| row.get(c).and_then(|s| number(s)))
                .collect();
            match (t, values) {
                (Some(t), Some(v)) => {
                    y.push(t);
                    x.push(v);
                }
                _ => excluded += 1,
            }
            true
        })
        .map_err(Failure::bad_input)?;
    let weights = relative_weights(&x, &y)
        .map_err(|e| Failure::bad_input(anyhow!("{}: {e}", args.input.display())))?;
    let means: Vec<f64> = (0..dims.len())
        .map(|j| x.iter().map(|r| r[j]).sum::<f64>() / x.len() as f64)
        .collect();
    let quads = quadrants(&weights.weights, &means);
    let mut drivers: Vec<Driver> = dims
        .iter()
        .enumerate()
        .map(|(j, name)| Driver {
            name: name.clone(),
            weight: weights.weights[j],
            share_pct: weights.shares_pct[j],
            mean: means[j],
            quadrant: quads[j],
        })
        .collect();
    drivers.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    let report = DriversReport {
        target: args.target.clone(),
        n: weights.n,
        excluded_rows: excluded,
        r_squared: weights.r_squared,
        drivers,
    };
    print(&report, format)
        .context("writing the report")
        .map_err(Failure::runtime)
}

fn print(report: &DriversReport, format: OutputFormat) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, report)?;
            writeln!(out)
        }
        OutputFormat::Csv => {
            writeln!(out, "driver,weight,share_pct,mean,quadrant")?;
            for d in &report.drivers {
                let q = serde_json::to_value(d.quadrant).unwrap_or_default();
                writeln!(
                    out,
                    "{},{},{},{},{}",
                    d.name,
                    d.weight,
                    d.share_pct,
                    d.mean,
                    q.as_str().unwrap_or("")
                )?;
            }
            Ok(())
        }
        OutputFormat::Table => {
            writeln!(
                out,
                "drivers of {} (relative weights, Johnson 2000): n {}, R² {:.3}{}",
                report.target,
                report.n,
                report.r_squared,
                if report.excluded_rows > 0 {
                    format!(
                        ", {} rows without every value left out",
                        report.excluded_rows
                    )
                } else {
                    String::new()
                }
            )?;
            let rows: Vec<[String; 5]> = report
                .drivers
                .iter()
                .map(|d| {
                    [
                        d.name.clone(),
                        format!("{:.4}", d.weight),
                        format!("{:.1}", d.share_pct),
                        format!("{:.2}", d.mean),
                        d.quadrant.label("en").to_string(),
                    ]
                })
                .collect();
            crate::survey::write_rows(
                &mut out,
                ["driver", "weight", "share %", "mean", "quadrant"],
                &rows,
            )
        }
    }
}
