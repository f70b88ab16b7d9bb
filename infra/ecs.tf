locals {
  # The server's settings. Everything here is visible in the task definition: no credentials.
  environment = merge(
    var.extra_environment,
    {
      WHEELHOUSE_ROOT             = local.mount_path
      WHEELHOUSE_PORT             = tostring(local.container_port)
      WHEELHOUSE_AUTHENTICATE     = var.authenticate
      WHEELHOUSE_REFRESH_INTERVAL = var.refresh_interval
      WHEELHOUSE_WORKERS          = tostring(local.workers)
      # The username is an identifier, not a credential; only the password comes from Secrets Manager.
      WHEELHOUSE_USERNAME = var.username
      # The client is the right-most X-Forwarded-For entry the ALB appended, never one a client wrote.
      WHEELHOUSE_TRUST_PROXY        = tostring(var.trusted_proxy_hops)
      WHEELHOUSE_KEEP_ALIVE_TIMEOUT = "${local.keep_alive_timeout}s"
      WHEELHOUSE_HEADERS_TIMEOUT    = "${local.headers_timeout}s"
      WHEELHOUSE_REQUEST_TIMEOUT    = "${local.request_timeout}s"
      WHEELHOUSE_SHUTDOWN_TIMEOUT   = "${var.shutdown_timeout}s"
    },
    var.upstream_url == null ? {} : { WHEELHOUSE_UPSTREAM = var.upstream_url },
    # Under a path of a shared host every URL the server writes carries it, /health included.
    var.path_prefix == null ? {} : { WHEELHOUSE_BASE_PATH = var.path_prefix },
  )

  # Read by the ECS agent when a task starts (the execution role may read exactly these).
  secrets = merge(
    var.extra_secrets,
    { WHEELHOUSE_PASSWORD = local.password_value_from },
    var.token_key_secret_arn == null ? {} : { WHEELHOUSE_TOKEN_KEY = var.token_key_secret_arn },
    var.trusted_publishers_json_arn == null ? {} : { WHEELHOUSE_TRUSTED_PUBLISHERS_JSON = var.trusted_publishers_json_arn },
    var.upstream_credentials_secret_arn == null ? {} : { WHEELHOUSE_UPSTREAM_CREDENTIALS = var.upstream_credentials_secret_arn },
  )

  container = {
    name      = local.container_name
    image     = var.image
    essential = true

    # The image's node user; the access point maps every file to 1000:1000 as well.
    user = "1000:1000"
    # ECS Exec's agent writes into the container's root file system.
    readonlyRootFilesystem = !var.enable_execute_command
    # SIGKILL follows SIGTERM after this; the server drains within WHEELHOUSE_SHUTDOWN_TIMEOUT.
    stopTimeout = local.stop_timeout

    portMappings = [{
      name          = "http"
      containerPort = local.container_port
      hostPort      = local.container_port
      protocol      = "tcp"
      appProtocol   = "http"
    }]

    # Sorted by name (for-expressions over maps are), so ECS's own ordering yields no perpetual diff.
    environment = [for k, v in local.environment : { name = k, value = v }]
    secrets     = [for k, v in local.secrets : { name = k, valueFrom = v }]

    mountPoints = [
      { sourceVolume = "packages", containerPath = local.mount_path, readOnly = false },
      # The root file system is read-only; Node and the OS still expect a writable /tmp.
      { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
    ]

    # The image's own probe (no curl in it): liveness, so a task still on its first scan of a
    # large volume ("loading") is kept, while the ALB's check of /health keeps it out of rotation.
    # With several workers the cluster primary answers /health while they load.
    healthCheck = {
      command     = ["CMD", "node", "dist/healthcheck.js"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 30
    }

    linuxParameters = {
      # Reaps the children of node:cluster workers and forwards SIGTERM.
      initProcessEnabled = true
    }

    # A 500-client burst holds hundreds of sockets plus open package files per task.
    ulimits = [{ name = "nofile", softLimit = 65536, hardLimit = 65536 }]

    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = local.container_name
        # A slow CloudWatch must never block the event loop on stdout.
        mode            = "non-blocking"
        max-buffer-size = "25m"
      }
    }
  }

  # Sizes Fargate accepts for each cpu value (MiB): from, to, step.
  fargate_memory = {
    256   = [512, 2048, 1024]
    512   = [1024, 4096, 1024]
    1024  = [2048, 8192, 1024]
    2048  = [4096, 16384, 1024]
    4096  = [8192, 30720, 1024]
    8192  = [16384, 61440, 4096]
    16384 = [32768, 122880, 8192]
  }
  fargate_memory_ok = (
    var.memory >= local.fargate_memory[var.cpu][0] &&
    var.memory <= local.fargate_memory[var.cpu][1] &&
    (var.memory == 512 || var.memory % local.fargate_memory[var.cpu][2] == 0)
  )
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = [var.launch_type]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.cpu)
  memory                   = tostring(var.memory)
  # The agent pulls the image, reads the secrets and writes logs as the execution role; the
  # process itself runs as the task role, which may only mount the volume.
  execution_role_arn = aws_iam_role.execution.arn
  task_role_arn      = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([local.container])

  volume {
    name = "packages"

    efs_volume_configuration {
      file_system_id     = local.efs_id
      transit_encryption = "ENABLED"

      authorization_config {
        access_point_id = aws_efs_access_point.this.id
        iam             = "ENABLED"
      }
    }
  }

  volume {
    name = "tmp"
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = (var.password == null) != (var.password_secret_arn == null)
      error_message = "Give exactly one of password and password_secret_arn."
    }
    precondition {
      condition     = var.password_secret_key == null || var.password_secret_arn != null
      error_message = "password_secret_key only applies to an existing secret (password_secret_arn)."
    }
    precondition {
      condition     = local.keep_alive_timeout > var.idle_timeout
      error_message = "keep_alive_timeout (${local.keep_alive_timeout} s) must exceed the ALB's idle_timeout (${var.idle_timeout} s), or a task closes connections the ALB is about to reuse (intermittent 502s)."
    }
    precondition {
      condition     = local.headers_timeout <= local.request_timeout
      error_message = "The headers timeout (keep-alive + 1 = ${local.headers_timeout} s) must not exceed the request timeout (max_transfer_seconds, ${local.request_timeout} s): Node refuses it. Raise max_transfer_seconds or lower idle_timeout."
    }
    precondition {
      condition     = local.stop_timeout > var.shutdown_timeout
      error_message = "stop_timeout (${local.stop_timeout} s) must exceed shutdown_timeout (${var.shutdown_timeout} s), or ECS kills tasks in the middle of their drain."
    }
    precondition {
      condition     = !local.fargate || local.fargate_memory_ok
      error_message = "Fargate does not run cpu ${var.cpu} with memory ${var.memory} MiB: for this cpu it takes ${local.fargate_memory[var.cpu][0]} to ${local.fargate_memory[var.cpu][1]} MiB in steps of ${local.fargate_memory[var.cpu][2]}."
    }
  }
}

