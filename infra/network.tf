# Rules are inline so each group is authoritative: a rule added by hand is removed on the next apply.

moved {
  from = aws_security_group.alb
  to   = aws_security_group.alb[0]
}

# Only for the module's own ALB: a shared one keeps its own groups.
resource "aws_security_group" "alb" {
  count = local.existing_alb ? 0 : 1

  name        = "${var.name}-alb"
  description = "wheelhouse ALB: HTTP and HTTPS from the allowed networks"
  vpc_id      = var.vpc_id

  ingress {
    description = "HTTP (redirected to HTTPS)"
    protocol    = "tcp"
    from_port   = 80
    to_port     = 80
    cidr_blocks = local.allowed_cidrs
  }

  ingress {
    description = "HTTPS"
    protocol    = "tcp"
    from_port   = 443
    to_port     = 443
    cidr_blocks = local.allowed_cidrs
  }

  # Open egress: narrowing it to the task group would make the two groups reference each other.
  egress {
    description = "To the targets"
    protocol    = "-1"
    from_port   = 0
    to_port     = 0
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = merge(local.tags, { Name = "${var.name}-alb" })
}

resource "aws_security_group" "task" {
  name        = "${var.name}-task"
  description = "wheelhouse tasks: port 8080 from the ALB (and direct_access_cidrs)"
  vpc_id      = var.vpc_id

  ingress {
    description     = "HTTP from the ALB"
    protocol        = "tcp"
    from_port       = local.container_port
    to_port         = local.container_port
    security_groups = local.alb_security_group_ids
  }

  dynamic "ingress" {
    for_each = length(var.direct_access_cidrs) > 0 ? [1] : []
    content {
      description = "HTTP from scrapers and operators (metrics, the health of one task)"
      protocol    = "tcp"
      from_port   = local.container_port
      to_port     = local.container_port
      cidr_blocks = var.direct_access_cidrs
    }
  }

  egress {
    description = "EFS, ECR, Secrets Manager, CloudWatch Logs, the upstream index"
    protocol    = "-1"
    from_port   = 0
    to_port     = 0
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = merge(local.tags, { Name = "${var.name}-task" })
}

resource "aws_security_group" "efs" {
  name        = "${var.name}-efs"
  description = "wheelhouse EFS: NFS from the tasks (and the admin groups) only"
  vpc_id      = var.vpc_id

  ingress {
    description     = "NFS from the tasks"
    protocol        = "tcp"
    from_port       = 2049
    to_port         = 2049
    security_groups = [aws_security_group.task.id]
  }

  dynamic "ingress" {
    for_each = length(var.efs_admin_security_group_ids) > 0 ? [1] : []
    content {
      description     = "NFS from administration (restores, migration)"
      protocol        = "tcp"
      from_port       = 2049
      to_port         = 2049
      security_groups = var.efs_admin_security_group_ids
    }
  }

  # No egress block: the module removes AWS's default allow-all; NFS replies need none.

  tags = merge(local.tags, { Name = "${var.name}-efs" })
}
