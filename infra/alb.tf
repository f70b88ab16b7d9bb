locals {
  # With an existing listener the module makes no load balancer: it adds rules to that one.
  existing_alb = var.existing_listener_arn != null
  path_prefix  = var.path_prefix == null ? "" : var.path_prefix

  listener_arn           = local.existing_alb ? var.existing_listener_arn : aws_lb_listener.https[0].arn
  alb_arn_suffix         = local.existing_alb ? data.aws_lb.existing[0].arn_suffix : aws_lb.this[0].arn_suffix
  alb_dns_name           = local.existing_alb ? data.aws_lb.existing[0].dns_name : aws_lb.this[0].dns_name
  alb_security_group_ids = local.existing_alb ? tolist(data.aws_lb.existing[0].security_groups) : [aws_security_group.alb[0].id]
  # The module's own rules come first on its own listener; on a shared one, where the operator says.
  rule_priority = local.existing_alb ? coalesce(var.listener_rule_priority, 1) : 1
}

data "aws_lb_listener" "existing" {
  count = local.existing_alb ? 1 : 0
  arn   = var.existing_listener_arn
}

data "aws_lb" "existing" {
  count = local.existing_alb ? 1 : 0
  arn   = data.aws_lb_listener.existing[0].load_balancer_arn
}

# The resources below were single before a shared ALB was possible: their state moves, not the ALB.
moved {
  from = aws_lb.this
  to   = aws_lb.this[0]
}

moved {
  from = aws_lb_listener.http
  to   = aws_lb_listener.http[0]
}

moved {
  from = aws_lb_listener.https
  to   = aws_lb_listener.https[0]
}

resource "aws_lb" "this" {
  count = local.existing_alb ? 0 : 1

  name                       = "${var.name}-alb"
  load_balancer_type         = "application"
  internal                   = var.internal
  subnets                    = var.alb_subnet_ids
  security_groups            = [aws_security_group.alb[0].id]
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
    precondition {
      condition     = var.alb_subnet_ids != null
      error_message = "The module's own ALB needs alb_subnet_ids (or give existing_listener_arn to use an ALB you already run)."
    }
    precondition {
      condition     = var.zone_id != null || var.certificate_arn != null
      error_message = "The module's own ALB needs a certificate: give zone_id (one is requested and validated there) or certificate_arn."
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
    path                = "${local.path_prefix}/health"
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
      condition     = !local.existing_alb || (var.path_prefix != null && var.listener_rule_priority != null)
      error_message = "With existing_listener_arn, give path_prefix (the path the index takes on the shared host, e.g. /pypi) and listener_rule_priority (the first of four free rule priorities on that listener)."
    }
    precondition {
      condition     = local.existing_alb || var.listener_rule_priority == null
      error_message = "listener_rule_priority only applies to an existing listener (existing_listener_arn)."
    }
    precondition {
      condition     = local.deregistration_delay >= var.max_transfer_seconds
      error_message = "deregistration_delay (${local.deregistration_delay} s) must be at least max_transfer_seconds (${var.max_transfer_seconds} s), or deployments and scale-in cut transfers short."
    }
  }
}

resource "aws_lb_listener" "http" {
  count = local.existing_alb ? 0 : 1

  load_balancer_arn = aws_lb.this[0].arn
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
  count = local.existing_alb ? 0 : 1

  load_balancer_arn = aws_lb.this[0].arn
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
  # takes three patterns per condition and five wildcards, hence three rules. Under path_prefix
  # the server strips the prefix as sent (an escaped prefix is not the prefix), and the patterns
  # follow it.
  metrics_path_suffixes = [
    ["/metrics", "/%*", "/m%*"],
    ["/me%*", "/met%*", "/metr%*"],
    ["/metri%*", "/metric%*", "/metrics#*"],
  ]
  metrics_path_patterns = [for rule in local.metrics_path_suffixes : [for p in rule : "${local.path_prefix}${p}"]]
}

resource "aws_lb_listener_rule" "no_metrics" {
  count = length(local.metrics_path_patterns)

  listener_arn = local.listener_arn
  priority     = local.rule_priority + count.index

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

# On a shared listener: the index's host and path go to its tasks. The default action and the
# other services' rules are the listener owner's.
resource "aws_lb_listener_rule" "forward" {
  count = local.existing_alb ? 1 : 0

  listener_arn = var.existing_listener_arn
  # After the three /metrics refusals, so they are matched first.
  priority = local.rule_priority + length(local.metrics_path_patterns)

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  condition {
    host_header {
      values = [var.dns_name]
    }
  }

  # Trusted publishing's clients ask at the root of the host (https://<host>/_/oidc/...), whatever
  # path the upload URL has, so that path comes here too when publishers are configured.
  condition {
    path_pattern {
      values = concat([local.path_prefix, "${local.path_prefix}/*"], var.trusted_publishers_json_arn == null ? [] : ["/_/oidc/*"])
    }
  }

  tags = local.tags
}
