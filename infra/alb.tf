resource "aws_lb" "this" {
  name                       = "${var.name}-alb"
  load_balancer_type         = "application"
  internal                   = var.internal
  subnets                    = var.alb_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  idle_timeout               = var.idle_timeout
  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection
  # The ALB appends the address it saw to X-Forwarded-For; the tasks trust exactly that many
  # entries from the right (WHEELHOUSE_TRUST_PROXY), so whatever a client wrote there itself
  # stays to the left and is never taken for its address.
  xff_header_processing_mode = "append"

  # Who sent what, when, with which status and user agent: the record that finds an
  # overzealous client even when the tasks' own logs are off or rotated out.
  access_logs {
    bucket  = local.access_logs_bucket
    prefix  = var.name
    enabled = true
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = var.internal || var.allowed_cidrs != null
      error_message = "An internet-facing ALB (internal = false) needs allowed_cidrs: name the networks that may reach the index (0.0.0.0/0 only on purpose)."
    }
  }

  # The ALB checks at creation that it may write to the bucket.
  depends_on = [aws_s3_bucket_policy.access_logs]
}

resource "aws_lb_target_group" "this" {
  name        = "${var.name}-tg"
  port        = local.container_port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id

  # A task leaving the service (deployment, scale-in) is taken out of rotation first and stopped
  # only after this delay, so every transfer in flight can finish; it ends sooner when the task
  # has nothing in flight. The task's own drain on SIGTERM comes after it.
  deregistration_delay = local.deregistration_delay
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
    interval            = local.health_check_interval
    timeout             = 5
    healthy_threshold   = local.healthy_threshold
    unhealthy_threshold = local.unhealthy_threshold
  }

  # Every task serves the same index from the shared volume, so no client needs to come back to
  # the same task. Pinning would keep a burst on the tasks that answered first and give tasks
  # added by autoscaling no share of it.
  stickiness {
    enabled = false
    type    = "lb_cookie"
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = local.deregistration_delay >= var.max_transfer_seconds
      error_message = "deregistration_delay (${local.deregistration_delay} s) must be at least max_transfer_seconds (${var.max_transfer_seconds} s), or deployments and scale-in cut transfers short."
    }
  }
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

locals {
  # /metrics tells whoever reads it the projects' traffic, the users' login counts and the
  # volume's size: it is for a scraper inside the network (direct_access_cidrs), never for the
  # listener. The router behind it decodes percent-escapes before matching, so /%6Detrics is
  # /metrics too, while the ALB matches the path as sent: any path whose first segment starts
  # with an escape within its first seven characters is refused as well (no project name, file
  # or route of the index begins that way), and so is a raw fragment (/metrics#x), which the
  # router drops. test/infra/metrics-route.test.ts asks the real server
  # every spelling of /metrics and checks that each one it answers is matched here. An ALB rule
  # takes three patterns per condition and five wildcards, hence three rules.
  metrics_path_patterns = [
    ["/metrics", "/%*", "/m%*"],
    ["/me%*", "/met%*", "/metr%*"],
    ["/metri%*", "/metric%*", "/metrics#*"],
  ]
}

resource "aws_lb_listener_rule" "no_metrics" {
  count = length(local.metrics_path_patterns)

  listener_arn = aws_lb_listener.https.arn
  priority     = 1 + count.index

  action {
    type = "fixed-response"

    fixed_response {
      content_type = "text/plain"
      message_body = "Not Found"
      status_code  = "404"
    }
  }

  condition {
    path_pattern {
      values = local.metrics_path_patterns[count.index]
    }
  }

  tags = local.tags
}
