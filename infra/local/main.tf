# The same pipeline module, deployed into the local AWS world: every service points at the
# emulator on loopback, with dummy credentials.

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  # The provider asks the emulator for the account (IAM GetUser, then STS GetCallerIdentity:
  # 123456789012), as it asks AWS: ARNs it builds itself, such as aws_ssm_document.arn, then
  # carry the account, as on AWS, and the policies that name them match what the world checks
  # (arn:aws:ssm:us-east-1:123456789012:document/mec-install, not ...::document/mec-install).
  skip_requesting_account_id = false

  endpoints {
    apigatewayv2 = var.endpoint
    dynamodb     = var.endpoint
    iam          = var.endpoint
    kms          = var.endpoint
    lambda       = var.endpoint
    logs         = var.endpoint
    scheduler    = var.endpoint
    sfn          = var.endpoint
    ssm          = var.endpoint
    sts          = var.endpoint
    ec2          = var.endpoint
  }
}

module "mec" {
  source = "../modules/pipeline"

  lambda_dir          = var.lambda_dir
  lambda_architecture = var.lambda_architecture
  ami_id              = var.ami_id

  # The local world serves the API itself on loopback (local/world/api_gateway.py, no auth);
  # the emulator's API Gateway is deployed but not in the request path.
  api_auth = "iam"

  # Seconds in the local world, where nodes boot at once; null = the module's default.
  node_poll_seconds      = var.deployed_intervals ? null : 1
  command_poll_seconds   = var.deployed_intervals ? null : 1
  retry_interval_seconds = var.deployed_intervals ? null : 1
  # Nodes boot at once in the local world: a node that is not up in 20 s never will be. The
  # world's EC2 agrees with itself within 0.5 s (its consistency window): 2 s before a rollback.
  node_wait_seconds          = var.deployed_intervals ? null : 20
  consistency_settle_seconds = var.deployed_intervals ? null : 2

  scheduled_environments = {
    lab-local = {
      spec         = { name = "lab-local", workers = 1 }
      create_cron  = "cron(0 8 ? * MON-FRI *)"
      destroy_cron = "cron(0 20 ? * MON-FRI *)"
    }
  }
}
