# Offline plans against a mocked AWS provider. Every computed value is generated at plan time
# (override_during = plan), and the ones assertions compare against are fixed below.

mock_provider "aws" {
  override_during = plan

  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }

  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }

  mock_data "aws_ssm_parameter" {
    defaults = { value = "ami-0123456789abcdef0", insecure_value = "ami-0123456789abcdef0" }
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

  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/wheelhouse-mock" }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/wheelhouse" }
  }

  mock_resource "aws_lb" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/wheelhouse-alb/0123456789abcdef"
      arn_suffix = "app/wheelhouse-alb/0123456789abcdef"
      dns_name   = "wheelhouse-alb-123.eu-west-1.elb.amazonaws.com"
      zone_id    = "Z32O12XQLNTSW2"
    }
  }

  mock_resource "aws_lb_target_group" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/wheelhouse-tg/0123456789abcdef"
      arn_suffix = "targetgroup/wheelhouse-tg/0123456789abcdef"
    }
  }

  mock_resource "aws_cloudwatch_metric_alarm" {
    defaults = { arn = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:wheelhouse-mock" }
  }

  mock_resource "aws_security_group" {
    defaults = { id = "sg-0mock" }
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

variables {
  vpc_id             = "vpc-0123abcd"
  public_subnet_ids  = ["subnet-0aa", "subnet-0bb"]
  private_subnet_ids = ["subnet-0cc", "subnet-0dd", "subnet-0ee"]
  dns_name           = "pypi.example.com"
  zone_id            = "Z0123456789ABCDEFGHIJ"
  image              = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/wheelhouse:1.0.0"
  username           = "ci"
  password           = "correct-horse-battery-staple"
}

run "ec2_default_plan" {
  command = plan

  # --- ALB and target group ---
  assert {
    condition     = aws_lb_target_group.this.stickiness[0].enabled == false
    error_message = "Stickiness must be off: every task serves the same index."
  }
  assert {
    condition     = aws_lb_target_group.this.stickiness[0].type == "lb_cookie"
    error_message = "The (disabled) stickiness block is lb_cookie."
  }
  assert {
    condition = (
      aws_lb_target_group.this.health_check[0].path == "/health" &&
      aws_lb_target_group.this.health_check[0].matcher == "200" &&
      aws_lb_target_group.this.health_check[0].interval == 10 &&
      aws_lb_target_group.this.health_check[0].healthy_threshold == 2 &&
      aws_lb_target_group.this.health_check[0].unhealthy_threshold == 3
    )
    error_message = "Health check must be GET /health, 200, every 10 s, healthy 2, unhealthy 3."
  }
  assert {
    condition     = tonumber(aws_lb_target_group.this.deregistration_delay) == 15
    error_message = "Deregistration delay must be 15 s."
  }
  assert {
    condition     = aws_lb_target_group.this.port == 8080 && aws_lb_target_group.this.target_type == "ip"
    error_message = "Targets are task IPs on port 8080."
  }
  assert {
    condition     = aws_lb.this.idle_timeout == 900
    error_message = "Idle timeout default must leave room for big uploads."
  }
  assert {
    condition = (
      aws_lb_listener.https.protocol == "HTTPS" &&
      aws_lb_listener.https.port == 443 &&
      aws_lb_listener.https.certificate_arn == aws_acm_certificate_validation.this[0].certificate_arn &&
      aws_lb_listener.https.certificate_arn == "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
    )
    error_message = "The HTTPS listener must use the validated ACM certificate."
  }
  assert {
    condition     = aws_acm_certificate.this[0].domain_name == "pypi.example.com" && aws_acm_certificate.this[0].validation_method == "DNS"
    error_message = "The certificate is requested for dns_name with DNS validation."
  }
  assert {
    condition     = aws_route53_record.validation[0].name == "_x1.pypi.example.com." && aws_route53_record.validation[0].zone_id == "Z0123456789ABCDEFGHIJ"
    error_message = "The validation record goes into zone_id."
  }
  assert {
    condition = (
      aws_lb_listener.http.port == 80 &&
      aws_lb_listener.http.default_action[0].type == "redirect" &&
      aws_lb_listener.http.default_action[0].redirect[0].protocol == "HTTPS" &&
      aws_lb_listener.http.default_action[0].redirect[0].status_code == "HTTP_301"
    )
    error_message = "Port 80 must redirect to HTTPS."
  }
  assert {
    condition     = aws_route53_record.this.name == "pypi.example.com" && aws_route53_record.this.type == "A" && length(aws_route53_record.this.alias) == 1
    error_message = "dns_name must be an alias A record of the ALB."
  }

  # --- EFS ---
  assert {
    condition     = aws_efs_file_system.this.encrypted == true && aws_efs_file_system.this.throughput_mode == "elastic"
    error_message = "EFS must be encrypted with elastic throughput."
  }
  assert {
    condition     = aws_efs_backup_policy.this.backup_policy[0].status == "ENABLED"
    error_message = "EFS backups must be enabled."
  }
  assert {
    condition     = length(aws_efs_mount_target.this) == 3 && toset([for m in aws_efs_mount_target.this : m.subnet_id]) == toset(["subnet-0cc", "subnet-0dd", "subnet-0ee"])
    error_message = "One mount target per private subnet."
  }
  assert {
    condition     = alltrue([for m in aws_efs_mount_target.this : m.security_groups == toset(["sg-0efs"])])
    error_message = "Mount targets carry the EFS security group only."
  }
  assert {
    condition = (
      aws_efs_access_point.this.posix_user[0].uid == 1000 &&
      aws_efs_access_point.this.posix_user[0].gid == 1000 &&
      aws_efs_access_point.this.root_directory[0].path == "/packages" &&
      aws_efs_access_point.this.root_directory[0].creation_info[0].owner_uid == 1000 &&
      aws_efs_access_point.this.root_directory[0].creation_info[0].owner_gid == 1000 &&
      aws_efs_access_point.this.root_directory[0].creation_info[0].permissions == "0755"
    )
    error_message = "Access point must map to uid/gid 1000 and root /packages (1000:1000, 0755)."
  }
  assert {
    condition     = contains([for s in jsondecode(aws_efs_file_system_policy.this.policy).Statement : s.Condition.Bool["aws:SecureTransport"] if s.Effect == "Deny"], "false")
    error_message = "The file system policy must deny access without TLS."
  }

  # --- Security groups ---
  assert {
    condition = (
      length(aws_security_group.efs.ingress) == 1 &&
      alltrue([for r in aws_security_group.efs.ingress : r.from_port == 2049 && r.to_port == 2049 && r.protocol == "tcp" && r.security_groups == toset(["sg-0task"]) && try(length(r.cidr_blocks), 0) == 0])
    )
    error_message = "EFS ingress must be NFS 2049 from the task security group only."
  }
  assert {
    condition     = length(aws_security_group.efs.egress) == 0
    error_message = "The EFS group needs no egress rule."
  }
  assert {
    condition = (
      length(aws_security_group.task.ingress) == 1 &&
      alltrue([for r in aws_security_group.task.ingress : r.from_port == 8080 && r.to_port == 8080 && r.security_groups == toset(["sg-0alb"]) && try(length(r.cidr_blocks), 0) == 0])
    )
    error_message = "Tasks must accept 8080 from the ALB security group only."
  }
  assert {
    condition = (
      toset([for r in aws_security_group.alb.ingress : r.from_port]) == toset([80, 443]) &&
      alltrue([for r in aws_security_group.alb.ingress : r.cidr_blocks == tolist(["0.0.0.0/0"]) && r.from_port == r.to_port])
    )
    error_message = "The ALB must accept only 80 and 443 from allowed_cidrs."
  }

  # --- Task definition ---
  assert {
    condition     = length([for v in aws_ecs_task_definition.this.volume : v if v.name == "packages" && one(v.efs_volume_configuration[*].transit_encryption) == "ENABLED"]) == 1
    error_message = "The EFS volume must use transit encryption."
  }
  assert {
    condition = alltrue([for v in aws_ecs_task_definition.this.volume : (
      v.efs_volume_configuration[0].file_system_id == "fs-0123456789abcdef0" &&
      v.efs_volume_configuration[0].authorization_config[0].access_point_id == "fsap-0123456789abcdef0" &&
      v.efs_volume_configuration[0].authorization_config[0].iam == "ENABLED"
    ) if v.name == "packages"])
    error_message = "The volume must mount through the access point with IAM authorization."
  }
  assert {
    condition     = aws_ecs_task_definition.this.network_mode == "awsvpc" && aws_ecs_task_definition.this.requires_compatibilities == toset(["EC2"])
    error_message = "The EC2 variant runs awsvpc tasks on EC2."
  }
  assert {
    condition     = length(jsondecode(aws_ecs_task_definition.this.container_definitions)) == 1 && jsondecode(aws_ecs_task_definition.this.container_definitions)[0].name == "wheelhouse"
    error_message = "One container, named wheelhouse."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].image == var.image
    error_message = "The container runs var.image."
  }
  assert {
    condition     = !contains([for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.name], "WHEELHOUSE_PASSWORD")
    error_message = "The password must not be a plain environment variable."
  }
  assert {
    condition     = !contains([for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.value], var.password)
    error_message = "The password's value must not appear in the environment."
  }
  assert {
    condition     = !strcontains(aws_ecs_task_definition.this.container_definitions, var.password)
    error_message = "The password's value must appear nowhere in the task definition."
  }
  assert {
    condition = contains(
      [for s in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].secrets : s.valueFrom if s.name == "WHEELHOUSE_PASSWORD"],
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wheelhouse-password-AbCdEf"
    )
    error_message = "WHEELHOUSE_PASSWORD must come from the module's secret."
  }
  assert {
    condition     = aws_secretsmanager_secret_version.password[0].secret_string == var.password
    error_message = "The secret holds the password."
  }
  assert {
    condition = {
      for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.name => e.value
      if contains(["WHEELHOUSE_ROOT", "WHEELHOUSE_AUTHENTICATE", "WHEELHOUSE_REFRESH_INTERVAL", "WHEELHOUSE_WORKERS", "WHEELHOUSE_USERNAME"], e.name)
      } == {
      WHEELHOUSE_ROOT             = "/data/packages"
      WHEELHOUSE_AUTHENTICATE     = "update"
      WHEELHOUSE_REFRESH_INTERVAL = "1s"
      WHEELHOUSE_WORKERS          = "1"
      WHEELHOUSE_USERNAME         = "ci"
    }
    error_message = "Environment must carry root, authenticate, refresh interval, workers and username."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].user == "1000:1000"
    error_message = "The container must run as 1000:1000, not root."
  }
  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].readonlyRootFilesystem == true &&
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].stopTimeout == 30 &&
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].linuxParameters.initProcessEnabled == true
    )
    error_message = "Read-only root, 30 s stop timeout and an init process."
  }
  assert {
    condition     = contains([for m in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].mountPoints : m.containerPath if m.sourceVolume == "packages"], "/data/packages")
    error_message = "The packages volume is mounted at /data/packages."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].portMappings[0].containerPort == 8080
    error_message = "The container listens on 8080."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].healthCheck.command == ["CMD", "node", "dist/healthcheck.js"]
    error_message = "The container health check runs the image's own probe (no curl in the image; a task still loading is alive)."
  }
  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].logConfiguration.logDriver == "awslogs" &&
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].logConfiguration.options["awslogs-group"] == aws_cloudwatch_log_group.this.name &&
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].logConfiguration.options["awslogs-region"] == "eu-west-1"
    )
    error_message = "Logs go to the module's log group through awslogs."
  }
  assert {
    condition     = aws_cloudwatch_log_group.this.retention_in_days == 30
    error_message = "The log group has a retention."
  }

  # --- IAM ---
  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.task_efs.policy).Statement : (
      toset(s.Action) == toset(["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]) &&
      s.Resource == ["arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-0123456789abcdef0"] &&
      s.Condition.StringEquals["elasticfilesystem:AccessPointArn"] == "arn:aws:elasticfilesystem:eu-west-1:123456789012:access-point/fsap-0123456789abcdef0"
    )])
    error_message = "The task role may only mount and write the file system through the access point."
  }
  assert {
    condition = contains(
      flatten([for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Resource if contains(s.Action, "secretsmanager:GetSecretValue")]),
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wheelhouse-password-AbCdEf"
    )
    error_message = "The execution role may read the password secret."
  }

  # --- EC2 capacity ---
  assert {
    condition     = length(aws_autoscaling_group.this) == 1 && aws_autoscaling_group.this[0].protect_from_scale_in == true
    error_message = "The EC2 variant has an Auto Scaling group protected from scale-in."
  }
  assert {
    condition     = aws_launch_template.this[0].image_id == "ami-0123456789abcdef0" && data.aws_ssm_parameter.ecs_ami[0].name == "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
    error_message = "Instances use the ECS-optimized AMI from SSM."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.this[0].user_data), "ECS_CLUSTER=wheelhouse")
    error_message = "Instances join the cluster."
  }
  assert {
    condition     = aws_ecs_capacity_provider.this[0].auto_scaling_group_provider[0].managed_scaling[0].status == "ENABLED"
    error_message = "The capacity provider scales the group."
  }
  assert {
    condition     = [for s in aws_ecs_service.this.capacity_provider_strategy : s.capacity_provider] == ["wheelhouse-ec2"]
    error_message = "The EC2 service places tasks through the capacity provider."
  }
  assert {
    condition     = aws_ecs_service.this.network_configuration[0].security_groups == toset(["sg-0task"]) && aws_ecs_service.this.network_configuration[0].assign_public_ip == false
    error_message = "Tasks get the task security group and no public IP."
  }

  # --- Autoscaling ---
  assert {
    condition     = aws_appautoscaling_target.this.min_capacity == 2 && aws_appautoscaling_target.this.max_capacity == 8
    error_message = "Service autoscaling uses min_tasks and max_tasks."
  }
  assert {
    condition = (
      aws_appautoscaling_policy.cpu.target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type == "ECSServiceAverageCPUUtilization" &&
      aws_appautoscaling_policy.requests.target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type == "ALBRequestCountPerTarget"
    )
    error_message = "Target tracking on CPU and on requests per target."
  }

  # --- Alarms and dashboard ---
  assert {
    condition = (
      toset([for q in aws_cloudwatch_metric_alarm.target_5xx_rate.metric_query : one(q.metric[*].metric_name) if length(q.metric) > 0]) == toset(["HTTPCode_Target_5XX_Count", "RequestCount"]) &&
      length([for q in aws_cloudwatch_metric_alarm.target_5xx_rate.metric_query : q if q.return_data == true && try(strcontains(q.expression, "errors / requests"), false)]) == 1
    )
    error_message = "The 5xx alarm divides target 5xx by requests."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.unhealthy_hosts.metric_name == "UnHealthyHostCount"
    error_message = "An alarm watches unhealthy hosts."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.response_time_p95.extended_statistic == "p95" && aws_cloudwatch_metric_alarm.response_time_p95.metric_name == "TargetResponseTime"
    error_message = "An alarm watches p95 response time."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.efs_io_limit.metric_name == "PercentIOLimit" && aws_cloudwatch_metric_alarm.efs_io_limit.namespace == "AWS/EFS"
    error_message = "An alarm watches EFS PercentIOLimit."
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.unhealthy_hosts.alarm_actions) == 0
    error_message = "Without an SNS topic alarms have no actions."
  }
  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets) >= 6
    error_message = "The dashboard has its widgets."
  }

  # --- Outputs ---
  assert {
    condition     = output.pypi_server_urls == ["https://pypi.example.com/", "https://pypi.example.com/simple/"]
    error_message = "pypi_server_urls lists the root and /simple/."
  }
  assert {
    condition     = output.pypi_username == "ci" && output.pypi_password == "correct-horse-battery-staple"
    error_message = "The credentials are output."
  }
  assert {
    condition = (
      output.ecs_cluster_name == "wheelhouse" &&
      output.ecs_service_name == "wheelhouse" &&
      output.efs_file_system_id == "fs-0123456789abcdef0" &&
      output.target_group_arn == "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/wheelhouse-tg/0123456789abcdef" &&
      output.asg_name == "wheelhouse-ecs"
    )
    error_message = "Cluster, service, file system, target group and ASG are output."
  }
  assert {
    condition     = output.cloudwatch_dashboard_url == "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/wheelhouse"
    error_message = "The dashboard URL points at the dashboard."
  }
}

