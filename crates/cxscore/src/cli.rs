//! Flags and subcommands (SPEC §2).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// cxscore — customer scores from surveys and CRM data: NPS, CSAT, CES and
/// more, each with its sample size, a 95% interval and significance tests.
#[derive(Debug, Parser)]
#[command(name = "cxscore", version, about, max_term_width = 100)]
pub struct Cli {
    /// Database: sqlite://FILE (default sqlite://cxscore.db) or postgres://USER@HOST/DB.
    #[arg(long, global = true, env = "CXSCORE_DB", default_value = cx_store::DEFAULT_URL, value_name = "URL")]
    pub db: String,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned table for people (rounded).
    Table,
    /// JSON with full precision (SPEC §2 shape).
    Json,
    /// CSV with full precision, one row per group.
    Csv,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Survey metrics (NPS, CSAT, CES, rated dimensions, CSI) from export files or the database.
    #[command(after_help = METRICS_EXAMPLES)]
    Metrics(MetricsArgs),
    /// Import a file (CSV, TSV, XLSX, JSONL, Parquet; UTF-8 or GBK) into the database.
    #[command(after_help = IMPORT_HELP)]
    Import(ImportArgs),
    /// Survey definitions: create, list, show.
    #[command(subcommand)]
    Survey(SurveyCommand),
    /// Write a realistic bilingual demo data set into the database.
    Demo(DemoArgs),
    /// Customer metrics from transactions: retention, repeat purchase, growth, CLV, RFM.
    #[command(subcommand)]
    Customers(CustomersCommand),
    /// Lifetime value by BG/NBD + Gamma-Gamma: fit the models, predict per customer.
    #[command(subcommand)]
    Clv(ClvCommand),
    /// Driver analysis: which rated aspects move the outcome (relative weights, Johnson 2000).
    Drivers(DriversArgs),
    /// Feedback text analytics: sentiment, topics with their own sentiment, main problems.
    #[command(subcommand)]
    Text(TextCommand),
    /// A self-contained HTML report of a survey: tiles, trend, breakdown, aspects.
    Report(ReportArgs),
    /// The web app: survey pages, invitations, the REST API (SPEC §3).
    Serve(ServeArgs),
    /// Users of the web app and API.
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Accounts as a whole: the composite customer score and the relationship with key people.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Follow-up tasks: list, show, update; run the close-the-loop rules; set the rules.
    #[command(subcommand)]
    Tasks(TasksCommand),
    /// Outgoing webhooks (signed with HMAC-SHA256; delivered by `cxscore serve`).
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Improvement actions and the change of the metric they target since they started.
    #[command(subcommand)]
    Actions(ActionsCommand),
    /// Survey programmes: a survey sent to an audience on a cadence, with reminders, rewards and response rates.
    #[command(subcommand, after_help = PROGRAMME_HELP)]
    Programme(ProgrammeCommand),
}

