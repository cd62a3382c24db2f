# The environment registry: one item per environment (name, status, owning execution, spec,
# record, times, error). The state machines write it themselves at each status change, through
# Step Functions' DynamoDB integration; the API and the CLI read it (and claim a name before
# they start a run). A conditional write at the start of each machine gives a name one owner,
# whichever door started the run (docs/architecture.md, "The environment registry").

resource "aws_dynamodb_table" "environments" {
  name         = "${var.name_prefix}-environments"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "name"

  attribute {
    name = "name"
    type = "S"
  }

  # DynamoDB reaches the key through a grant made when the table is created: readers and
  # writers need no KMS permission of their own (DynamoDB developer guide, "Encryption at rest").
  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.mec.arn
  }

  point_in_time_recovery {
    enabled = true
  }

  deletion_protection_enabled = var.registry_deletion_protection

  tags = local.tags
}

locals {
  registry_arn = aws_dynamodb_table.environments.arn
}
