# The two examples, planned as root configurations: every output a runbook reads with
# `terraform output -raw <name>` must exist there and be a plain string (-raw refuses lists,
# maps and nulls), and the settings the examples promise must hold.

mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

run "example_ec2" {
  command = plan

  module {
    source = "./examples/ec2"
  }

  variables {
    vpc_id             = "vpc-0123abcd"
    private_subnet_ids = ["subnet-0cc", "subnet-0dd"]
    dns_name           = "pypi.example.com"
    zone_id            = "Z0123456789ABCDEFGHIJ"
    image              = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/wheelhouse@sha256:0000000000000000000000000000000000000000000000000000000000000000"
    password           = "correct-horse-battery-staple"
  }

  assert {
    condition     = jsondecode(output.pypi_server_urls)[0] == "pypi.example.com" && "https://${jsondecode(output.pypi_server_urls)[0]}/simple/" == output.index_url
    error_message = "https://$(terraform output -raw pypi_server_urls | jq -r '.[0]')/simple/ must be the index URL."
  }
  assert {
    condition = alltrue([for v in [
      output.pypi_server_urls, output.pypi_username, output.pypi_password, output.password_secret_arn, output.ecs_cluster_name, output.ecs_service_name,
      output.efs_file_system_id, output.target_group_arn, output.target_group_arn_suffix, output.alb_arn_suffix,
      output.log_group_name, output.access_logs_bucket, output.asg_name, output.index_url, output.upload_url,
    ] : v != null && can(tostring(v))])
    error_message = "Every output a runbook reads with -raw must be a non-null string."
  }
  assert {
    condition     = output.pypi_username == "ci" && output.pypi_password == "correct-horse-battery-staple"
    error_message = "The example outputs the credentials (terraform output -raw pypi_username / pypi_password)."
  }
  assert {
    condition = (
      output.ecs_cluster_name == "wheelhouse" && output.ecs_service_name == "wheelhouse" &&
      output.efs_file_system_id == "fs-0123456789abcdef0" &&
      output.target_group_arn == "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/wheelhouse-tg/fedcba9876543210" &&
      output.asg_name == "wheelhouse-ecs" && output.log_group_name == "/ecs/wheelhouse"
    )
    error_message = "The example re-exports cluster, service, file system, target group, ASG and log group."
  }
  assert {
    condition     = output.capacity == { tasks_per_instance = 2, deployment_peak_tasks = 16, instance_min_size = 2, instance_max_size = 8 }
    error_message = "Two m6a.large tasks per instance; 16 tasks in a deployment at 8 need 8 instances; 2 for the minimum."
  }
  assert {
    condition     = module.wheelhouse.server_environment["WHEELHOUSE_TRUST_PROXY"] == "1" && module.wheelhouse.server_environment["WHEELHOUSE_AUTHENTICATE"] == "download,list,update"
    error_message = "The example trusts one proxy hop (the ALB) and needs a login for every action."
  }
}

run "example_fargate" {
  command = plan

  module {
    source = "./examples/fargate"
  }

  variables {
    vpc_id              = "vpc-0123abcd"
    public_subnet_ids   = ["subnet-0aa", "subnet-0bb"]
    private_subnet_ids  = ["subnet-0cc", "subnet-0dd"]
    allowed_cidrs       = ["198.51.100.0/24"]
    dns_name            = "pypi.example.com"
    zone_id             = "Z0123456789ABCDEFGHIJ"
    image               = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/wheelhouse:1.0.0"
    password_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/pypi-XyZ123"
    efs_admin_role_arns = ["arn:aws:iam::123456789012:role/efs-admin"]
    alarm_sns_topic_arn = "arn:aws:sns:eu-west-1:123456789012:ops"
  }

  # The secret holds the password as a plain string here.
  override_data {
    target = module.wheelhouse.data.aws_secretsmanager_secret_version.existing_password[0]
    values = { secret_string = "kept-in-secrets-manager" }
  }

  assert {
    condition     = output.pypi_password == "kept-in-secrets-manager"
    error_message = "With an existing secret, pypi_password holds the secret's value (not null, so -raw works)."
  }
  assert {
    condition = alltrue([for v in [
      output.pypi_server_urls, output.pypi_username, output.pypi_password, output.password_secret_arn, output.ecs_cluster_name, output.ecs_service_name,
      output.efs_file_system_id, output.target_group_arn, output.target_group_arn_suffix, output.alb_arn_suffix,
      output.log_group_name, output.access_logs_bucket, output.index_url, output.upload_url,
    ] : v != null && can(tostring(v))])
    error_message = "Every output a runbook reads with -raw must be a non-null string."
  }
  assert {
    condition     = jsondecode(output.pypi_server_urls) == ["pypi.example.com"] && output.upload_url == "https://pypi.example.com/"
    error_message = "The Fargate example's URLs."
  }
  assert {
    condition     = module.wheelhouse.server_environment["WHEELHOUSE_TRUST_PROXY"] == "1" && module.wheelhouse.server_environment["WHEELHOUSE_WORKERS"] == "2"
    error_message = "One proxy hop; two workers on a 2-vCPU task."
  }
  assert {
    condition     = module.wheelhouse.capacity.tasks_per_instance == 0 && module.wheelhouse.asg_name == ""
    error_message = "Fargate has no instances to size."
  }
}
