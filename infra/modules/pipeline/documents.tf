# The SSM Command documents the install and join steps send, kept beside their functions.

resource "aws_ssm_document" "install" {
  name            = "${var.name_prefix}-install"
  document_type   = "Command"
  document_format = "YAML"
  content         = file("${path.module}/../../../functions/install/document.yaml")
  tags            = local.tags
}

resource "aws_ssm_document" "join" {
  name            = "${var.name_prefix}-join"
  document_type   = "Command"
  document_format = "YAML"
  content         = file("${path.module}/../../../functions/join/document.yaml")
  tags            = local.tags
}
