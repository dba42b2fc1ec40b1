//! `cxscore text analyze` and `cxscore text problems`: sentiment, topics and
//! key phrases of feedback texts (cx-text), from a file or standard input.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, anyhow};
use cx_io::ScanOptions;
use cx_io::table::TableSource;
use cx_text::{Analysis, Analyzer, Lang, TopicConfig};

use crate::Failure;
use crate::cli::{OutputFormat, TextArgs, TextCommand};

/// Column names taken as the text when `--column` is not given.
const TEXT_COLUMNS: &[&str] = &[
    "text", "comment", "comments", "review", "feedback", "verbatim", "answer", "why", "content",
    "评论", "内容", "反馈", "意见", "评价", "留言", "文本", "备注", "原因", "建议",
];

/// Run a `text` subcommand. `format` is `None` when `--format` was not given:
/// `analyze` then writes JSON lines (SPEC §2), `problems` a table.
pub fn run(cmd: &TextCommand, db: &str, format: Option<OutputFormat>) -> Result<(), Failure> {
    match cmd {
        TextCommand::Reanalyze => reanalyze(db, format.unwrap_or(OutputFormat::Table)),
        TextCommand::Analyze(args) => {
            let (texts, analyses) = analyze(args)?;
            write_analyses(&texts, &analyses, format.unwrap_or(OutputFormat::Json))
        }
        TextCommand::Problems { args, limit } => {
            let (_, analyses) = analyze(args)?;
            write_problems(&analyses, *limit, format.unwrap_or(OutputFormat::Table))
        }
    }
}

fn reanalyze(db: &str, format: OutputFormat) -> Result<(), Failure> {
    use std::io::IsTerminal;
    let report = crate::block_on(async {
        let store = cx_store::open(db).await.map_err(crate::store_failure)?;
        let terminal = std::io::stderr().is_terminal();
        cx_store::text::reanalyze(&store, &|n| {
            if terminal {
                eprint!("\ranalysed {n} texts");
            }
        })
        .await
        .map_err(crate::store_failure)
    })?;
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    match format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({"answers": report.answers, "feedback": report.feedback})
        ),
        OutputFormat::Csv => println!("answers,feedback\n{},{}", report.answers, report.feedback),
        OutputFormat::Table => {
            println!(
                "analysed {} open-text answers and {} feedback items",
                report.answers, report.feedback
            )
        }
    }
    Ok(())
}

/// The analyzer the flags ask for.
pub fn analyzer(lang: &str, topics: Option<&Path>) -> Result<Analyzer, Failure> {
    let forced = match lang {
        "auto" => None,
        other => Some(
            Lang::parse(other)
                .filter(|l| matches!(l, Lang::Zh | Lang::En))
                .ok_or_else(|| {
                    Failure::bad_input(anyhow!("--lang {other:?}: use auto, zh or en"))
                })?,
        ),
    };
    let mut analyzer = Analyzer::builtin().with_lang(forced);
    if let Some(path) = topics {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))
            .map_err(Failure::bad_input)?;
        let config = TopicConfig::from_json(&text)
            .with_context(|| path.display().to_string())
            .map_err(Failure::bad_input)?;
        analyzer = analyzer.with_topics(&config).map_err(Failure::bad_input)?;
    }
    Ok(analyzer)
}

fn analyze(args: &TextArgs) -> Result<(Vec<String>, Vec<Analysis>), Failure> {
    let analyzer = analyzer(&args.lang, args.topics.as_deref())?;
    let texts = read_texts(args)?;
    let threads = match args.threads {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        n => n,
    };
    let analyses = analyze_all(&analyzer, &texts, threads);
    Ok((texts, analyses))
}

/// Analyse texts on `threads` threads, results in input order.
pub fn analyze_all(analyzer: &Analyzer, texts: &[String], threads: usize) -> Vec<Analysis> {
    let chunk = texts.len().div_ceil(threads.max(1)).max(1);
    let analyse = |part: &[String]| {
        let mut scratch = cx_text::Scratch::default();
        part.iter()
            .map(|t| analyzer.analyze_with(t, &mut scratch))
            .collect::<Vec<_>>()
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = texts
            .chunks(chunk)
            .map(|part| (part, s.spawn(move || analyse(part))))
            .collect();
        // A worker that panicked is redone here: one output per input, always.
        handles
            .into_iter()
            .flat_map(|(part, h)| h.join().unwrap_or_else(|_| analyse(part)))
            .collect()
    })
}

fn read_texts(args: &TextArgs) -> Result<Vec<String>, Failure> {
    let encoding = crate::encoding_flag(&args.encoding)?;
    let path = args.file.as_deref().filter(|p| p.as_os_str() != "-");
    let Some(path) = path else {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .context("reading standard input")
            .map_err(Failure::bad_input)?;
        return lines(&bytes, encoding, "standard input");
    };
    let is_plain = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("txt"));
    if is_plain && args.column.is_none() {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading {}", path.display()))
            .map_err(Failure::bad_input)?;
        return lines(&bytes, encoding, &path.display().to_string());
    }
    let options = ScanOptions {
        encoding,
        ..ScanOptions::default()
    };
    let source = TableSource::open(path, &options).map_err(Failure::bad_input)?;
    let column = text_column(&source.header, args.column.as_deref(), path)?;
    let mut texts = Vec::new();
    source
        .for_each_row(&options, &|_| {}, &mut |_, row| {
            texts.push(row.get(column).cloned().unwrap_or_default());
            true
        })
        .map_err(Failure::bad_input)?;
    Ok(texts)
}

