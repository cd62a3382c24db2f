//! The add-on catalogue (`catalogue/addons.json`, embedded at build time): what a spec may name
//! in `addons`, what each add-on needs, and the order to install them in.
//!
//! [`check`] rejects an add-on the spec's cluster cannot hold — too few nodes, too little memory,
//! a MicroK8s track whose repositories lack it, an architecture its images are not built for —
//! naming the `addons[i]` entry and the reason. [`plan`] expands the requests with their
//! dependencies, dependencies first, and decides which may fail without failing the environment.
//! The commands themselves live in the `mec-join` document (generated from this file).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::MecError;
use crate::instances::{self, Architecture};
use crate::spec::EnvironmentSpec;

const CATALOGUE_JSON: &str = include_str!("../catalogue/addons.json");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    pub about: Vec<String>,
    pub addons: Vec<Addon>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Addon {
    pub name: String,
    pub installs: String,
    /// Add-ons installed (and healthy) before this one.
    pub requires: Vec<String>,
    pub min_nodes: u32,
    pub min_node_memory_gib: u32,
    pub min_total_memory_gib: u32,
    pub memory_basis: String,
    pub architectures: Vec<String>,
    /// MicroK8s tracks (`1.32`) whose add-on repositories carry it; `max_track` null = no bound.
    pub min_track: String,
    pub max_track: Option<String>,
    /// Shell commands, run in order on the first master by the `mec-join` document.
    pub commands: Vec<String>,
    pub health: Health,
    pub ports: Vec<Port>,
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// Succeeds once the add-on is healthy; retried until `timeout_seconds` have passed.
    pub command: String,
    pub timeout_seconds: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    pub port: u16,
    pub protocol: String,
    pub what: String,
}

/// The embedded catalogue (parsed once).
pub fn catalogue() -> Result<&'static Catalogue, MecError> {
    static PARSED: OnceLock<Result<Catalogue, String>> = OnceLock::new();
    PARSED
        .get_or_init(|| {
            serde_json::from_str(CATALOGUE_JSON).map_err(|e| format!("add-on catalogue: {e}"))
        })
        .as_ref()
        .map_err(|e| MecError::Configuration(e.clone()))
}

impl Catalogue {
    pub fn get(&self, name: &str) -> Option<&Addon> {
        self.addons.iter().find(|a| a.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.addons.iter().map(|a| a.name.as_str()).collect()
    }
}

impl Addon {
    pub fn supports(&self, architecture: Architecture) -> bool {
        self.architectures
            .iter()
            .any(|a| a == architecture.as_str())
    }

    /// Track bounds as (major, minor); a malformed bound never matches.
    fn track_ok(&self, track: (u32, u32)) -> bool {
        let above = parse_track(&self.min_track).is_some_and(|min| track >= min);
        let below = match &self.max_track {
            Some(max) => parse_track(max).is_some_and(|max| track <= max),
            None => true,
        };
        above && below
    }

