//! `tokensmith`: gets tokens, decodes JWTs, reads server metadata, and diagnoses token
//! endpoints, on tokensmith's public API.
//!
//! Secrets never come from the command line (where `ps` and shell history would keep them):
//! the client secret from `TOKENSMITH_CLIENT_SECRET`, a password from `TOKENSMITH_PASSWORD`,
//! or a prompt when a terminal is attached. Exit codes: 0 ok, 1 the server refused or failed,
//! 2 usage or configuration error.

mod decode;
mod discover;
mod doctor;
mod endpoint;
mod out;
mod safe;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::out::Out;

/// Gets OAuth 2.0 tokens and tells what a token endpoint wants.
#[derive(Parser)]
#[command(name = "tokensmith", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Prints JSON for scripts instead of text for people.
    #[arg(long, global = true)]
    json: bool,
    /// No colour, even on a terminal (`NO_COLOR` also turns it off).
    #[arg(long, global = true)]
    no_color: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Gets a token and shows its type, lifetime, scopes and (for a JWT) claims.
    Token(token::TokenArgs),
    /// Shows a JWT's header and claims, without verifying it.
    Decode(decode::DecodeArgs),
    /// Shows an authorization server's metadata (RFC 8414, OpenID Connect discovery).
    Discover(discover::DiscoverArgs),
    /// Diagnoses a token endpoint: client authentication, method, answer shape, errors.
    Doctor(doctor::DoctorArgs),
}

/// How a command ended.
pub(crate) enum Outcome {
    /// It did what was asked.
    Ok,
    /// The server refused, failed, or could not be reached.
    Refused,
}

/// A usage or configuration error: exit code 2.
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl From<tokensmith_core::Error> for UsageError {
    fn from(error: tokensmith_core::Error) -> Self {
        Self(error.to_string())
    }
}

fn main() -> ExitCode {
    // The local offset can only be read safely while the process has one thread.
    let offset = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
    let cli = Cli::parse();
    let out = Out::new(cli.json, cli.no_color);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            out.fatal(&format!("cannot start the async runtime: {e}"));
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Token(args) => token::run(args, &out, offset).await,
            Command::Decode(args) => decode::run(args, &out, offset),
            Command::Discover(args) => discover::run(args, &out).await,
            Command::Doctor(args) => doctor::run(args, &out).await,
        }
    });
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Refused) => ExitCode::from(1),
        Err(UsageError(message)) => {
            out.fatal(&message);
            ExitCode::from(2)
        }
    }
}
