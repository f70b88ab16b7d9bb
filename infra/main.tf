data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  fargate        = var.launch_type == "FARGATE"
  container_name = "wheelhouse"
  container_port = 8080
  mount_path     = "/data/packages"
  create_cert    = var.certificate_arn == null
  create_secret  = var.password_secret_arn == null

  # ECS shows the host's CPU count to Node, not the task's share; derive workers from the task size instead.
  workers = var.workers != null ? var.workers : max(1, floor(var.cpu / 1024))

  tags = merge({ "app" = "wheelhouse", "wheelhouse:name" = var.name }, var.tags)
}

resource "aws_ecs_cluster" "this" {
  name = var.name

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
