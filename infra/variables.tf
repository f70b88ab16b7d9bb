# ---------------------------------------------------------------------------
# Naming and placement
# ---------------------------------------------------------------------------

variable "name" {
  description = "Prefix of every resource name (cluster, service, ALB, EFS, log group, alarms)."
  type        = string
  default     = "wheelhouse"

  validation {
    # ALB and target group names allow 32 characters; "-tg" and "-alb" suffixes need room.
    condition     = can(regex("^[a-z][a-z0-9-]{0,27}$", var.name))
    error_message = "name must be 1-28 characters of lowercase letters, digits and hyphens, starting with a letter."
  }

  validation {
    # ECS reserves these prefixes for capacity provider names.
    condition     = !startswith(var.name, "aws") && !startswith(var.name, "ecs") && !startswith(var.name, "fargate")
    error_message = "name must not start with aws, ecs or fargate."
  }
}

variable "tags" {
  description = "Tags added to every resource that takes tags."
  type        = map(string)
  default     = {}
}

variable "vpc_id" {
  description = "VPC that holds the ALB, the tasks and the EFS mount targets."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123abcd."
  }
}

variable "public_subnet_ids" {
  description = "Subnets of the ALB (public ones for an internet-facing ALB, at least two Availability Zones)."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2 && alltrue([for s in var.public_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "public_subnet_ids needs at least two subnet-... ids (an ALB spans two Availability Zones or more)."
  }
}

variable "private_subnet_ids" {
  description = "Subnets of the tasks (and EC2 instances); one EFS mount target is made in each. One subnet per Availability Zone: EFS allows a single mount target per zone."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 1 && alltrue([for s in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "private_subnet_ids needs at least one subnet-... id."
  }
}

variable "internal" {
  description = "Make the ALB internal (reachable only inside the VPC) instead of internet-facing."
  type        = bool
  default     = false
}

variable "allowed_cidrs" {
  description = "IPv4 CIDR blocks allowed to reach the ALB on ports 80 and 443."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.allowed_cidrs) > 0 && alltrue([for c in var.allowed_cidrs : can(cidrnetmask(c))])
    error_message = "allowed_cidrs must hold at least one valid IPv4 CIDR block such as 10.0.0.0/8."
  }
}

# ---------------------------------------------------------------------------
# DNS and TLS
# ---------------------------------------------------------------------------

variable "dns_name" {
  description = "Fully qualified name clients use, e.g. pypi.example.com. An alias record is made for it in zone_id."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.dns_name))
    error_message = "dns_name must be a lowercase fully qualified domain name without a trailing dot, e.g. pypi.example.com."
  }
}

variable "zone_id" {
  description = "Route 53 hosted zone that holds dns_name (and the certificate's validation record)."
  type        = string

  validation {
    condition     = can(regex("^Z[A-Z0-9]{4,32}$", var.zone_id))
    error_message = "zone_id must be a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ."
  }
}