resource "aws_ecs_service" "this" {
  name                   = var.name
  cluster                = aws_ecs_cluster.this.id
  task_definition        = aws_ecs_task_definition.this.arn
  desired_count          = var.desired_count
  launch_type            = local.fargate ? "FARGATE" : null
  platform_version       = local.fargate ? "LATEST" : null
  enable_execute_command = var.enable_execute_command
  propagate_tags         = "SERVICE"

  # A new task answers 503 "loading" until its first scan of the volume is done; ECS must not
  # count those checks against it (README "Timeouts": size it from the volume).
  health_check_grace_period_seconds  = var.health_check_grace_period_seconds
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = var.deployment_maximum_percent

  dynamic "capacity_provider_strategy" {
    for_each = local.fargate ? [] : [1]
    content {
      capacity_provider = aws_ecs_capacity_provider.this[0].name
      weight            = 1
      base              = 0
    }
  }

  dynamic "ordered_placement_strategy" {
    for_each = local.fargate ? [] : [1]
    content {
      type  = "spread"
      field = "attribute:ecs.availability-zone"
    }
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.task.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this.arn
    container_name   = local.container_name
    container_port   = local.container_port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  tags = local.tags

  # Autoscaling owns the task count after the first apply.
  lifecycle {
    ignore_changes = [desired_count]

    precondition {
      condition     = var.min_tasks <= var.max_tasks
      error_message = "min_tasks must not exceed max_tasks."
    }
    precondition {
      condition     = var.health_check_grace_period_seconds >= local.health_check_interval * local.healthy_threshold + 10
      error_message = "health_check_grace_period_seconds (${var.health_check_grace_period_seconds}) must cover Node's start and the ALB's ${local.healthy_threshold} passing checks ${local.health_check_interval} s apart (${local.health_check_interval * local.healthy_threshold + 10} s at least), plus the first scan of the volume."
    }
  }

  depends_on = [
    aws_lb_listener.https,
    aws_lb_listener_rule.no_metrics,
    aws_lb_listener_rule.forward,
    aws_efs_mount_target.this,
    aws_efs_file_system_policy.this,
    aws_iam_role_policy.task_efs,
    aws_iam_role_policy.execution,
    aws_ecs_cluster_capacity_providers.this,
  ]
}