/// `cxscore programme …`.
#[derive(Debug, Subcommand)]
pub enum ProgrammeCommand {
    /// Create a programme from its JSON file (see examples/programme.json).
    Create {
        /// The definition.
        file: PathBuf,
        /// Replace the programme with the same slug (waves already drawn stay).
        #[arg(long)]
        replace: bool,
    },
    /// Every programme with its response rate.
    List,
    /// A programme's waves (who was left out and why) and response rates by segment.
    Show {
        /// Programme slug.
        slug: String,
        /// Segment of the rates: wave, channel, tier, region, industry, sales_team, role.
        #[arg(long, default_value = "tier")]
        by: String,
    },
    /// Stop drawing and sending until resumed.
    Pause {
        /// Programme slug.
        slug: String,
    },
    /// Draw and send again.
    Resume {
        /// Programme slug.
        slug: String,
    },
    /// Upload coupon codes to a pool (one per line, or a CSV's first column); each is given at most once.
    Coupons {
        /// Pool name (a programme's `reward.coupon`).
        pool: String,
        /// The codes.
        file: PathBuf,
    },
    /// Who received which reward.
    Rewards {
        /// Programme slug.
        slug: String,
    },
    /// Invitations, reminders and reward messages with their status.
    Messages {
        /// Programme slug.
        slug: String,
    },
    /// Personal links of a wave: a call list (phone) or a printable sheet with QR codes (print).
    Links {
        /// Programme slug.
        slug: String,
        /// Wave label (default: the latest).
        #[arg(long)]
        wave: Option<String>,
        /// The address the links point at.
        #[arg(long, default_value = "http://127.0.0.1:8080", value_name = "URL")]
        base_url: String,
        /// Write a printable HTML sheet (QR codes included) instead of listing the links.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Contact rules for every programme (shows them; flags change them).
    Rules {
        /// Never ask a person twice within this many days.
        #[arg(long, value_name = "DAYS")]
        min_days: Option<u32>,
        /// At most this many people of one account per wave (0 = no cap).
        #[arg(long, value_name = "N")]
        account_cap: Option<u32>,
        /// Quiet hours in each person's time zone, START-END (e.g. 21-8; 0-0 = none).
        #[arg(long, value_name = "START-END")]
        quiet: Option<String>,
        /// Time zone of people who have none (Asia/Shanghai, +08:00, …).
        #[arg(long, value_name = "TZ")]
        time_zone: Option<String>,
    },
    /// One round of the scheduler now (what `serve` does every few seconds): draw due waves, remind, reward, send.
    Run {
        /// SMTP server (smtp://HOST:PORT, smtp+starttls://…, smtps://…).
        #[arg(long, value_name = "URL", env = "CXSCORE_SMTP", requires = "mail_from")]
        smtp: Option<String>,
        /// Sender address.
        #[arg(long, value_name = "ADDRESS", env = "CXSCORE_MAIL_FROM")]
        mail_from: Option<String>,
        /// The address links in messages point at (the server respondents reach).
        #[arg(long, default_value = "http://127.0.0.1:8080", value_name = "URL")]
        base_url: String,
    },
}

const PROGRAMME_HELP: &str = "Examples:
  cxscore programme create examples/programme.json
  cxscore programme coupons Q4 coupons.txt
  cxscore programme show key-rnps --by tier
  cxscore programme rules --min-days 30 --account-cap 5 --quiet 21-8
  cxscore serve --smtp smtp://127.0.0.1:2525 --mail-from cx@example.com   # sends the waves
  cxscore programme links visits-2026 --out sheet.html                    # QR codes to print";

/// `cxscore actions …`.
#[derive(Debug, Subcommand)]
pub enum ActionsCommand {
    /// Record an action aimed at a survey metric.
    Add {
        /// What is done.
        #[arg(long)]
        title: String,
        /// The survey (id or slug).
        #[arg(long)]
        survey: String,
        /// nps, csat, ces or dim:NAME.
        #[arg(long)]
        metric: String,
        /// Only responses with COL=VALUE (repeatable), e.g. region=华东.
        #[arg(long = "where", value_name = "COL=VALUE")]
        filters: Vec<String>,
        /// Who.
        #[arg(long)]
        owner: Option<String>,
        /// Since when (default: today).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
    },
    /// Every action with its metric now against the equally long window before it started.
    List,
    /// Mark an action done.
    Done {
        /// Action id.
        id: i64,
    },
}

/// `cxscore accounts …`.
#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Customer score / health of every account: 0–100, grade A–D, the components and where points are lost.
    #[command(after_help = SCORE_HELP)]
    Score {
        /// A scorecard file (JSON: weights, standards, grades, min_coverage); default: the one saved in the database, else the built-in one.
        #[arg(long, value_name = "FILE")]
        scorecard: Option<PathBuf>,
        /// Also save the scorecard file as the company's scorecard (used by the app and API).
        #[arg(long, requires = "scorecard")]
        save: bool,
        /// Score as of this day (default: today).
        #[arg(long, value_name = "DATE")]
        as_of: Option<String>,
        /// Only accounts of this tier (e.g. key).
        #[arg(long)]
        tier: Option<String>,
        /// Only this account.
        #[arg(long, value_name = "CODE")]
        account: Option<String>,
    },
    /// Relationship scores: per account (0–100, influence-weighted over its key people), per dimension, and flags.
    Relationship {
        /// Only this account, with its people.
        #[arg(long, value_name = "CODE")]
        account: Option<String>,
        /// As of this day (default: today).
        #[arg(long, value_name = "DATE")]
        as_of: Option<String>,
    },
}

