# Settings the module refuses at plan time, each with the check that names the problem.

mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks"
}

variables {
  vpc_id             = "vpc-0123abcd"
  alb_subnet_ids     = ["subnet-0aa", "subnet-0bb"]
  private_subnet_ids = ["subnet-0cc", "subnet-0dd", "subnet-0ee"]
  dns_name           = "pypi.example.com"
  zone_id            = "Z0123456789ABCDEFGHIJ"
  image              = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/wheelhouse:1.0.0"
  username           = "ci"
  password           = "correct-horse-battery-staple"
}

run "rejects_unknown_launch_type" {
  command = plan
  variables {
    launch_type = "LAMBDA"
  }
  expect_failures = [var.launch_type]
}

run "rejects_both_password_and_secret" {
  command = plan
  variables {
    password_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/pypi-XyZ123"
  }
  expect_failures = [aws_ecs_task_definition.this]
}

run "rejects_password_in_extra_environment" {
  command = plan
  variables {
    extra_environment = { WHEELHOUSE_PASSWORD = "oops-this-would-leak" }
  }
  expect_failures = [var.extra_environment]
}

run "rejects_a_module_setting_in_extra_environment" {
  command = plan
  variables {
    extra_environment = { WHEELHOUSE_TRUST_PROXY = "true" }
  }
  expect_failures = [var.extra_environment]
}

run "rejects_an_internet_facing_alb_without_allowed_cidrs" {
  command = plan
  variables {
    internal = false
  }
  expect_failures = [aws_lb.this]
}

run "warns_when_a_public_alb_serves_downloads_without_login" {
  command = plan
  variables {
    internal      = false
    allowed_cidrs = ["0.0.0.0/0"]
    authenticate  = "update"
  }
  expect_failures = [check.private_index]
}

run "rejects_a_keep_alive_not_above_the_idle_timeout" {
  command = plan
  variables {
    keep_alive_timeout = 120
  }
  expect_failures = [aws_ecs_task_definition.this]
}

run "rejects_an_idle_timeout_beyond_the_request_timeout" {
  command = plan
  variables {
    idle_timeout = 900
  }
  expect_failures = [aws_ecs_task_definition.this]
}

run "rejects_a_deregistration_delay_shorter_than_a_transfer" {
  command = plan
  variables {
    deregistration_delay = 15
  }
  expect_failures = [aws_lb_target_group.this]
}

run "rejects_a_stop_timeout_within_the_drain" {
  command = plan
  variables {
    stop_timeout = 25
  }
  expect_failures = [aws_ecs_task_definition.this]
}

run "rejects_a_zero_grace_period" {
  command = plan
  variables {
    health_check_grace_period_seconds = 0
  }
  expect_failures = [aws_ecs_service.this]
}

run "rejects_an_old_tls_policy" {
  command = plan
  variables {
    ssl_policy = "ELBSecurityPolicy-2016-08"
  }
  expect_failures = [var.ssl_policy]
}

run "rejects_trusting_no_proxy_hop" {
  command = plan
  variables {
    trusted_proxy_hops = 0
  }
  expect_failures = [var.trusted_proxy_hops]
}

run "rejects_a_task_larger_than_the_instance" {
  command = plan
  variables {
    cpu    = 4096
    memory = 8192
  }
  expect_failures = [aws_autoscaling_group.this]
}

run "rejects_too_few_instances_for_a_deployment" {
  command = plan
  variables {
    instance_max_size = 4
  }
  expect_failures = [aws_autoscaling_group.this]
}

run "rejects_a_memory_fargate_does_not_offer" {
  command = plan
  variables {
    launch_type = "FARGATE"
    memory      = 1024
  }
  expect_failures = [aws_ecs_task_definition.this]
}

run "rejects_provisioned_throughput_without_a_rate" {
  command = plan
  variables {
    efs_throughput_mode = "provisioned"
  }
  expect_failures = [aws_efs_file_system.this]
}

run "rejects_an_extra_secret_that_is_not_an_arn" {
  command = plan
  variables {
    extra_secrets = { WHEELHOUSE_HTPASSWD = "my-htpasswd" }
  }
  expect_failures = [var.extra_secrets]
}

run "rejects_an_existing_listener_without_a_path" {
  command = plan
  variables {
    existing_listener_arn  = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shared-tools/89abcdef01234567/2222222222222222"
    listener_rule_priority = 40
  }
  expect_failures = [aws_lb_target_group.this]
}

run "rejects_the_modules_own_alb_without_a_zone_or_a_certificate" {
  command = plan
  variables {
    zone_id = null
  }
  expect_failures = [aws_lb.this]
}

run "warns_when_a_shared_internet_facing_alb_serves_downloads_without_login" {
  command = plan
  variables {
    existing_listener_arn  = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shared-tools/89abcdef01234567/2222222222222222"
    path_prefix            = "/pypi"
    listener_rule_priority = 40
    authenticate           = "update"
  }
  override_data {
    target = data.aws_lb.existing
    values = { internal = false, security_groups = ["sg-0shared"], arn_suffix = "app/shared-tools/89abcdef01234567" }
  }
  expect_failures = [check.private_index]
}
