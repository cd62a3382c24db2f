variable "endpoint" {
  description = "URL of the local AWS emulator (moto with mec's extensions, local/moto/server.py)."
  type        = string
  default     = "http://127.0.0.1:5000"

  validation {
    condition     = can(regex("^http://(127\\.[0-9.]+|localhost)(:[0-9]+)?$", var.endpoint))
    error_message = "endpoint must be a loopback http:// URL: the local world never talks to anything else."
  }
}

variable "lambda_dir" {
  description = "Zips of the host-architecture Lambda binaries (`make local-lambdas`)."
  type        = string
  default     = "../../.build/lambdas/local"
}

variable "lambda_architecture" {
  description = "Architecture of the zips in lambda_dir (the host's: the local world runs them here)."
  type        = string
  default     = "x86_64"
}

variable "ami_id" {
  description = "An AMI the emulator knows, since it lacks Canonical's public parameters."
  type        = string
  default     = "ami-03cf127a"
}

variable "deployed_intervals" {
  description = "Poll and retry at the pipeline module's defaults, as deployed to AWS (the benchmarks, which scale the world's clock instead), rather than every second."
  type        = bool
  default     = false
}