/// `cxscore tasks …`.
#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// List tasks, newest first.
    List {
        /// open, in_progress, waiting, resolved, active (not resolved, the default) or all.
        #[arg(long, default_value = "active")]
        status: String,
        /// Only this owner.
        #[arg(long)]
        owner: Option<String>,
        /// Only this account.
        #[arg(long, value_name = "CODE")]
        account: Option<String>,
        /// Only overdue tasks.
        #[arg(long)]
        overdue: bool,
    },
    /// One task with its history and the re-survey's before/after.
    Show {
        /// Task id.
        id: i64,
    },
    /// Change a task: status, owner, a note, the resolution; optionally re-survey the person.
    Update {
        /// Task id.
        id: i64,
        /// open, in_progress, waiting or resolved.
        #[arg(long)]
        status: Option<String>,
        /// New owner.
        #[arg(long)]
        owner: Option<String>,
        /// A note for the history.
        #[arg(long)]
        note: Option<String>,
        /// What was done (needed to resolve).
        #[arg(long)]
        resolution: Option<String>,
        /// On resolving, print a re-survey link for the person.
        #[arg(long)]
        resurvey: bool,
        /// Who is making the change (recorded in the history).
        #[arg(long = "as", value_name = "NAME", default_value = "cli")]
        author: String,
        /// Address the re-survey link starts with.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base_url: String,
    },
    /// Run the close-the-loop rules once (what `serve` does continuously): new responses, score drops since last quarter, overdue tasks.
    Scan {
        /// Responses older than this many days open no task.
        #[arg(long, default_value_t = 14)]
        max_age_days: i64,
    },
    /// Show the rules in force, or set them from a JSON file.
    Rules {
        /// A rules file (detractor_max, csat_max, negative_comment, score_drop, key_nps_max, key_csat_max, sla_hours, default_sla_hours).
        file: Option<PathBuf>,
    },
    /// Response and resolution times by team.
    Metrics,
}

/// `cxscore webhook …`.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Add a webhook; prints its signing secret once.
    Add {
        /// http:// or https:// address.
        url: String,
        /// Events, comma-separated: response.created, task.created, task.overdue, task.resolved, score.changed (default: all).
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        /// The HMAC-SHA256 secret (default: a random one).
        #[arg(long)]
        secret: Option<String>,
    },
    /// List webhooks.
    List,
    /// Remove a webhook and its delivery log.
    Remove {
        /// Webhook id.
        id: i64,
    },
    /// A webhook's delivery log, newest first.
    Deliveries {
        /// Webhook id.
        id: i64,
    },
    /// Queue a delivery again (after the receiver was down); `serve` sends it.
    Redeliver {
        /// Webhook id.
        id: i64,
        /// Delivery id (from `webhook deliveries`).
        delivery: i64,
    },
}

const SCORE_HELP: &str = "Examples:
  cxscore accounts score
  cxscore accounts score --tier key --format json
  cxscore accounts score --scorecard scorecard.json --save

