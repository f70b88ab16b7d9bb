# What the runbooks read with `terraform output -raw <name>`: plain strings, under the names they use.

output "pypi_server_urls" {
  description = "JSON list of the index's host names: terraform output -raw pypi_server_urls | jq -r '.[0]'."
  value       = module.wheelhouse.pypi_server_urls
}

output "index_url" {
  description = "pip --index-url."
  value       = module.wheelhouse.index_url
}

output "upload_url" {
  description = "twine --repository-url."
  value       = module.wheelhouse.upload_url
}

output "pypi_username" {
  description = "User to log in as."
  value       = module.wheelhouse.pypi_username
}

output "pypi_password" {
  description = "Password of that user."
  value       = module.wheelhouse.pypi_password
  sensitive   = true
}

output "password_secret_arn" {
  description = "Secrets Manager secret the tasks read the password from."
  value       = module.wheelhouse.password_secret_arn
}

output "ecs_cluster_name" {
  description = "ECS cluster."
  value       = module.wheelhouse.ecs_cluster_name
}

output "ecs_service_name" {
  description = "ECS service."
  value       = module.wheelhouse.ecs_service_name
}

output "efs_file_system_id" {
  description = "EFS file system of the packages."
  value       = module.wheelhouse.efs_file_system_id
}

output "target_group_arn" {
  description = "ALB target group of the tasks."
  value       = module.wheelhouse.target_group_arn
}

output "target_group_arn_suffix" {
  description = "TargetGroup dimension of the ALB metrics."
  value       = module.wheelhouse.target_group_arn_suffix
}

output "alb_arn_suffix" {
  description = "LoadBalancer dimension of the ALB metrics."
  value       = module.wheelhouse.alb_arn_suffix
}

output "log_group_name" {
  description = "CloudWatch log group of the tasks."
  value       = module.wheelhouse.log_group_name
}

output "access_logs_bucket" {
  description = "S3 bucket of the ALB access logs."
  value       = module.wheelhouse.access_logs_bucket
}

output "cloudwatch_dashboard_url" {
  description = "Dashboard of the deployment."
  value       = module.wheelhouse.cloudwatch_dashboard_url
}
