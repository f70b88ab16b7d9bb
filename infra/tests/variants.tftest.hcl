# The module's other shapes, planned offline: Fargate, existing certificate and secret, an
# internet-facing ALB, an existing file system with an admin way in, the pass-through options,
# ECS Exec, other timings and other instance types.

mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  vpc_id             = "vpc-0123abcd"
  alb_subnet_ids     = ["subnet-0aa", "subnet-0bb"]
  private_subnet_ids = ["subnet-0cc", "subnet-0dd", "subnet-0ee"]
  dns_name           = "pypi.example.com"
  zone_id            = "Z0123456789ABCDEFGHIJ"
  image              = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/wheelhouse:1.0.0"
  username           = "ci"
  password           = "correct-horse-battery-staple"
}

run "fargate" {
  command = plan

  variables {
    launch_type = "FARGATE"
    cpu         = 2048
    memory      = 4096
  }

  assert {
    condition     = aws_ecs_task_definition.this.requires_compatibilities == toset(["FARGATE"]) && aws_ecs_service.this.launch_type == "FARGATE"
    error_message = "The Fargate variant runs on Fargate."
  }
  assert {
    condition = (
      length(aws_autoscaling_group.this) == 0 &&
      length(aws_launch_template.this) == 0 &&
      length(aws_ecs_capacity_provider.this) == 0 &&
      length(data.aws_ssm_parameter.ecs_ami) == 0 &&
      length(data.aws_ec2_instance_type.this) == 0 &&
      length(aws_ecs_service.this.capacity_provider_strategy) == 0 &&
      length(aws_ecs_service.this.ordered_placement_strategy) == 0
    )
    error_message = "No EC2 capacity exists with Fargate."
  }
  assert {
    condition     = output.asg_name == "" && output.capacity.tasks_per_instance == 0
    error_message = "asg_name is empty (still a string for -raw) and there is no instance capacity with Fargate."
  }
  assert {
    condition     = contains(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment, { name = "WHEELHOUSE_WORKERS", value = "2" })
    error_message = "Workers follow the task's vCPUs."
  }
  assert {
    condition     = aws_lb_target_group.this.stickiness[0].enabled == false && aws_lb.this[0].internal == true && jsondecode(aws_ecs_task_definition.this.container_definitions)[0].readonlyRootFilesystem == true
    error_message = "The ALB and container settings do not depend on the launch type."
  }
}

run "existing_certificate_and_secret_behind_a_public_alb" {
  command = plan

  variables {
    certificate_arn     = "arn:aws:acm:eu-west-1:123456789012:certificate/99999999-8888-7777-6666-555555555555"
    password            = null
    password_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/pypi-XyZ123"
    password_secret_key = "password"
    authenticate        = "update"
    internal            = false
    allowed_cidrs       = ["203.0.113.0/24", "198.51.100.7/32"]
    alarm_sns_topic_arn = "arn:aws:sns:eu-west-1:123456789012:ops"
  }

  assert {
    condition     = length(aws_acm_certificate.this) == 0 && length(aws_route53_record.validation) == 0 && aws_lb_listener.https[0].certificate_arn == var.certificate_arn
    error_message = "No certificate is requested when one is given; the listener uses it."
  }
  assert {
    condition     = length(aws_secretsmanager_secret.password) == 0 && length(aws_secretsmanager_secret_version.password) == 0
    error_message = "No secret is created when one is given."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].secrets == [{ name = "WHEELHOUSE_PASSWORD", valueFrom = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/pypi-XyZ123:password::" }]
    error_message = "The password is read from the JSON key of the given secret."
  }
  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Resource if s.Sid == "ReadSecrets"]) == ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/pypi-XyZ123"]
    error_message = "The execution role may read the given secret (the secret, not the JSON key suffix)."
  }
  assert {
    condition     = output.pypi_password == "read-from-secrets-manager"
    error_message = "pypi_password holds the value of the key in the existing secret."
  }
  assert {
    condition     = contains(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment, { name = "WHEELHOUSE_AUTHENTICATE", value = "update" })
    error_message = "An operator may opt out of logins for downloads."
  }
  assert {
    condition = (
      aws_lb.this[0].internal == false &&
      length(data.aws_vpc.this) == 0 &&
      alltrue([for r in aws_security_group.alb[0].ingress : r.cidr_blocks == tolist(["203.0.113.0/24", "198.51.100.7/32"])])
    )
    error_message = "An internet-facing ALB admits allowed_cidrs only."
  }
  assert {
    condition     = alltrue([for a in values(output.alarm_names) : true]) && aws_cloudwatch_metric_alarm.no_running_tasks.alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:ops"]) && aws_cloudwatch_metric_alarm.elb_5xx_rate.ok_actions == toset(["arn:aws:sns:eu-west-1:123456789012:ops"])
    error_message = "Alarms notify the SNS topic, when they fire and when they recover."
  }
}