A scorecard file:
  {\"weights\": {\"nps\": 30, \"csat\": 20, \"relationship\": 30, \"complaints\": 20},
   \"standards\": {\"growth\": {\"worst\": -30, \"best\": 30}},
   \"grades\": {\"A\": 85, \"B\": 70, \"C\": 55}, \"min_coverage\": 0.4}";

/// `cxscore text …`.
#[derive(Debug, Subcommand)]
pub enum TextCommand {
    /// One JSON object per text: lang, sentiment, score (−1…1), topics with their own sentiment, key phrases.
    #[command(after_help = TEXT_EXAMPLES)]
    Analyze(TextArgs),
    /// Sentiment counts overall and per topic, and the main problems (key phrases of negative texts).
    Problems {
        #[command(flatten)]
        args: TextArgs,
        /// How many problems to list.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Analyse every stored open-text answer and feedback item again (after an
    /// upgrade of the models, or for rows stored before text analysis existed).
    Reanalyze,
}

/// What `cxscore text` reads.
#[derive(Debug, Args)]
pub struct TextArgs {
    /// CSV/TSV/XLSX/JSONL/Parquet (the text column by name), a .txt file or - (one text per line; the default).
    pub file: Option<PathBuf>,
    /// The column holding the text (default: text, comment, review, feedback, 评论, 内容, 反馈, 意见, …).
    #[arg(long, value_name = "COL")]
    pub column: Option<String>,
    /// The language of every text, or auto to detect each one.
    #[arg(long, default_value = "auto", value_name = "auto|zh|en")]
    pub lang: String,
    /// Extra topics or keywords (JSON: {"topics": [{"id": "…", "zh": […], "en": […]}]}).
    #[arg(long, value_name = "FILE")]
    pub topics: Option<PathBuf>,
    /// Worker threads; 0 = one per core.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Text encoding of CSV/TSV/JSONL.
    #[arg(long, default_value = "auto", value_name = "auto|utf-8|gb18030")]
    pub encoding: String,
}

const TEXT_EXAMPLES: &str = "Examples:
  echo '产品质量不错，但是物流太慢了' | cxscore text analyze
  cxscore text analyze comments.csv --column 评论 --format table
  cxscore text problems feedback.xlsx --column text";

/// `cxscore drivers`.
#[derive(Debug, Args)]
pub struct DriversArgs {
    /// The file (CSV, TSV, XLSX, JSON Lines, Parquet).
    #[arg(long, short, value_name = "FILE")]
    pub input: PathBuf,
    /// The outcome column (e.g. nps or csat).
    #[arg(long, value_name = "COL")]
    pub target: String,
    /// The rated aspects, comma-separated (or repeat the flag).
    #[arg(long, value_name = "COL,…", required = true)]
    pub dims: Vec<String>,
    /// Text encoding of CSV/TSV/JSONL.
    #[arg(long, default_value = "auto", value_name = "auto|utf-8|gb18030")]
    pub encoding: String,
}

/// `cxscore report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The report file: .html (self-contained) or .pdf (same content).
    #[arg(long, value_name = "FILE", required_unless_present_any = ["every", "schedules", "unschedule"])]
    pub out: Option<PathBuf>,
    /// A font with Chinese characters for the PDF (default: a system font such as
    /// WenQuanYi or Noto CJK; env CXSCORE_PDF_FONT).
    #[arg(long, value_name = "FILE")]
    pub font: Option<PathBuf>,
    /// Schedule the report instead: written by `cxscore serve` once a week or a month into --dir.
    #[arg(
        long,
        value_name = "week|month",
        requires = "dir",
        conflicts_with = "out"
    )]
    pub every: Option<String>,
    /// Folder scheduled reports are written to (cxscore-SURVEY-PERIOD.html).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// List the scheduled reports.
    #[arg(long, conflicts_with_all = ["out", "every"])]
    pub schedules: bool,
    /// Remove a scheduled report.
    #[arg(long, value_name = "ID", conflicts_with_all = ["out", "every"])]
    pub unschedule: Option<u32>,
    /// Survey id or slug (default: the newest).
    #[arg(long, value_name = "ID")]
    pub survey: Option<String>,
    /// Trend periods.
    #[arg(long, default_value = "quarter", value_name = "month|quarter")]
    pub interval: String,
    /// Break down by this field.
    #[arg(long, default_value = "region", value_name = "FIELD")]
    pub by: String,
    /// Only responses on or after this date.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Only responses on or before this date.
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Only responses where FIELD is VALUE (region, product_line, sales_team, channel, tier).
    #[arg(long = "where", value_name = "FIELD=VALUE")]
    pub filters: Vec<String>,
    /// Language of the report.
    #[arg(long, default_value = "zh", value_name = "zh|en")]
    pub lang: String,
}

/// `cxscore serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    pub addr: String,
    /// Fill an empty database with the demo data set and an admin user first.
    #[arg(long)]
    pub demo: bool,
    /// Requests per minute per IP address on public pages and sign-in (0: no limit).
    #[arg(long, default_value_t = 120, value_name = "N")]
    pub rate_limit: u32,
    /// Most submissions committed in one transaction.
    #[arg(long, default_value_t = 1024, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch: u32,
    /// The public address used in invitation links (default: http://ADDR).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Mark cookies Secure (serve behind HTTPS).
    #[arg(long)]
    pub secure_cookies: bool,
    /// SMTP server for email notifications (`mailto:` subscriptions of `cxscore webhook add`):
    /// smtp://[USER:PASS@]HOST[:PORT], smtp+starttls://… or smtps://… (env CXSCORE_SMTP).
    #[arg(long, value_name = "URL", env = "CXSCORE_SMTP", requires = "mail_from")]
    pub smtp: Option<String>,
    /// The sender of notification mails.
    #[arg(long, value_name = "ADDRESS", env = "CXSCORE_MAIL_FROM")]
    pub mail_from: Option<String>,
    /// First webhook/email retry after this many seconds (doubling each time).
    #[arg(long, default_value_t = 30, value_name = "SECS", value_parser = clap::value_parser!(i64).range(1..=3600))]
    pub retry_secs: i64,
}

