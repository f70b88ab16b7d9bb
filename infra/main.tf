data "aws_region" "current" {}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

# Only read when the module makes its ALB and allowed_cidrs is null: an internal ALB then admits the VPC's own networks.
data "aws_vpc" "this" {
  count = var.allowed_cidrs == null && var.existing_listener_arn == null ? 1 : 0
  id    = var.vpc_id
}

locals {
  fargate        = var.launch_type == "FARGATE"
  container_name = "wheelhouse"
  container_port = 8080
  mount_path     = "/data/packages"
  create_cert    = var.certificate_arn == null && var.existing_listener_arn == null && var.zone_id != null
  create_secret  = var.password_secret_arn == null

  allowed_cidrs = var.allowed_cidrs != null ? var.allowed_cidrs : flatten([
    for v in data.aws_vpc.this : [for a in v.cidr_block_associations : a.cidr_block if a.state == "associated"]
  ])

  # ECS shows the host's CPU count to Node, not the task's share; derive workers from the task size instead.
  workers = var.workers != null ? var.workers : max(1, floor(var.cpu / 1024))

  # Timeouts, in seconds, in the order a connection meets them (README "Timeouts"):
  # - the ALB drops a connection idle for idle_timeout; the task must never drop one first, or
  #   the ALB sends a request down a socket the task is closing (a 502): keep-alive above it,
  #   and the headers timeout above that (Node counts it on a reused connection too);
  # - a whole upload may take up to max_transfer_seconds (the request timeout);
  # - a task leaving the service keeps its requests for the deregistration delay, then gets
  #   SIGTERM, drains for shutdown_timeout, and is killed at stop_timeout.
  keep_alive_timeout   = coalesce(var.keep_alive_timeout, var.idle_timeout + 5)
  headers_timeout      = local.keep_alive_timeout + 1
  request_timeout      = var.max_transfer_seconds
  deregistration_delay = coalesce(var.deregistration_delay, var.max_transfer_seconds)
  stop_timeout         = coalesce(var.stop_timeout, min(120, var.shutdown_timeout + 5))

  # The ALB's health check of /health; the grace period must cover a first scan plus this.
  health_check_interval = 10
  healthy_threshold     = 2
  unhealthy_threshold   = 3

  tags = merge({ "app" = "wheelhouse", "wheelhouse:name" = var.name }, var.tags)
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  # Also gives the RunningTaskCount metric the "no running task" alarm watches.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = local.tags
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

# A reachable index with no login on downloads serves every private package to whoever can reach
# it. Allowed, but said out loud at every plan. Of a shared ALB the module knows only whether it
# faces the internet.
check "private_index" {
  assert {
    condition = !(
      (local.existing_alb ? !data.aws_lb.existing[0].internal : !var.internal && contains(local.allowed_cidrs, "0.0.0.0/0")) &&
      !(strcontains(var.authenticate, "download") && strcontains(var.authenticate, "list"))
    )
    error_message = "The ALB is internet-facing (and, when the module makes it, open to 0.0.0.0/0) while authenticate (\"${var.authenticate}\") lets anyone list or download: every package is public."
  }
}
