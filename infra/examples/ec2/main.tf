# The default shape: an internal ALB (reachable through the VPC), a login for every action, tasks
# on an Auto Scaling group of ECS-optimized instances sized by the module, the module requesting
# the certificate and keeping the password in a new Secrets Manager secret.
module "wheelhouse" {
  source = "../.."

  vpc_id             = var.vpc_id
  alb_subnet_ids     = var.private_subnet_ids
  private_subnet_ids = var.private_subnet_ids
  dns_name           = var.dns_name
  zone_id            = var.zone_id
  image              = var.image

  username = "ci"
  password = var.password

  instance_type = "m6a.large"
  min_tasks     = 2
  max_tasks     = 8

  alarm_sns_topic_arn = var.alarm_sns_topic_arn

  tags = { team = "platform" }
}
