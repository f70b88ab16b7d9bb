locals {
  create_efs = var.efs_file_system_id == null
  efs_id     = local.create_efs ? aws_efs_file_system.this[0].id : var.efs_file_system_id
  efs_arn    = local.create_efs ? aws_efs_file_system.this[0].arn : data.aws_efs_file_system.existing[0].arn
  # What the burst-credit alarm follows: the mode of the file system actually served.
  efs_throughput_mode = local.create_efs ? var.efs_throughput_mode : data.aws_efs_file_system.existing[0].throughput_mode
}

data "aws_efs_file_system" "existing" {
  count          = local.create_efs ? 0 : 1
  file_system_id = var.efs_file_system_id
}

resource "aws_efs_file_system" "this" {
  count = local.create_efs ? 1 : 0

  creation_token = var.name
  encrypted      = true
  kms_key_id     = var.efs_kms_key_arn
  # Elastic (the default) follows the burst of a 500-client install without a credit balance to
  # run dry; bursting and provisioned are there for accounts that price it otherwise.
  throughput_mode                 = var.efs_throughput_mode
  provisioned_throughput_in_mibps = var.efs_throughput_mode == "provisioned" ? var.efs_provisioned_throughput_mibps : null
  performance_mode                = "generalPurpose"

  tags = merge(local.tags, { Name = var.name })

  lifecycle {
    precondition {
      condition     = var.efs_throughput_mode != "provisioned" || var.efs_provisioned_throughput_mibps != null
      error_message = "efs_throughput_mode = \"provisioned\" needs efs_provisioned_throughput_mibps."
    }
  }
}

moved {
  from = aws_efs_file_system.this
  to   = aws_efs_file_system.this[0]
}

resource "aws_efs_backup_policy" "this" {
  file_system_id = local.efs_id

  backup_policy {
    status = var.efs_backup ? "ENABLED" : "DISABLED"
  }
}

resource "aws_efs_mount_target" "this" {
  for_each = var.efs_create_mount_targets ? toset(var.private_subnet_ids) : toset([])

  file_system_id  = local.efs_id
  subnet_id       = each.value
  security_groups = [aws_security_group.efs.id]
}

# Tasks see efs_root_directory (/packages) of the file system as their root, as uid/gid 1000 (the
# image's node user), whatever user the process runs as, so files written by any task stay
# readable by all.
resource "aws_efs_access_point" "this" {
  file_system_id = local.efs_id

  posix_user {
    uid = 1000
    gid = 1000
  }

  root_directory {
    path = var.efs_root_directory

    creation_info {
      owner_uid   = 1000
      owner_gid   = 1000
      permissions = "0755"
    }
  }

  tags = merge(local.tags, { Name = "${var.name}-packages" })
}

# Once a file system policy exists, anonymous NFS mounts stop working: the task role gets in over
# TLS through the access point only; the admin roles (if any) over TLS anywhere, as root, for
# restores from AWS Backup (which land in a directory at the top) and migrations.
resource "aws_efs_file_system_policy" "this" {
  file_system_id = local.efs_id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid       = "DenyWithoutTls"
          Effect    = "Deny"
          Principal = { AWS = "*" }
          Action    = "*"
          Resource  = local.efs_arn
          Condition = { Bool = { "aws:SecureTransport" = "false" } }
        },
        {
          Sid       = "TaskThroughAccessPoint"
          Effect    = "Allow"
          Principal = { AWS = aws_iam_role.task.arn }
          Action    = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
          Resource  = local.efs_arn
          Condition = { StringEquals = { "elasticfilesystem:AccessPointArn" = aws_efs_access_point.this.arn } }
        },
      ],
      length(var.efs_admin_role_arns) == 0 ? [] : [{
        Sid       = "AdminAsRoot"
        Effect    = "Allow"
        Principal = { AWS = var.efs_admin_role_arns }
        Action    = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"]
        Resource  = local.efs_arn
      }],
    )
  })
}
