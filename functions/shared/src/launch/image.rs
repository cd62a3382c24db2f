//! The AMI (and its root device) for an instance type's architecture.

use super::*;

/// The AMI and root device for the instance type's architecture.
#[derive(Debug, Clone)]
pub(crate) struct Image {
    pub(crate) id: String,
    pub(crate) root_device: String,
}

pub(crate) async fn resolve_image(
    aws: &Aws,
    settings: &Settings,
    request: &LaunchRequest<'_>,
) -> Result<Image, MecError> {
    let instance_type = request.instance_type();
    let types = aws
        .ec2
        .describe_instance_types()
        .instance_types(instance_type.into())
        .send()
        .await;
    let types = match types {
        Ok(t) => t,
        Err(e) => {
            let err = MecError::from_sdk("DescribeInstanceTypes", e);
            return Err(match &err {
                MecError::AwsError { code, .. } if code.starts_with("InvalidInstanceType") => {
                    unknown_type(request)
                }
                _ => err,
            });
        }
    };
    let info = types
        .instance_types()
        .first()
        .ok_or_else(|| unknown_type(request))?;
    let arm = info
        .processor_info()
        .map(|p| {
            p.supported_architectures()
                .contains(&ArchitectureType::Arm64)
        })
        .unwrap_or(false);

    let id = match &settings.ami_override {
        Some(id) => id.clone(),
        None => {
            let parameter = if arm {
                &settings.ami_parameter_arm64
            } else {
                &settings.ami_parameter_x86_64
            };
            let out = aws
                .ssm
                .get_parameter()
                .name(parameter)
                .send()
                .await
                .map_err(|e| MecError::from_sdk("GetParameter", e))?;
            out.parameter()
                .and_then(|p| p.value())
                .map(str::to_string)
                .ok_or_else(|| {
                    MecError::Configuration(format!("AMI parameter {parameter} has no value"))
                })?
        }
    };
    let images = aws
        .ec2
        .describe_images()
        .image_ids(&id)
        .send()
        .await
        .map_err(|e| MecError::from_sdk("DescribeImages", e))?;
    let image = images.images().first().ok_or_else(|| {
        MecError::Configuration(format!("AMI {id} does not exist in this region"))
    })?;
    Ok(Image {
        root_device: image.root_device_name().unwrap_or("/dev/sda1").to_string(),
        id,
    })
}

pub(crate) fn unknown_type(request: &LaunchRequest<'_>) -> MecError {
    MecError::invalid_spec(
        request.instance_type_field(),
        &format!(
            "`{}` is not an EC2 instance type offered in this region",
            request.instance_type()
        ),
    )
}
