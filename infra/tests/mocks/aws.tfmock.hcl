# The mocked AWS provider every test file uses: fixed values for what assertions compare against.
# Anything not named here is generated per resource, so two resources never share an id or ARN
# by accident (a policy naming the wrong role then shows).

mock_data "aws_region" {
  defaults = { name = "eu-west-1" }
}

mock_data "aws_partition" {
  defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
}

mock_data "aws_caller_identity" {
  defaults = { account_id = "123456789012" }
}

mock_data "aws_vpc" {
  defaults = {
    cidr_block = "10.20.0.0/16"
    cidr_block_associations = [
      { association_id = "vpc-cidr-assoc-0aa", cidr_block = "10.20.0.0/16", state = "associated" },
      { association_id = "vpc-cidr-assoc-0bb", cidr_block = "10.21.0.0/16", state = "associated" },
    ]
  }
}

mock_data "aws_ssm_parameter" {
  defaults = { value = "ami-0123456789abcdef0", insecure_value = "ami-0123456789abcdef0" }
}

# m6a.large, the default instance type: 2 vCPUs, 8 GiB, 3 network interfaces.
mock_data "aws_ec2_instance_type" {
  defaults = { default_vcpus = 2, memory_size = 8192, maximum_network_interfaces = 3 }
}

mock_data "aws_elb_service_account" {
  defaults = { arn = "arn:aws:iam::156460612806:root" }
}

mock_data "aws_efs_file_system" {
  defaults = {
    arn             = "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-0aaaaaaaaaaaaaaa1"
    throughput_mode = "bursting"
  }
}

mock_data "aws_secretsmanager_secret_version" {
  defaults = { secret_string = "{\"password\":\"read-from-secrets-manager\"}" }
}

mock_resource "aws_acm_certificate" {
  defaults = {
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
    domain_validation_options = [{
      domain_name           = "pypi.example.com"
      resource_record_name  = "_x1.pypi.example.com."
      resource_record_type  = "CNAME"
      resource_record_value = "_x2.acm-validations.aws."
    }]
  }
}

mock_resource "aws_acm_certificate_validation" {
  defaults = { certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555" }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/wheelhouse" }
}

# An ALB the operator already runs with other services (existing_listener_arn).
mock_data "aws_lb_listener" {
  defaults = {
    load_balancer_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shared-tools/89abcdef01234567"
  }
}

mock_data "aws_lb" {
  defaults = {
    arn_suffix      = "app/shared-tools/89abcdef01234567"
    dns_name        = "internal-shared-tools-456.eu-west-1.elb.amazonaws.com"
    zone_id         = "Z32O12XQLNTSW2"
    internal        = true
    security_groups = ["sg-0shared"]
  }
}

mock_resource "aws_lb" {
  defaults = {
    arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/wheelhouse-alb/0123456789abcdef"
    arn_suffix = "app/wheelhouse-alb/0123456789abcdef"
    dns_name   = "internal-wheelhouse-alb-123.eu-west-1.elb.amazonaws.com"
    zone_id    = "Z32O12XQLNTSW2"
  }
}

mock_resource "aws_lb_target_group" {
  defaults = {
    arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/wheelhouse-tg/fedcba9876543210"
    arn_suffix = "targetgroup/wheelhouse-tg/fedcba9876543210"
  }
}

mock_resource "aws_lb_listener" {
  defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/wheelhouse-alb/0123456789abcdef/1111111111111111" }
}

mock_resource "aws_secretsmanager_secret" {
  defaults = { arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wheelhouse-password-AbCdEf" }
}

mock_resource "aws_efs_file_system" {
  defaults = { id = "fs-0123456789abcdef0", arn = "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-0123456789abcdef0" }
}

mock_resource "aws_efs_access_point" {
  defaults = { id = "fsap-0123456789abcdef0", arn = "arn:aws:elasticfilesystem:eu-west-1:123456789012:access-point/fsap-0123456789abcdef0" }
}

mock_resource "aws_s3_bucket" {
  defaults = { id = "wheelhouse-logs-20261201", arn = "arn:aws:s3:::wheelhouse-logs-20261201" }
}

# Named by the dashboard's alarm widget.
mock_resource "aws_cloudwatch_metric_alarm" {
  defaults = { arn = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:wheelhouse-mock" }
}

# Distinct, recognisable ARNs for the three roles: a policy or a task definition that names the
# wrong one fails an assertion instead of passing on a shared mock value.
override_resource {
  target          = aws_iam_role.task
  override_during = plan
  values          = { arn = "arn:aws:iam::123456789012:role/wheelhouse-task-mock", id = "wheelhouse-task-mock", name = "wheelhouse-task-mock" }
}

override_resource {
  target          = aws_iam_role.execution
  override_during = plan
  values          = { arn = "arn:aws:iam::123456789012:role/wheelhouse-exec-mock", id = "wheelhouse-exec-mock", name = "wheelhouse-exec-mock" }
}

override_resource {
  target          = aws_iam_role.instance
  override_during = plan
  values          = { arn = "arn:aws:iam::123456789012:role/wheelhouse-instance-mock", id = "wheelhouse-instance-mock", name = "wheelhouse-instance-mock" }
}

# Distinct ids for the three groups, so a rule that names the wrong group is caught.
override_resource {
  target          = aws_security_group.task
  override_during = plan
  values          = { id = "sg-0task" }
}

override_resource {
  target          = aws_security_group.alb
  override_during = plan
  values          = { id = "sg-0alb" }
}

override_resource {
  target          = aws_security_group.efs
  override_during = plan
  values          = { id = "sg-0efs" }
}
