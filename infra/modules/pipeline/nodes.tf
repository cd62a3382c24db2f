# The role every cluster node runs with: managed by SSM, and able to read its join token.

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

# The SSM agent resolves {{ssm-secure:/mec/<env>/join-token}} on the node with the node's role,
# and the first master stores its kubeconfig itself (mec-join publish), so that the kubeconfig
# never travels through command output.
data "aws_iam_policy_document" "node_join_token" {
  statement {
    sid       = "ReadJoinTokens"
    actions   = ["ssm:GetParameters"]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account}:parameter/mec/*/join-token"]
  }

  statement {
    sid       = "StoreKubeconfig"
    actions   = ["ssm:PutParameter"]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account}:parameter/mec/*/kubeconfig"]
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
