output "provision_state_machine_arn" {
  description = "The provisioning state machine in the emulator."
  value       = module.mec.provision_state_machine_arn
}

output "teardown_state_machine_arn" {
  description = "The teardown state machine in the emulator."
  value       = module.mec.teardown_state_machine_arn
}

output "function_names" {
  description = "The step functions in the emulator."
  value       = module.mec.function_names
}

output "api_function_name" {
  description = "The HTTP API's function in the emulator (the local world's API front invokes it)."
  value       = module.mec.api_function_name
}
