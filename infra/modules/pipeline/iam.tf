# One role per function, with only the actions its code calls (the lists kept beside each
# function, functions/<name>/iam-actions.txt, are checked against these statements and the code).
# Resource ARNs and tag conditions wherever EC2 and SSM support them; `*` only for the
# Describe/List calls that support no resource-level permissions.

locals {
  ec2_arn = "arn:${local.partition}:ec2:${local.region}:${local.account}"
  ssm_arn = "arn:${local.partition}:ssm:${local.region}:${local.account}"
  # Every schedule in the pipeline's group (expiry schedules are created at run time).
  schedules_arn = "arn:${local.partition}:scheduler:${local.region}:${local.account}:schedule/${var.name_prefix}/*"

  managed_resource = { StringEquals = { "aws:ResourceTag/mec:managed-by" = "mec" } }
  managed_request  = { StringEquals = { "aws:RequestTag/mec:managed-by" = "mec" } }

  network_created = ["vpc", "subnet", "internet-gateway", "carrier-gateway", "route-table", "security-group"]

  launch_statements = [
    {
      Sid      = "DescribeForLaunch"
      Action   = ["ec2:DescribeInstances", "ec2:DescribeInstanceTypes", "ec2:DescribeImages"]
      Resource = ["*"]
    },
    {
      Sid       = "LaunchTaggedInstances"
      Action    = ["ec2:RunInstances"]
      Resource  = ["${local.ec2_arn}:instance/*", "${local.ec2_arn}:volume/*"]
      Condition = local.managed_request
    },
    {
      # The AMI and its snapshots are Canonical's (no account in their ARNs); RunInstances is
      # also authorized on the AMI's snapshot (Service Authorization Reference, EC2 RunInstances).
      Sid      = "LaunchWithAnyImageAndNewInterfaces"
      Action   = ["ec2:RunInstances"]
      Resource = ["arn:${local.partition}:ec2:${local.region}::image/*", "arn:${local.partition}:ec2:${local.region}::snapshot/*", "${local.ec2_arn}:network-interface/*"]
    },
    {
      Sid       = "LaunchIntoMecNetworks"
      Action    = ["ec2:RunInstances"]
      Resource  = ["${local.ec2_arn}:subnet/*", "${local.ec2_arn}:security-group/*"]
      Condition = local.managed_resource
    },
    {
      Sid       = "TagAtLaunch"
      Action    = ["ec2:CreateTags"]
      Resource  = ["${local.ec2_arn}:instance/*", "${local.ec2_arn}:volume/*"]
      Condition = { StringEquals = { "ec2:CreateAction" = "RunInstances" } }
    },
    {
      Sid       = "IndexMecInstances"
      Action    = ["ec2:CreateTags"]
      Resource  = ["${local.ec2_arn}:instance/*"]
      Condition = local.managed_resource
    },
    {
      Sid       = "PassNodeRole"
      Action    = ["iam:PassRole"]
      Resource  = [aws_iam_role.node.arn]
      Condition = { StringEquals = { "iam:PassedToService" = "ec2.amazonaws.com" } }
    },
    {
      Sid      = "ReadUbuntuAmiParameters"
      Action   = ["ssm:GetParameter"]
      Resource = ["arn:${local.partition}:ssm:${local.region}::parameter/aws/service/canonical/*"]
    },
  ]

  # Spot workers: RunInstances with spot market options is also authorized on the spot request it
  # creates, and the account's first spot launch creates EC2 Spot's service-linked role (unless
  # create_spot_service_linked_role made it). A refusal still falls back to on demand.
  spot_statements = [
    {
      Sid      = "LaunchSpotWorkers"
      Action   = ["ec2:RunInstances"]
      Resource = ["${local.ec2_arn}:spot-instances-request/*"]
    },
    {
      Sid       = "CreateSpotServiceLinkedRole"
      Action    = ["iam:CreateServiceLinkedRole"]
      Resource  = ["arn:${local.partition}:iam::${local.account}:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot"]
      Condition = { StringEquals = { "iam:AWSServiceName" = "spot.amazonaws.com" } }
    },
  ]

  function_statements = {
    validate = []

    network = [
      {
        Sid      = "DescribeNetwork"
        Action   = ["ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeInternetGateways", "ec2:DescribeCarrierGateways", "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroups", "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeAvailabilityZones"]
        Resource = ["*"]
      },
      {
        # An edge zone's group (Local Zones, Wavelength Zones) is opted in once per account;
        # the action has no resource-level permissions (Service Authorization Reference).
        Sid      = "OptInEdgeZoneGroups"
        Action   = ["ec2:ModifyAvailabilityZoneGroup"]
        Resource = ["*"]
      },
      {
        Sid       = "CreateTaggedNetwork"
        Action    = ["ec2:CreateVpc", "ec2:CreateSubnet", "ec2:CreateInternetGateway", "ec2:CreateCarrierGateway", "ec2:CreateRouteTable", "ec2:CreateSecurityGroup"]
        Resource  = [for t in local.network_created : "${local.ec2_arn}:${t}/*"]
        Condition = local.managed_request
      },
      {
        Sid       = "CreateInMecVpcs"
        Action    = ["ec2:CreateSubnet", "ec2:CreateCarrierGateway", "ec2:CreateRouteTable", "ec2:CreateSecurityGroup"]
        Resource  = ["${local.ec2_arn}:vpc/*"]
        Condition = local.managed_resource
      },
      {
        Sid       = "TagAtCreation"
        Action    = ["ec2:CreateTags"]
        Resource  = [for t in local.network_created : "${local.ec2_arn}:${t}/*"]
        Condition = { StringEquals = { "ec2:CreateAction" = ["CreateVpc", "CreateSubnet", "CreateInternetGateway", "CreateCarrierGateway", "CreateRouteTable", "CreateSecurityGroup"] } }
      },
      {
        Sid       = "ConfigureMecNetwork"
        Action    = ["ec2:ModifyVpcAttribute", "ec2:ModifySubnetAttribute", "ec2:AttachInternetGateway", "ec2:CreateRoute", "ec2:AssociateRouteTable", "ec2:AuthorizeSecurityGroupIngress"]
        Resource  = [for t in local.network_created : "${local.ec2_arn}:${t}/*"]
        Condition = local.managed_resource
      },
    ]

    master  = local.launch_statements
    workers = concat(local.launch_statements, local.spot_statements)

    install = [
      {
        Sid      = "WatchNodesAndCommands"
        Action   = ["ec2:DescribeInstances", "ssm:DescribeInstanceInformation", "ssm:ListCommandInvocations", "ssm:GetCommandInvocation"]
        Resource = ["*"]
      },
      {
        Sid      = "SendInstallDocument"
        Action   = ["ssm:SendCommand"]
        Resource = [aws_ssm_document.install.arn]
      },
      {
        Sid       = "ToMecInstancesOnly"
        Action    = ["ssm:SendCommand"]
        Resource  = ["${local.ec2_arn}:instance/*"]
        Condition = { StringEquals = { "ssm:resourceTag/mec:managed-by" = "mec" } }
      },
    ]

    join = [
      {
        Sid      = "WatchCommands"
        Action   = ["ssm:ListCommandInvocations", "ssm:GetCommandInvocation"]
        Resource = ["*"]
      },
      {
        Sid      = "SendJoinDocument"
        Action   = ["ssm:SendCommand"]
        Resource = [aws_ssm_document.join.arn]
      },
      {
        Sid       = "ToMecInstancesOnly"
        Action    = ["ssm:SendCommand"]
        Resource  = ["${local.ec2_arn}:instance/*"]
        Condition = { StringEquals = { "ssm:resourceTag/mec:managed-by" = "mec" } }
      },
      {
        # The join token and the kubeconfig's parameter, created with the tags (mec:vpc) that
        # bind the node role to them (PutParameter with Tags needs AddTagsToResource too).
        Sid      = "KeepEnvironmentSecrets"
        Action   = ["ssm:PutParameter", "ssm:AddTagsToResource"]
        Resource = ["${local.ssm_arn}:parameter/mec/*/join-token", "${local.ssm_arn}:parameter/mec/*/kubeconfig"]
      },
      {
        Sid      = "DeleteJoinTokens"
        Action   = ["ssm:DeleteParameter"]
        Resource = ["${local.ssm_arn}:parameter/mec/*/join-token"]
      },
      {
        Sid       = "EncryptSecrets"
        Action    = ["kms:Encrypt", "kms:GenerateDataKey"]
        Resource  = [aws_kms_key.mec.arn]
        Condition = { StringEquals = { "kms:ViaService" = "ssm.${local.region}.amazonaws.com" } }
      },
    ]

    teardown = [
      {
        Sid      = "FindEverythingTagged"
        Action   = ["ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:DescribeSecurityGroups", "ec2:DescribeRouteTables", "ec2:DescribeInternetGateways", "ec2:DescribeCarrierGateways", "ec2:DescribeSubnets", "ec2:DescribeVpcs"]
        Resource = ["*"]
      },
      {
        Sid       = "DeleteOnlyMecResources"
        Action    = ["ec2:TerminateInstances", "ec2:DeleteVolume", "ec2:DeleteSecurityGroup", "ec2:DisassociateRouteTable", "ec2:DeleteRouteTable", "ec2:DetachInternetGateway", "ec2:DeleteInternetGateway", "ec2:DeleteCarrierGateway", "ec2:DeleteSubnet", "ec2:DeleteVpc"]
        Resource  = [for t in concat(["instance", "volume"], local.network_created) : "${local.ec2_arn}:${t}/*"]
        Condition = local.managed_resource
      },
      {
        Sid      = "DeleteEnvironmentParameters"
        Action   = ["ssm:GetParametersByPath", "ssm:DeleteParameter"]
        Resource = ["${local.ssm_arn}:parameter/mec/*"]
      },
      {
        Sid       = "MarkMecVpcsDeleting"
        Action    = ["ec2:CreateTags"]
        Resource  = ["${local.ec2_arn}:vpc/*"]
        Condition = local.managed_resource
      },
      {
        Sid      = "DeleteExpirySchedules"
        Action   = ["scheduler:DeleteSchedule"]
        Resource = [local.schedules_arn]
      },
    ]

    lifecycle = [
      {
        Sid      = "FindTheVpc"
        Action   = ["ec2:DescribeVpcs"]
        Resource = ["*"]
      },
      {
        Sid       = "TagMecVpcs"
        Action    = ["ec2:CreateTags"]
        Resource  = ["${local.ec2_arn}:vpc/*"]
        Condition = local.managed_resource
      },
      {
        Sid      = "ScheduleExpiry"
        Action   = ["scheduler:CreateSchedule", "scheduler:UpdateSchedule"]
        Resource = [local.schedules_arn]
      },
      {
        Sid       = "PassSchedulerRole"
        Action    = ["iam:PassRole"]
        Resource  = [aws_iam_role.scheduler.arn]
        Condition = { StringEquals = { "iam:PassedToService" = "scheduler.amazonaws.com" } }
      },
    ]

    reaper = [
      {
        Sid      = "FindEnvironments"
        Action   = ["ec2:DescribeVpcs", "ec2:DescribeInstances"]
        Resource = ["*"]
      },
      {
        Sid      = "ListRuns"
        Action   = ["states:ListExecutions"]
        Resource = values(local.state_machine_arns)
      },
      {
        Sid      = "ReadRuns"
        Action   = ["states:DescribeExecution"]
        Resource = [for kind in keys(local.state_machine_arns) : "arn:${local.partition}:states:${local.region}:${local.account}:execution:${var.name_prefix}-${kind}:*"]
      },
      {
        Sid      = "StartTeardowns"
        Action   = ["states:StartExecution"]
        Resource = [local.state_machine_arns.teardown]
      },
    ]
  }

  # What every function needs besides its own calls: its log group and X-Ray.
  runtime_statements = {
    for key, name in local.function_names : key => [
      {
        Sid      = "WriteOwnLogs"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.function[key].arn}:*"]
      },
      {
        Sid      = "SendTraces"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        Resource = ["*"]
      },
    ]
  }

  function_policies = {
    for key in keys(local.functions) : key => {
      Version   = "2012-10-17"
      Statement = concat([for s in local.function_statements[key] : merge(s, { Effect = "Allow" })], [for s in local.runtime_statements[key] : merge(s, { Effect = "Allow" })])
    }
  }
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each = local.functions

  name               = "${local.function_names[each.key]}-function"
  description        = "Role of the ${local.function_names[each.key]} Lambda"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions

  name   = "least-privilege"
  role   = aws_iam_role.function[each.key].id
  policy = jsonencode(local.function_policies[each.key])
}

# EC2 Spot's service-linked role, on request (an account has at most one).
resource "aws_iam_service_linked_role" "spot" {
  count = var.create_spot_service_linked_role ? 1 : 0

  aws_service_name = "spot.amazonaws.com"
  description      = "EC2 Spot instances (mec spot workers)"
}
