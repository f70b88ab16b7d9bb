locals {
  alarm_actions = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
  region        = data.aws_region.current.name

  # ALB metrics per load balancer (what the ALB itself answers) and per target group (what the
  # tasks answer). A target metric without TargetGroup is a different, coarser series.
  alb_dimensions     = { LoadBalancer = local.alb_arn_suffix }
  tg_dimensions      = { LoadBalancer = local.alb_arn_suffix, TargetGroup = aws_lb_target_group.this.arn_suffix }
  service_dimensions = { ClusterName = aws_ecs_cluster.this.name, ServiceName = aws_ecs_service.this.name }

  min_healthy_tasks = coalesce(var.alarm_min_healthy_tasks, var.min_tasks)
}

resource "aws_cloudwatch_metric_alarm" "target_5xx_rate" {
  alarm_name          = "${var.name}-target-5xx-rate"
  alarm_description   = "More than ${var.alarm_5xx_percent}% of requests answered 5xx by wheelhouse tasks"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_5xx_percent
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  # No traffic is not an outage.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions

  metric_query {
    id          = "rate"
    expression  = "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)"
    label       = "Target 5xx (% of requests)"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = local.tg_dimensions
      stat        = "Sum"
      period      = 60
    }
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = local.tg_dimensions
      stat        = "Sum"
      period      = 60
    }
  }

  tags = local.tags
}

# The ALB's own 502 (a task closed the connection), 503 (no task to send to) and 504 (a task did
# not answer in time): none of them reach a task, so the target 5xx count never shows them, and
# RequestCount leaves out requests that found no target, hence the sum below.
resource "aws_cloudwatch_metric_alarm" "elb_5xx_rate" {
  alarm_name          = "${var.name}-elb-5xx-rate"
  alarm_description   = "More than ${var.alarm_elb_5xx_percent}% of requests answered 502/503/504 by the ALB itself"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_elb_5xx_percent
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "rate"
    expression  = "IF(FILL(requests, 0) + FILL(errors, 0) > 0, 100 * FILL(errors, 0) / (FILL(requests, 0) + FILL(errors, 0)), 0)"
    label       = "ALB 5xx (% of requests)"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = local.alb_dimensions
      stat        = "Sum"
      period      = 60
    }
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = local.alb_dimensions
      stat        = "Sum"
      period      = 60
    }
  }

  tags = local.tags
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  alarm_name          = "${var.name}-unhealthy-hosts"
  alarm_description   = "At least one wheelhouse task fails the ALB health check (/health)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = local.tg_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# Fewer healthy tasks than the service's minimum. The ALB stops reporting the metric when nothing