run "existing_secret_kept_out_of_the_state" {
  command = plan

  variables {
    password               = null
    password_secret_arn    = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/pypi-XyZ123"
    read_existing_password = false
  }

  assert {
    condition     = length(data.aws_secretsmanager_secret_version.existing_password) == 0 && output.pypi_password == null
    error_message = "With read_existing_password = false the secret is not read and pypi_password is null."
  }
}

run "existing_file_system_with_an_admin_way_in" {
  command = plan

  variables {
    efs_file_system_id           = "fs-0aaaaaaaaaaaaaaa1"
    efs_create_mount_targets     = false
    efs_root_directory           = "/"
    efs_admin_role_arns          = ["arn:aws:iam::123456789012:role/efs-admin"]
    efs_admin_security_group_ids = ["sg-0ad01"]
  }

  assert {
    condition     = length(aws_efs_file_system.this) == 0 && length(aws_efs_mount_target.this) == 0 && output.efs_file_system_id == "fs-0aaaaaaaaaaaaaaa1"
    error_message = "An existing file system is served as it is: no new file system, no new mount targets."
  }
  assert {
    condition     = aws_efs_access_point.this.file_system_id == "fs-0aaaaaaaaaaaaaaa1" && aws_efs_access_point.this.root_directory[0].path == "/"
    error_message = "The access point opens the existing file system at efs_root_directory."
  }
  assert {
    condition = (
      one([for s in jsondecode(aws_efs_file_system_policy.this.policy).Statement : s.Principal.AWS if s.Sid == "AdminAsRoot"]) == ["arn:aws:iam::123456789012:role/efs-admin"] &&
      contains(one([for s in jsondecode(aws_efs_file_system_policy.this.policy).Statement : s.Action if s.Sid == "AdminAsRoot"]), "elasticfilesystem:ClientRootAccess") &&
      alltrue([for s in jsondecode(aws_efs_file_system_policy.this.policy).Statement : s.Resource == "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-0aaaaaaaaaaaaaaa1"]) &&
      contains([for s in jsondecode(aws_efs_file_system_policy.this.policy).Statement : s.Effect if s.Sid == "DenyWithoutTls"], "Deny")
    )
    error_message = "The admin role may mount the whole file system as root, still over TLS only."
  }
  assert {
    condition     = contains(flatten([for r in aws_security_group.efs.ingress : tolist(r.security_groups)]), "sg-0ad01")
    error_message = "The admin security group reaches NFS."
  }
  assert {
    condition = (
      length(aws_cloudwatch_metric_alarm.efs_burst_credits) == 1 &&
      aws_cloudwatch_metric_alarm.efs_burst_credits[0].metric_name == "BurstCreditBalance" &&
      aws_cloudwatch_metric_alarm.efs_burst_credits[0].dimensions == tomap({ FileSystemId = "fs-0aaaaaaaaaaaaaaa1" }) &&
      aws_cloudwatch_metric_alarm.efs_burst_credits[0].threshold == 350 * 1024 * 1024 * 1024
    )
    error_message = "A bursting file system gets a burst credit alarm on its own id."
  }
}

run "bursting_and_provisioned_throughput" {
  command = plan

  variables {
    efs_throughput_mode = "bursting"
  }

  assert {
    condition     = aws_efs_file_system.this[0].throughput_mode == "bursting" && length(aws_cloudwatch_metric_alarm.efs_burst_credits) == 1 && contains(keys(output.alarm_names), "efs_burst_credits")
    error_message = "efs_throughput_mode reaches the file system, and bursting brings the credit alarm."
  }
}

