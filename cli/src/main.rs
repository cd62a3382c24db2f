//! `mec`, the operator CLI. An ordinary AWS client: the same commands work against AWS and the
//! local world (`eval "$(mec local env)"` points it there). Every create, read and delete goes
//! through the shared service (mec_shared::environments), the one the HTTP API uses.

mod kubeconfig;
mod local;
mod output;
mod pipeline;
mod schedules;
mod spec_flags;
mod sweep;

use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};

use crate::output::Output;
use crate::spec_flags::SpecFlags;

const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  the environment failed (or a wait timed out, or an audit found leftovers)
  2  bad usage or an invalid spec: nothing was started
  3  AWS could not be reached or refused a call
  4  no environment of that name
  5  not now: the environment is being created or deleted, or the name is taken";

const EXAMPLES: &str = "\
Examples:
  mec create --name lab-1 --workers 2 --wait     # create, follow each step, print the record
  mec create -f lab.yaml -o json                 # a spec file (YAML or JSON; - reads stdin)
  mec list                                       # every environment, whichever door started it
  mec status lab-1 -o yaml                       # one record, in the API's shape
  mec kubeconfig lab-1 -o ~/.kube/lab-1          # written with mode 600
  mec delete lab-1 --wait --timeout 20m
  eval \"$(mec local env)\"                        # point mec and the AWS CLI at the local world";

#[derive(Debug, Parser)]
#[command(
    name = "mec",
    version,
    about = "MicroK8s edge clusters on AWS: create, watch, delete, audit",
    after_help = format!("{EXAMPLES}\n\n{EXIT_CODES}")
)]
struct Cli {
    /// Name prefix of the deployed pipeline (Terraform's name_prefix).
    #[arg(long, env = "MEC_PREFIX", default_value = "mec", global = true)]
    prefix: String,
    /// AWS region (default: AWS_REGION, then the profile's).
    #[arg(long, global = true)]
    region: Option<String>,
    /// AWS profile of the shared config files (default: AWS_PROFILE, then `default`).
    #[arg(long, global = true)]
    profile: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an environment from a spec file (-f) and/or flags; flags win over the file.
    #[command(after_help = "Examples:
  mec create --name lab-1
  mec create --name lab-1 --workers 3 --addon dns --addon ingress --ttl 8 --wait
  mec create -f lab.yaml --workers 5          # the file, with 5 workers
  cat lab.json | mec create -f - -o json
  mec create --name lab-edge --edge-zone us-east-1-wl1-bos-wlz-1 --edge-workers 2  # workers at the edge

Creating a name that exists with the same spec starts nothing and exits 0; with another spec
it exits 5 (NameTaken).")]
    Create {
        #[command(flatten)]
        spec: Box<SpecFlags>,
        /// Follow the run step by step (on stderr) until it ends, then print the record.
        #[arg(long)]
        wait: bool,
        /// With --wait: give up waiting after this long (e.g. 30m, 1h); the run goes on.
        #[arg(long, value_parser = sweep::parse_age, requires = "wait")]
        timeout: Option<Duration>,
        #[command(flatten)]
        output: Output,
    },
    /// Show an environment's record: status, step, error, nodes.
    #[command(
        visible_alias = "get",
        after_help = "Examples:
  mec status lab-1
  mec status lab-1 -o json     # the same JSON as GET /environments/lab-1"
    )]
    Status {
        name: String,
        #[command(flatten)]
        output: Output,
    },
    /// List every environment and its status.
    #[command(
        visible_alias = "ls",
        after_help = "Examples:
  mec list
  mec list -o wide
  mec list -o json             # the same JSON as GET /environments"
    )]
    List {
        #[command(flatten)]
        output: Output,
    },
    /// Delete an environment and everything it owns.
    #[command(after_help = "Examples:
  mec delete lab-1
  mec delete lab-1 --wait --timeout 20m