    fn tracks(&self) -> String {
        match &self.max_track {
            Some(max) => format!("{}–{}", self.min_track, max),
            None => format!("{} and newer", self.min_track),
        }
    }
}

fn parse_track(track: &str) -> Option<(u32, u32)> {
    let (major, minor) = track.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum AddonStatus {
    Ready,
    Failed,
}

/// One add-on's outcome: READY once its health check passed; FAILED with the reason (only an
/// optional add-on can be FAILED in a READY environment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddonReport {
    pub name: String,
    pub status: AddonStatus,
    pub optional: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One add-on of an install plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    pub name: String,
    /// Its failure leaves the environment READY (with the add-on FAILED).
    pub optional: bool,
}

/// The spec's add-ons with their dependencies, each once, dependencies first (in the order the
/// spec lists them). An add-on is optional when nothing required needs it: explicitly optional
/// entries and the dependencies only they pull in.
pub fn plan(spec: &EnvironmentSpec) -> Result<Vec<Planned>, MecError> {
    let catalogue = catalogue()?;
    let mut order: Vec<String> = Vec::new();
    for request in &spec.addons {
        visit(catalogue, request.name(), &mut order, 0)?;
    }
    let mut required: BTreeSet<String> = BTreeSet::new();
    for request in spec.addons.iter().filter(|r| !r.optional()) {
        let mut closure = Vec::new();
        visit(catalogue, request.name(), &mut closure, 0)?;
        required.extend(closure);
    }
    Ok(order
        .into_iter()
        .map(|name| Planned {
            optional: !required.contains(&name),
            name,
        })
        .collect())
}

/// Depth-first: dependencies, then the add-on. The catalogue is small; the depth bound only
/// guards against a cycle slipping into it (a test checks there is none).
fn visit(
    catalogue: &Catalogue,
    name: &str,
    order: &mut Vec<String>,
    depth: usize,
) -> Result<(), MecError> {
    if order.iter().any(|n| n == name) {
        return Ok(());
    }
    let addon = catalogue.get(name).ok_or_else(|| {
        MecError::Configuration(format!("add-on catalogue: unknown add-on {name}"))
    })?;
    if depth > catalogue.addons.len() {
        return Err(MecError::Configuration(format!(
            "add-on catalogue: dependency cycle through {name}"
        )));
    }
    for dependency in &addon.requires {
        visit(catalogue, dependency, order, depth + 1)?;
    }
    order.push(name.to_string());
    Ok(())
}

/// Checks every requested add-on against the catalogue and the spec's cluster.
///
/// Instance types mec has no memory figure for are accepted, unless a requested add-on (or a
/// dependency) states a memory minimum: then the spec is refused, since mec cannot tell.
pub fn check(spec: &EnvironmentSpec) -> Result<(), MecError> {
    let catalogue = catalogue()?;
    let track =
        parse_track(spec.microk8s_channel.split('/').next().unwrap_or_default()).unwrap_or((0, 0));
    let master_arch = instances::architecture(&spec.instance_type);
    let nodes = spec.node_count();
    // (field, type, count) of each node group that exists. Edge workers get the first type of
    // the edge list that their zone offers (network step): all x86_64, the smallest first, so
    // the first stands for them here (architecture, and memory as a lower bound).
    let mut groups = vec![("instance_type", spec.instance_type.as_str(), spec.masters)];
    if spec.workers > 0 {
        groups.push((
            "worker_instance_type",
            spec.worker_instance_type.as_str(),
            spec.workers,
        ));
    }
    if spec.edge_workers() > 0 {
        groups.push((
            "edge.workers",
            crate::edge::EDGE_INSTANCE_TYPES[0],
            spec.edge_workers(),
        ));
    }
    let other_arch = groups
        .iter()
        .map(|(field, t, _)| (*field, *t, instances::architecture(t)))
        .find(|(_, _, arch)| *arch != master_arch);
    let mixed = other_arch.is_some();

    for (i, request) in spec.addons.iter().enumerate() {
        let field = format!("addons[{i}]");
        let name = request.name();
        let Some(addon) = catalogue.get(name) else {
            return Err(MecError::invalid_spec(
                &field,
                &format!(
                    "names an unknown add-on `{name}`; the catalogue has: {}",
                    catalogue.names().join(", ")
                ),
            ));
        };
        if spec.addons[..i].iter().any(|r| r.name() == name) {
            return Err(MecError::invalid_spec(&field, "lists an add-on twice"));
        }
        let mut closure = Vec::new();
        visit(catalogue, name, &mut closure, 0)?;
        for needed in closure.iter().rev().filter_map(|n| catalogue.get(n)) {
            let what = if needed.name == addon.name {
                format!("`{}`", addon.name)
            } else {
                format!("`{}` (needed by `{}`)", needed.name, addon.name)
            };
            if mixed
                && !(needed.supports(Architecture::Arm64) && needed.supports(Architecture::X86_64))
            {
                let (other_field, other_type, other) =
                    other_arch.unwrap_or(("instance_type", &spec.instance_type, master_arch));
                return Err(MecError::invalid_spec(
                    &field,
                    &format!(
                        "{what} runs on {} only, and the spec mixes architectures: \
                         instance_type {} is {master_arch}, {other_field} {other_type} is \
                         {other}; use one architecture, or only add-ons built for both",
                        needed.architectures.join(", "),
                        spec.instance_type,
                    ),
                ));
            }
            check_one(needed, &what, &field, spec, track, &groups, nodes)?;
        }
    }
    Ok(())
}

fn check_one(
    addon: &Addon,
    what: &str,
    field: &str,
    spec: &EnvironmentSpec,
    track: (u32, u32),
    groups: &[(&str, &str, u32)],
    nodes: u32,
) -> Result<(), MecError> {
    let refuse = |rule: String| Err(MecError::invalid_spec(field, &rule));
    if !addon.track_ok(track) {
        return refuse(format!(
            "{what} is in the MicroK8s add-on repositories of tracks {} only; \
             microk8s_channel is {}",
            addon.tracks(),
            spec.microk8s_channel
        ));
    }
    for (type_field, instance_type, _) in groups {
        let arch = instances::architecture(instance_type);
        if !addon.supports(arch) {
            return refuse(format!(
                "{what} runs on {} only; {type_field} {instance_type} is {arch}",
                addon.architectures.join(", ")
            ));
        }
    }
    if nodes < addon.min_nodes {
        return refuse(format!(
            "{what} needs at least {} nodes; the spec has {nodes} (masters + workers)",
            addon.min_nodes
        ));
    }
    if addon.min_node_memory_gib == 0 && addon.min_total_memory_gib == 0 {
        return Ok(());
    }
    let mut total_mib: u64 = 0;
    for (type_field, instance_type, count) in groups {
        let Some(mib) = instances::memory_mib(instance_type) else {
            return refuse(format!(
                "{what} needs {} GiB per node, and mec does not know the memory of \
                 {type_field} {instance_type}; use a type of the families {}",
                addon.min_node_memory_gib,
                instances::known_families().join(", ")
            ));
        };
        if mib < addon.min_node_memory_gib * 1024 {
            return refuse(format!(
                "{what} needs {} GiB per node; {type_field} {instance_type} has {}",
                addon.min_node_memory_gib,
                gib(u64::from(mib))
            ));
        }
        total_mib += u64::from(mib) * u64::from(*count);
    }
    if total_mib < u64::from(addon.min_total_memory_gib) * 1024 {
        return refuse(format!(
            "{what} needs {} GiB in the whole cluster; the spec's {nodes} nodes have {}",
            addon.min_total_memory_gib,
            gib(total_mib)
        ));
    }
    Ok(())
}

fn gib(mib: u64) -> String {
    if mib % 1024 == 0 {
        format!("{} GiB", mib / 1024)
    } else {
        format!("{:.1} GiB", mib as f64 / 1024.0)
    }
}

/// Seconds the add-on step may run: each add-on's health timeout plus time for its commands.
pub fn execution_timeout_seconds(plan: &[Planned]) -> Result<u32, MecError> {
    let catalogue = catalogue()?;
    let total: u32 = plan
        .iter()
        .filter_map(|p| catalogue.get(&p.name))
        .map(|a| a.health.timeout_seconds + COMMAND_ALLOWANCE_SECONDS)
        .sum();
    Ok(total.clamp(600, 99_999))
}

/// Time allowed for an add-on's commands (downloads, `microk8s enable`) besides its health wait.
const COMMAND_ALLOWANCE_SECONDS: u32 = 300;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: serde_json::Value) -> Result<EnvironmentSpec, MecError> {
        EnvironmentSpec::from_value(value)
    }

    fn refusal(value: serde_json::Value) -> (String, String) {
        match spec(value) {
            Err(MecError::InvalidSpec { field, rule }) => (field, rule),
            other => (format!("not refused: {other:?}"), String::new()),
        }
    }

    #[test]
    fn the_catalogue_parses_and_is_consistent() {
        let c = catalogue().unwrap();
        let mut names = BTreeSet::new();
        for addon in &c.addons {
            assert!(names.insert(addon.name.clone()), "{} twice", addon.name);
            assert!(
                addon
                    .name
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-'),
                "{}: the document's allowedPattern takes [a-z0-9-]",
                addon.name
            );
            assert!(!addon.commands.is_empty(), "{}", addon.name);
            assert!(!addon.sources.is_empty(), "{}", addon.name);
            assert!(addon.health.timeout_seconds > 0, "{}", addon.name);
            assert!(!addon.architectures.is_empty());
            for arch in &addon.architectures {
                assert!(
                    Architecture::parse(arch).is_some(),
                    "{}: {arch}",
                    addon.name
                );
            }
            assert!(parse_track(&addon.min_track).is_some(), "{}", addon.name);
            if let Some(max) = &addon.max_track {
                assert!(parse_track(max).is_some(), "{}", addon.name);
            }
            for dependency in &addon.requires {
                assert!(
                    c.get(dependency).is_some(),
                    "{} needs {dependency}",
                    addon.name
                );
            }
            // No cycle: visiting terminates within the depth bound.
            let mut order = Vec::new();
            visit(c, &addon.name, &mut order, 0).unwrap();
            assert_eq!(order.last(), Some(&addon.name));
        }
        for core in [
            "dns",
            "hostpath-storage",
            "ingress",
            "metrics-server",
            "helm3",
            "rbac",
        ] {
            assert!(names.contains(core), "{core}");
        }
    }

    #[test]
    fn the_plan_puts_dependencies_first_once() {
        let s = spec(
            json!({"name": "lab", "instance_type": "m7i.large", "worker_instance_type": "m7i.large",
            "addons": ["edgex", "dns", "kubeflow-pipelines"]}),
        )
        .unwrap();
        let names: Vec<String> = plan(&s).unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "helm3",
                "dns",
                "hostpath-storage",
                "edgex",
                "kubeflow-pipelines"
            ]
        );
    }

    #[test]
    fn optional_reaches_only_what_nothing_required_needs() {
        let s = spec(json!({"name": "lab", "addons": [
            "dns", {"name": "edgex", "optional": true}, {"name": "ingress", "optional": true}]}))
        .unwrap();
        let planned = plan(&s).unwrap();
        let optional: Vec<&str> = planned
            .iter()
            .filter(|p| p.optional)
            .map(|p| p.name.as_str())
            .collect();
        // dns is required (listed plainly); helm3 and hostpath-storage only serve edgex.
        assert_eq!(optional, ["helm3", "hostpath-storage", "edgex", "ingress"]);
    }

    #[test]
    fn every_entry_is_accepted_on_a_cluster_that_holds_it() {
        let c = catalogue().unwrap();
        for addon in &c.addons {
            let arch_type = if addon.supports(Architecture::Arm64) {
                "m7g.xlarge"
            } else {
                "m7i.xlarge"
            };
            let channel = format!("{}/stable", addon.max_track.as_deref().unwrap_or("1.32"));
            let channel = if channel.starts_with("1.26") {
                "1.27/stable".to_string()
            } else {
                channel
            };
            let s = spec(
                json!({"name": "lab", "workers": 3, "instance_type": arch_type,
                "worker_instance_type": arch_type, "microk8s_channel": channel,
                "addons": [addon.name]}),
            );
            assert!(s.is_ok(), "{}: {s:?}", addon.name);
        }
    }

    #[test]
    fn an_unknown_addon_is_named_with_the_catalogue() {
        let (field, rule) = refusal(json!({"name": "lab", "addons": ["dns", "storidge"]}));
        assert_eq!(field, "addons[1]");
        assert!(rule.contains("unknown add-on `storidge`"), "{rule}");
        assert!(rule.contains("edgex") && rule.contains("openebs"), "{rule}");
        let (field, _) =
            refusal(json!({"name": "lab", "addons": [{"name": "nope", "optional": true}]}));
        assert_eq!(field, "addons[0]");
    }

    #[test]
    fn an_addon_too_big_for_the_cluster_is_refused_with_the_figures() {
        // kubeflow-pipelines: 4 GiB per node, 8 GiB in all, x86_64.
        let (field, rule) = refusal(
            json!({"name": "lab", "workers": 0, "instance_type": "t3.medium",
            "addons": ["dns", "kubeflow-pipelines"]}),
        );
        assert_eq!(field, "addons[1]");
        assert!(
            rule.contains("needs 8 GiB in the whole cluster") && rule.contains("have 4 GiB"),
            "{rule}"
        );

        let (field, rule) = refusal(json!({"name": "lab", "instance_type": "t3.large",
            "worker_instance_type": "t3.small", "addons": ["kubeflow-pipelines"]}));
        assert_eq!(field, "addons[0]");
        assert!(
            rule.contains("4 GiB per node; worker_instance_type t3.small has 2 GiB"),
            "{rule}"
        );

        // A dependency's own minimum is named through the add-on that pulls it in.
        let (field, rule) = refusal(json!({"name": "lab", "instance_type": "t4g.small",
            "worker_instance_type": "t4g.small", "addons": ["edgex"]}));
        assert_eq!(field, "addons[0]");
        assert!(rule.contains("`edgex` needs 4 GiB per node"), "{rule}");
    }

    #[test]
    fn an_unknown_instance_type_is_refused_only_for_addons_with_a_memory_minimum() {
        assert!(spec(
            json!({"name": "lab", "instance_type": "x9.large", "worker_instance_type": "x9.large",
            "addons": ["dns", "ingress"]})
        )
        .is_ok());
        let (field, rule) = refusal(json!({"name": "lab", "instance_type": "x9.large",
            "worker_instance_type": "x9.large", "addons": ["dns", "edgex"]}));
        assert_eq!(field, "addons[1]");
        assert!(
            rule.contains("does not know the memory of instance_type x9.large"),
            "{rule}"
        );
    }

    #[test]
    fn architecture_rules() {
        // kubeflow-pipelines' images are amd64 only: the default Graviton nodes cannot run it.
        let (field, rule) = refusal(json!({"name": "lab", "addons": ["kubeflow-pipelines"]}));
        assert_eq!(field, "addons[0]");
        assert!(
            rule.contains("runs on x86_64 only; instance_type t4g.medium is arm64"),
            "{rule}"
        );

        // Mixed: accepted when every add-on is built for both, refused otherwise.
        assert!(spec(
            json!({"name": "lab", "instance_type": "m7i.large", "worker_instance_type": "t4g.large",
            "addons": ["dns", "edgex"]})
        )
        .is_ok());
        let (field, rule) = refusal(json!({"name": "lab", "instance_type": "m7i.xlarge",
            "worker_instance_type": "m7g.xlarge", "workers": 0, "addons": ["kubeflow-pipelines"]}));
        assert!(
            field.starts_with("not refused"),
            "no workers: not mixed ({field}: {rule})"
        );
        let (field, rule) = refusal(json!({"name": "lab", "instance_type": "m7i.xlarge",
            "worker_instance_type": "m7g.xlarge", "addons": ["dns", "kubeflow-pipelines"]}));
        assert_eq!(field, "addons[1]");
        assert!(rule.contains("mixes architectures"), "{rule}");
        assert!(
            rule.contains("worker_instance_type m7g.xlarge is arm64"),
            "{rule}"
        );
    }

    #[test]
    fn gopaddle_lite_is_refused_where_the_channel_lacks_it() {
        let (field, rule) = refusal(json!({"name": "lab", "instance_type": "m7i.large",
            "worker_instance_type": "m7i.large", "addons": ["gopaddle-lite"]}));
        assert_eq!(field, "addons[0]");
        assert!(
            rule.contains("tracks 1.26–1.27 only; microk8s_channel is 1.32/stable"),
            "{rule}"
        );
        assert!(spec(
            json!({"name": "lab", "instance_type": "m7i.large", "worker_instance_type": "m7i.large",
            "microk8s_channel": "1.27/stable", "addons": ["gopaddle-lite"]})
        )
        .is_ok());
        let (_, rule) = refusal(
            json!({"name": "lab", "microk8s_channel": "1.27/stable", "addons": ["gopaddle"]}),
        );
        assert!(rule.contains("tracks 1.28 and newer only"), "{rule}");
    }

    #[test]
    fn the_execution_timeout_covers_every_health_wait() {
        let s = spec(json!({"name": "lab", "addons": ["dns", "edgex"]})).unwrap();
        let planned = plan(&s).unwrap();
        let timeout = execution_timeout_seconds(&planned).unwrap();
        let waits: u32 = planned
            .iter()
            .map(|p| {
                catalogue()
                    .unwrap()
                    .get(&p.name)
                    .unwrap()
                    .health
                    .timeout_seconds
            })
            .sum();
        assert!(timeout > waits, "{timeout} <= {waits}");
        assert!(timeout <= 99_999);
    }
}
