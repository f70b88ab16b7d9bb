# EC2 capacity (the default): an Auto Scaling group of ECS-optimized instances that the
# capacity provider grows and shrinks to fit the tasks. Nothing here exists with FARGATE.

data "aws_ssm_parameter" "ecs_ami" {
  count = local.fargate ? 0 : 1
  name  = "/aws/service/ecs/optimized-ami/amazon-linux-2023/${var.cpu_architecture == "ARM64" ? "arm64/" : ""}recommended/image_id"
}

# How many tasks one instance holds, from the instance type itself: the ECS agent places a task
# only where its CPU units, its memory and a network interface (awsvpc) are all free.
data "aws_ec2_instance_type" "this" {
  count         = local.fargate ? 0 : 1
  instance_type = var.instance_type
}

locals {
  instance_vcpus = local.fargate ? 0 : data.aws_ec2_instance_type.this[0].default_vcpus
  instance_mib   = local.fargate ? 0 : data.aws_ec2_instance_type.this[0].memory_size
  # The agent registers less than the type's nominal memory (kernel, platform: AWS's own example
  # is an 8 GiB m4.large registering 7985 MiB, 2.5% less), then keeps ECS_RESERVED_MEMORY back.
  instance_task_mib = floor(local.instance_mib * 0.97) - var.instance_reserved_memory
  # Each awsvpc task takes an interface of its own; the instance keeps its primary one.
  instance_task_enis = local.fargate ? 0 : coalesce(var.task_enis_per_instance, data.aws_ec2_instance_type.this[0].maximum_network_interfaces - 1)

  tasks_per_instance = local.fargate ? 0 : max(0, min(
    floor(local.instance_vcpus * 1024 / var.cpu),
    floor(local.instance_task_mib / var.memory),
    local.instance_task_enis,
  ))
  # A deployment starts its new tasks beside the old ones.
  deployment_peak_tasks = ceil(var.max_tasks * var.deployment_maximum_percent / 100)

  instance_max_size = local.fargate ? 0 : coalesce(var.instance_max_size, ceil(local.deployment_peak_tasks / max(1, local.tasks_per_instance)))
  # Enough for min_tasks, spread over the zones: one instance per zone up to min_tasks.
  instance_min_size = local.fargate ? 0 : coalesce(var.instance_min_size, max(
    ceil(var.min_tasks / max(1, local.tasks_per_instance)),
    min(var.min_tasks, length(var.private_subnet_ids)),
  ))
}

resource "aws_iam_role" "instance" {
  count = local.fargate ? 0 : 1

  name_prefix = "${var.name}-instance-"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy_attachment" "instance" {
  for_each = local.fargate ? toset([]) : toset([
    "service-role/AmazonEC2ContainerServiceforEC2Role",
    "AmazonSSMManagedInstanceCore",
  ])

  role       = aws_iam_role.instance[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/${each.value}"
}

resource "aws_iam_instance_profile" "instance" {
  count = local.fargate ? 0 : 1

  name_prefix = "${var.name}-instance-"
  role        = aws_iam_role.instance[0].name
  tags        = local.tags
}

resource "aws_security_group" "instance" {
  count = local.fargate ? 0 : 1

  name        = "${var.name}-instance"
  description = "wheelhouse ECS instances: no inbound; tasks have their own ENIs and group"
  vpc_id      = var.vpc_id

  egress {
    description = "ECS control plane, ECR, SSM"
    protocol    = "-1"
    from_port   = 0
    to_port     = 0
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = merge(local.tags, { Name = "${var.name}-instance" })
}

resource "aws_launch_template" "this" {
  count = local.fargate ? 0 : 1

  name_prefix            = "${var.name}-"
  image_id               = data.aws_ssm_parameter.ecs_ami[0].insecure_value
  instance_type          = var.instance_type
  vpc_security_group_ids = [aws_security_group.instance[0].id]
  update_default_version = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.instance[0].arn
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = 30
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  # ECS_AWSVPC_BLOCK_IMDS keeps tasks from borrowing the instance role through the metadata service.
  user_data = base64encode(<<-EOT
    #!/bin/bash
    cat >> /etc/ecs/ecs.config <<'CONFIG'
    ECS_CLUSTER=${aws_ecs_cluster.this.name}
    ECS_AWSVPC_BLOCK_IMDS=true
    ECS_ENABLE_CONTAINER_METADATA=true
    ECS_RESERVED_MEMORY=${var.instance_reserved_memory}
    CONFIG
  EOT
  )

  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.tags, { Name = "${var.name}-ecs" })
  }

  tags = local.tags
}

resource "aws_autoscaling_group" "this" {
  count = local.fargate ? 0 : 1

  name                = "${var.name}-ecs"
  vpc_zone_identifier = var.private_subnet_ids
  min_size            = local.instance_min_size
  max_size            = local.instance_max_size
  health_check_type   = "EC2"
  # Managed termination protection needs it: ECS decides which instance may go.
  protect_from_scale_in = true

  launch_template {
    id      = aws_launch_template.this[0].id
    version = aws_launch_template.this[0].latest_version
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
      # Every instance is scale-in protected (see above); without this a refresh would skip them all.
      scale_in_protected_instances = "Refresh"
    }
  }

  tag {
    key                 = "AmazonECSManaged"
    value               = "true"
    propagate_at_launch = true
  }

  dynamic "tag" {
    for_each = local.tags
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  # The capacity provider's managed scaling moves desired capacity.
  lifecycle {
    ignore_changes = [desired_capacity]

    precondition {
      condition     = local.tasks_per_instance >= 1
      error_message = "A task of ${var.cpu} CPU units and ${var.memory} MiB does not fit a ${var.instance_type} (${local.instance_vcpus * 1024} CPU units, about ${local.instance_task_mib} MiB for tasks, ${local.instance_task_enis} interfaces for tasks): choose a larger instance_type or a smaller task."
    }
    precondition {
      condition     = local.instance_max_size * local.tasks_per_instance >= local.deployment_peak_tasks
      error_message = "max_tasks ${var.max_tasks} at deployment_maximum_percent ${var.deployment_maximum_percent} needs ${local.deployment_peak_tasks} tasks at once, but ${local.instance_max_size} ${var.instance_type} instances hold ${local.instance_max_size * local.tasks_per_instance} (${local.tasks_per_instance} each): raise instance_max_size (or leave it null)."
    }
    precondition {
      condition     = local.instance_min_size <= local.instance_max_size
      error_message = "instance_min_size must not exceed instance_max_size."
    }
  }
}

resource "aws_ecs_capacity_provider" "this" {
  count = local.fargate ? 0 : 1

  name = "${var.name}-ec2"

  auto_scaling_group_provider {
    auto_scaling_group_arn         = aws_autoscaling_group.this[0].arn
    managed_termination_protection = "ENABLED"
    managed_draining               = "ENABLED"

    managed_scaling {
      status                    = "ENABLED"
      target_capacity           = 100
      minimum_scaling_step_size = 1
      maximum_scaling_step_size = 2
    }
  }

  tags = local.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  count = local.fargate ? 0 : 1

  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = [aws_ecs_capacity_provider.this[0].name]

  default_capacity_provider_strategy {
    capacity_provider = aws_ecs_capacity_provider.this[0].name
    weight            = 1
    base              = 0
  }
}
