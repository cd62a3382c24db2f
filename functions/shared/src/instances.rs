//! What mec knows about an EC2 instance type without asking EC2: its architecture (from the
//! name: Graviton families carry a `g` after the generation, e.g. `t4g`, `m7gd`, `c7gn`) and,
//! for the common families, its memory. Add-on validation uses both before anything is created;
//! the launch step still asks EC2 (DescribeInstanceTypes) for the AMI's architecture.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Architecture {
    Arm64,
    X86_64,
}

impl Architecture {
    /// EC2's name of the architecture.
    pub fn as_str(&self) -> &'static str {
        match self {
            Architecture::Arm64 => "arm64",
            Architecture::X86_64 => "x86_64",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "arm64" => Some(Architecture::Arm64),
            "x86_64" => Some(Architecture::X86_64),
            _ => None,
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `family.size` → family.
fn family(instance_type: &str) -> &str {
    instance_type.split('.').next().unwrap_or_default()
}

/// arm64 for Graviton families (`a1`, and letters + generation + `g`: t4g, m6gd, c7gn, x2gd,
/// im4gn, g5g), x86_64 otherwise.
pub fn architecture(instance_type: &str) -> Architecture {
    let family = family(instance_type);
    if family == "a1" {
        return Architecture::Arm64;
    }
    let rest = family.trim_start_matches(|c: char| c.is_ascii_lowercase());
    let after_generation = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    if rest.len() != after_generation.len() && after_generation.starts_with('g') {
        Architecture::Arm64
    } else {
        Architecture::X86_64
    }
}

/// Burstable families: memory by size (MiB).
const BURSTABLE: &[&str] = &["t2", "t3", "t3a", "t4g"];
const BURSTABLE_SIZES: &[(&str, u32)] = &[
    ("nano", 512),
    ("micro", 1024),
    ("small", 2048),
    ("medium", 4096),
    ("large", 8192),
    ("xlarge", 16384),
    ("2xlarge", 32768),
];
/// Fixed-performance families and their GiB per vCPU (general purpose 4, compute 2, memory 8);
/// the `d`/`n` variants (local disk, more network) have the same memory.
const FIXED: &[(&[&str], u32)] = &[
    (
        &["m5", "m5a", "m6i", "m6a", "m6g", "m7i", "m7a", "m7g", "m8g"],
        4,
    ),
    (
        &["c5", "c5a", "c6i", "c6a", "c6g", "c7i", "c7a", "c7g", "c8g"],
        2,
    ),
    (
        &["r5", "r5a", "r6i", "r6a", "r6g", "r7i", "r7a", "r7g", "r8g"],
        8,
    ),
];

/// The families whose memory mec knows, for error messages.
pub fn known_families() -> Vec<&'static str> {
    let mut all: Vec<&str> = BURSTABLE.to_vec();
    for (families, _) in FIXED {
        all.extend_from_slice(families);
    }
    all
}

/// vCPUs of a fixed-performance size: medium 1, large 2, xlarge 4, Nxlarge 4N.
fn vcpus(size: &str) -> Option<u32> {
    match size {
        "medium" => Some(1),
        "large" => Some(2),
        "xlarge" => Some(4),
        _ => {
            let n = size.strip_suffix("xlarge")?;
            let n: u32 = n.parse().ok().filter(|n| (2..=48).contains(n))?;
            Some(4 * n)
        }
    }
}

/// Memory in MiB, for the families mec knows; None for any other type (or a `metal` size).
pub fn memory_mib(instance_type: &str) -> Option<u32> {
    let (family, size) = instance_type.split_once('.')?;
    if BURSTABLE.contains(&family) {
        return BURSTABLE_SIZES
            .iter()
            .find(|(s, _)| *s == size)
            .map(|(_, mib)| *mib);
    }
    let base = family.trim_end_matches(['d', 'n']);
    let (_, per_vcpu) = FIXED
        .iter()
        .find(|(families, _)| families.contains(&base) || families.contains(&family))?;
    Some(vcpus(size)? * per_vcpu * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graviton_families_are_arm64() {
        for t in [
            "t4g.medium",
            "m7g.large",
            "c7g.xlarge",
            "m6gd.large",
            "c7gn.large",
            "r8g.2xlarge",
            "a1.large",
            "g5g.xlarge",
            "im4gn.large",
        ] {
            assert_eq!(architecture(t), Architecture::Arm64, "{t}");
        }
        for t in [
            "t3.medium",
            "m7i.large",
            "c5.xlarge",
            "g5.xlarge",
            "p4d.24xlarge",
            "m5a.large",
        ] {
            assert_eq!(architecture(t), Architecture::X86_64, "{t}");
        }
    }

    #[test]
    fn memory_of_known_types() {
        assert_eq!(memory_mib("t4g.medium"), Some(4096));
        assert_eq!(memory_mib("t3.small"), Some(2048));
        assert_eq!(memory_mib("m7g.medium"), Some(4096));
        assert_eq!(memory_mib("m7i.large"), Some(8192));
        assert_eq!(memory_mib("c7g.xlarge"), Some(8192));
        assert_eq!(memory_mib("r7g.2xlarge"), Some(65536));
        assert_eq!(memory_mib("m6gd.4xlarge"), Some(65536));
        assert_eq!(memory_mib("c7gn.large"), Some(4096));
        assert_eq!(memory_mib("x9.large"), None);
        assert_eq!(memory_mib("m7g.metal"), None);
        assert_eq!(memory_mib("t4g.huge"), None);
    }
}
