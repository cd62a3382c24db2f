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

variable "api_auth" {
  description = "How the HTTP API authenticates: \"jwt\" (set api_jwt_issuer and api_jwt_audience) or \"iam\"; see the module's variable."
  type        = string
  default     = "iam"
}

variable "api_jwt_issuer" {
  description = "Issuer URL of the JWTs the HTTP API accepts (with api_auth = \"jwt\")."
  type        = string
  default     = null
}

variable "api_jwt_audience" {
  description = "Accepted audiences of the HTTP API's JWTs (with api_auth = \"jwt\")."
  type        = list(string)
  default     = []
}

variable "api_cors_origins" {
  description = "Portal origins allowed to call the HTTP API from a browser."
  type        = list(string)
  default     = []
}

variable "lambda_architecture" {
  description = "Architecture of the zips in lambda_dir: arm64 (Graviton, `make lambdas`) or x86_64."
  type        = string
  default     = "arm64"
}

variable "node_wait_seconds" {
  description = "Longest wait for the nodes to run and be SSM-managed; see the module's variable."
  type        = number
  default     = 1200
}

variable "teardown_wait_seconds" {
  description = "Longest a teardown or rollback waits for what it deleted to be gone; see the module's variable."
  type        = number
  default     = 1200
}

variable "create_spot_service_linked_role" {
  description = "Create EC2 Spot's service-linked role (leave false when the account has it); see the module's variable."
  type        = bool
  default     = false
}
