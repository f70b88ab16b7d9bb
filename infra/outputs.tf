# Every output a runbook reads with `terraform output -raw` is a string: -raw refuses lists, maps
# and nulls. Root configurations re-export them under the same names (see examples/).

output "pypi_server_urls" {
  description = "JSON list of the index's host names with its path_prefix, e.g. [\"pypi.example.com\"] or [\"tools.example.com/pypi\"]: `terraform output -raw pypi_server_urls | jq -r '.[0]'` gives what to put after https:// (the URLs themselves are index_url and upload_url)."
  value       = jsonencode(["${var.dns_name}${local.path_prefix}"])
}

output "index_url" {
  description = "PEP 503 simple index, for pip's --index-url (add user:password@ when downloads need a login)."
  value       = "https://${var.dns_name}${local.path_prefix}/simple/"
}

output "upload_url" {
  description = "Upload URL, for twine's --repository-url and poetry's repository."
  value       = "https://${var.dns_name}${local.path_prefix}/"
}

output "pypi_username" {
  description = "User that pip and twine log in as."
  value       = var.username
}

output "pypi_password" {
  description = "Password of pypi_username: given as password, or read from password_secret_arn (null only with read_existing_password = false)."
  value       = local.password
  sensitive   = true
}

output "password_secret_arn" {
  description = "Secrets Manager secret the tasks read the password from."
  value       = local.secret_arn
}

output "ecs_cluster_name" {
  description = "ECS cluster of the service."
  value       = aws_ecs_cluster.this.name
}

output "ecs_service_name" {
  description = "ECS service running wheelhouse."
  value       = aws_ecs_service.this.name
}

output "efs_file_system_id" {
  description = "EFS file system holding the packages (under efs_root_directory)."
  value       = local.efs_id
}

output "efs_access_point_id" {
  description = "EFS access point the tasks mount."
  value       = aws_efs_access_point.this.id
}

output "target_group_arn" {
  description = "ALB target group of the tasks."
  value       = aws_lb_target_group.this.arn
}

output "target_group_arn_suffix" {
  description = "The TargetGroup dimension of the ALB's CloudWatch metrics."
  value       = aws_lb_target_group.this.arn_suffix
}

output "alb_arn_suffix" {
  description = "The LoadBalancer dimension of the ALB's CloudWatch metrics."
  value       = local.alb_arn_suffix
}

output "alb_dns_name" {
  description = "DNS name of the ALB (dns_name is an alias of it), the module's own or the shared one."
  value       = local.alb_dns_name
}

output "access_logs_bucket" {
  description = "S3 bucket of the ALB's access logs (under <name>/AWSLogs/<account>/elasticloadbalancing/)."
  value       = local.access_logs_bucket
}

output "task_security_group_id" {
  description = "Security group of the tasks (for an existing file system's mount targets, or a scraper's rules)."
  value       = aws_security_group.task.id
}

output "asg_name" {
  description = "Auto Scaling group of the ECS instances; empty with FARGATE."
  value       = local.fargate ? "" : aws_autoscaling_group.this[0].name
}

output "capacity" {
  description = "How the EC2 capacity adds up: tasks one instance holds (by CPU, memory and network interfaces), the tasks a deployment at max_tasks runs at once, and the Auto Scaling bounds. Zeros with FARGATE."
  value = {
    tasks_per_instance    = local.tasks_per_instance
    deployment_peak_tasks = local.deployment_peak_tasks
    instance_min_size     = local.instance_min_size
    instance_max_size     = local.instance_max_size
  }
}

output "server_environment" {
  description = "The WHEELHOUSE_* settings the tasks run with (not the secrets)."
  value       = local.environment
}

output "log_group_name" {
  description = "CloudWatch log group of the containers (JSON lines, one per request: CloudWatch Logs Insights)."
  value       = aws_cloudwatch_log_group.this.name
}

output "alarm_names" {
  description = "The CloudWatch alarms, by what they watch."
  value       = { for k, a in local.alarms : k => a.alarm_name }
}

output "cloudwatch_dashboard_url" {
  description = "Console URL of the CloudWatch dashboard."
  value       = "https://${local.region}.console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards/dashboard/${aws_cloudwatch_dashboard.this.dashboard_name}"
}
