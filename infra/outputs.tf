output "pypi_server_urls" {
  description = "The index root and its PEP 503 simple API, e.g. for pip's --index-url."
  value       = ["https://${var.dns_name}/", "https://${var.dns_name}/simple/"]
}

output "pypi_username" {
  description = "User that pip and twine log in as."
  value       = var.username
}

output "pypi_password" {
  description = "Password of pypi_username when the module was given it; null with password_secret_arn (read the secret instead)."
  value       = var.password
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
  description = "EFS file system holding the packages (under /packages)."
  value       = aws_efs_file_system.this.id
}

output "efs_access_point_id" {
  description = "EFS access point the tasks mount."
  value       = aws_efs_access_point.this.id
}

output "target_group_arn" {
  description = "ALB target group of the tasks."
  value       = aws_lb_target_group.this.arn
}

output "alb_dns_name" {
  description = "DNS name of the ALB (dns_name is an alias of it)."
  value       = aws_lb.this.dns_name
}

output "asg_name" {
  description = "Auto Scaling group of the ECS instances; null with FARGATE."
  value       = local.fargate ? null : aws_autoscaling_group.this[0].name
}

output "log_group_name" {
  description = "CloudWatch log group of the containers."
  value       = aws_cloudwatch_log_group.this.name
}

output "cloudwatch_dashboard_url" {
  description = "Console URL of the CloudWatch dashboard."
  value       = "https://${local.region}.console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards/dashboard/${aws_cloudwatch_dashboard.this.dashboard_name}"
}
