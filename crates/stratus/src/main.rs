//! `stratus`: the one binary. `serve` runs the platform; the other
//! subcommands talk to a running server through the control API.

mod aws_client;
mod client;
mod cmd;
mod package;
mod server;

use clap::{Parser, Subcommand};

/// mimalloc: glibc malloc/free were ~7% of a warm request in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "stratus", version, about = "A self-hosted serverless platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: functions' gateway, control API, engine and store.
    Serve(cmd::serve::Args),
    /// Serve and deploy a directory in one foreground process.
    Dev(cmd::dev::Args),
    /// Build, upload and deploy the service in a directory's stratus.yaml.
    Deploy(cmd::deploy::Args),
    /// Invoke a function and print its response.
    Invoke(cmd::invoke::Args),
    /// Print a function's logs.
    Logs(cmd::logs::Args),
    /// Per-function invocations, errors, throttles, cold starts, latency, GB-s and cost.
    Stats(cmd::stats::Args),
    /// List deployed functions.
    Ls(cmd::ls::Args),
    /// Show one function's configuration, version and routes.
    Info(cmd::info::Args),
    /// Remove a function, or the whole service of a stratus.yaml.
    Remove(cmd::remove::Args),
    /// Queues: create, send, receive, purge, ls, redrive (the SQS API).
    Queue(cmd::queue::Args),
    /// The event bus: put events (the EventBridge API).
    Events(cmd::events::Args),
    /// Topics: the local outbox of email and SMS deliveries.
    Sns(cmd::sns::Args),
    /// Print the admin access key as `export AWS_...` lines for a shell.
    Credentials(cmd::credentials::Args),
}

fn main() -> std::process::ExitCode {
    // Errors inside wasmtime are built on the request path; with
    // RUST_BACKTRACE set, each would capture a backtrace (measured at ~3% of
    // a warm request). Panics keep their backtraces.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => cmd::serve::run(args),
        Command::Dev(args) => cmd::dev::run(args),
        Command::Deploy(args) => cmd::deploy::run(args),
        Command::Invoke(args) => cmd::invoke::run(args),
        Command::Logs(args) => cmd::logs::run(args),
        Command::Stats(args) => cmd::stats::run(args),
        Command::Ls(args) => cmd::ls::run(args),
        Command::Info(args) => cmd::info::run(args),
        Command::Remove(args) => cmd::remove::run(args),
        Command::Queue(args) => cmd::queue::run(args),
        Command::Events(args) => cmd::events::run(args),
        Command::Sns(args) => cmd::sns::run(args),
        Command::Credentials(args) => cmd::credentials::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
