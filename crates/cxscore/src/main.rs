//! `cxscore`: the command line. Thin wiring over the library crates: parse
//! flags, call the domain, render. Exit codes: 0 ok, 1 runtime failure, 2 bad
//! usage or bad input.

mod accounts;
mod cli;
mod customers;
mod demo;
mod drivers;
mod import;
mod metrics;
mod output;
mod programmes;
mod progress;
mod report;
mod serve;
mod survey;
mod text;

use std::io::Write;
use std::process::ExitCode;

use cli::{Cli, Command};

/// mimalloc: allocations made on one thread and freed on another (the import
/// hands rows to SQLite's worker thread) no longer contend for glibc's arena
/// locks.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A failure with the exit code it deserves.
#[derive(Debug)]
pub struct Failure {
    /// 1 (runtime) or 2 (bad usage / bad input).
    pub code: u8,
    /// What went wrong, where, and what to do.
    pub error: anyhow::Error,
}

impl Failure {
    /// The caller's input or flags were wrong (exit 2).
    pub fn bad_input(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: 2,
            error: error.into(),
        }
    }

    /// Something failed that the caller could not have prevented (exit 1).
    pub fn runtime(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: 1,
            error: error.into(),
        }
    }
}

/// Runs a future to completion on a single-threaded runtime: the CLI does one
/// thing at a time, and the database drivers need no more.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime can be built")
        .block_on(future)
}

/// The `--encoding` flag (auto, utf-8 or gb18030), or the error that names it.
pub fn encoding_flag(text: &str) -> Result<cx_io::EncodingChoice, Failure> {
    cx_io::EncodingChoice::parse(text).ok_or_else(|| {
        Failure::bad_input(anyhow::anyhow!(
            "--encoding {text:?}: use auto, utf-8 or gb18030"
        ))
    })
}

/// Store errors: the caller's (unknown survey, slug in use, bad URL) exit 2.
pub fn store_failure(e: cx_store::StoreError) -> Failure {
    use cx_store::StoreError as E;
    match e {
        E::NotFound(_) | E::Conflict(_) | E::Invalid(_) | E::BadUrl(_) => Failure::bad_input(e),
        E::Open { .. } | E::Db(_) => Failure::runtime(e),
    }
}

fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // Whether --format was given (commands with a natural default of their own).
    let format_given =
        matches.value_source("format") == Some(clap::parser::ValueSource::CommandLine);
    let result = match &cli.command {
        Command::Metrics(args) => metrics::run(args, &cli.db, cli.format),
        Command::Import(args) => import::run(args, &cli.db, cli.format),
        Command::Survey(cmd) => survey::run(cmd, &cli.db, cli.format),
        Command::Demo(args) => demo::run(args, &cli.db, cli.format),
        Command::Customers(cmd) => customers::run_customers(cmd, &cli.db, cli.format),
        Command::Clv(cmd) => customers::run_clv(cmd, &cli.db, cli.format),
        Command::Drivers(args) => drivers::run(args, cli.format),
        Command::Text(cmd) => text::run(cmd, &cli.db, format_given.then_some(cli.format)),
        Command::Report(args) => report::run(args, &cli.db),
        Command::Serve(args) => serve::run(args, &cli.db),
        Command::User(cmd) => serve::run_user(cmd, &cli.db, cli.format),
        Command::Token(cmd) => serve::run_token(cmd, &cli.db, cli.format),
        Command::Accounts(cmd) => accounts::run_accounts(cmd, &cli.db, cli.format),
        Command::Tasks(cmd) => accounts::run_tasks(cmd, &cli.db, cli.format),
        Command::Webhook(cmd) => accounts::run_webhook(cmd, &cli.db, cli.format),
        Command::Actions(cmd) => accounts::run_actions(cmd, &cli.db, cli.format),
        Command::Programme(cmd) => programmes::run(cmd, &cli.db, cli.format),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            // A closed pipe (`cxscore … | head`) is not an error.
            if f.error.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            let mut stderr = std::io::stderr().lock();
            // The causes, each once: many errors already quote their source.
            let mut text = f.error.to_string();
            for cause in f.error.chain().skip(1) {
                let c = cause.to_string();
                if !text.contains(&c) {
                    text.push_str(": ");
                    text.push_str(&c);
                }
            }
            let _ = writeln!(stderr, "error: {text}");
            ExitCode::from(f.code)
        }
    }
}
