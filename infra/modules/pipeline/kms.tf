# One customer-managed key for mec's secrets (join tokens, kubeconfigs) and its log groups.

data "aws_iam_policy_document" "kms" {
  # checkov:skip=CKV_AWS_109:A key policy's "*" resource is the key itself; the account root administers its own key.
  # checkov:skip=CKV_AWS_111:A key policy's "*" resource is the key itself; CloudWatch Logs is limited to this account's log groups.
  # checkov:skip=CKV_AWS_356:A key policy's "*" resource is the key itself, the only resource it can name.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncrypts"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "mec" {
  description             = "${var.name_prefix}: SecureString parameters (join tokens, kubeconfigs) and logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = local.tags
}

resource "aws_kms_alias" "mec" {
  name          = "alias/${var.name_prefix}"
  target_key_id = aws_kms_key.mec.key_id
}
