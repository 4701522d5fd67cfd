//! The command line of `loadtester import` (clap derive; the `///` comments are the help).

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `loadtester import …`: write a plan from what describes the service.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// curl command lines (as "Copy as cURL" in browser devtools writes them) become one
    /// scenario each; `-` reads commands from stdin.
    Curl(CurlArgs),
    /// An OpenAPI 3.0/3.1 or Swagger 2.0 document (file or http(s):// URL) becomes one
    /// scenario per operation, with parameters and bodies filled from examples or
    /// generated from the schemas.
    Openapi(OpenapiArgs),
    /// A browser recording (HAR) becomes one flow per page: think times from the gaps,
    /// static assets and third-party origins dropped, values from earlier responses
    /// captured and templated.
    Har(HarArgs),
}

/// Options of `import har`.
#[derive(Debug, Args)]
pub struct HarArgs {
    /// The HAR file (browser devtools: "Save all as HAR").
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Write the plan here (default: stdout).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Keep images, fonts, CSS and scripts.
    #[arg(long)]
    pub keep_static: bool,
    /// Also keep requests to this host (or host:port); repeatable.
    #[arg(long = "origin", value_name = "HOST", num_args = 1..)]
    pub origins: Vec<String>,
    /// Longest think time kept from the recorded gaps.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub max_think: std::time::Duration,
}

/// Options of `import curl`.
#[derive(Debug, Args)]
pub struct CurlArgs {
    /// curl command lines, each one argument (quote them); `-` reads them from stdin.
    #[arg(required = true, value_name = "COMMAND")]
    pub commands: Vec<String>,
    /// Write the plan here (default: stdout).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Options of `import openapi`.
#[derive(Debug, Args)]
pub struct OpenapiArgs {
    /// The document: a YAML or JSON file, or an http(s):// URL.
    #[arg(value_name = "SPEC")]
    pub spec: String,
    /// Write the plan here (default: stdout).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// List the operations (operationId, method, path, tags, summary) and write nothing.
    #[arg(long)]
    pub list: bool,
    /// Use this base_url instead of the document's first server.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Import only operations matching one of these: a tag, an operationId, or a path
    /// glob (`/pets/*`); repeatable.
    #[arg(long, value_name = "PATTERN", num_args = 1..)]
    pub include: Vec<String>,
    /// Leave out operations matching one of these (tag, operationId or path glob).
    #[arg(long, value_name = "PATTERN", num_args = 1..)]
    pub exclude: Vec<String>,
    /// Seed of the generated values: the same seed writes the same file (default 1).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Also chain create → read/update/delete operations on the created resource into
    /// flow scenarios (the id captured from the create response).
    #[arg(long)]
    pub flows: bool,
    /// Weight of reading operations (GET, HEAD, OPTIONS).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub read_weight: u64,
    /// Weight of writing operations (POST, PUT, PATCH, DELETE) and flows.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub write_weight: u64,
    /// An https:// SPEC: do not verify the server's certificate.
    #[arg(long)]
    pub insecure: bool,
    /// An https:// SPEC: also trust the CA certificates in this PEM file; repeatable.
    #[arg(long, value_name = "FILE")]
    pub ca: Vec<PathBuf>,
}
