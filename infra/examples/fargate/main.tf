# Fargate behind an internet-facing ALB that admits named networks only (the office, the CI
# runners' NAT addresses); the password lives in a secret managed elsewhere; an admin role may
# mount the whole file system to bring back a restore from AWS Backup.
module "wheelhouse" {
  source = "../.."

  launch_type = "FARGATE"
  cpu         = 2048
  memory      = 4096

  vpc_id             = var.vpc_id
  alb_subnet_ids     = var.public_subnet_ids
  private_subnet_ids = var.private_subnet_ids
  internal           = false
  allowed_cidrs      = var.allowed_cidrs
  dns_name           = var.dns_name
  zone_id            = var.zone_id
  image              = var.image

  username            = "ci"
  password_secret_arn = var.password_secret_arn

  efs_admin_role_arns = var.efs_admin_role_arns

  alarm_sns_topic_arn = var.alarm_sns_topic_arn
  log_retention_days  = 90
}
