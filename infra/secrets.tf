resource "aws_secretsmanager_secret" "password" {
  count = local.create_secret ? 1 : 0

  name_prefix             = "${var.name}-password-"
  description             = "Password of the wheelhouse user ${var.username}"
  recovery_window_in_days = 7
  kms_key_id              = var.secret_kms_key_arn

  tags = local.tags
}

resource "aws_secretsmanager_secret_version" "password" {
  count = local.create_secret ? 1 : 0

  secret_id     = aws_secretsmanager_secret.password[0].id
  secret_string = var.password
}

# An existing secret is read so that pypi_password holds the password, as the runbooks expect
# (`terraform output -raw pypi_password`); read_existing_password = false keeps it out of the state.
data "aws_secretsmanager_secret_version" "existing_password" {
  count     = !local.create_secret && var.read_existing_password ? 1 : 0
  secret_id = var.password_secret_arn
}

locals {
  secret_arn = local.create_secret ? aws_secretsmanager_secret.password[0].arn : var.password_secret_arn
  # ECS reads one JSON key with "<arn>:<key>::" (the trailing fields are version stage and id).
  password_value_from = var.password_secret_key == null ? local.secret_arn : "${local.secret_arn}:${var.password_secret_key}::"

  password = (
    local.create_secret ? var.password :
    !var.read_existing_password ? null :
    var.password_secret_key == null ? data.aws_secretsmanager_secret_version.existing_password[0].secret_string :
    jsondecode(data.aws_secretsmanager_secret_version.existing_password[0].secret_string)[var.password_secret_key]
  )
}
