//! The `homeostat` binary: parses the command line, sets up the logs, runs
//! the command (`homeostat::app::command`) and maps the result to the exit
//! code.

mod logs;

use clap::Parser as _;
use homeostat::app::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    logs::init_logs(cli.log_format);
    match homeostat::app::command::execute(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let label = homeostat::app::command::error_label(&e);
            tracing::error!(error = label, "{e:#}");
            ExitCode::from(2)
        }
    }
}