/// `cxscore user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; prints a generated password unless --password-stdin.
    Add {
        /// User name.
        username: String,
        /// admin, analyst (read, export, tasks) or viewer (read).
        #[arg(long, default_value = "admin", value_name = "admin|analyst|viewer")]
        role: String,
        /// Read the password from standard input (at least 10 characters).
        #[arg(long)]
        password_stdin: bool,
    },
}

/// `cxscore token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user; the token is printed once.
    Create {
        /// Whose token.
        #[arg(long, value_name = "NAME")]
        user: String,
        /// read, submit or write, optionally with survey:ID items, comma-separated.
        #[arg(long, default_value = "write", value_name = "SCOPE")]
        scope: String,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token.
    Revoke {
        /// Token id (from `token list`).
        id: i64,
    },
}

/// Where transactions come from, and how they are sliced.
#[derive(Debug, Args, Clone)]
pub struct TransactionSource {
    /// A transaction log (CSV/TSV/XLSX/JSONL/Parquet); the database's transactions when absent.
    #[arg(long, value_name = "FILE")]
    pub transactions: Option<PathBuf>,
    /// Column with the customer id (default: recognised by name, e.g. customer_id, 客户编号).
    #[arg(long, value_name = "COL")]
    pub customer: Option<String>,
    /// Column with the date.
    #[arg(long, value_name = "COL")]
    pub date: Option<String>,
    /// Column with the amount.
    #[arg(long, value_name = "COL")]
    pub amount: Option<String>,
    /// Slice by this column (file) or field (database: product_line, region, tier, sales_team, industry).
    #[arg(long, value_name = "COL", conflicts_with = "survey")]
    pub by: Option<String>,
    /// Slice by each customer's latest answer to this survey (id or slug): NPS
    /// category, else CSAT or CES band; customers without an answer are `no_answer`.
    #[arg(long, value_name = "ID")]
    pub survey: Option<String>,
    /// Text encoding of CSV/TSV/JSONL.
    #[arg(long, default_value = "auto", value_name = "auto|utf-8|gb18030")]
    pub encoding: String,
}

impl TransactionSource {
    /// The name of the slice key: `--by COL`, or `category` with `--survey`.
    pub fn slice_name(&self) -> Option<&str> {
        if self.survey.is_some() {
            Some("category")
        } else {
            self.by.as_deref()
        }
    }
}

/// `cxscore customers …`.
#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// Retention and churn, 100·(E − N)/S, for --from … --to.
    Retention {
        #[command(flatten)]
        source: TransactionSource,
        /// Period start.
        #[arg(long, value_name = "DATE")]
        from: String,
        /// Period end.
        #[arg(long, value_name = "DATE")]
        to: String,
        /// Days of inactivity after which a customer without lifecycle dates counts as gone.
        #[arg(long, default_value_t = 365)]
        window: i32,
    },
    /// Repeat purchase rate (Wilson interval), average order value, orders per customer.
    Repeat {
        #[command(flatten)]
        source: TransactionSource,
        /// Period start.
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Period end.
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
    },
    /// Sales per period and growth against the previous period.
    Growth {
        #[command(flatten)]
        source: TransactionSource,
        /// day, week, month, quarter or year.
        #[arg(long, default_value = "quarter")]
        interval: String,
    },
    /// CLV = average purchase × purchases per year × lifespan (× margin, discounted).
    ClvFormula {
        #[command(flatten)]
        source: TransactionSource,
        /// Gross margin applied to revenue (1 = revenue).
        #[arg(long, default_value_t = 1.0)]
        margin: f64,
        /// Annual discount rate.
        #[arg(long, default_value_t = 0.0)]
        discount: f64,
        /// Expected lifespan in years (default: 1 / annual churn over the last year).
        #[arg(long)]
        lifespan: Option<f64>,
    },
    /// Expected future revenue (BG/NBD + Gamma-Gamma CLV) by each account's latest
    /// NPS category (or CSAT/CES band): what detractors hold, who is at risk, whom to care for.
    RevenueAtRisk {
        /// The survey (id or slug).
        #[arg(long, value_name = "ID")]
        survey: String,
        /// The question (default: the survey's NPS question, else CSAT, else CES).
        #[arg(long, value_name = "Q")]
        question: Option<String>,
        /// Horizon in weeks.
        #[arg(long, default_value_t = 52.0)]
        horizon: f64,
        /// Monthly discount rate.
        #[arg(long, default_value_t = 0.0)]
        discount: f64,
        /// Gross margin applied to spend.
        #[arg(long, default_value_t = 1.0)]
        margin: f64,
    },
    /// Recency, frequency, monetary scores (quintiles) and segments.
    Rfm {
        #[command(flatten)]
        source: TransactionSource,
        /// Analysis date (default: the last transaction date).
        #[arg(long, value_name = "DATE")]
        as_of: Option<String>,
    },
}

