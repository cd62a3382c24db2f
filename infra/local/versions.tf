terraform {
  required_version = ">= 1.9"

  # The state lives wherever the caller says (`terraform init -backend-config=path=...`), never in the repo.
  backend "local" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 6.0"
    }
  }
}