run "provisioned_throughput" {
  command = plan

  variables {
    efs_throughput_mode              = "provisioned"
    efs_provisioned_throughput_mibps = 64
  }

  assert {
    condition     = aws_efs_file_system.this[0].provisioned_throughput_in_mibps == 64 && length(aws_cloudwatch_metric_alarm.efs_burst_credits) == 0
    error_message = "Provisioned throughput is passed on; no credits to alarm on."
  }
}

run "server_options_pass_through" {
  command = plan

  variables {
    upstream_url                    = "https://pypi.org/simple/"
    upstream_credentials_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:upstream-AbC123:userpass::"
    token_key_secret_arn            = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:token-keys-DeF456"
    trusted_publishers_json_arn     = "arn:aws:ssm:eu-west-1:123456789012:parameter/wheelhouse/trusted-publishers"
    extra_environment               = { WHEELHOUSE_MAX_UPLOAD_SIZE = "2GiB", WHEELHOUSE_LOG_LEVEL = "warn" }
    extra_secrets                   = { WHEELHOUSE_HTPASSWD = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:htpasswd-GhI789" }
    secret_kms_key_arn              = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    trusted_proxy_hops              = 2
    direct_access_cidrs             = ["10.30.0.0/24"]
  }

  assert {
    condition = (
      output.server_environment["WHEELHOUSE_UPSTREAM"] == "https://pypi.org/simple/" &&
      output.server_environment["WHEELHOUSE_MAX_UPLOAD_SIZE"] == "2GiB" &&
      output.server_environment["WHEELHOUSE_LOG_LEVEL"] == "warn" &&
      output.server_environment["WHEELHOUSE_TRUST_PROXY"] == "2"
    )
    error_message = "Upstream, extra settings and the hop count reach the environment."
  }
  assert {
    condition = { for s in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].secrets : s.name => s.valueFrom } == {
      WHEELHOUSE_PASSWORD                = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wheelhouse-password-AbCdEf"
      WHEELHOUSE_TOKEN_KEY               = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:token-keys-DeF456"
      WHEELHOUSE_TRUSTED_PUBLISHERS_JSON = "arn:aws:ssm:eu-west-1:123456789012:parameter/wheelhouse/trusted-publishers"
      WHEELHOUSE_UPSTREAM_CREDENTIALS    = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:upstream-AbC123:userpass::"
      WHEELHOUSE_HTPASSWD                = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:htpasswd-GhI789"
    }
    error_message = "Token key, trusted publishers, upstream credentials and extra secrets come from Secrets Manager or SSM."
  }
  assert {
    condition = !anytrue([for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : contains(
      ["WHEELHOUSE_TOKEN_KEY", "WHEELHOUSE_TRUSTED_PUBLISHERS_JSON", "WHEELHOUSE_UPSTREAM_CREDENTIALS", "WHEELHOUSE_HTPASSWD", "WHEELHOUSE_PASSWORD"], e.name
    )])
    error_message = "No secret is a plain environment variable."
  }
  assert {
    condition = (
      toset(one([for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Resource if s.Sid == "ReadSecrets"])) == toset([
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wheelhouse-password-AbCdEf",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:token-keys-DeF456",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:upstream-AbC123",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:htpasswd-GhI789",
      ]) &&
      one([for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Resource if s.Sid == "ReadParameters"]) == ["arn:aws:ssm:eu-west-1:123456789012:parameter/wheelhouse/trusted-publishers"] &&
      one([for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Resource if s.Sid == "DecryptSecrets"]) == [var.secret_kms_key_arn]
    )
    error_message = "The execution role may read exactly those secrets and that parameter, and decrypt with the key."
  }
  assert {
    condition     = length(aws_security_group.task.ingress) == 2 && contains(flatten([for r in aws_security_group.task.ingress : r.cidr_blocks]), "10.30.0.0/24")
    error_message = "direct_access_cidrs reach the tasks on 8080 (for /metrics)."
  }
}

