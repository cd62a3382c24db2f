variable "name_prefix" {
  description = "Prefix of every resource name (functions, roles, state machines, documents)."
  type        = string
  default     = "mec"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name_prefix))
    error_message = "name_prefix must be 2-20 characters: lowercase letters, digits, hyphens, starting with a letter."
  }
}

variable "lambda_dir" {
  description = "Folder holding one <binary>/bootstrap.zip per function, as `cargo lambda build --output-format zip --lambda-dir <dir>` writes them (e.g. mec-network/bootstrap.zip)."
  type        = string
}

variable "lambda_architecture" {
  description = "CPU architecture of the Lambda functions: arm64 (Graviton, cheaper) or x86_64. Must match the zips in lambda_dir."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "lambda_memory_mb" {
  description = "Memory of every function in MB (Rust steps need little; more memory also means more CPU)."
  type        = number
  default     = 256

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240
    error_message = "lambda_memory_mb must be between 128 and 10240."
  }
}

variable "log_retention_days" {
  description = "Retention of the functions' and state machines' log groups, in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ..., 365, ..., 3653)."
  }
}

variable "ami_id" {
  description = "AMI for every node, replacing the lookup of Canonical's Ubuntu parameter (null = look it up). Needed with emulators, which lack Canonical's parameters."
  type        = string
  default     = null

  validation {
    condition     = var.ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must look like ami-0123456789abcdef0."
  }
}

variable "ami_parameters" {
  description = "Public SSM parameters naming the Ubuntu LTS AMI per architecture."
  type = object({
    arm64  = string
    x86_64 = string
  })
  default = {
    arm64  = "/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id"
    x86_64 = "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id"
  }
}

variable "join_token_ttl_seconds" {
  description = "Lifetime of a MicroK8s join token on the master."
  type        = number
  default     = 900

  validation {
    condition     = var.join_token_ttl_seconds >= 60 && var.join_token_ttl_seconds <= 86400
    error_message = "join_token_ttl_seconds must be between 60 and 86400."
  }
}

variable "node_poll_seconds" {
  description = "Seconds between two checks of the nodes (boot, SSM registration, termination). Whole seconds: Step Functions waits take no fractions."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.node_poll_seconds >= 1 && floor(var.node_poll_seconds) == var.node_poll_seconds
    error_message = "node_poll_seconds must be a whole number of seconds, at least 1."
  }
}

variable "node_wait_seconds" {
  description = "Longest wait for the nodes to run and be SSM-managed (boot and agent registration), counted from the first check; then the environment rolls back."
  type        = number
  default     = 1200
  nullable    = false

  validation {
    condition     = var.node_wait_seconds >= 10 && var.node_wait_seconds <= 86400 && floor(var.node_wait_seconds) == var.node_wait_seconds
    error_message = "node_wait_seconds must be a whole number of seconds from 10 to 86400."
  }
}

variable "teardown_wait_seconds" {
  description = "Longest a teardown (or a rollback) waits for what it deleted to be gone (instances terminating, volumes deleting); then it fails and the reaper finishes it."
  type        = number
  default     = 1200
  nullable    = false

  validation {
    condition     = var.teardown_wait_seconds >= 10 && var.teardown_wait_seconds <= 86400 && floor(var.teardown_wait_seconds) == var.teardown_wait_seconds
    error_message = "teardown_wait_seconds must be a whole number of seconds from 10 to 86400."
  }
}

variable "consistency_settle_seconds" {
  description = "Seconds a rollback waits before its first pass, so that what the failed step created moments ago shows in EC2's describes by tag (EC2 is eventually consistent)."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.consistency_settle_seconds >= 0 && var.consistency_settle_seconds <= 300 && floor(var.consistency_settle_seconds) == var.consistency_settle_seconds
    error_message = "consistency_settle_seconds must be a whole number of seconds from 0 to 300."
  }
}

variable "command_poll_seconds" {
  description = "Seconds between two checks of an SSM command (install, join, verify)."
  type        = number
  default     = 3
  nullable    = false

  validation {
    condition     = var.command_poll_seconds >= 1 && floor(var.command_poll_seconds) == var.command_poll_seconds
    error_message = "command_poll_seconds must be a whole number of seconds, at least 1."
  }
}

variable "retry_interval_seconds" {
  description = "First retry interval of a failed step (doubles on every retry)."
  type        = number
  default     = 2
  nullable    = false

  validation {
    condition     = var.retry_interval_seconds >= 1 && floor(var.retry_interval_seconds) == var.retry_interval_seconds
    error_message = "retry_interval_seconds must be a whole number of seconds, at least 1."
  }
}

variable "execution_timeout_seconds" {
  description = "Longest a provisioning execution may run. Leave null: it is derived from every bounded wait and Task of the state machine (budget.tf), so that a wait's own deadline always fires first and the rollback runs. A value below the derived one is refused."
  type        = number
  default     = null

  validation {
    condition     = var.execution_timeout_seconds == null || (try(var.execution_timeout_seconds >= 60 && var.execution_timeout_seconds <= 31536000, false))
    error_message = "execution_timeout_seconds must be null (derived) or between 60 and 31536000 (a year, Step Functions' limit)."
  }
}

