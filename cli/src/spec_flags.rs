//! `mec create`'s spec: a file (`-f FILE`, `-f -` for stdin; YAML or JSON) and/or one flag per
//! spec field. Flags win over the file; the result is validated by the same rules as every other
//! door (EnvironmentSpec::from_value), so a bad spec starts nothing.

use std::io::Read;

use clap::Args;
use mec_shared::EnvironmentSpec;
use serde_json::{json, Map, Value};

use crate::CliError;

#[derive(Debug, Clone, Default, Args)]
pub struct SpecFlags {
    /// A spec file, YAML or JSON; `-` reads standard input.
    #[arg(short = 'f', long = "filename", value_name = "FILE|-")]
    file: Option<String>,
    /// Environment name: 3-32 lowercase letters, digits and hyphens, starting with a letter.
    #[arg(long)]
    name: Option<String>,
    /// Worker nodes, 0-100 (default 2).
    #[arg(long)]
    workers: Option<u32>,
    /// Control-plane nodes: 1, or 3 for HA (default 1).
    #[arg(long)]
    masters: Option<u32>,
    /// EC2 instance type of the control plane (default t4g.medium).
    #[arg(long)]
    instance_type: Option<String>,
    /// EC2 instance type of the workers (default t4g.medium).
    #[arg(long)]
    worker_instance_type: Option<String>,
    /// MicroK8s snap channel, e.g. 1.32/stable.
    #[arg(long)]
    channel: Option<String>,
    /// An add-on from the catalogue; repeat for several (replaces the default list).
    #[arg(long = "addon", value_name = "NAME")]
    addons: Vec<String>,
    /// Hours after which the environment destroys itself, 1-720.
    #[arg(long, value_name = "HOURS")]
    ttl: Option<u32>,
    /// Launch the workers as spot instances.
    #[arg(long)]
    spot: bool,
    /// The VPC's private CIDR block, /16 to /24.
    #[arg(long)]
    vpc_cidr: Option<String>,
    /// A CIDR block allowed to reach the Kubernetes API; repeat for several.
    #[arg(long = "api-allowed-cidr", value_name = "CIDR")]
    api_allowed_cidrs: Vec<String>,
    /// Root volume size of every node, GiB (20-1024).
    #[arg(long)]
    root_volume_gib: Option<u32>,
    /// A tag put on every resource, KEY=VALUE; repeat for several.
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tags: Vec<String>,
    /// Edge workers' zone: a Local Zone (us-east-1-bos-1a) or Wavelength Zone
    /// (us-east-1-wl1-bos-wlz-1) of the region.
    #[arg(long, value_name = "ZONE", requires = "edge_workers")]
    edge_zone: Option<String>,
    /// Workers in the edge zone, 1-100 (on top of --workers).
    #[arg(long, value_name = "N", requires = "edge_zone")]
    edge_workers: Option<u32>,
}

impl SpecFlags {
    /// The validated spec.
    pub fn build(&self) -> Result<EnvironmentSpec, CliError> {
        let mut spec = match &self.file {
            Some(path) => read_file(path)?,
            None => Map::new(),
        };
        let mut set = |key: &str, value: Value| {
            spec.insert(key.to_string(), value);
        };
        if let Some(v) = &self.name {
            set("name", json!(v));
        }
        if let Some(v) = self.workers {
            set("workers", json!(v));
        }
        if let (Some(zone), Some(workers)) = (&self.edge_zone, self.edge_workers) {
            set("edge", json!({"zone": zone, "workers": workers}));
        }
        if let Some(v) = self.masters {
            set("masters", json!(v));
        }
        if let Some(v) = &self.instance_type {
            set("instance_type", json!(v));
        }
        if let Some(v) = &self.worker_instance_type {
            set("worker_instance_type", json!(v));
        }
        if let Some(v) = &self.channel {
            set("microk8s_channel", json!(v));
        }
        if !self.addons.is_empty() {
            set("addons", json!(self.addons));
        }
        if let Some(v) = self.ttl {
            set("ttl_hours", json!(v));
        }
        if self.spot {
            set("spot", json!(true));
        }
        if let Some(v) = &self.vpc_cidr {
            set("vpc_cidr", json!(v));
        }
        if !self.api_allowed_cidrs.is_empty() {
            set("api_allowed_cidrs", json!(self.api_allowed_cidrs));
        }
        if let Some(v) = self.root_volume_gib {
            set("root_volume_gib", json!(v));
        }
        if !self.tags.is_empty() {
            let mut tags = Map::new();
            for tag in &self.tags {
                let (key, value) = tag
                    .split_once('=')
                    .ok_or_else(|| CliError::Usage(format!("--tag {tag}: write it KEY=VALUE")))?;
                tags.insert(key.to_string(), json!(value));
            }
            set("tags", Value::Object(tags));
        }
        if !spec.contains_key("name") {
            return Err(CliError::Usage(
                "give the environment a name: --name NAME, or `name` in the -f file".into(),
            ));
        }
        Ok(EnvironmentSpec::from_value(Value::Object(spec))?)
    }
}

/// A spec file's fields: a YAML or JSON mapping (JSON is YAML).
fn read_file(path: &str) -> Result<Map<String, Value>, CliError> {
    let text = if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::Usage(format!("cannot read the spec from stdin: {e}")))?;
        text
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("cannot read {path}: {e}")))?
    };
    let value: Value = serde_yaml::from_str(&text)
        .map_err(|e| CliError::Usage(format!("{path} is neither YAML nor JSON: {e}")))?;
    match value {
        Value::Object(fields) => Ok(fields),
        _ => Err(CliError::Usage(format!(
            "{path} must hold a mapping of spec fields (name, workers, ...)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(file: Option<&str>) -> SpecFlags {
        SpecFlags {
            file: file.map(str::to_string),
            ..SpecFlags::default()
        }
    }

    #[test]
    fn flags_win_over_the_file_and_every_field_has_one() {
        let dir = std::env::temp_dir().join(format!("mec-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("lab.yaml");
        std::fs::write(&file, "name: lab-1\nworkers: 1\naddons: [dns]\n").unwrap();
        let mut f = flags(file.to_str());
        f.workers = Some(3);
        f.masters = Some(3);
        f.ttl = Some(8);
        f.spot = true;
        f.tags = vec!["team=edge".into()];
        f.api_allowed_cidrs = vec!["203.0.113.0/24".into()];
        let spec = f.build().unwrap();
        assert_eq!(
            (spec.name.as_str(), spec.workers, spec.masters),
            ("lab-1", 3, 3)
        );
        assert_eq!(spec.ttl_hours, Some(8));
        assert!(spec.spot);
        assert_eq!(spec.tags["team"], "edge");
        assert_eq!(spec.addons, vec!["dns"]);
        std::fs::write(&file, "{\"name\": \"lab-2\"}").unwrap();
        assert_eq!(flags(file.to_str()).build().unwrap().name, "lab-2");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_input_is_a_usage_error_naming_what_is_wrong() {
        let err = flags(None).build().unwrap_err().to_string();
        assert!(err.contains("--name"), "{err}");
        let mut f = flags(None);
        f.name = Some("lab-1".into());
        f.tags = vec!["no-equals".into()];
        assert!(f.build().unwrap_err().to_string().contains("KEY=VALUE"));
        f.tags.clear();
        f.workers = Some(101);
        let err = f.build().unwrap_err();
        assert!(
            matches!(&err, CliError::Usage(m) if m.contains("`workers`")),
            "{err}"
        );
        let err = flags(Some("/nonexistent/spec.yaml")).build().unwrap_err();
        assert!(matches!(err, CliError::Usage(_)));
    }
}
