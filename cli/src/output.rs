//! How results are printed: `-o table|wide|json|yaml`, the same on every command. JSON and YAML
//! have the HTTP API's shapes (a record; `{"environments": [...]}` for a list). Results go to
//! stdout; progress and notes to stderr.

use clap::{Args, ValueEnum};
use mec_shared::record::{EnvironmentRecord, EnvironmentSummary};
use serde::Serialize;
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Columns for people.
    Table,
    /// More columns (nodes' markets and zones, exact times).
    Wide,
    /// The HTTP API's JSON.
    Json,
    /// The same, as YAML.
    Yaml,
}

impl Format {
    pub fn is_data(self) -> bool {
        matches!(self, Self::Json | Self::Yaml)
    }
}

/// The `-o` option, flattened into every command that prints a result.
#[derive(Debug, Clone, Args)]
pub struct Output {
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Same as `-o json`.
    #[arg(long, hide = true)]
    json: bool,
}

impl Output {
    pub fn format(&self) -> Format {
        if self.json {
            Format::Json
        } else {
            self.format
        }
    }
}

/// Prints a value as JSON or YAML (the caller handles the table formats).
pub fn data<T: Serialize>(value: &T, format: Format) {
    match format {
        Format::Yaml => match serde_yaml::to_string(value) {
            Ok(text) => print!("{text}"),
            Err(e) => eprintln!("mec: cannot write YAML: {e}"),
        },
        _ => println!("{}", json!(value)),
    }
}

pub fn record(record: &EnvironmentRecord, format: Format) {
    if format.is_data() {
        return data(record, format);
    }
    println!("{}: {}", record.name, record.status.as_str());
    if let Some(step) = &record.step {
        println!("  step     {step}");
    }
    if let Some(error) = &record.error {
        println!("  error    {}: {}", error.error_type, error.message);
    }
    if !record.rollback_removed.is_empty() {
        println!(
            "  rollback removed {} resource(s)",
            record.rollback_removed.len()
        );
    }
    if let Some(vpc) = &record.vpc_id {
        println!("  vpc      {vpc}");
    }
    if let Some(endpoint) = &record.api_endpoint {
        println!("  api      {endpoint}");
    }
    if let Some(expires) = &record.expires_at {
        println!("  expires  {expires}");
    }
    if record.nodes.is_empty() {
        return;
    }
    let wide = format == Format::Wide;
    let mut header = format!(
        "  {:<28} {:<20} {:<7} {:<15}",
        "NODE", "INSTANCE", "ROLE", "PRIVATE-IP"
    );
    if wide {
        header += &format!(" {:<15} {:<9} ZONE", "PUBLIC-IP", "MARKET");
    }
    println!("{}", header.trim_end());
    for node in &record.nodes {
        let mut line = format!(
            "  {:<28} {:<20} {:<7} {:<15}",
            node.name,
            node.instance_id,
            json!(node.role).as_str().unwrap_or(""),
            node.private_ip.as_deref().unwrap_or("-"),
        );
        if wide {
            line += &format!(
                " {:<15} {:<9} {}",
                node.public_ip.as_deref().unwrap_or("-"),
                node.market
                    .map(|m| json!(m).as_str().unwrap_or("").to_string())
                    .unwrap_or_else(|| "-".into()),
                node.availability_zone.as_deref().unwrap_or("-"),
            );
        }
        println!("{}", line.trim_end());
    }
}

pub fn list(rows: &[EnvironmentSummary], format: Format) {
    if format.is_data() {
        return data(&json!({ "environments": rows }), format);
    }
    if rows.is_empty() {
        eprintln!("No environments found.");
        return;
    }
    let wide = format == Format::Wide;
    let now = std::time::SystemTime::now();
    if wide {
        println!("{:<34} {:<9} {:<6} SINCE", "NAME", "STATUS", "AGE");
    } else {
        println!("{:<34} {:<9} AGE", "NAME", "STATUS");
    }
    for row in rows {
        let age = age(&row.since, now);
        if wide {
            println!(
                "{:<34} {:<9} {:<6} {}",
                row.name,
                row.status.as_str(),
                age,
                row.since
            );
        } else {
            println!("{:<34} {:<9} {age}", row.name, row.status.as_str());
        }
    }
}

/// How long ago an RFC 3339 time was, as kubectl's AGE column says it (`45s`, `12m`, `5h`, `3d`).
pub fn age(since: &str, now: std::time::SystemTime) -> String {
    let Ok(then) =
        aws_smithy_types::DateTime::from_str(since, aws_smithy_types::date_time::Format::DateTime)
    else {
        return "-".into();
    };
    let Ok(then) = std::time::SystemTime::try_from(then) else {
        return "-".into();
    };
    let seconds = now.duration_since(then).map(|d| d.as_secs()).unwrap_or(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn ages_read_like_kubectls() {
        let then = "2026-12-01T10:00:00Z";
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(1_796_119_200 + s);
        assert_eq!(age(then, at(45)), "45s");
        assert_eq!(age(then, at(12 * 60)), "12m");
        assert_eq!(age(then, at(5 * 3600)), "5h");
        assert_eq!(age(then, at(3 * 86400)), "3d");
        assert_eq!(age("yesterday", at(0)), "-");
    }
}
