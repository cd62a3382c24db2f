//! An environment's secrets in SSM Parameter Store: its join token and its kubeconfig.
//!
//! Both are SecureStrings under `/mec/<env>/` (naming.rs) that the environment's nodes read or
//! write with their instance role. They are created by mec with the tags the node role's policy
//! is bound to — `mec:vpc` must equal the VPC the calling instance runs in
//! (`${aws:Ec2InstanceSourceVpc}`, infra/modules/pipeline/nodes.tf) — so a node reaches its own
//! environment's parameters only. PutParameter takes tags only when it creates a parameter
//! (tags and Overwrite cannot be combined), so a parameter is created with its tags once and
//! overwritten after.

use aws_sdk_ssm::types::{ParameterTier, ParameterType, Tag};

use crate::aws::Aws;
use crate::error::MecError;
use crate::settings::Settings;
use crate::tags;

/// How much a parameter holds: Standard 4 KB, Advanced 8 KB (Systems Manager user guide,
/// "Managing parameter tiers"). A MicroK8s admin kubeconfig (CA, client certificate and RSA
/// key) is ~5.5 KB: Advanced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Standard,
    Advanced,
}

impl Tier {
    fn sdk(self) -> ParameterTier {
        match self {
            Tier::Standard => ParameterTier::Standard,
            Tier::Advanced => ParameterTier::Advanced,
        }
    }
}

/// One of an environment's SecureStrings, bound to its VPC.
#[derive(Debug, Clone)]
pub struct EnvironmentSecret<'a> {
    pub name: &'a str,
    pub environment: &'a str,
    /// The environment's VPC: the instances that may read or overwrite the parameter.
    pub vpc_id: &'a str,
    pub tier: Tier,
    pub description: String,
}

/// What to do when the parameter exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfExists {
    /// Give it this value (a new join token per attempt).
    Overwrite,
    /// Leave it (the master overwrites the kubeconfig itself).
    Keep,
}

/// Creates the SecureString with its tags, or (`IfExists`) overwrites or keeps an existing one.
pub async fn put(
    aws: &Aws,
    settings: &Settings,
    secret: &EnvironmentSecret<'_>,
    value: &str,
    if_exists: IfExists,
) -> Result<(), MecError> {
    let put = || {
        let mut call = aws
            .ssm
            .put_parameter()
            .name(secret.name)
            .value(value)
            .r#type(ParameterType::SecureString)
            .tier(secret.tier.sdk())
            .description(&secret.description);
        if let Some(key) = &settings.parameter_kms_key {
            call = call.key_id(key);
        }
        call
    };
    let created = put().set_tags(Some(secret_tags(secret))).send().await;
    match created {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_parameter_already_exists()) =>
        {
            match if_exists {
                IfExists::Keep => Ok(()),
                IfExists::Overwrite => put()
                    .overwrite(true)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| MecError::from_sdk("PutParameter", e)),
            }
        }
        Err(e) => Err(MecError::from_sdk("PutParameter", e)),
    }
}

/// Deletes the parameter; one that is gone already is no error.
pub async fn delete(aws: &Aws, name: &str) -> Result<(), MecError> {
    let deleted = aws.ssm.delete_parameter().name(name).send().await;
    match deleted {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_parameter_not_found()) =>
        {
            Ok(())
        }
        Err(e) => Err(MecError::from_sdk("DeleteParameter", e)),
    }
}

fn secret_tags(secret: &EnvironmentSecret<'_>) -> Vec<Tag> {
    [
        (tags::ENVIRONMENT, secret.environment),
        (tags::MANAGED_BY, "mec"),
        (tags::VPC, secret.vpc_id),
    ]
    .into_iter()
    .filter_map(|(key, value)| Tag::builder().key(key).value(value).build().ok())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_carry_the_tags_the_node_policy_binds_to() {
        let secret = EnvironmentSecret {
            name: "/mec/lab-1/join-token",
            environment: "lab-1",
            vpc_id: "vpc-0123",
            tier: Tier::Standard,
            description: "x".into(),
        };
        let tags: Vec<(String, String)> = secret_tags(&secret)
            .into_iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        assert!(tags.contains(&("mec:vpc".into(), "vpc-0123".into())));
        assert!(tags.contains(&("mec:environment".into(), "lab-1".into())));
        assert_eq!(Tier::Advanced.sdk(), ParameterTier::Advanced);
    }
}
