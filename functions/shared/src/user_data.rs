//! The nodes' EC2 user data: start downloading the MicroK8s snap at boot, while the SSM agent
//! registers, so that the install step (the mec-install document) does not wait for the download
//! on the critical path. The script is `userdata/prefetch-microk8s.sh` (shellchecked with the
//! documents); the document installs what it fetched, or falls back to the store.

/// The script, with `@CHANNEL@` where the spec's channel goes.
const PREFETCH_SCRIPT: &str = include_str!("../userdata/prefetch-microk8s.sh");
const CHANNEL_PLACEHOLDER: &str = "@CHANNEL@";

/// The user data script for nodes that install `channel` (a spec's validated
/// `microk8s_channel`, e.g. `1.32/stable`: digits, dots, a slash and a risk name, nothing a
/// shell would read as syntax).
pub fn prefetch_script(channel: &str) -> String {
    PREFETCH_SCRIPT.replace(CHANNEL_PLACEHOLDER, channel)
}

/// The same, base64-encoded as RunInstances takes it.
pub fn prefetch(channel: &str) -> String {
    aws_smithy_types::base64::encode(prefetch_script(channel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_downloads_the_requested_channel() {
        let script = prefetch_script("1.31/candidate");
        assert!(
            script.starts_with("#!/bin/bash\n"),
            "cloud-init runs #! scripts"
        );
        assert!(script.contains("CHANNEL='1.31/candidate'"));
        assert!(!script.contains(CHANNEL_PLACEHOLDER));
        assert!(script.contains("snap download microk8s --channel=\"$CHANNEL\""));
    }

    #[test]
    fn the_user_data_is_the_script_in_base64_and_fits_ec2s_limit() {
        let encoded = prefetch("1.32/stable");
        let decoded = aws_smithy_types::base64::decode(&encoded).expect("valid base64");
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            prefetch_script("1.32/stable")
        );
        // EC2 takes at most 16 KB of user data (before base64).
        assert!(prefetch_script("1.32/stable").len() < 16 * 1024);
    }
}
