//! `mec local up|down|env`: the local AWS world on this machine — the emulator with the real
//! Lambda binaries and simulated nodes (local/world/serve.py), and the pipeline deployed into it
//! by the same Terraform module as on AWS (infra/local).

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::CliError;

const DEFAULT_PORT: u16 = 4599;

fn port() -> u16 {
    std::env::var("MEC_LOCAL_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(DEFAULT_PORT)
}

/// The repository: MEC_HOME, or the first folder upwards that holds local/world/serve.py.
fn repo() -> Result<PathBuf, CliError> {
    if let Ok(home) = std::env::var("MEC_HOME") {
        return Ok(PathBuf::from(home));
    }
    let mut dir = std::env::current_dir().map_err(|e| CliError::Usage(e.to_string()))?;
    loop {
        if dir.join("local/world/serve.py").exists() {
            return Ok(dir);
        }
        if !dir.pop() {
            return Err(CliError::Usage(
                "run mec local from the mec repository (or set MEC_HOME)".into(),
            ));
        }
    }
}

fn world_dir(repo: &Path) -> PathBuf {
    repo.join(".build/world")
}

/// Where the debug binaries are: CARGO_TARGET_DIR when set, else the Makefile's target folder
/// (~/.cache/mec/target), else the repository's `target/`; the first that holds them.
fn binaries(repo: &Path) -> PathBuf {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(dir));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".cache/mec/target"));
    }
    candidates.push(repo.join("target"));
    let debug: Vec<PathBuf> = candidates.into_iter().map(|d| d.join("debug")).collect();
    debug
        .iter()
        .find(|d| d.join("mec-api").exists())
        .cloned()
        .unwrap_or_else(|| debug[0].clone())
}

/// The local world's HTTP API (local/world/api_gateway.py) listens on the next port.
fn api_url() -> String {
    format!("http://127.0.0.1:{}", port() + 1)
}

fn answering(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}

fn run(step: &str, command: &mut Command) -> Result<(), CliError> {
    let out = command
        .output()
        .map_err(|e| CliError::Usage(format!("{step}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "{step} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

pub fn up() -> Result<(), CliError> {
    let repo = repo()?;
    let world = world_dir(&repo);
    let port = port();
    let endpoint = format!("http://127.0.0.1:{port}");
    if answering(port) {
        return Err(CliError::Usage(format!(
            "port {port} is taken: `mec local down` first, or set MEC_LOCAL_PORT"
        )));
    }
    let bins = binaries(&repo);
    if !bins.join("mec-network").exists() {
        return Err(CliError::Usage(format!(
            "no Lambda binaries in {}: build them first (cargo build --workspace)",
            bins.display()
        )));
    }
    let _ = fs::remove_dir_all(&world);
    fs::create_dir_all(&world).map_err(|e| CliError::Usage(e.to_string()))?;
    let started = Instant::now();

    let log =
        fs::File::create(world.join("world.log")).map_err(|e| CliError::Usage(e.to_string()))?;
    let log_err = log
        .try_clone()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let child = Command::new(repo.join(".venv/bin/python"))
        .arg(repo.join("local/world/serve.py"))
        .args(["--port", &port.to_string(), "--state"])
        .arg(world.join("state"))
        .arg("--binaries")
        .arg(&bins)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| {
            CliError::Usage(format!(
                "cannot start the local world (make venv first?): {e}"
            ))
        })?;
    fs::write(world.join("pid"), child.id().to_string())
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !answering(port) {
        if Instant::now() > deadline {
            return Err(CliError::Failed(format!(
                "the local world did not start; see {}",
                world.join("world.log").display()
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("local world listening on {endpoint}");

    run(
        "packaging the Lambda binaries",
        Command::new("python3")
            .arg(repo.join("local/package_lambdas.py"))
            .arg(&bins)
            .arg(repo.join(".build/lambdas/local")),
    )?;
    let rc = Command::new(repo.join("local/terraformrc.sh"))
        .arg(world.join("terraformrc"))
        .output()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let rc_path = String::from_utf8_lossy(&rc.stdout).trim().to_string();
    let terraform = |args: &[&str]| {
        let mut command = Command::new("terraform");
        command
            .arg(format!("-chdir={}", repo.join("infra/local").display()))
            .args(args)
            .env("TF_DATA_DIR", world.join("tf"))
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_CLI_ARGS", "-no-color");
        if !rc_path.is_empty() {
            command.env("TF_CLI_CONFIG_FILE", &rc_path);
        }
        command
    };
    let state = format!(
        "-backend-config=path={}",
        world.join("terraform.tfstate").display()
    );
    run(
        "terraform init",
        &mut terraform(&["init", "-input=false", &state]),
    )?;
    run(
        "terraform apply",
        &mut terraform(&[
            "apply",
            "-input=false",
            "-auto-approve",
            &format!("-var=endpoint={endpoint}"),
        ]),
    )?;
    println!("HTTP API (no auth) at {}", api_url());
    println!("pipeline deployed with Terraform in {:.0} s — point clients at it with: eval \"$(mec local env)\"", started.elapsed().as_secs_f64());
    Ok(())
}

pub fn down() -> Result<(), CliError> {
    let repo = repo()?;
    let world = world_dir(&repo);
    let pid_file = world.join("pid");
    let Ok(pid) = fs::read_to_string(&pid_file) else {
        println!("no local world is running");
        return Ok(());
    };
    // Only the process this CLI started, by the PID it recorded.
    let _ = Command::new("kill").arg(pid.trim()).status();
    let _ = fs::remove_file(&pid_file);
    println!("local world stopped");
    Ok(())
}

pub fn env() -> Result<(), CliError> {
    let endpoint = format!("http://127.0.0.1:{}", port());
    for (key, value) in [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("MEC_API_URL", api_url().as_str()),
    ] {
        println!("export {key}={value}");
    }
    Ok(())
}

pub fn kubectl(name: &str, args: &[String]) -> Result<(), CliError> {
    mec_shared::spec::validate_name(name)?;
    let repo = repo()?;
    let status = Command::new(repo.join(".venv/bin/python"))
        .arg(repo.join("local/world/kubectl.py"))
        .arg(world_dir(&repo).join("state"))
        .arg(name)
        .args(args)
        .status()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    if status.success() {
        Ok(())
    } else {
        Err(CliError::Failed(format!("kubectl on {name} failed")))
    }
}
