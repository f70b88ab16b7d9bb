# The default deployment, planned offline against a mocked AWS provider (tests/mocks): what every
# operator gets without setting anything, and the relations between its parts that a careless
# edit would break (timeouts, capacity, principals, dimensions). test/infra/terraform.test.ts
# breaks the module on purpose, edit by edit, and checks that this file fails each time.

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

run "defaults" {
  command = plan

  # --- Private by default ---
  assert {
    condition     = aws_lb.this[0].internal == true
    error_message = "The ALB must be internal by default."
  }
  assert {
    condition = (
      toset([for r in aws_security_group.alb[0].ingress : r.from_port]) == toset([80, 443]) &&
      alltrue([for r in aws_security_group.alb[0].ingress : toset(r.cidr_blocks) == toset(["10.20.0.0/16", "10.21.0.0/16"]) && r.from_port == r.to_port])
    )
    error_message = "By default the ALB admits 80 and 443 from the VPC's own CIDR blocks only."
  }
  assert {
    condition     = contains(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment, { name = "WHEELHOUSE_AUTHENTICATE", value = "download,list,update" })
    error_message = "By default every action needs a login (WHEELHOUSE_AUTHENTICATE=download,list,update)."
  }
  assert {
    condition = (
      contains(flatten([for r in aws_lb_listener_rule.no_metrics : r.condition[*].path_pattern[0].values]), "/metrics") &&
      alltrue([for r in aws_lb_listener_rule.no_metrics : (
        r.listener_arn == aws_lb_listener.https[0].arn &&
        r.action[0].type == "fixed-response" &&
        r.action[0].fixed_response[0].status_code == "404"
      )])
    )
    error_message = "The HTTPS listener must answer 404 for /metrics itself."
  }
  assert {
    condition = (
      length(distinct([for r in aws_lb_listener_rule.no_metrics : r.priority])) == length(aws_lb_listener_rule.no_metrics) &&
      alltrue([for r in aws_lb_listener_rule.no_metrics : length(flatten(r.condition[*].path_pattern[0].values)) <= 3]) &&
      alltrue([for r in aws_lb_listener_rule.no_metrics : length(regexall("[*?]", join("", flatten(r.condition[*].path_pattern[0].values)))) <= 5])
    )
    error_message = "The /metrics rules need distinct priorities, at most three patterns and five wildcards each (the ALB's limits)."
  }

  # --- Trust exactly the ALB in X-Forwarded-For ---
  assert {
    condition     = contains(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment, { name = "WHEELHOUSE_TRUST_PROXY", value = "1" })
    error_message = "WHEELHOUSE_TRUST_PROXY must be 1: the client is the right-most X-Forwarded-For entry, which the ALB appends."
  }
  assert {
    condition     = aws_lb.this[0].xff_header_processing_mode == "append" && aws_lb.this[0].drop_invalid_header_fields == true
    error_message = "The ALB must append the client address to X-Forwarded-For (and drop invalid header fields)."
  }

  # --- The task definition as tests/task-container.json describes it (the image test runs it so) ---
  assert {
    condition     = { for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.name => e.value } == jsondecode(file("tests/task-container.json")).environment
    error_message = "The container environment must be exactly the one in tests/task-container.json."
  }
  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].user == jsondecode(file("tests/task-container.json")).user &&
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].readonlyRootFilesystem == jsondecode(file("tests/task-container.json")).readonlyRootFilesystem &&
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].stopTimeout == jsondecode(file("tests/task-container.json")).stopTimeout &&
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].linuxParameters.initProcessEnabled == jsondecode(file("tests/task-container.json")).initProcessEnabled &&
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].healthCheck.command == jsondecode(file("tests/task-container.json")).healthCheck &&
      { for m in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].mountPoints : m.sourceVolume => m.containerPath } == jsondecode(file("tests/task-container.json")).mountPoints &&
      [for s in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].secrets : s.name] == jsondecode(file("tests/task-container.json")).secrets &&
      one([for u in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].ulimits : u.softLimit if u.name == "nofile"]) == jsondecode(file("tests/task-container.json")).nofile
    )
    error_message = "User, read-only root, stop timeout, init, health check, mounts, secrets and nofile must match tests/task-container.json."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].readonlyRootFilesystem == true && jsondecode(aws_ecs_task_definition.this.container_definitions)[0].user == "1000:1000"
    error_message = "The container runs as 1000:1000 on a read-only root file system."
  }

  # --- Timeouts: each one above the one it must outlast ---
  assert {
    condition     = aws_lb.this[0].idle_timeout == 120
    error_message = "The ALB idle timeout is 120 s (inactivity, not transfer time)."
  }
  assert {
    condition = (
      tonumber(trimsuffix(one([for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.value if e.name == "WHEELHOUSE_KEEP_ALIVE_TIMEOUT"]), "s")) > aws_lb.this[0].idle_timeout &&
      tonumber(trimsuffix(one([for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.value if e.name == "WHEELHOUSE_HEADERS_TIMEOUT"]), "s")) > tonumber(trimsuffix(one([for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.value if e.name == "WHEELHOUSE_KEEP_ALIVE_TIMEOUT"]), "s"))
    )
    error_message = "Keep-alive must exceed the ALB idle timeout, and the headers timeout the keep-alive."
  }
  assert {
    condition = (
      tonumber(trimsuffix(one([for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.value if e.name == "WHEELHOUSE_HEADERS_TIMEOUT"]), "s")) <= tonumber(trimsuffix(one([for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.value if e.name == "WHEELHOUSE_REQUEST_TIMEOUT"]), "s")) &&
      tonumber(trimsuffix(one([for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.value if e.name == "WHEELHOUSE_REQUEST_TIMEOUT"]), "s")) == var.max_transfer_seconds
    )
    error_message = "The headers timeout must not exceed the request timeout, which is max_transfer_seconds."
  }
  assert {
    condition     = tonumber(aws_lb_target_group.this.deregistration_delay) >= var.max_transfer_seconds && tonumber(aws_lb_target_group.this.deregistration_delay) == 600
    error_message = "The deregistration delay must let the longest promised transfer (600 s) finish."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].stopTimeout > tonumber(trimsuffix(one([for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.value if e.name == "WHEELHOUSE_SHUTDOWN_TIMEOUT"]), "s"))
    error_message = "The ECS stop timeout must exceed the server's drain (WHEELHOUSE_SHUTDOWN_TIMEOUT)."
  }

  # --- Health checks and the first scan ---
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
    # 15 s: a first scan of 200 real wheels on an EFS-like mount.
    condition = (
      aws_ecs_service.this.health_check_grace_period_seconds == var.health_check_grace_period_seconds &&
      aws_ecs_service.this.health_check_grace_period_seconds >= aws_lb_target_group.this.health_check[0].interval * aws_lb_target_group.this.health_check[0].healthy_threshold + 15
    )
    error_message = "The grace period must be the variable and cover a first scan (15 s for 200 wheels) plus the ALB's passing checks."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].healthCheck.command == ["CMD", "node", "dist/healthcheck.js"]
    error_message = "The container health check runs the image's own probe (no curl in the image; a task still loading is alive)."
  }

  # --- Roles: each where it belongs ---
  assert {
    condition = (
      aws_ecs_task_definition.this.task_role_arn == "arn:aws:iam::123456789012:role/wheelhouse-task-mock" &&
      aws_ecs_task_definition.this.execution_role_arn == "arn:aws:iam::123456789012:role/wheelhouse-exec-mock"
    )
    error_message = "The process runs as the task role; the agent pulls and reads secrets as the execution role."
  }
  assert {
    condition = (
      one([for s in jsondecode(aws_efs_file_system_policy.this.policy).Statement : s.Principal.AWS if s.Sid == "TaskThroughAccessPoint"]) == aws_iam_role.task.arn &&
      one([for s in jsondecode(aws_efs_file_system_policy.this.policy).Statement : s.Condition.StringEquals["elasticfilesystem:AccessPointArn"] if s.Sid == "TaskThroughAccessPoint"]) == aws_efs_access_point.this.arn
    )
    error_message = "The file system policy must admit the task role, through the access point."
  }
  assert {
    condition     = aws_iam_role_policy.task_efs.role == aws_iam_role.task.id && aws_iam_role_policy.execution.role == aws_iam_role.execution.id
    error_message = "The EFS client policy belongs to the task role, the secrets-and-logs policy to the execution role."
  }
  assert {
    condition     = aws_iam_instance_profile.instance[0].role == aws_iam_role.instance[0].name && jsondecode(aws_iam_role.instance[0].assume_role_policy).Statement[0].Principal.Service == "ec2.amazonaws.com"
    error_message = "The instances get their own role, trusted by EC2 only."
  }
  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.task_efs.policy).Statement : (
      toset(s.Action) == toset(["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]) &&
      s.Resource == ["arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-0123456789abcdef0"] &&
      s.Condition.StringEquals["elasticfilesystem:AccessPointArn"] == "arn:aws:elasticfilesystem:eu-west-1:123456789012:access-point/fsap-0123456789abcdef0"
    )])
    error_message = "The task role may only mount and write the file system through the access point."
  }
  assert {
    condition = (
      one([for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Resource if s.Sid == "ReadSecrets"]) == ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:wheelhouse-password-AbCdEf"] &&
      length([for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s if s.Sid == "ReadParameters"]) == 0
    )
    error_message = "The execution role may read the password secret and nothing else."
  }

  # --- TLS ---
  assert {
    condition     = can(regex("^ELBSecurityPolicy-(TLS13-1-[23]|FS-1-2|TLS-1-2)-", aws_lb_listener.https[0].ssl_policy)) && aws_lb_listener.https[0].ssl_policy == var.ssl_policy
    error_message = "The HTTPS listener must use a TLS 1.2-and-later policy (ssl_policy)."
  }
  assert {
    condition = (
      aws_lb_listener.https[0].protocol == "HTTPS" &&
      aws_lb_listener.https[0].port == 443 &&
      aws_lb_listener.https[0].certificate_arn == aws_acm_certificate_validation.this[0].certificate_arn
    )
    error_message = "The HTTPS listener must use the validated ACM certificate."
  }
  assert {
    condition = (
      aws_lb_listener.http[0].port == 80 &&
      aws_lb_listener.http[0].default_action[0].type == "redirect" &&
      aws_lb_listener.http[0].default_action[0].redirect[0].protocol == "HTTPS" &&
      aws_lb_listener.http[0].default_action[0].redirect[0].status_code == "HTTP_301"
    )
    error_message = "Port 80 must redirect to HTTPS."
  }
  assert {
    condition     = aws_route53_record.this[0].name == "pypi.example.com" && aws_route53_record.this[0].type == "A" && length(aws_route53_record.this[0].alias) == 1
    error_message = "dns_name must be an alias A record of the ALB."
  }

  # --- Target group ---
  assert {
    condition     = aws_lb_target_group.this.stickiness[0].enabled == false && aws_lb_target_group.this.stickiness[0].type == "lb_cookie"
    error_message = "Stickiness must be off: every task serves the same index."
  }
  assert {
    condition     = aws_lb_target_group.this.port == 8080 && aws_lb_target_group.this.target_type == "ip" && aws_lb_target_group.this.load_balancing_algorithm_type == "least_outstanding_requests"
    error_message = "Targets are task IPs on port 8080, least outstanding requests first."
  }

  # --- Access logs ---
  assert {
    condition     = aws_lb.this[0].access_logs[0].enabled == true && aws_lb.this[0].access_logs[0].bucket == aws_s3_bucket.access_logs[0].id && aws_lb.this[0].access_logs[0].prefix == "wheelhouse"
    error_message = "The ALB must write access logs to the module's bucket."
  }
  assert {
    condition = (
      contains([for s in jsondecode(aws_s3_bucket_policy.access_logs[0].policy).Statement : s.Principal.AWS if s.Sid == "AlbWritesLogs"], "arn:aws:iam::156460612806:root") &&
      alltrue([for s in jsondecode(aws_s3_bucket_policy.access_logs[0].policy).Statement : s.Resource == "arn:aws:s3:::wheelhouse-logs-20261201/wheelhouse/AWSLogs/123456789012/*" if s.Effect == "Allow"]) &&
      aws_s3_bucket_public_access_block.access_logs[0].block_public_policy == true &&
      one(aws_s3_bucket_server_side_encryption_configuration.access_logs[0].rule[*].apply_server_side_encryption_by_default[0].sse_algorithm) == "AES256"
    )
    error_message = "The log bucket lets the ALB write under <name>/AWSLogs/<account>/, is private and SSE-S3 encrypted."
  }

  # --- Alarms: the outages of the runbooks, each on its own dimensions ---
  assert {
    condition     = aws_cloudwatch_metric_alarm.unhealthy_hosts.dimensions == tomap({ LoadBalancer = "app/wheelhouse-alb/0123456789abcdef", TargetGroup = "targetgroup/wheelhouse-tg/fedcba9876543210" })
    error_message = "The unhealthy-hosts alarm needs both the LoadBalancer and the TargetGroup dimension."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.healthy_hosts_low.metric_name == "HealthyHostCount" &&
      aws_cloudwatch_metric_alarm.healthy_hosts_low.dimensions == aws_cloudwatch_metric_alarm.unhealthy_hosts.dimensions &&
      aws_cloudwatch_metric_alarm.healthy_hosts_low.comparison_operator == "LessThanThreshold" &&
      aws_cloudwatch_metric_alarm.healthy_hosts_low.threshold == var.min_tasks &&
      aws_cloudwatch_metric_alarm.healthy_hosts_low.treat_missing_data == "breaching"
    )
    error_message = "An alarm fires when healthy tasks drop below min_tasks, and missing data counts as an outage."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.no_running_tasks.namespace == "ECS/ContainerInsights" &&
      aws_cloudwatch_metric_alarm.no_running_tasks.metric_name == "RunningTaskCount" &&
      aws_cloudwatch_metric_alarm.no_running_tasks.dimensions == tomap({ ClusterName = "wheelhouse", ServiceName = "wheelhouse" }) &&
      aws_cloudwatch_metric_alarm.no_running_tasks.threshold == 1 &&
      aws_cloudwatch_metric_alarm.no_running_tasks.treat_missing_data == "breaching" &&
      one(aws_ecs_cluster.this.setting[*].value) == "enabled"
    )
    error_message = "An alarm fires when the service runs no task (Container Insights on), and missing data counts as an outage."
  }
  assert {
    condition = (
      toset([for q in aws_cloudwatch_metric_alarm.elb_5xx_rate.metric_query : one(q.metric[*].metric_name) if length(q.metric) > 0]) == toset(["HTTPCode_ELB_5XX_Count", "RequestCount"]) &&
      alltrue([for q in aws_cloudwatch_metric_alarm.elb_5xx_rate.metric_query : one(q.metric[*].dimensions) == tomap({ LoadBalancer = "app/wheelhouse-alb/0123456789abcdef" }) if length(q.metric) > 0])
    )
    error_message = "An alarm watches the ALB's own 5xx (HTTPCode_ELB_5XX_Count) against the load balancer's requests."
  }
  assert {
    condition = (
      toset([for q in aws_cloudwatch_metric_alarm.target_5xx_rate.metric_query : one(q.metric[*].metric_name) if length(q.metric) > 0]) == toset(["HTTPCode_Target_5XX_Count", "RequestCount"]) &&
      alltrue([for q in aws_cloudwatch_metric_alarm.target_5xx_rate.metric_query : one(q.metric[*].dimensions) == aws_cloudwatch_metric_alarm.unhealthy_hosts.dimensions if length(q.metric) > 0])
    )
    error_message = "The task 5xx alarm divides the target group's 5xx by its requests."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.response_time_p95.extended_statistic == "p95" && aws_cloudwatch_metric_alarm.response_time_p95.dimensions == aws_cloudwatch_metric_alarm.unhealthy_hosts.dimensions
    error_message = "The p95 alarm watches the target group's response time."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.memory_high.namespace == "AWS/ECS" && aws_cloudwatch_metric_alarm.memory_high.dimensions == tomap({ ClusterName = "wheelhouse", ServiceName = "wheelhouse" })
    error_message = "The memory alarm needs both ClusterName and ServiceName (ServiceName alone matches no metric)."
  }
  assert {
    condition = (
      aws_cloudwatch_metric_alarm.efs_io_limit.metric_name == "PercentIOLimit" &&
      aws_cloudwatch_metric_alarm.efs_io_limit.dimensions == tomap({ FileSystemId = "fs-0123456789abcdef0" }) &&
      length(aws_cloudwatch_metric_alarm.efs_burst_credits) == 0
    )
    error_message = "EFS PercentIOLimit is alarmed; elastic throughput has no burst credits to alarm on."
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.unhealthy_hosts.alarm_actions) == 0
    error_message = "Without an SNS topic alarms have no actions."
  }

  # --- Autoscaling ---
  assert {
    condition = (
      aws_appautoscaling_policy.requests.target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].resource_label == "${aws_lb.this[0].arn_suffix}/${aws_lb_target_group.this.arn_suffix}" &&
      can(regex("^app/[^/]+/[0-9a-f]+/targetgroup/[^/]+/[0-9a-f]+$", aws_appautoscaling_policy.requests.target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].resource_label))
    )
    error_message = "The requests-per-target policy needs the label app/<lb>/<id>/targetgroup/<tg>/<id>."
  }
  assert {
    condition = (
      aws_appautoscaling_target.this.min_capacity == 2 && aws_appautoscaling_target.this.max_capacity == 8 &&
      aws_appautoscaling_target.this.resource_id == "service/wheelhouse/wheelhouse" &&
      aws_appautoscaling_policy.cpu.target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type == "ECSServiceAverageCPUUtilization"
    )
    error_message = "Service autoscaling tracks CPU between min_tasks and max_tasks."
  }

  # --- Capacity: an m6a.large holds two 1 vCPU / 2 GiB tasks; a deployment at 8 tasks runs 16 ---
  assert {
    condition = (
      output.capacity.tasks_per_instance == 2 &&
      output.capacity.tasks_per_instance * var.cpu <= 2 * 1024 &&
      output.capacity.tasks_per_instance * var.memory <= floor(8192 * 0.97) - 256 &&
      output.capacity.tasks_per_instance <= 3 - 1
    )
    error_message = "Tasks per instance must follow the instance's CPU, memory and interfaces (2 on an m6a.large)."
  }
  assert {
    condition = (
      aws_autoscaling_group.this[0].max_size * output.capacity.tasks_per_instance >= ceil(var.max_tasks * aws_ecs_service.this.deployment_maximum_percent / 100) &&
      aws_autoscaling_group.this[0].max_size == 8 &&
      aws_autoscaling_group.this[0].min_size * output.capacity.tasks_per_instance >= var.min_tasks &&
      aws_autoscaling_group.this[0].min_size == 2
    )
    error_message = "The instances must hold max_tasks during a deployment (max 8) and min_tasks in two zones (min 2)."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.this[0].user_data), "ECS_RESERVED_MEMORY=256") && strcontains(base64decode(aws_launch_template.this[0].user_data), "ECS_CLUSTER=wheelhouse")
    error_message = "Instances join the cluster and keep the reserved memory the capacity sums assume."
  }
  assert {
    condition     = [for s in aws_ecs_service.this.capacity_provider_strategy : s.capacity_provider] == ["wheelhouse-ec2"] && aws_ecs_capacity_provider.this[0].auto_scaling_group_provider[0].managed_scaling[0].status == "ENABLED"
    error_message = "The EC2 service places tasks through the capacity provider, which scales the group."
  }

  # --- EFS ---
  assert {
    condition     = aws_efs_file_system.this[0].encrypted == true && aws_efs_file_system.this[0].throughput_mode == "elastic" && aws_efs_backup_policy.this.backup_policy[0].status == "ENABLED"
    error_message = "EFS must be encrypted, elastic and backed up."
  }
  assert {
    condition = (
      length(aws_efs_mount_target.this) == 3 &&
      toset([for m in aws_efs_mount_target.this : m.subnet_id]) == toset(["subnet-0cc", "subnet-0dd", "subnet-0ee"]) &&
      alltrue([for m in aws_efs_mount_target.this : m.security_groups == toset(["sg-0efs"])])
    )
    error_message = "One mount target per private subnet, in the EFS security group."
  }
  assert {
    condition = (
      aws_efs_access_point.this.posix_user[0].uid == 1000 &&
      aws_efs_access_point.this.posix_user[0].gid == 1000 &&
      aws_efs_access_point.this.root_directory[0].path == "/packages" &&
      aws_efs_access_point.this.root_directory[0].creation_info[0].permissions == "0755"
    )
    error_message = "Access point must map to uid/gid 1000 and root /packages."
  }
  assert {
    condition = (
      contains([for s in jsondecode(aws_efs_file_system_policy.this.policy).Statement : s.Condition.Bool["aws:SecureTransport"] if s.Effect == "Deny"], "false") &&
      length([for s in jsondecode(aws_efs_file_system_policy.this.policy).Statement : s if s.Sid == "AdminAsRoot"]) == 0
    )
    error_message = "The file system policy denies access without TLS and admits no admin by default."
  }
  assert {
    condition = alltrue([for v in aws_ecs_task_definition.this.volume : (
      v.efs_volume_configuration[0].transit_encryption == "ENABLED" &&
      v.efs_volume_configuration[0].file_system_id == "fs-0123456789abcdef0" &&
      v.efs_volume_configuration[0].authorization_config[0].access_point_id == "fsap-0123456789abcdef0" &&
      v.efs_volume_configuration[0].authorization_config[0].iam == "ENABLED"
    ) if v.name == "packages"]) && length([for v in aws_ecs_task_definition.this.volume : v if v.name == "packages"]) == 1
    error_message = "The EFS volume must use transit encryption, the access point and IAM authorization."
  }

  # --- Security groups ---
  assert {
    condition = (
      length(aws_security_group.efs.ingress) == 1 &&
      alltrue([for r in aws_security_group.efs.ingress : r.from_port == 2049 && r.security_groups == toset(["sg-0task"]) && try(length(r.cidr_blocks), 0) == 0]) &&
      length(aws_security_group.efs.egress) == 0
    )
    error_message = "EFS ingress must be NFS 2049 from the task security group only, with no egress."
  }
  assert {
    condition = (
      length(aws_security_group.task.ingress) == 1 &&
      alltrue([for r in aws_security_group.task.ingress : r.from_port == 8080 && r.security_groups == toset(["sg-0alb"]) && try(length(r.cidr_blocks), 0) == 0]) &&
      aws_ecs_service.this.network_configuration[0].security_groups == toset(["sg-0task"]) &&
      aws_ecs_service.this.network_configuration[0].assign_public_ip == false
    )
    error_message = "Tasks accept 8080 from the ALB security group only and get no public IP."
  }

  # --- Credentials ---
  assert {
    condition     = !strcontains(aws_ecs_task_definition.this.container_definitions, var.password)
    error_message = "The password's value must appear nowhere in the task definition."
  }
  assert {
    condition     = !contains([for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.name], "WHEELHOUSE_PASSWORD")
    error_message = "The password must not be a plain environment variable."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].secrets == [{ name = "WHEELHOUSE_PASSWORD", valueFrom = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wheelhouse-password-AbCdEf" }]
    error_message = "WHEELHOUSE_PASSWORD must come from the module's secret, and no other secret by default."
  }

  # --- Outputs the runbooks read with terraform output -raw ---
  assert {
    condition     = output.pypi_server_urls == "[\"pypi.example.com\"]" && jsondecode(output.pypi_server_urls)[0] == "pypi.example.com"
    error_message = "pypi_server_urls is a JSON string of host names without scheme (terraform output -raw ... | jq -r '.[0]')."
  }
  assert {
    condition     = output.index_url == "https://pypi.example.com/simple/" && output.upload_url == "https://pypi.example.com/"
    error_message = "index_url and upload_url are full URLs."
  }
  assert {
    condition = (
      output.pypi_username == "ci" && output.pypi_password == "correct-horse-battery-staple" &&
      output.ecs_cluster_name == "wheelhouse" && output.ecs_service_name == "wheelhouse" &&
      output.efs_file_system_id == "fs-0123456789abcdef0" &&
      output.target_group_arn == "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/wheelhouse-tg/fedcba9876543210" &&
      output.asg_name == "wheelhouse-ecs" && output.log_group_name == "/ecs/wheelhouse" &&
      output.access_logs_bucket == "wheelhouse-logs-20261201"
    )
    error_message = "The runbooks' outputs are there, each a plain string."
  }
  assert {
    condition     = output.server_environment == { for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.name => e.value }
    error_message = "server_environment shows the container's environment."
  }
  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets) >= 7 && length(output.alarm_names) == 8
    error_message = "The dashboard has its widgets and the eight alarms are listed."
  }
}