A CREATING environment cannot be deleted yet (exit 5); a DELETING or DELETED one starts nothing.")]
    Delete {
        name: String,
        /// Follow the teardown until it ends, then print the record.
        #[arg(long)]
        wait: bool,
        /// With --wait: give up waiting after this long; the teardown goes on.
        #[arg(long, value_parser = sweep::parse_age, requires = "wait")]
        timeout: Option<Duration>,
        #[command(flatten)]
        output: Output,
    },
    /// List every resource still tagged for an environment; exit 1 if a finished one left any.
    #[command(after_help = "Examples:
  mec audit lab-1
  mec audit lab-1 -o json")]
    Audit {
        name: String,
        #[command(flatten)]
        output: Output,
    },
    /// Print an environment's kubeconfig, or write it (mode 600), read with your own credentials.
    #[command(after_help = "Examples:
  mec kubeconfig lab-1 > lab-1.yaml
  mec kubeconfig lab-1 -o ~/.kube/lab-1       # an existing file is overwritten and set to 600")]
    Kubeconfig {
        name: String,
        /// Write to this file instead of standard output.
        #[arg(long = "output", short = 'o', value_name = "FILE")]
        file: Option<std::path::PathBuf>,
        /// Print {name, parameter, kubeconfig | written_to} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Find every environment mec left in this account and region (all, or those older than
    /// --older-than), show them, and delete them on confirmation. Needs MEC_SWEEP=1.
    #[command(after_help = "Examples:
  MEC_SWEEP=1 mec sweep
  MEC_SWEEP=1 mec sweep --older-than 2d --yes")]
    Sweep {
        /// Only environments at least this old (e.g. 90m, 6h, 2d); their age is their oldest
        /// instance's or volume's.
        #[arg(long, value_parser = sweep::parse_age)]
        older_than: Option<Duration>,
        /// Delete without asking.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        output: Output,
    },
    /// Print a shell completion script.
    #[command(after_help = "Examples:
  mec completions bash > /etc/bash_completion.d/mec
  mec completions zsh > \"${fpath[1]}/_mec\"")]
    Completions { shell: clap_complete::Shell },
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

/// What went wrong, and the exit code that says so (EXIT_CODES).
#[derive(Debug)]
pub enum CliError {
    Failed(String),
    Usage(String),
    Aws(String),
    NotFound(String),
    Conflict(String),
}

impl CliError {
    fn code(&self) -> u8 {
        match self {
            CliError::Failed(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Aws(_) => 3,
            CliError::NotFound(_) => 4,
            CliError::Conflict(_) => 5,
        }
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Usage(m)
            | CliError::Failed(m)
            | CliError::Aws(m)
            | CliError::NotFound(m)
            | CliError::Conflict(m) => f.write_str(m),
        }
    }
}

impl From<mec_shared::MecError> for CliError {
    fn from(err: mec_shared::MecError) -> Self {
        match err {
            mec_shared::MecError::InvalidSpec { .. }
            | mec_shared::MecError::InvalidInput { .. } => CliError::Usage(err.to_string()),
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
    let aws = pipeline::Connection {
        prefix: cli.prefix,
        region: cli.region,
        profile: cli.profile,
    };
    match cli.command {
        Command::Local { action } => match action {
            LocalAction::Up => local::up(),
            LocalAction::Down => local::down(),
            LocalAction::Env => local::env(),
            LocalAction::Kubectl { name, args } => local::kubectl(&name, &args),
            LocalAction::FireSchedule { name, group, json } => {
                let config = aws.config().await;
                let group = group.as_deref().unwrap_or(&aws.prefix);
                schedules::fire(&config, group, &name, json).await
            }
        },
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "mec", &mut std::io::stdout());
            Ok(())
        }
        Command::Kubeconfig { name, file, json } => {
            let config = aws.config().await;
            let ssm = aws_sdk_ssm::Client::new(&config);
            kubeconfig::fetch(&ssm, &name, file.as_deref(), json).await
        }
        command => {
            let pipeline = pipeline::Pipeline::connect(aws).await;
            match command {
                Command::Create {
                    spec,
                    wait,
                    timeout,
                    output,
                } => {
                    let spec = spec.build()?;
                    pipeline.create(&spec, wait, timeout, output.format()).await
                }
                Command::Status { name, output } => {
                    pipeline.show_status(&name, output.format()).await
                }
                Command::List { output } => pipeline.list(output.format()).await,
                Command::Delete {
                    name,
                    wait,
                    timeout,
                    output,
                } => {
                    pipeline
                        .delete(&name, false, wait, timeout, output.format())
                        .await
                }
                Command::Audit { name, output } => pipeline.audit(&name, output.format()).await,
                Command::Sweep {
                    older_than,
                    yes,
                    output,
                } => {
                    let options = sweep::Options {
                        older_than,
                        yes,
                        format: output.format(),
                    };
                    sweep::sweep(&pipeline, &options).await
                }
                Command::Local { .. }
                | Command::Completions { .. }
                | Command::Kubeconfig { .. } => Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_subcommand_shows_examples() {
        let mut cli = Cli::command();
        cli.build();
        for sub in cli.get_subcommands_mut() {
            if sub.get_name() == "local" || sub.get_name() == "help" {
                continue;
            }
            let help = sub.render_long_help().to_string();
            assert!(help.contains("Examples:"), "{}: {help}", sub.get_name());
        }
    }
}