run "fargate_plan" {
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
      length(aws_ecs_service.this.capacity_provider_strategy) == 0 &&
      length(aws_ecs_service.this.ordered_placement_strategy) == 0
    )
    error_message = "No EC2 capacity exists with Fargate."
  }
  assert {
    condition     = output.asg_name == null
    error_message = "asg_name is null with Fargate."
  }
  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].user == "1000:1000" &&
      length([for v in aws_ecs_task_definition.this.volume : v if v.name == "packages" && one(v.efs_volume_configuration[*].transit_encryption) == "ENABLED"]) == 1
    )
    error_message = "Fargate tasks keep the non-root user and the encrypted EFS volume."
  }
  assert {
    condition     = contains(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment, { name = "WHEELHOUSE_WORKERS", value = "2" })
    error_message = "Workers follow the task's vCPUs."
  }
  assert {
    condition     = aws_lb_target_group.this.stickiness[0].enabled == false && aws_lb_target_group.this.health_check[0].path == "/health"
    error_message = "The ALB settings do not depend on the launch type."
  }
}

run "existing_certificate_and_secret" {
  command = plan

  variables {
    certificate_arn     = "arn:aws:acm:eu-west-1:123456789012:certificate/99999999-8888-7777-6666-555555555555"
    password            = null
    password_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/pypi-XyZ123"
    password_secret_key = "password"
    authenticate        = "download,update"
    alarm_sns_topic_arn = "arn:aws:sns:eu-west-1:123456789012:ops"
    allowed_cidrs       = ["10.0.0.0/8"]
  }

  assert {
    condition     = length(aws_acm_certificate.this) == 0 && length(aws_route53_record.validation) == 0
    error_message = "No certificate is requested when one is given."
  }
  assert {
    condition     = aws_lb_listener.https.certificate_arn == "arn:aws:acm:eu-west-1:123456789012:certificate/99999999-8888-7777-6666-555555555555"
    error_message = "The HTTPS listener uses the given certificate."
  }
  assert {
    condition     = length(aws_secretsmanager_secret.password) == 0 && length(aws_secretsmanager_secret_version.password) == 0
    error_message = "No secret is created when one is given."
  }
  assert {
    condition = contains(
      [for s in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].secrets : s.valueFrom if s.name == "WHEELHOUSE_PASSWORD"],
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/pypi-XyZ123:password::"
    )
    error_message = "The password is read from the JSON key of the given secret."
  }
  assert {
    condition     = contains(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment, { name = "WHEELHOUSE_AUTHENTICATE", value = "download,update" })
    error_message = "authenticate reaches the container."
  }
  assert {
    condition     = output.pypi_password == null
    error_message = "The module cannot output a password it was not given."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.target_5xx_rate.alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:ops"])
    error_message = "Alarms notify the SNS topic."
  }
  assert {
    condition     = alltrue([for r in aws_security_group.alb.ingress : r.cidr_blocks == tolist(["10.0.0.0/8"])])
    error_message = "The ALB accepts only allowed_cidrs."
  }
}

run "rejects_unknown_launch_type" {
  command = plan

  variables {
    launch_type = "LAMBDA"
  }

  expect_failures = [var.launch_type]
}

run "rejects_both_password_and_secret" {
  command = plan

  variables {
    password_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/pypi-XyZ123"
  }

  expect_failures = [aws_ecs_task_definition.this]
}

run "rejects_password_in_extra_environment" {
  command = plan

  variables {
    extra_environment = { WHEELHOUSE_PASSWORD = "oops-this-would-leak" }
  }

  expect_failures = [var.extra_environment]
}