run "execute_command_needs_a_writable_root" {
  command = plan

  variables {
    enable_execute_command = true
  }

  assert {
    condition = (
      aws_ecs_service.this.enable_execute_command == true &&
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].readonlyRootFilesystem == false &&
      length(aws_iam_role_policy.task_exec) == 1
    )
    error_message = "ECS Exec comes with a writable root file system (its agent writes there) and the ssmmessages permissions."
  }
}

run "timeouts_follow_the_idle_timeout_and_the_promised_transfer" {
  command = plan

  variables {
    idle_timeout         = 300
    max_transfer_seconds = 1800
    shutdown_timeout     = 40
  }

  assert {
    condition = (
      output.server_environment["WHEELHOUSE_KEEP_ALIVE_TIMEOUT"] == "305s" &&
      output.server_environment["WHEELHOUSE_HEADERS_TIMEOUT"] == "306s" &&
      output.server_environment["WHEELHOUSE_REQUEST_TIMEOUT"] == "1800s" &&
      output.server_environment["WHEELHOUSE_SHUTDOWN_TIMEOUT"] == "40s" &&
      aws_lb.this[0].idle_timeout == 300 &&
      tonumber(aws_lb_target_group.this.deregistration_delay) == 1800 &&
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].stopTimeout == 45
    )
    error_message = "Keep-alive and headers follow the idle timeout; request timeout and deregistration the promised transfer; stop timeout the drain."
  }
}

run "a_smaller_instance_holds_one_task" {
  command = plan

  variables {
    instance_type = "c6a.large"
  }

  # c6a.large: 2 vCPUs, 4 GiB: a 2 GiB task fits once (4096 * 0.97 - 256 = 3717 MiB for tasks).
  override_data {
    target = data.aws_ec2_instance_type.this[0]
    values = { default_vcpus = 2, memory_size = 4096, maximum_network_interfaces = 3 }
  }

  assert {
    condition     = output.capacity == { tasks_per_instance = 1, deployment_peak_tasks = 16, instance_min_size = 2, instance_max_size = 16 }
    error_message = "A c6a.large holds one 1 vCPU / 2 GiB task, so a deployment at 8 tasks needs 16 instances."
  }
}

run "trunking_lifts_the_interface_limit" {
  command = plan

  variables {
    instance_type          = "m6a.xlarge"
    task_enis_per_instance = 10
  }

  override_data {
    target = data.aws_ec2_instance_type.this[0]
    values = { default_vcpus = 4, memory_size = 16384, maximum_network_interfaces = 4 }
  }

  assert {
    condition     = output.capacity.tasks_per_instance == 4 && aws_autoscaling_group.this[0].max_size == 4
    error_message = "With trunking, CPU (4 vCPUs) limits an m6a.xlarge to 4 tasks, not its 3 spare interfaces."
  }
}

