//! `cxscore report --out FILE.html`: the dashboard's overview as one
//! self-contained HTML file (inline CSS and SVG charts, no external requests).

use anyhow::{Context, anyhow};
use askama::Template;
use cx_server::dashboard::{FILTER_FIELDS, ViewParams, Viewer, overview};

use crate::cli::ReportArgs;
use crate::{Failure, block_on, store_failure};

/// Runs `cxscore report`.
pub fn run(args: &ReportArgs, db: &str) -> Result<(), Failure> {
    if args.schedules || args.unschedule.is_some() {
        return schedules(args, db);
    }
    let out = match (&args.out, &args.every) {
        (Some(out), _) => out.clone(),
        (None, Some(_)) => return schedule(args, db),
        (None, None) => {
            return Err(Failure::bad_input(anyhow!(
                "give --out FILE.html or --every week|month --dir DIR"
            )));
        }
    };
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let pdf = ext == "pdf";
    if ext != "html" && ext != "htm" && !pdf {
        return Err(Failure::bad_input(anyhow!(
            "--out {}: write the report as .html or .pdf",
            out.display()
        )));
    }
    let font = if pdf {
        Some(
            cx_pdf::find_font(args.font.as_deref())
                .map_err(|e| Failure::bad_input(anyhow!("{e}")))?
                .1,
        )
    } else {
        None
    };
    let params = ViewParams::parse(&view_query(args)?);
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
        match font {
            Some(font) => cx_pdf::render(&view.pdf_blocks(), font)
                .map_err(|e| Failure::runtime(anyhow!("{e}"))),
            None => view
                .render()
                .map(String::into_bytes)
                .map_err(Failure::runtime),
        }
    })?;
    std::fs::write(&out, html)
        .with_context(|| format!("writing {}", out.display()))
        .map_err(Failure::runtime)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

fn api_failure(e: cx_server::error::ApiError) -> Failure {
    if e.status_code().is_client_error() {
        Failure::bad_input(anyhow!(e.message()))
    } else {
        Failure::runtime(anyhow!(e.message()))
    }
}

/// `report --every week|month --dir DIR`: a schedule `serve` runs.
fn schedule(args: &ReportArgs, db: &str) -> Result<(), Failure> {
    let query = view_query(args)?;
    let every = args.every.clone().unwrap_or_default();
    let dir = args
        .dir
        .as_ref()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let s = block_on(async {
        let store = cx_store::open(db).await.map_err(store_failure)?;
        cx_server::schedule::add(&store, &every, &query, &args.lang, &dir)
            .await
            .map_err(api_failure)
    })?;
    println!(
        "report {} scheduled every {} into {} (cxscore serve writes it; webhooks wanting report.ready receive it)",
        s.id, s.every, s.dir
    );
    Ok(())
}

/// `report --schedules` and `report --unschedule ID`.
fn schedules(args: &ReportArgs, db: &str) -> Result<(), Failure> {
    block_on(async {
        let store = cx_store::open(db).await.map_err(store_failure)?;
        if let Some(id) = args.unschedule {
            if cx_server::schedule::remove(&store, id)
                .await
                .map_err(api_failure)?
            {
                println!("removed scheduled report {id}");
                return Ok(());
            }
            return Err(Failure::bad_input(anyhow!("no scheduled report {id}")));
        }
        for s in cx_server::schedule::schedules(&store)
            .await
            .map_err(api_failure)?
        {
            println!(
                "{}  every {}  {}  {}  last {}",
                s.id,
                s.every,
                s.dir,
                s.view,
                s.last.as_deref().unwrap_or("—")
            );
        }
        Ok(())
    })
}

/// The report's view (survey, interval, breakdown, dates, filters) as a query string.
fn view_query(args: &ReportArgs) -> Result<String, Failure> {
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
    Ok(query.finish())
}
