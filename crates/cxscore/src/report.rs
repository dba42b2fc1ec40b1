//! `cxscore report --out FILE.html`: the dashboard's overview as one
//! self-contained HTML file (inline CSS and SVG charts, no external requests).

use anyhow::{Context, anyhow};
use askama::Template;
use cx_server::dashboard::{FILTER_FIELDS, ViewParams, Viewer, overview};

use crate::cli::ReportArgs;
use crate::{Failure, block_on, store_failure};

/// Runs `cxscore report`.
pub fn run(args: &ReportArgs, db: &str) -> Result<(), Failure> {
    let ext = args
        .out
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ext != "html" && ext != "htm" {
        return Err(Failure::bad_input(anyhow!(
            "--out {}: write the report as .html (PDF output is not available yet)",
            args.out.display()
        )));
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(s) = &args.survey {
        query.append_pair("survey", s);
    }
    query.append_pair("interval", &args.interval);
    query.append_pair("by", &args.by);
    for (k, v) in [("from", &args.from), ("to", &args.to)] {
        if let Some(v) = v {
            query.append_pair(k, v);
        }
    }
    for f in &args.filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| Failure::bad_input(anyhow!("--where {f:?}: write FIELD=VALUE")))?;
        if !FILTER_FIELDS.contains(&k.trim()) {
            return Err(Failure::bad_input(anyhow!(
                "--where {f:?}: filter by {}",
                FILTER_FIELDS.join(", ")
            )));
        }
        query.append_pair(k.trim(), v.trim());
    }
    let params = ViewParams::parse(&query.finish());
    let html = block_on(async {
        let store = cx_store::open(db).await.map_err(store_failure)?;
        let viewer = Viewer {
            lang: &args.lang,
            csrf: "",
            username: "",
            standalone: true,
        };
        let view = overview(&store, &params, &viewer)
            .await
            .map_err(|e| Failure::bad_input(anyhow!(e.message)))?;
        view.render().map_err(Failure::runtime)
    })?;
    std::fs::write(&args.out, html)
        .with_context(|| format!("writing {}", args.out.display()))
        .map_err(Failure::runtime)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}
