# Fargate: no instances to manage; the password lives in a secret managed elsewhere.
module "wheelhouse" {
  source = "../.."

  launch_type = "FARGATE"
  cpu         = 2048
  memory      = 4096

  vpc_id             = var.vpc_id
  public_subnet_ids  = var.public_subnet_ids
  private_subnet_ids = var.private_subnet_ids
  dns_name           = var.dns_name
  zone_id            = var.zone_id
  image              = var.image

  username            = "ci"
  password_secret_arn = var.password_secret_arn

  # Installs need a login too, not only uploads.
  authenticate        = "download,list,update"
  alarm_sns_topic_arn = var.alarm_sns_topic_arn
  log_retention_days  = 90
}

output "pypi_server_urls" {
  description = "Index URLs for pip and twine."
  value       = module.wheelhouse.pypi_server_urls
}

output "ecs_service_name" {
  description = "ECS service running wheelhouse."
  value       = module.wheelhouse.ecs_service_name
}

output "cloudwatch_dashboard_url" {
  description = "Dashboard of the deployment."
  value       = module.wheelhouse.cloudwatch_dashboard_url
}
