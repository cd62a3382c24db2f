//! `mec`, the operator CLI. An ordinary AWS client: the same commands work against AWS and the
//! local world (`eval "$(mec local env)"` points it there).
//!
//! Exit codes scripts can rely on: 0 done; 1 the environment failed, or an audit found
//! leftovers; 2 bad usage or an invalid spec (nothing was started); 3 AWS could not be reached
//! or refused a call.

mod kubeconfig;
mod local;
mod pipeline;
mod schedules;
mod sweep;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "mec",
    version,
    about = "MicroK8s edge clusters on AWS: create, watch, delete, audit"
)]
struct Cli {
    /// Name prefix of the deployed pipeline (Terraform's name_prefix).
    #[arg(long, env = "MEC_PREFIX", default_value = "mec", global = true)]
    prefix: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an environment from a spec file, or from --name and --workers.
    Create {
        /// A JSON spec file (see functions/shared/schema/environment-spec.schema.json).
        file: Option<PathBuf>,
        #[arg(long, conflicts_with = "file")]
        name: Option<String>,
        #[arg(long, conflicts_with = "file")]
        workers: Option<u32>,
        /// Follow the provisioning step by step until it ends.
        #[arg(long)]
        wait: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show an environment's status and record.
    Status {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List environments and their status.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete an environment and everything it owns.
    Delete {
        name: String,
        #[arg(long)]
        wait: bool,
        #[arg(long)]
        json: bool,
    },
    /// List every resource still tagged for an environment; exit 1 if a deleted one left any.
    Audit {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Print an environment's kubeconfig (or write it, mode 600), read with your own credentials.
    Kubeconfig {
        name: String,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Find every environment mec left in this account and region (all, or those older than
    /// --older-than), show them, and delete them on confirmation. Needs MEC_SWEEP=1.
    Sweep {
        /// Only environments at least this old (e.g. 90m, 6h, 2d); their age is their oldest
        /// instance's or volume's.
        #[arg(long, value_parser = sweep::parse_age)]
        older_than: Option<std::time::Duration>,
        /// Delete without asking.
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
    /// The local AWS world: emulator, real Lambda binaries, simulated nodes.
    Local {
        #[command(subcommand)]
        action: LocalAction,
    },
}

#[derive(Debug, Subcommand)]
enum LocalAction {
    /// Start the local world and deploy the pipeline into it with Terraform.
    Up,
    /// Stop the local world (everything in it is gone).
    Down,
    /// Print the environment variables that point AWS clients (and mec) at the local world.
    Env,
    /// Fire a schedule now, as EventBridge Scheduler would (the emulator never fires them):
    /// `<key>-create`, `<key>-destroy`, `<environment>-expiry` or `reaper`.
    FireSchedule {
        name: String,
        /// Schedule group (default: the pipeline's, i.e. --prefix).
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Run `microk8s kubectl` on an environment's master in the simulated cluster.
    Kubectl {
        name: String,
        /// kubectl arguments (default: get nodes)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// What went wrong, and the exit code that says so.
#[derive(Debug)]
pub enum CliError {
    Usage(String),
    Failed(String),
    Aws(String),
}

impl CliError {
    fn code(&self) -> u8 {
        match self {
            CliError::Failed(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Aws(_) => 3,
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Failed(m) | CliError::Aws(m) => f.write_str(m),
        }
    }
}

impl From<mec_shared::MecError> for CliError {
    fn from(err: mec_shared::MecError) -> Self {
        match err.error_type() {
            "InvalidSpec" | "InvalidInput" => CliError::Usage(err.to_string()),
            _ => CliError::Aws(err.to_string()),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mec: {err}");
            ExitCode::from(err.code())
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    if let Command::Local { action } = &cli.command {
        return match action {
            LocalAction::Up => local::up(),
            LocalAction::Down => local::down(),
            LocalAction::Env => local::env(),
            LocalAction::Kubectl { name, args } => local::kubectl(name, args),
            LocalAction::FireSchedule { name, group, json } => {
                let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                let group = group.as_deref().unwrap_or(&cli.prefix);
                schedules::fire(&config, group, name, *json).await
            }
        };
    }
    let pipeline = pipeline::Pipeline::connect(&cli.prefix).await;
    match cli.command {
        Command::Create {
            file,
            name,
            workers,
            wait,
            json,
        } => {
            let spec = pipeline::spec_from(file, name, workers)?;
            pipeline.create(spec, wait, json).await
        }
        Command::Status { name, json } => pipeline.show_status(&name, json).await,
        Command::List { json } => pipeline.list(json).await,
        Command::Delete { name, wait, json } => pipeline.delete(&name, wait, json).await,
        Command::Audit { name, json } => pipeline.audit(&name, json).await,
        Command::Kubeconfig { name, output, json } => {
            kubeconfig::fetch(&pipeline.aws().ssm, &name, output.as_deref(), json).await
        }
        Command::Sweep {
            older_than,
            yes,
            json,
        } => {
            let options = sweep::Options {
                older_than,
                yes,
                json,
            };
            sweep::sweep(&pipeline, &options).await
        }
        Command::Local { .. } => Ok(()),
    }
}