/// Inputs of the BG/NBD + Gamma-Gamma models.
#[derive(Debug, Args, Clone)]
pub struct ClvInput {
    #[command(flatten)]
    pub source: TransactionSource,
    /// A ready summary instead: columns customer_id, frequency, recency, T, monetary_value.
    #[arg(long, value_name = "FILE", conflicts_with = "transactions")]
    pub summary: Option<PathBuf>,
    /// End of the observation period (default: the last transaction date).
    #[arg(long, value_name = "DATE")]
    pub period_end: Option<String>,
    /// Time unit of recency, T and the horizon.
    #[arg(long, default_value = "week", value_name = "day|week")]
    pub unit: String,
}

/// `cxscore clv …`.
#[derive(Debug, Subcommand)]
pub enum ClvCommand {
    /// Fit BG/NBD and Gamma-Gamma by maximum likelihood.
    Fit {
        #[command(flatten)]
        input: ClvInput,
    },
    /// Per-customer predictions: expected purchases, P(alive), expected spend, CLV.
    Predict {
        #[command(flatten)]
        input: ClvInput,
        /// Horizon in --unit.
        #[arg(long, default_value_t = 52.0)]
        horizon: f64,
        /// Discount rate per step (steps of a month: 4.33 weeks or 30.4 days).
        #[arg(long, default_value_t = 0.0)]
        discount: f64,
        /// Gross margin applied to spend.
        #[arg(long, default_value_t = 1.0)]
        margin: f64,
    },
}

const IMPORT_HELP: &str = "KIND is one of: responses (needs --survey), accounts, contacts, transactions, feedback, assessments.
Columns are recognised by their Chinese or English names (客户编号/customer_id, 下单日期/order_date,
订单金额/amount, 推荐意愿/nps, …); name others with --map COLUMN=FIELD. Re-importing the same rows adds nothing.

Examples:
  cxscore survey create examples/survey.json
  cxscore import responses examples/responses.csv --survey relationship-2026
  cxscore import transactions orders.xlsx --map 单据号=external_id --errors rejected.csv";

/// `cxscore import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// responses, accounts, contacts, transactions, feedback or assessments.
    pub kind: String,
    /// The file.
    pub file: PathBuf,
    /// The survey the responses answer (id or slug).
    #[arg(long, value_name = "ID")]
    pub survey: Option<String>,
    /// Column mapping, COLUMN=FIELD (repeat).
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    pub map: Vec<String>,
    /// Text encoding of CSV/TSV/JSONL.
    #[arg(long, default_value = "auto", value_name = "auto|utf-8|gb18030")]
    pub encoding: String,
    /// Import nothing unless every row is valid.
    #[arg(long)]
    pub strict: bool,
    /// Write every rejected row (line, column, value, reason) to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub errors: Option<PathBuf>,
    /// Scale of assessment ratings in the file.
    #[arg(long, default_value = "-2..2", value_name = "-2..2|1-5")]
    pub assessment_scale: String,
}

/// `cxscore survey …`.
#[derive(Debug, Subcommand)]
pub enum SurveyCommand {
    /// Store a survey definition (JSON, SPEC §4).
    Create {
        /// The definition file.
        file: PathBuf,
    },
    /// List surveys.
    List,
    /// Show one survey's definition.
    Show {
        /// Id or slug.
        id: String,
    },
    /// One unique link per contact (each accepts one response); prints contact,link.
    Invite {
        /// Survey id or slug.
        id: String,
        /// Contact codes: a CSV with a contact_id (or 联系人编号) column, or one code per line.
        #[arg(long, value_name = "FILE")]
        contacts: PathBuf,
        /// Skip a contact invited or answering within this many days (0: never skip).
        #[arg(long, default_value_t = 30, value_name = "N")]
        quiet_days: u32,
        /// The server's public address for the links.
        #[arg(long, default_value = "http://127.0.0.1:8080", value_name = "URL")]
        base_url: String,
    },
}