variable "certificate_arn" {
  description = "An existing ACM certificate for dns_name. When null, one is requested and validated through Route 53 in zone_id."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "idle_timeout" {
  description = "ALB idle timeout in seconds. Uploads of large distributions and slow downloads over thin links need more than the 60 s default."
  type        = number
  default     = 900

  validation {
    condition     = var.idle_timeout >= 60 && var.idle_timeout <= 4000
    error_message = "idle_timeout must be between 60 and 4000 seconds."
  }
}

variable "alb_deletion_protection" {
  description = "Turn on the ALB's deletion protection."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------
# Compute
# ---------------------------------------------------------------------------

variable "launch_type" {
  description = "Where tasks run: \"EC2\" (an Auto Scaling group behind an ECS capacity provider) or \"FARGATE\"."
  type        = string
  default     = "EC2"

  validation {
    condition     = contains(["EC2", "FARGATE"], var.launch_type)
    error_message = "launch_type must be \"EC2\" or \"FARGATE\"."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the tasks (and of the EC2 instances' AMI): X86_64 or ARM64. The image must be built for it."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "instance_type" {
  description = "EC2 instance type of the Auto Scaling group (EC2 launch type only). Must match cpu_architecture."
  type        = string
  default     = "c6a.large"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must look like c6a.large."
  }
}

variable "instance_min_size" {
  description = "Fewest EC2 instances in the Auto Scaling group (EC2 launch type only)."
  type        = number
  default     = 1

  validation {
    condition     = var.instance_min_size >= 0 && floor(var.instance_min_size) == var.instance_min_size
    error_message = "instance_min_size must be a whole number, 0 or more."
  }
}

variable "instance_max_size" {
  description = "Most EC2 instances in the Auto Scaling group (EC2 launch type only). Capacity provider managed scaling moves between the two."
  type        = number
  default     = 4

  validation {
    condition     = var.instance_max_size >= 1 && floor(var.instance_max_size) == var.instance_max_size
    error_message = "instance_max_size must be a whole number, 1 or more."
  }
}

variable "image" {
  description = "Container image of wheelhouse, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/wheelhouse:1.0.0."
  type        = string

  validation {
    condition     = length(trimspace(var.image)) > 0 && !can(regex("\\s", var.image))
    error_message = "image must be a non-empty image reference without spaces."
  }
}

variable "cpu" {
  description = "CPU units of one task (1024 = one vCPU). Fargate accepts 256, 512, 1024, 2048, 4096, 8192 or 16384."
  type        = number
  default     = 1024

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be one of 256, 512, 1024, 2048, 4096, 8192, 16384."
  }
}

variable "memory" {
  description = "Memory of one task in MiB (must be a combination Fargate accepts for the chosen cpu when launch_type is FARGATE)."
  type        = number
  default     = 2048

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880
    error_message = "memory must be between 512 and 122880 MiB."
  }
}

variable "desired_count" {
  description = "Tasks started on the first apply; autoscaling owns the count afterwards."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_count >= 1 && floor(var.desired_count) == var.desired_count
    error_message = "desired_count must be a whole number, 1 or more."
  }
}

variable "min_tasks" {
  description = "Fewest tasks service autoscaling keeps. Two or more keep the index up through a task or zone failure."
  type        = number
  default     = 2

  validation {
    condition     = var.min_tasks >= 1 && floor(var.min_tasks) == var.min_tasks
    error_message = "min_tasks must be a whole number, 1 or more."
  }
}

variable "max_tasks" {
  description = "Most tasks service autoscaling may run."
  type        = number
  default     = 8

  validation {
    condition     = var.max_tasks >= 1 && floor(var.max_tasks) == var.max_tasks
    error_message = "max_tasks must be a whole number, 1 or more."
  }
}

variable "cpu_target" {
  description = "Average service CPU utilisation (percent) that target tracking aims for."
  type        = number
  default     = 60

  validation {
    condition     = var.cpu_target > 0 && var.cpu_target <= 100
    error_message = "cpu_target must be a percentage between 1 and 100."
  }
}

variable "requests_per_target" {
  description = "ALB requests per task per minute that target tracking aims for."
  type        = number
  default     = 6000

  validation {
    condition     = var.requests_per_target > 0
    error_message = "requests_per_target must be positive."
  }
}

