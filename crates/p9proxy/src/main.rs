//! `p9proxy`: a 9P2000.L file server. See `p9proxy serve --help`.

#![deny(unsafe_code)]

mod activation;
mod cli;
mod config;
mod control;
mod generate;
mod identity;
mod options;
mod pidns;
mod sandbox;
mod serve;
mod supervisor;
mod trust;

use clap::FromArgMatches;
use tracing_subscriber::EnvFilter;

fn init_logging(verbose: u8, trace: bool) {
    let default = if trace {
        "info,p9proxy=trace,p9_server=trace"
    } else {
        match verbose {
            0 => "info",
            1 => "info,p9proxy=debug,p9_server=debug",
            _ => "debug",
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(proxy_helper::log::LossyStderr)
        .try_init();
}

fn main() {
    let mut command = cli::command();
    let matches = command.get_matches_mut();
    let cli =
        cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut command).exit());
    let result = match cli.command {
        cli::Command::Serve(args) => {
            init_logging(args.verbose, args.trace);
            match &args.config {
                Some(file) => {
                    // The exports' options come from the file: a flag here would be lost.
                    let serve = matches.subcommand_matches("serve");
                    let given = serve.map(options::ServeOptions::given).unwrap_or_default();
                    if let Some((flag, key)) = given.first() {
                        cli::refuse_with_config(&mut command, flag, key);
                    }
                    supervisor::run(file, args.verbose, args.trace)
                }
                None => serve::run(args),
            }
        }
        cli::Command::CheckConfig { file } => config::check(&file),
        cli::Command::Stats(args) => control::run_client(&args),
        cli::Command::Generate { dir } => generate::run(&dir),
        cli::Command::HelperSpawner(args) => {
            init_logging(0, false);
            serve::run_spawner(args)
        }
    };
    if let Err(e) = result {
        eprintln!("p9proxy: {e}");
        std::process::exit(1);
    }
}
