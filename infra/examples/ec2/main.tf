# The default shape: tasks on an Auto Scaling group of ECS-optimized instances, the module
# requesting the certificate and keeping the password in a new Secrets Manager secret.
module "wheelhouse" {
  source = "../.."

  vpc_id             = var.vpc_id
  public_subnet_ids  = var.public_subnet_ids
  private_subnet_ids = var.private_subnet_ids
  dns_name           = var.dns_name
  zone_id            = var.zone_id
  image              = var.image

  username = "ci"
  password = var.password

  instance_type     = "c6a.large"
  instance_min_size = 2
  instance_max_size = 4
  min_tasks         = 2
  max_tasks         = 4

  tags = { team = "platform" }
}

output "pypi_server_urls" {
  description = "Index URLs for pip and twine."
  value       = module.wheelhouse.pypi_server_urls
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

output "asg_name" {
  description = "Auto Scaling group of the ECS instances."
  value       = module.wheelhouse.asg_name
}

output "cloudwatch_dashboard_url" {
  description = "Dashboard of the deployment."
  value       = module.wheelhouse.cloudwatch_dashboard_url
}
