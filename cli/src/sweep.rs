//! `mec sweep`: finds every environment mec left in an account and region — from a crashed
//! acceptance run, a pipeline destroyed under running environments, a rollback that never ended —
//! shows it, and deletes it on confirmation: through the pipeline's teardown machine when the
//! pipeline is deployed, with the teardown step's own code otherwise.
//!
//! Environments are found by their tags (`mec:managed-by=mec`, `mec:environment`) on every EC2
//! resource type mec creates, and by their SSM parameters (`/mec/<env>/…`). An environment's age is
//! its oldest instance's or volume's; one with neither has no known age.
//!
//! It never touches AWS without the opt-in `MEC_SWEEP=1`, and deletes nothing without `--yes` or a
//! typed confirmation.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mec_shared::environments::Machine;
use mec_shared::inventory::{self, Resource};
use mec_shared::{deadline, tags, Aws, MecError, Settings};
use serde_json::json;

use crate::pipeline::Pipeline;
use crate::CliError;

/// The opt-in: sweeping deletes what it finds in the account the credentials reach.
pub const OPT_IN: &str = "MEC_SWEEP";

/// One environment found, with what it owns and its age in seconds (None: unknown).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Found {
    pub name: String,
    pub resources: Vec<Resource>,
    pub age_seconds: Option<u64>,
}

/// What to sweep and how.
#[derive(Debug, Clone)]
pub struct Options {
    pub older_than: Option<Duration>,
    pub yes: bool,
    pub format: crate::output::Format,
}

pub async fn sweep(pipeline: &Pipeline, options: &Options) -> Result<(), CliError> {
    if std::env::var(OPT_IN).as_deref() != Ok("1") {
        return Err(CliError::Usage(format!(
            "refusing to look for (and delete) environments without the opt-in: set {OPT_IN}=1"
        )));
    }
    let aws = pipeline.aws();
    let region = aws
        .ec2
        .config()
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "(no region)".into());
    let mut found = Vec::new();
    for (name, age_seconds) in environments(aws).await? {
        if let (Some(limit), Some(age)) = (options.older_than, age_seconds) {
            if age < limit.as_secs() {
                continue;
            }
        }
        if options.older_than.is_some() && age_seconds.is_none() {
            continue; // no known age: not provably older than the limit
        }
        let mut resources = inventory::list(aws, &name).await?;
        resources.extend(crate::schedules::expiry_schedule(aws, pipeline.prefix(), &name).await?);
        found.push(Found {
            name,
            resources,
            age_seconds,
        });
    }
    show(&found, &region, options.format.is_data());
    if found.is_empty() {
        return Ok(());
    }
    if !options.yes && !confirmed(found.len(), &region)? {
        return Err(CliError::Usage(
            "nothing deleted (not confirmed; --yes confirms without asking)".into(),
        ));
    }
    let names: Vec<&str> = found.iter().map(|f| f.name.as_str()).collect();
    match pipeline.machine_arn(Machine::Teardown).await {
        Ok(_) => {
            for name in &names {
                pipeline
                    .delete(name, true, true, None, options.format)
                    .await?;
            }
        }
        Err(_) => {
            for name in &names {
                tear_down_directly(aws, pipeline.prefix(), name).await?;
            }
        }
    }
    let mut left = 0;
    for name in &names {
        left += inventory::list(aws, name).await?.len();
    }
    if left > 0 {
        return Err(CliError::Failed(format!(
            "{left} resource(s) still tagged for the swept environments: run `mec audit NAME`"
        )));
    }
    if !options.format.is_data() {
        println!("swept {} environment(s)", names.len());
    }
    Ok(())
}

