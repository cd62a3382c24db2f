# The role every cluster node runs with: managed by SSM, and able to read its own environment's
# join token and store its own environment's kubeconfig, nothing of any other environment's.

data "aws_iam_policy_document" "node_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  name               = "${var.name_prefix}-node"
  description        = "mec cluster nodes: SSM-managed, no SSH"
  assume_role_policy = data.aws_iam_policy_document.node_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "node_ssm" {
  role       = aws_iam_role.node.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

# A node reads its environment's join token and the first master stores the kubeconfig, both
# with the AWS CLI and this role (Run Command resolves no SecureString reference in a document
# parameter, and the kubeconfig must never travel through command output).
#
# One role serves every environment, so each node is bound to its own environment's parameters
# by their `mec:vpc` tag: `aws:Ec2InstanceSourceVpc` is the VPC of the instance whose role
# credentials sign the request (IAM global condition keys), present whenever EC2 role credentials
# are used. AmazonSSMManagedInstanceCore allows ssm:GetParameter(s) on "*": only an explicit
# Deny narrows that, hence the Deny on every mec parameter whose tag is not the caller's VPC
# (an untagged parameter or a new one has no such tag: denied too).
locals {
  mec_parameters_arn = "arn:${local.partition}:ssm:${local.region}:${local.account}:parameter/mec/*"
}

data "aws_iam_policy_document" "node_join_token" {
  statement {
    sid       = "ReadOwnJoinToken"
    actions   = ["ssm:GetParameter"]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account}:parameter/mec/*/join-token"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/mec:vpc"
      values   = ["$${aws:Ec2InstanceSourceVpc}"]
    }
  }

  statement {
    sid       = "StoreOwnKubeconfig"
    actions   = ["ssm:PutParameter"]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account}:parameter/mec/*/kubeconfig"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/mec:vpc"
      values   = ["$${aws:Ec2InstanceSourceVpc}"]
    }
  }

  statement {
    sid    = "NoOtherEnvironmentsSecrets"
    effect = "Deny"
    actions = [
      "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParameterHistory", "ssm:GetParametersByPath",
      "ssm:PutParameter", "ssm:DeleteParameter", "ssm:DeleteParameters", "ssm:LabelParameterVersion",
      "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource",
    ]
    resources = [local.mec_parameters_arn]
    condition {
      test     = "StringNotEquals"
      variable = "aws:ResourceTag/mec:vpc"
      values   = ["$${aws:Ec2InstanceSourceVpc}"]
    }
  }

  statement {
    sid       = "EncryptKubeconfig"
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.mec.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ssm.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "DecryptJoinTokens"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.mec.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ssm.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "node_join_token" {
  name   = "join-token-and-kubeconfig"
  role   = aws_iam_role.node.id
  policy = data.aws_iam_policy_document.node_join_token.json
}

resource "aws_iam_instance_profile" "node" {
  name = "${var.name_prefix}-node"
  role = aws_iam_role.node.name
  tags = local.tags
}