variable "scheduled_environments" {
  description = <<-EOT
    Environments created and destroyed on a schedule, by name. create_cron and destroy_cron are
    EventBridge Scheduler expressions (e.g. "cron(0 8 ? * MON-FRI *)"); spec is the environment
    spec (its name must be the map key).
  EOT
  type = map(object({
    spec         = any
    create_cron  = string
    destroy_cron = string
    timezone     = optional(string, "UTC")
  }))
  default = {}

  validation {
    condition     = alltrue([for name, s in var.scheduled_environments : can(regex("^[a-z][a-z0-9-]{2,31}$", name)) && try(s.spec.name, "") == name])
    error_message = "Each scheduled environment's key must be a valid environment name and equal its spec.name."
  }

  validation {
    condition     = alltrue([for s in values(var.scheduled_environments) : can(regex("^(cron|rate|at)\\(.+\\)$", s.create_cron)) && can(regex("^(cron|rate|at)\\(.+\\)$", s.destroy_cron))])
    error_message = "create_cron and destroy_cron must be EventBridge Scheduler expressions: cron(...), rate(...) or at(...)."
  }
}

variable "reaper_schedule" {
  description = "How often the reaper looks for environments to tear down (TTL passed, teardown or rollback never finished): an EventBridge Scheduler rate() or cron() expression."
  type        = string
  default     = "rate(15 minutes)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.reaper_schedule))
    error_message = "reaper_schedule must be a rate(...) or cron(...) expression."
  }
}

variable "tags" {
  description = "Tags added to every resource of the pipeline (not to the environments it creates)."
  type        = map(string)
  default     = {}
}

variable "api_auth" {
  description = "How API Gateway authenticates HTTP API callers: \"iam\" (SigV4-signed requests; grant execute-api:Invoke — the default, which needs nothing outside the account) or \"jwt\" (an OIDC/OAuth2 issuer's tokens in the Authorization header; set api_jwt_issuer and api_jwt_audience)."
  type        = string
  default     = "iam"

  validation {
    condition     = contains(["jwt", "iam"], var.api_auth)
    error_message = "api_auth must be \"jwt\" or \"iam\"."
  }
}

variable "api_jwt_issuer" {
  description = "Issuer URL of the JWTs the HTTP API accepts (e.g. https://cognito-idp.<region>.amazonaws.com/<pool id>); required when api_auth is \"jwt\"."
  type        = string
  default     = null

  validation {
    condition     = var.api_auth != "jwt" || can(regex("^https://[^\\s]+$", var.api_jwt_issuer))
    error_message = "With api_auth = \"jwt\", api_jwt_issuer must be an https:// URL."
  }
}

variable "api_jwt_audience" {
  description = "Accepted audiences (aud, or client_id for Cognito access tokens) of the HTTP API's JWTs; required when api_auth is \"jwt\"."
  type        = list(string)
  default     = []

  validation {
    condition     = var.api_auth != "jwt" || length(var.api_jwt_audience) > 0
    error_message = "With api_auth = \"jwt\", api_jwt_audience needs at least one audience."
  }
}

variable "api_cors_origins" {
  description = "Origins of the portals allowed to call the HTTP API from a browser (CORS), e.g. [\"https://portal.example.com\"]; empty = no CORS."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.api_cors_origins : can(regex("^https?://[^/\\s*]+$", o))])
    error_message = "api_cors_origins must be origins like https://portal.example.com (scheme and host, no path, no wildcard)."
  }
}

variable "api_throttling_rate_limit" {
  description = "Steady requests per second the HTTP API's stage accepts (all callers together)."
  type        = number
  default     = 10

  validation {
    condition     = var.api_throttling_rate_limit > 0 && var.api_throttling_rate_limit <= 10000
    error_message = "api_throttling_rate_limit must be between 0 (exclusive) and 10000."
  }
}

variable "api_throttling_burst_limit" {
  description = "Burst of requests the HTTP API's stage accepts above the rate limit."
  type        = number
  default     = 20

  validation {
    condition     = var.api_throttling_burst_limit >= 1 && var.api_throttling_burst_limit <= 5000 && floor(var.api_throttling_burst_limit) == var.api_throttling_burst_limit
    error_message = "api_throttling_burst_limit must be a whole number from 1 to 5000."
  }
}

variable "create_spot_service_linked_role" {
  description = "Create EC2 Spot's service-linked role (AWSServiceRoleForEC2Spot). Leave false when the account has it already (creating it twice fails); without it, the workers function creates it at the first spot launch (it may), or spot launches fall back to on demand."
  type        = bool
  default     = false
  nullable    = false
}

variable "registry_deletion_protection" {
  description = "Protect the environment registry (DynamoDB table) from deletion: `terraform destroy` then fails until it is turned off. Point-in-time recovery is always on."
  type        = bool
  default     = false
}