variable "enable_execute_command" {
  description = "Allow `aws ecs execute-command` into running tasks."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------
# Application settings (WHEELHOUSE_* variables)
# ---------------------------------------------------------------------------

variable "authenticate" {
  description = "WHEELHOUSE_AUTHENTICATE: actions that need a login, a comma list of download, list, update; \".\" for none."
  type        = string
  default     = "update"

  validation {
    condition     = var.authenticate == "." || can(regex("^(download|list|update)(,(download|list|update))*$", var.authenticate))
    error_message = "authenticate must be \".\" or a comma list of download, list, update (no spaces)."
  }
}

variable "refresh_interval" {
  description = "WHEELHOUSE_REFRESH_INTERVAL: how often each task reads the generation file on the volume, e.g. 1s or 500ms."
  type        = string
  default     = "1s"

  validation {
    condition     = can(regex("^[0-9]+(ms|s|m)$", var.refresh_interval))
    error_message = "refresh_interval must be a duration such as 500ms, 1s or 2m."
  }
}

variable "workers" {
  description = "WHEELHOUSE_WORKERS: server processes per task. When null, one per vCPU of the task (cpu / 1024, at least 1)."
  type        = number
  default     = null

  validation {
    condition     = var.workers == null ? true : (var.workers >= 1 && var.workers <= 256 && floor(var.workers) == var.workers)
    error_message = "workers must be a whole number between 1 and 256, or null."
  }
}

variable "extra_environment" {
  description = "More WHEELHOUSE_* settings for the container (e.g. WHEELHOUSE_MAX_UPLOAD_SIZE). Never put credentials here: they would show in the task definition."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_environment) : !contains(["WHEELHOUSE_PASSWORD", "WHEELHOUSE_HTPASSWD"], k)])
    error_message = "extra_environment must not carry WHEELHOUSE_PASSWORD or WHEELHOUSE_HTPASSWD: credentials come from Secrets Manager."
  }
}

# ---------------------------------------------------------------------------
# Credentials
# ---------------------------------------------------------------------------

variable "username" {
  description = "The user that pip and twine log in as (WHEELHOUSE_USERNAME)."
  type        = string
  default     = "wheelhouse"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,64}$", var.username))
    error_message = "username must be 1-64 characters of letters, digits, dot, underscore or hyphen."
  }
}

variable "password" {
  description = "Password of username. The module stores it in a new Secrets Manager secret. Give this or password_secret_arn, not both."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.password == null ? true : length(var.password) >= 16
    error_message = "password must be at least 16 characters."
  }
}

variable "password_secret_arn" {
  description = "ARN of an existing Secrets Manager secret holding the password. Give this or password, not both."
  type        = string
  default     = null

  validation {
    condition     = var.password_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.password_secret_arn))
    error_message = "password_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "password_secret_key" {
  description = "When the existing secret holds JSON, the key whose value is the password. Null means the whole secret string is the password."
  type        = string
  default     = null
}

variable "secret_kms_key_arn" {
  description = "Customer managed KMS key that encrypts the password secret, if any (the task execution role may then decrypt with it)."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------
# Storage
# ---------------------------------------------------------------------------

variable "efs_kms_key_arn" {
  description = "Customer managed KMS key for EFS encryption at rest. Null uses the AWS managed key."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------
# Observability
# ---------------------------------------------------------------------------

variable "log_retention_days" {
  description = "Days CloudWatch keeps the container logs."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic notified when an alarm fires or recovers. Null makes the alarms without actions."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:.+$", var.alarm_sns_topic_arn))
    error_message = "alarm_sns_topic_arn must be an SNS topic ARN."
  }
}

variable "alarm_5xx_percent" {
  description = "Alarm when target 5xx responses exceed this percentage of ALB requests over three 1-minute periods."
  type        = number
  default     = 5

  validation {
    condition     = var.alarm_5xx_percent > 0 && var.alarm_5xx_percent <= 100
    error_message = "alarm_5xx_percent must be a percentage above 0."
  }
}

variable "alarm_p95_seconds" {
  description = "Alarm when the p95 target response time exceeds this many seconds over three 1-minute periods."
  type        = number
  default     = 2

  validation {
    condition     = var.alarm_p95_seconds > 0
    error_message = "alarm_p95_seconds must be positive."
  }
}

variable "alarm_efs_io_percent" {
  description = "Alarm when EFS PercentIOLimit exceeds this percentage."
  type        = number
  default     = 90

  validation {
    condition     = var.alarm_efs_io_percent > 0 && var.alarm_efs_io_percent <= 100
    error_message = "alarm_efs_io_percent must be a percentage above 0."
  }
}
