variable "region" {
  description = "AWS region to deploy the pipeline (and create environments) in."
  type        = string
  default     = "eu-west-1"
}

variable "lambda_dir" {
  description = "Where `make lambdas` put the arm64 zips (relative to this folder)."
  type        = string
  default     = "../../../.build/lambdas/arm64"
}

variable "scheduled_environments" {
  description = "Environments to create and destroy on a schedule; see the module's variable of the same name."
  type = map(object({
    spec         = any
    create_cron  = string
    destroy_cron = string
    timezone     = optional(string, "UTC")
  }))
  default = {}
}