/// One text per line (blank lines are texts too, so output lines match input
/// lines), in UTF-8 (a BOM is dropped) or GB18030, detected as for files.
fn lines(bytes: &[u8], choice: cx_io::EncodingChoice, name: &str) -> Result<Vec<String>, Failure> {
    use cx_io::encoding::{TextEncoding, UTF8_BOM, decode_gb18030, detect};
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let text = match detect(choice, bytes) {
        TextEncoding::Utf8 => std::str::from_utf8(bytes).map(str::to_owned).map_err(|e| {
            Failure::bad_input(anyhow!(
                "{name}: not UTF-8 at byte {} (try --encoding gb18030)",
                e.valid_up_to()
            ))
        })?,
        TextEncoding::Gb18030 => decode_gb18030(bytes).0,
    };
    Ok(text
        .lines()
        .map(|l| l.trim_end_matches('\r').to_owned())
        .collect())
}

fn text_column(header: &[String], wanted: Option<&str>, path: &Path) -> Result<usize, Failure> {
    let found = match wanted {
        Some(name) => header.iter().position(|h| h.trim() == name),
        None if header.len() == 1 => Some(0),
        None => TEXT_COLUMNS
            .iter()
            .find_map(|c| header.iter().position(|h| h.trim().eq_ignore_ascii_case(c))),
    };
    found.ok_or_else(|| {
        let what = match wanted {
            Some(name) => format!("no column {name:?}"),
            None => "no text column found (give --column)".to_owned(),
        };
        Failure::bad_input(anyhow!(
            "{}: {what}; the columns are: {}",
            path.display(),
            header.join(", ")
        ))
    })
}

fn write_analyses(
    texts: &[String],
    analyses: &[Analysis],
    format: OutputFormat,
) -> Result<(), Failure> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let io = |e: std::io::Error| Failure::runtime(e);
    match format {
        OutputFormat::Json => {
            for a in analyses {
                serde_json::to_writer(&mut out, a).map_err(|e| Failure::runtime(anyhow!(e)))?;
                out.write_all(b"\n").map_err(io)?;
            }
        }
        OutputFormat::Csv => {
            writeln!(out, "text,lang,sentiment,score,topics,phrases").map_err(io)?;
            for (t, a) in texts.iter().zip(analyses) {
                let topics: Vec<String> = a
                    .topics
                    .iter()
                    .map(|t| format!("{}:{}", t.topic, t.sentiment.as_str()))
                    .collect();
                writeln!(
                    out,
                    "{},{},{},{},{},{}",
                    csv_cell(t),
                    a.lang.code(),
                    a.sentiment.as_str(),
                    a.score,
                    csv_cell(&topics.join(";")),
                    csv_cell(&a.phrases.join(";"))
                )
                .map_err(io)?;
            }
        }
        OutputFormat::Table => {
            for (t, a) in texts.iter().zip(analyses) {
                let topics: Vec<String> = a
                    .topics
                    .iter()
                    .map(|t| format!("{} {}", t.topic, sign(t.sentiment)))
                    .collect();
                writeln!(
                    out,
                    "{:<8} {:>6.2} {:<5} {}\n         {}",
                    a.sentiment.as_str(),
                    a.score,
                    a.lang.code(),
                    shorten(t, 60),
                    if topics.is_empty() {
                        "-".to_owned()
                    } else {
                        topics.join(", ")
                    }
                )
                .map_err(io)?;
            }
        }
    }
    out.flush().map_err(io)
}

fn sign(p: cx_text::Polarity) -> &'static str {
    match p {
        cx_text::Polarity::Positive => "+",
        cx_text::Polarity::Neutral => "·",
        cx_text::Polarity::Negative => "−",
    }
}

fn shorten(text: &str, chars: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= chars {
        one_line
    } else {
        one_line.chars().take(chars - 1).chain(['…']).collect()
    }
}

fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Topics with their positive / neutral / negative counts, then the main problems.
fn write_problems(
    analyses: &[Analysis],
    limit: usize,
    format: OutputFormat,
) -> Result<(), Failure> {
    let summary = cx_text::summary::Summary::of(analyses.iter(), limit);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let io = |e: std::io::Error| Failure::runtime(e);
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &summary)
                .map_err(|e| Failure::runtime(anyhow!(e)))?;
            writeln!(out).map_err(io)?;
        }
        OutputFormat::Csv => {
            writeln!(
                out,
                "kind,name,texts,positive,neutral,negative,negative_pct,topic"
            )
            .map_err(io)?;
            for t in &summary.topics {
                writeln!(
                    out,
                    "topic,{},{},{},{},{},{},",
                    t.topic, t.n, t.positive, t.neutral, t.negative, t.negative_pct
                )
                .map_err(io)?;
            }
            for p in &summary.problems {
                writeln!(
                    out,
                    "problem,{},{},,,,,{}",
                    csv_cell(&p.phrase),
                    p.count,
                    p.topic.as_deref().unwrap_or("")
                )
                .map_err(io)?;
            }
        }
        OutputFormat::Table => {
            let s = &summary.overall;
            writeln!(
                out,
                "{} texts: {} positive, {} neutral, {} negative\n\ntopic              texts  positive  neutral  negative  negative %",
                s.n, s.positive, s.neutral, s.negative
            )
            .map_err(io)?;
            for t in &summary.topics {
                writeln!(
                    out,
                    "{:<18} {:>5} {:>9} {:>8} {:>9} {:>10.1}",
                    t.topic, t.n, t.positive, t.neutral, t.negative, t.negative_pct
                )
                .map_err(io)?;
            }
            writeln!(out, "\nmain problems (key phrases of negative texts)").map_err(io)?;
            for p in &summary.problems {
                writeln!(
                    out,
                    "{:>5}  {}  {}",
                    p.count,
                    p.phrase,
                    p.topic.as_deref().unwrap_or("")
                )
                .map_err(io)?;
            }
        }
    }
    out.flush().map_err(io)
}
