resource "aws_secretsmanager_secret" "password" {
  count = local.create_secret ? 1 : 0

  name_prefix             = "${var.name}-password-"
  description             = "Password of the wheelhouse user ${var.username}"
  recovery_window_in_days = 7

  tags = local.tags
}

resource "aws_secretsmanager_secret_version" "password" {
  count = local.create_secret ? 1 : 0

  secret_id     = aws_secretsmanager_secret.password[0].id
  secret_string = var.password
}

locals {
  secret_arn = local.create_secret ? aws_secretsmanager_secret.password[0].arn : var.password_secret_arn
  # ECS reads one JSON key with "<arn>:<key>::" (the trailing fields are version stage and id).
  password_value_from = var.password_secret_key == null ? local.secret_arn : "${local.secret_arn}:${var.password_secret_key}::"
}