/// Every environment that owns something, with its age.
async fn environments(aws: &Aws) -> Result<BTreeMap<String, Option<u64>>, CliError> {
    let managed = || tags::filter(tags::MANAGED_BY, "mec");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut found: BTreeMap<String, Option<u64>> = BTreeMap::new();
    let mut note = |tags: &[aws_sdk_ec2::types::Tag], created: Option<i64>| {
        if let Some(name) = tags::value_of(tags, tags::ENVIRONMENT) {
            let age = created.map(|at| (now - at).max(0) as u64);
            let entry = found.entry(name.to_string()).or_insert(None);
            *entry = match (*entry, age) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
    };
    let ec2 = &aws.ec2;
    let mut pages = ec2
        .describe_instances()
        .filters(managed())
        .filters(inventory::values_filter(
            "instance-state-name",
            &["pending", "running", "shutting-down", "stopping", "stopped"],
        ))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk("DescribeInstances", e))?;
        for instance in page.reservations().iter().flat_map(|r| r.instances()) {
            note(instance.tags(), instance.launch_time().map(|t| t.secs()));
        }
    }
    let volumes = ec2
        .describe_volumes()
        .filters(managed())
        .send()
        .await
        .map_err(|e| sdk("DescribeVolumes", e))?;
    for volume in volumes.volumes() {
        note(volume.tags(), volume.create_time().map(|t| t.secs()));
    }
    let vpcs = ec2
        .describe_vpcs()
        .filters(managed())
        .send()
        .await
        .map_err(|e| sdk("DescribeVpcs", e))?;
    for vpc in vpcs.vpcs() {
        note(vpc.tags(), None);
    }
    let subnets = ec2
        .describe_subnets()
        .filters(managed())
        .send()
        .await
        .map_err(|e| sdk("DescribeSubnets", e))?;
    for subnet in subnets.subnets() {
        note(subnet.tags(), None);
    }
    let groups = ec2
        .describe_security_groups()
        .filters(managed())
        .send()
        .await
        .map_err(|e| sdk("DescribeSecurityGroups", e))?;
    for group in groups.security_groups() {
        note(group.tags(), None);
    }
    let gateways = ec2
        .describe_internet_gateways()
        .filters(managed())
        .send()
        .await
        .map_err(|e| sdk("DescribeInternetGateways", e))?;
    for gateway in gateways.internet_gateways() {
        note(gateway.tags(), None);
    }
    let tables = ec2
        .describe_route_tables()
        .filters(managed())
        .send()
        .await
        .map_err(|e| sdk("DescribeRouteTables", e))?;
    for table in tables.route_tables() {
        note(table.tags(), None);
    }
    for name in parameter_environments(aws).await? {
        found.entry(name).or_insert(None);
    }
    Ok(found)
}

/// Environments that own parameters under `/mec/` (a parameter outlives a half-deleted network).
async fn parameter_environments(aws: &Aws) -> Result<Vec<String>, CliError> {
    let mut names = Vec::new();
    let mut pages = aws
        .ssm
        .get_parameters_by_path()
        .path("/mec")
        .recursive(true)
        .with_decryption(false)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| CliError::from(MecError::from_sdk("GetParametersByPath", e)))?;
        for parameter in page.parameters() {
            let environment = parameter
                .name()
                .and_then(|n| n.strip_prefix("/mec/"))
                .and_then(|rest| rest.split('/').next())
                .filter(|env| mec_shared::spec::validate_name(env).is_ok());
            if let Some(environment) = environment {
                if !names.iter().any(|n| n == environment) {
                    names.push(environment.to_string());
                }
            }
        }
    }
    Ok(names)
}

fn sdk<E>(
    operation: &str,
    err: aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::http::Response,
    >,
) -> CliError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    CliError::from(MecError::from_sdk(operation, err))
}

fn show(found: &[Found], region: &str, json_out: bool) {
    if json_out {
        println!("{}", json!({"region": region, "environments": found}));
        return;
    }
    if found.is_empty() {
        println!("{region}: no environment of mec found");
        return;
    }
    println!("{region}: {} environment(s) of mec", found.len());
    for environment in found {
        let age = environment
            .age_seconds
            .map(|s| format!("{}h{:02}m", s / 3600, (s % 3600) / 60))
            .unwrap_or_else(|| "age unknown".into());
        println!(
            "  {:<32} {:>11}  {} resource(s)",
            environment.name,
            age,
            environment.resources.len()
        );
    }
}

/// Asks on a terminal; anything but `delete` (or no terminal at all) is a no.
fn confirmed(count: usize, region: &str) -> Result<bool, CliError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Ok(false);
    }
    print!(
        "Delete these {count} environment(s) and everything they own in {region}? Type `delete`: "
    );
    std::io::stdout()
        .flush()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(answer.trim() == "delete")
}

/// No pipeline: the teardown step's own passes, until nothing is left or its deadline passes.
async fn tear_down_directly(aws: &Aws, prefix: &str, name: &str) -> Result<(), CliError> {
    let settings = Settings {
        schedule_group: Some(prefix.to_string()),
        ..Settings::default()
    };
    let until = deadline::after(settings.teardown_wait_seconds);
    loop {
        let pass = mec_teardown::teardown(aws, &settings, name, until.clone()).await?;
        println!(
            "  {name}: {} removed, {} left",
            pass.removed.len(),
            pass.remaining.len()
        );
        if pass.complete {
            return Ok(());
        }
        if deadline::passed(&until, "deadline")? {
            return Err(CliError::Failed(format!(
                "{name}: {} resource(s) still there after {} s",
                pass.remaining.len(),
                settings.teardown_wait_seconds
            )));
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// `6h`, `30m`, `2d`, `90s`: the age limit of `--older-than`.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not an age such as 90s, 30m, 6h or 2d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}` is not an age such as 90s, 30m, 6h or 2d")),
    };
    Ok(Duration::from_secs(value * seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse() {
        assert_eq!(parse_age("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_age("6h"), Ok(Duration::from_secs(6 * 3600)));
        assert_eq!(parse_age("2d"), Ok(Duration::from_secs(2 * 86_400)));
        for bad in ["", "h", "6", "6y", "-1h", "1.5h"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }
}