/// `cxscore demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of accounts.
    #[arg(long, default_value_t = 240, value_parser = clap::value_parser!(u32).range(20..=100_000))]
    pub accounts: u32,
    /// Random seed (the same seed gives the same data).
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
}

const METRICS_EXAMPLES: &str = "Examples:
  cxscore metrics --input examples/responses.csv --nps nps --csat csat --ces ces --by region
  cxscore metrics --input a.csv b.csv --nps nps --time submitted_at --interval quarter --compare previous
  cxscore metrics --input survey.parquet --dim product_quality --dim price=q7:1-10 --format json
  cxscore metrics --survey relationship-2026 --by region --interval quarter --compare previous";

/// `cxscore metrics`.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Input files (CSV, TSV, JSON Lines, Parquet), read as one table.
    #[arg(long, short, num_args = 1.., required_unless_present = "survey", conflicts_with = "survey", value_name = "FILE")]
    pub input: Vec<PathBuf>,
    /// A stored survey (id or slug) instead of files: counted in the database.
    /// Metric flags then name question ids; without any, every rated question is used.
    #[arg(long, value_name = "ID")]
    pub survey: Option<String>,
    /// Column with the 0–10 "how likely to recommend" answer.
    #[arg(long, value_name = "COL")]
    pub nps: Option<String>,
    /// Column with the CSAT answer.
    #[arg(long, value_name = "COL")]
    pub csat: Option<String>,
    /// Points of the CSAT scale (1–N).
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(i32).range(2..=10))]
    pub csat_scale: i32,
    /// Column with the CES answer.
    #[arg(long, value_name = "COL")]
    pub ces: Option<String>,
    /// Points of the CES scale (1–N).
    #[arg(long, default_value_t = 7, value_name = "N", value_parser = clap::value_parser!(i32).range(2..=10))]
    pub ces_scale: i32,
    /// Which end of the CES scale is easy; results are always reported as ease.
    #[arg(long, value_enum, default_value_t = CesDirectionArg::HigherIsEasier)]
    pub ces_direction: CesDirectionArg,
    /// Column (or, with --survey, open-text question) whose comments are counted as
    /// positive / neutral / negative (text analysis; cells may also hold the labels).
    #[arg(long, value_name = "COL")]
    pub sentiment: Option<String>,
    /// A rated dimension: NAME=COL, or COL alone; optionally :MIN-MAX (default 1-5).
    #[arg(long, value_name = "NAME=COL[:MIN-MAX]")]
    pub dim: Vec<String>,
    /// CSI weights, NAME=W,… (default: equal).
    #[arg(long, value_name = "NAME=W,…")]
    pub weights: Option<String>,
    /// Group by this column (repeat, or separate with commas).
    #[arg(long, value_name = "COL", value_delimiter = ',')]
    pub by: Vec<String>,
    /// Column with the response date (for --interval, --from, --to).
    #[arg(long, value_name = "COL")]
    pub time: Option<String>,
    /// Group by period of the --time column.
    #[arg(long, value_name = "day|week|month|quarter|year")]
    pub interval: Option<String>,
    /// Only responses on or after this date.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Only responses on or before this date.
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Only rows where COL equals VALUE (repeat; values for one column are alternatives).
    #[arg(long = "where", value_name = "COL=VALUE")]
    pub filters: Vec<String>,
    /// Compare each group with the previous period (z and Welch t tests).
    #[arg(long, value_enum, value_name = "previous")]
    pub compare: Option<CompareArg>,
    /// The survey is anonymous: hide figures from fewer than 5 answers.
    #[arg(long)]
    pub anonymous: bool,
    /// Text encoding of CSV/TSV/JSONL input.
    #[arg(long, default_value = "auto", value_name = "auto|utf-8|gb18030")]
    pub encoding: String,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
}

/// `--ces-direction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CesDirectionArg {
    /// 7 = very easy.
    HigherIsEasier,
    /// 7 = very hard (reverse-coded).
    HigherIsHarder,
}

/// `--compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareArg {
    /// The previous period (or the equally long window before --from).
    Previous,
}