# is registered, so no data is the worst case, not a quiet one.
resource "aws_cloudwatch_metric_alarm" "healthy_hosts_low" {
  alarm_name          = "${var.name}-healthy-hosts-low"
  alarm_description   = "Fewer than ${local.min_healthy_tasks} wheelhouse tasks pass the ALB health check"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  dimensions          = local.tg_dimensions
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  comparison_operator = "LessThanThreshold"
  threshold           = local.min_healthy_tasks
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# No task running at all (crash loop, capacity gone, image unpullable). Container Insights stops
# sending the metric when the service has no task, so missing data breaches.
resource "aws_cloudwatch_metric_alarm" "no_running_tasks" {
  alarm_name          = "${var.name}-no-running-tasks"
  alarm_description   = "The wheelhouse service has no running task"
  namespace           = "ECS/ContainerInsights"
  metric_name         = "RunningTaskCount"
  dimensions          = local.service_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "response_time_p95" {
  alarm_name          = "${var.name}-response-time-p95"
  alarm_description   = "p95 target response time above ${var.alarm_p95_seconds} s"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = local.tg_dimensions
  extended_statistic  = "p95"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_p95_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# The service's memory metric exists only per cluster and service: ServiceName alone matches nothing.
resource "aws_cloudwatch_metric_alarm" "memory_high" {
  alarm_name          = "${var.name}-memory-high"
  alarm_description   = "The busiest wheelhouse task uses more than ${var.alarm_memory_percent}% of its memory"
  namespace           = "AWS/ECS"
  metric_name         = "MemoryUtilization"
  dimensions          = local.service_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_memory_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# The general purpose mode's operations-per-second ceiling: index pages cost no EFS operation,
# but downloads, uploads and rescans do.
resource "aws_cloudwatch_metric_alarm" "efs_io_limit" {
  alarm_name          = "${var.name}-efs-io-limit"
  alarm_description   = "EFS is near its I/O operations limit (PercentIOLimit above ${var.alarm_efs_io_percent}%)"
  namespace           = "AWS/EFS"
  metric_name         = "PercentIOLimit"
  dimensions          = { FileSystemId = local.efs_id }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_efs_io_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# Bursting throughput runs on a credit balance; when it is spent, throughput falls to the
# baseline of the stored size (50 KiB/s per GiB), which a burst of installs feels at once.
resource "aws_cloudwatch_metric_alarm" "efs_burst_credits" {
  count = local.efs_throughput_mode == "bursting" ? 1 : 0

  alarm_name          = "${var.name}-efs-burst-credits"
  alarm_description   = "EFS burst credit balance below ${var.alarm_efs_burst_credit_gib} GiB"
  namespace           = "AWS/EFS"
  metric_name         = "BurstCreditBalance"
  dimensions          = { FileSystemId = local.efs_id }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = var.alarm_efs_burst_credit_gib * 1024 * 1024 * 1024
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

locals {
  alarms = merge(
    {
      target_5xx_rate   = aws_cloudwatch_metric_alarm.target_5xx_rate
      elb_5xx_rate      = aws_cloudwatch_metric_alarm.elb_5xx_rate
      unhealthy_hosts   = aws_cloudwatch_metric_alarm.unhealthy_hosts
      healthy_hosts_low = aws_cloudwatch_metric_alarm.healthy_hosts_low
      no_running_tasks  = aws_cloudwatch_metric_alarm.no_running_tasks
      response_time_p95 = aws_cloudwatch_metric_alarm.response_time_p95
      memory_high       = aws_cloudwatch_metric_alarm.memory_high
      efs_io_limit      = aws_cloudwatch_metric_alarm.efs_io_limit
    },
    local.efs_throughput_mode == "bursting" ? { efs_burst_credits = aws_cloudwatch_metric_alarm.efs_burst_credits[0] } : {},
  )
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name

  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title  = "Requests, task 5xx and ALB 5xx"
          region = local.region
          stat   = "Sum"
          period = 60
          metrics = [
            ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", local.alb_arn_suffix],
            [".", "HTTPCode_ELB_5XX_Count", ".", ".", { yAxis = "right" }],
            [".", "HTTPCode_Target_5XX_Count", "LoadBalancer", local.alb_arn_suffix, "TargetGroup", aws_lb_target_group.this.arn_suffix, { yAxis = "right" }],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title  = "Target response time"
          region = local.region
          period = 60
          metrics = [
            ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", local.alb_arn_suffix, "TargetGroup", aws_lb_target_group.this.arn_suffix, { stat = "p50" }],
            ["...", { stat = "p95" }],
            ["...", { stat = "p99" }],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title  = "Healthy, unhealthy and running tasks"
          region = local.region
          stat   = "Maximum"
          period = 60
          metrics = [
            ["AWS/ApplicationELB", "HealthyHostCount", "LoadBalancer", local.alb_arn_suffix, "TargetGroup", aws_lb_target_group.this.arn_suffix],
            [".", "UnHealthyHostCount", ".", ".", ".", "."],
            ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", aws_ecs_cluster.this.name, "ServiceName", aws_ecs_service.this.name],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title  = "Service CPU and memory (%)"
          region = local.region
          period = 60
          metrics = [
            ["AWS/ECS", "CPUUtilization", "ClusterName", aws_ecs_cluster.this.name, "ServiceName", aws_ecs_service.this.name, { stat = "Average" }],
            [".", "MemoryUtilization", ".", ".", ".", ".", { stat = "Maximum" }],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 12, height = 6
        properties = {
          title  = "EFS PercentIOLimit and burst credits"
          region = local.region
          stat   = "Maximum"
          period = 60
          metrics = [
            ["AWS/EFS", "PercentIOLimit", "FileSystemId", local.efs_id],
            [".", "BurstCreditBalance", ".", ".", { yAxis = "right", stat = "Minimum" }],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 12, width = 12, height = 6
        properties = {
          title  = "EFS throughput (bytes)"
          region = local.region
          stat   = "Sum"
          period = 60
          metrics = [
            ["AWS/EFS", "MeteredIOBytes", "FileSystemId", local.efs_id],
            [".", "DataReadIOBytes", ".", "."],
            [".", "DataWriteIOBytes", ".", "."],
          ]
        }
      },
      {
        type = "alarm", x = 0, y = 18, width = 24, height = 3
        properties = {
          title  = "Alarms"
          alarms = [for k, a in local.alarms : a.arn]
        }
      },
    ]
  })
}
