# The pipeline as deployed to AWS (the module's default poll intervals and bounds), into the
# local world for the benchmarks: the world scales its Wait states and latencies by the same
# factor, so the defaults are measured as they would run.

terraform {
  required_version = ">= 1.7"

  backend "local" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }
}

variable "endpoint" {
  description = "URL of the local world (local/world/serve.py) on loopback."
  type        = string

  validation {
    condition     = can(regex("^http://(127\\.[0-9.]+|localhost)(:[0-9]+)?$", var.endpoint))
    error_message = "endpoint must be a loopback http:// URL: the benchmarks never talk to anything else."
  }
}

variable "lambda_dir" {
  description = "Zips of the host-architecture Lambda binaries (`make local-lambdas`)."
  type        = string
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true

  endpoints {
    iam       = var.endpoint
    kms       = var.endpoint
    lambda    = var.endpoint
    logs      = var.endpoint
    scheduler = var.endpoint
    sfn       = var.endpoint
    ssm       = var.endpoint
    sts       = var.endpoint
    ec2       = var.endpoint
  }
}

module "mec" {
  source = "../../infra/modules/pipeline"

  lambda_dir          = var.lambda_dir
  lambda_architecture = "x86_64"
  ami_id              = "ami-03cf127a"
}

output "function_names" {
  description = "The step functions in the local world."
  value       = module.mec.function_names
}
