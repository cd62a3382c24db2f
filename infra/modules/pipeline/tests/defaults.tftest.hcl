# The README's first apply sets nothing but the region (the example root passes the zips'
# folder): the module's defaults alone must plan. A JWT issuer cannot be guessed, so the default
# authentication is SigV4 (IAM).

mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  lambda_dir = "./tests/fixtures/lambdas"
}

run "the_defaults_alone_plan_with_iam_auth" {
  command = plan

  assert {
    condition     = alltrue([for r in aws_apigatewayv2_route.api : r.authorization_type == "AWS_IAM"]) && length(aws_apigatewayv2_authorizer.jwt) == 0
    error_message = "Without an issuer, every route needs SigV4 (IAM) and there is no JWT authorizer."
  }
  assert {
    condition     = length(aws_iam_service_linked_role.spot) == 0
    error_message = "EC2 Spot's service-linked role is created only on request (an account may have it already)."
  }
}
