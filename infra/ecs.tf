locals {
  environment = merge(var.extra_environment, {
    WHEELHOUSE_ROOT             = local.mount_path
    WHEELHOUSE_PORT             = tostring(local.container_port)
    WHEELHOUSE_AUTHENTICATE     = var.authenticate
    WHEELHOUSE_REFRESH_INTERVAL = var.refresh_interval
    WHEELHOUSE_WORKERS          = tostring(local.workers)
    # The username is an identifier, not a credential; only the password comes from Secrets Manager.
    WHEELHOUSE_USERNAME    = var.username
    WHEELHOUSE_TRUST_PROXY = "true"
  })

  container = {
    name      = local.container_name
    image     = var.image
    essential = true

    # The image's node user; the access point maps every file to 1000:1000 as well.
    user                   = "1000:1000"
    readonlyRootFilesystem = true
    # wheelhouse drains in WHEELHOUSE_SHUTDOWN_TIMEOUT (25 s by default) after SIGTERM; this leaves it room.
    stopTimeout = 30

    portMappings = [{
      name          = "http"
      containerPort = local.container_port
      hostPort      = local.container_port
      protocol      = "tcp"
      appProtocol   = "http"
    }]

    # Sorted by name (for-expressions over maps are), so ECS's own ordering yields no perpetual diff.
    environment = [for k, v in local.environment : { name = k, value = v }]

    secrets = [{
      name      = "WHEELHOUSE_PASSWORD"
      valueFrom = local.password_value_from
    }]

    mountPoints = [
      { sourceVolume = "packages", containerPath = local.mount_path, readOnly = false },
      # The root file system is read-only; Node and the OS still expect a writable /tmp.
      { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
    ]

    # The image's own probe (no curl in it): liveness, so a task still on its first scan of a
    # large volume ("loading") is kept, while the ALB's check of /health keeps it out of rotation.
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
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = [var.launch_type]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.cpu)
  memory                   = tostring(var.memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([local.container])

  volume {
    name = "packages"

    efs_volume_configuration {
      file_system_id     = aws_efs_file_system.this.id
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

  # Enough for Node to start and read the volume before the ALB's checks count.
  health_check_grace_period_seconds  = 30
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

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
  }

  depends_on = [
    aws_lb_listener.https,
    aws_efs_mount_target.this,
    aws_efs_file_system_policy.this,
    aws_iam_role_policy.task_efs,
    aws_iam_role_policy.execution,
    aws_ecs_cluster_capacity_providers.this,
  ]
}
