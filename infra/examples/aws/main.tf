# The mec pipeline in a real AWS account: `make lambdas`, then `terraform init && terraform apply`.

provider "aws" {
  region = var.region

  default_tags {
    tags = { "mec:deployment" = "example" }
  }
}

module "mec" {
  source = "../../modules/pipeline"

  lambda_dir             = var.lambda_dir
  lambda_architecture    = var.lambda_architecture
  scheduled_environments = var.scheduled_environments

  node_wait_seconds               = var.node_wait_seconds
  teardown_wait_seconds           = var.teardown_wait_seconds
  create_spot_service_linked_role = var.create_spot_service_linked_role

  api_auth         = var.api_auth
  api_jwt_issuer   = var.api_jwt_issuer
  api_jwt_audience = var.api_jwt_audience
  api_cors_origins = var.api_cors_origins
}