# An ALB the operator already runs with other services: the index takes a path of one of its
# hosts, through rules on its HTTPS listener, and the module makes no load balancer of its own.
run "a_path_on_an_existing_listener" {
  command = plan

  variables {
    existing_listener_arn  = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shared-tools/89abcdef01234567/2222222222222222"
    path_prefix            = "/pypi"
    listener_rule_priority = 40
    dns_name               = "tools.example.com"
    alb_subnet_ids         = null
    zone_id                = null
  }

  assert {
    condition = (
      length(aws_lb.this) == 0 && length(aws_lb_listener.https) == 0 && length(aws_lb_listener.http) == 0 &&
      length(aws_security_group.alb) == 0 && length(data.aws_vpc.this) == 0 &&
      length(aws_acm_certificate.this) == 0 && length(aws_route53_record.validation) == 0 && length(aws_route53_record.this) == 0 &&
      length(aws_s3_bucket.access_logs) == 0
    )
    error_message = "With an existing listener the module makes no ALB, listener, security group, certificate, DNS record or log bucket."
  }
  assert {
    condition = (
      aws_lb_listener_rule.forward[0].listener_arn == var.existing_listener_arn &&
      aws_lb_listener_rule.forward[0].priority == 43 &&
      aws_lb_listener_rule.forward[0].action[0].type == "forward" &&
      aws_lb_listener_rule.forward[0].action[0].target_group_arn == aws_lb_target_group.this.arn &&
      flatten([for c in aws_lb_listener_rule.forward[0].condition : c.host_header[0].values if length(c.host_header) > 0]) == ["tools.example.com"] &&
      toset(flatten([for c in aws_lb_listener_rule.forward[0].condition : c.path_pattern[0].values if length(c.path_pattern) > 0])) == toset(["/pypi", "/pypi/*"])
    )
    error_message = "One rule on the shared listener forwards the index's host and path, after the /metrics refusals."
  }
  assert {
    condition = (
      [for r in aws_lb_listener_rule.no_metrics : r.priority] == [40, 41, 42] &&
      alltrue([for r in aws_lb_listener_rule.no_metrics : r.listener_arn == var.existing_listener_arn]) &&
      contains(flatten([for r in aws_lb_listener_rule.no_metrics : r.condition[*].path_pattern[0].values]), "/pypi/metrics") &&
      alltrue([for p in flatten([for r in aws_lb_listener_rule.no_metrics : r.condition[*].path_pattern[0].values]) : startswith(p, "/pypi/")])
    )
    error_message = "The shared listener refuses /pypi/metrics (every spelling) at the priorities given, before forwarding."
  }
  assert {
    condition = (
      one([for r in aws_security_group.task.ingress : r.security_groups if r.description == "HTTP from the ALB"]) == toset(["sg-0shared"]) &&
      output.server_environment["WHEELHOUSE_BASE_PATH"] == "/pypi" &&
      aws_lb_target_group.this.health_check[0].path == "/pypi/health"
    )
    error_message = "The shared ALB's groups reach the tasks, which serve under /pypi and are checked at /pypi/health."
  }
  assert {
    condition = (
      output.index_url == "https://tools.example.com/pypi/simple/" &&
      output.upload_url == "https://tools.example.com/pypi/" &&
      jsondecode(output.pypi_server_urls) == ["tools.example.com/pypi"] &&
      output.alb_arn_suffix == "app/shared-tools/89abcdef01234567" &&
      aws_cloudwatch_metric_alarm.unhealthy_hosts.dimensions.LoadBalancer == "app/shared-tools/89abcdef01234567" &&
      aws_appautoscaling_policy.requests.target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].resource_label == "app/shared-tools/89abcdef01234567/${aws_lb_target_group.this.arn_suffix}"
    )
    error_message = "URLs carry the path; alarms and autoscaling watch the shared ALB."
  }
}

# Trusted publishing's clients ask at the host's root (/_/oidc/...), outside the index's path.
run "trusted_publishing_on_an_existing_listener" {
  command = plan

  variables {
    existing_listener_arn       = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shared-tools/89abcdef01234567/2222222222222222"
    path_prefix                 = "/pypi"
    listener_rule_priority      = 40
    dns_name                    = "tools.example.com"
    alb_subnet_ids              = null
    zone_id                     = null
    token_key_secret_arn        = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:token-keys-DeF456"
    trusted_publishers_json_arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/wheelhouse/trusted-publishers"
  }

  assert {
    condition = (
      toset(flatten([for c in aws_lb_listener_rule.forward[0].condition : c.path_pattern[0].values if length(c.path_pattern) > 0])) == toset(["/pypi", "/pypi/*", "/_/oidc/*"])
    )
    error_message = "With trusted publishers, the host's /_/oidc/* goes to the tasks as well as the index's path."
  }
}

run "a_path_on_the_modules_own_alb" {
  command = plan

  variables {
    path_prefix = "/pypi"
  }

  assert {
    condition = (
      length(aws_lb.this) == 1 && length(aws_lb_listener_rule.forward) == 0 &&
      output.server_environment["WHEELHOUSE_BASE_PATH"] == "/pypi" &&
      aws_lb_target_group.this.health_check[0].path == "/pypi/health" &&
      output.index_url == "https://pypi.example.com/pypi/simple/" &&
      contains(flatten([for r in aws_lb_listener_rule.no_metrics : r.condition[*].path_pattern[0].values]), "/pypi/metrics") &&
      alltrue([for r in aws_lb_listener_rule.no_metrics : r.listener_arn == aws_lb_listener.https[0].arn])
    )
    error_message = "With its own ALB the module serves the path too: environment, health check, URLs and the /metrics refusals follow it."
  }
}
