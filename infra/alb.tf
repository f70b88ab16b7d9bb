resource "aws_lb" "this" {
  name                       = "${var.name}-alb"
  load_balancer_type         = "application"
  internal                   = var.internal
  subnets                    = var.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  idle_timeout               = var.idle_timeout
  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection

  tags = local.tags
}

resource "aws_lb_target_group" "this" {
  name        = "${var.name}-tg"
  port        = local.container_port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id

  # Tasks drain their own connections on SIGTERM; waiting the 300 s default only slows deployments.
  deregistration_delay = 15
  # Downloads and index pages differ widely in cost; send each request to the least busy task.
  load_balancing_algorithm_type = "least_outstanding_requests"

  # /health answers from memory (the last poll of the generation file), so a check every 10 s
  # costs nothing and still fails a task whose volume has gone away.
  health_check {
    enabled             = true
    path                = "/health"
    protocol            = "HTTP"
    port                = "traffic-port"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  # Every task serves the same index from the shared volume, so no client needs to come back to
  # the same task. Pinning would keep a burst on the tasks that answered first and give tasks
  # added by autoscaling no share of it.
  stickiness {
    enabled = false
    type    = "lb_cookie"
  }

  tags = local.tags
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }

  tags = local.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = local.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = local.tags
}
