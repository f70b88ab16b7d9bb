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

variable "alb_subnet_ids" {
  description = "Subnets of the ALB, in two Availability Zones or more: private ones for the internal ALB (the default), public ones for an internet-facing ALB (internal = false). Null only with existing_listener_arn (the module makes no ALB)."
  type        = list(string)
  default     = null

  validation {
    condition     = var.alb_subnet_ids == null ? true : length(var.alb_subnet_ids) >= 2 && alltrue([for s in var.alb_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "alb_subnet_ids needs at least two subnet-... ids (an ALB spans two Availability Zones or more)."
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
  description = "Make the ALB internal (reachable only through the VPC: peering, VPN, Direct Connect, CI runners inside it). Set false for an internet-facing ALB, which then needs allowed_cidrs."
  type        = bool
  default     = true
}

variable "allowed_cidrs" {
  description = "IPv4 CIDR blocks allowed to reach the ALB on ports 80 and 443. Null: the VPC's own CIDR blocks, which only an internal ALB accepts; an internet-facing ALB must name its networks here."
  type        = list(string)
  default     = null

  validation {
    condition     = var.allowed_cidrs == null ? true : (length(var.allowed_cidrs) > 0 && alltrue([for c in var.allowed_cidrs : can(cidrnetmask(c))]))
    error_message = "allowed_cidrs must be null or hold at least one valid IPv4 CIDR block such as 10.0.0.0/8."
  }
}

variable "direct_access_cidrs" {
  description = "IPv4 CIDR blocks that may reach the tasks themselves on port 8080, past the ALB: a Prometheus scraper reading /metrics (which the ALB never serves), an operator reading /health of one task. Logins still apply. Empty: only the ALB reaches the tasks."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.direct_access_cidrs : can(cidrnetmask(c))])
    error_message = "direct_access_cidrs must hold valid IPv4 CIDR blocks."
  }
}

# ---------------------------------------------------------------------------
# DNS and TLS
# ---------------------------------------------------------------------------

variable "dns_name" {
  description = "Fully qualified name clients use, e.g. pypi.example.com. An alias record is made for it in zone_id (when given, and not with existing_listener_arn, whose ALB already answers it)."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.dns_name))
    error_message = "dns_name must be a lowercase fully qualified domain name without a trailing dot, e.g. pypi.example.com."
  }
}

variable "zone_id" {
  description = "Route 53 hosted zone that holds dns_name: the alias record and the certificate's validation record go there. Null: no record is made (point dns_name at output alb_dns_name yourself) and certificate_arn must be given; with existing_listener_arn the name and certificate are the shared ALB's anyway."
  type        = string
  default     = null

  validation {
    condition     = var.zone_id == null ? true : can(regex("^Z[A-Z0-9]{4,32}$", var.zone_id))
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
  description = "TLS policy of the HTTPS listener: one of the TLS 1.2-and-later families (ELBSecurityPolicy-TLS13-1-2-*, -TLS13-1-3-*, -FS-1-2-*, -TLS-1-2-*)."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    # The older policies (ELBSecurityPolicy-2016-08 and the like) still accept TLS 1.0 and 1.1.
    condition     = can(regex("^ELBSecurityPolicy-(TLS13-1-[23]|FS-1-2|TLS-1-2)-", var.ssl_policy))
    error_message = "ssl_policy must be a TLS 1.2-and-later policy (ELBSecurityPolicy-TLS13-1-2-*, -TLS13-1-3-*, -FS-1-2-*, -TLS-1-2-*)."
  }
}

variable "alb_deletion_protection" {
  description = "Turn on the ALB's deletion protection."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------
# A path on a load balancer shared with other services
# ---------------------------------------------------------------------------

variable "path_prefix" {
  description = "Serve the index below this path, e.g. /pypi (WHEELHOUSE_BASE_PATH): pip then uses https://<dns_name>/pypi/simple/, and the health check is /pypi/health. Required with existing_listener_arn; with the module's own ALB it only moves the index down a level. Null: at the root."
  type        = string
  default     = null

  validation {
    # A segment may not start with a dot: no ./.. segments, nothing the server would refuse.
    condition     = var.path_prefix == null ? true : can(regex("^(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+$", var.path_prefix))
    error_message = "path_prefix must be a path such as /pypi or /tools/pypi: segments of letters, digits and . _ ~ - (not starting with a dot), no trailing slash."
  }
}

variable "existing_listener_arn" {
  description = "The HTTPS listener of an ALB you already run with other services. The module then makes no ALB, listener, certificate, DNS record or access-log bucket: it adds listener rules that send dns_name + path_prefix to its tasks (and refuse path_prefix/metrics), and lets that ALB's security groups reach the tasks. Null: the module makes its own ALB."
  type        = string
  default     = null

  validation {
    condition     = var.existing_listener_arn == null || can(regex("^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:listener/app/.+$", var.existing_listener_arn))
    error_message = "existing_listener_arn must be the ARN of an Application Load Balancer listener (arn:aws:elasticloadbalancing:...:listener/app/...)."
  }
}

variable "listener_rule_priority" {
  description = "With existing_listener_arn: the first of four consecutive priorities the module's rules take on that listener (three refusing path_prefix/metrics, then the one forwarding path_prefix). They must be free, and come before any rule of the listener that matches the same host and paths."
  type        = number
  default     = null

  validation {
    condition     = var.listener_rule_priority == null ? true : (var.listener_rule_priority >= 1 && var.listener_rule_priority <= 49997 && floor(var.listener_rule_priority) == var.listener_rule_priority)
    error_message = "listener_rule_priority must be a whole number between 1 and 49997 (the module takes it and the three after it)."
  }
}

# ---------------------------------------------------------------------------
# Timeouts and draining (see README "Timeouts")
# ---------------------------------------------------------------------------

variable "idle_timeout" {
  description = "ALB idle timeout in seconds: how long a connection may carry no byte in either direction. A transfer that moves data never reaches it, however long it takes; the longest silence inside a request is the server checking and publishing an upload after its last byte."
  type        = number
  default     = 120

  validation {
    condition     = var.idle_timeout >= 60 && var.idle_timeout <= 4000 && floor(var.idle_timeout) == var.idle_timeout
    error_message = "idle_timeout must be a whole number of seconds between 60 and 4000."
  }
}

variable "keep_alive_timeout" {
  description = "WHEELHOUSE_KEEP_ALIVE_TIMEOUT in seconds: how long a task keeps an idle connection from the ALB open. Must exceed idle_timeout, or a task closes connections the ALB is about to reuse (502s). Null: idle_timeout + 5. WHEELHOUSE_HEADERS_TIMEOUT is set 1 s above it."
  type        = number
  default     = null

  validation {
    condition     = var.keep_alive_timeout == null ? true : (var.keep_alive_timeout >= 1 && floor(var.keep_alive_timeout) == var.keep_alive_timeout)
    error_message = "keep_alive_timeout must be a whole number of seconds, or null."
  }
}

variable "max_transfer_seconds" {
  description = "The longest transfer the deployment promises to carry through a deployment or a scale-in: WHEELHOUSE_REQUEST_TIMEOUT (a whole upload, body included) and the least deregistration delay. 600 s moves a 1 GiB upload at 1.8 MB/s."
  type        = number
  default     = 600

  validation {
    condition     = var.max_transfer_seconds >= 60 && var.max_transfer_seconds <= 3600 && floor(var.max_transfer_seconds) == var.max_transfer_seconds
    error_message = "max_transfer_seconds must be a whole number between 60 and 3600 (the ALB's longest deregistration delay)."
  }
}

variable "deregistration_delay" {
  description = "Seconds the ALB lets a task that is leaving (deployment, scale-in) finish its requests before ECS stops it. Null: max_transfer_seconds. It ends early when the task has nothing in flight."
  type        = number
  default     = null

  validation {
    condition     = var.deregistration_delay == null ? true : (var.deregistration_delay >= 0 && var.deregistration_delay <= 3600)
    error_message = "deregistration_delay must be between 0 and 3600 seconds, or null."
  }
}

variable "shutdown_timeout" {
  description = "WHEELHOUSE_SHUTDOWN_TIMEOUT in seconds: how long a task drains its connections after SIGTERM."
  type        = number
  default     = 25

  validation {
    condition     = var.shutdown_timeout >= 1 && var.shutdown_timeout <= 115 && floor(var.shutdown_timeout) == var.shutdown_timeout
    error_message = "shutdown_timeout must be a whole number between 1 and 115 seconds (ECS allows a stop timeout of 120 s at most)."
  }
}

variable "stop_timeout" {
  description = "ECS stopTimeout in seconds: SIGKILL follows SIGTERM after this long. Must exceed shutdown_timeout. Null: shutdown_timeout + 5."
  type        = number
  default     = null

  validation {
    condition     = var.stop_timeout == null ? true : (var.stop_timeout >= 2 && var.stop_timeout <= 120)
    error_message = "stop_timeout must be between 2 and 120 seconds, or null."
  }
}

variable "health_check_grace_period_seconds" {
  description = "Seconds ECS ignores the ALB's health checks of a new task. A task answers /health 503 \"loading\" until its first scan of the volume is done, and the ALB needs two passing checks 10 s apart after that. Size it as first scan + 20 s: a first start scans about 75 ms per file on EFS without the sidecars in .wheelhouse/meta (15 s for 200 wheels on an EFS-like mount); later starts reuse them."
  type        = number
  default     = 180

  validation {
    condition     = var.health_check_grace_period_seconds >= 0 && floor(var.health_check_grace_period_seconds) == var.health_check_grace_period_seconds
    error_message = "health_check_grace_period_seconds must be a whole number of seconds."
  }
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
  description = "EC2 instance type of the Auto Scaling group (EC2 launch type only). Must match cpu_architecture. How many tasks fit one instance is computed from its vCPUs, memory and network interfaces (output capacity)."
  type        = string
  default     = "m6a.large"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must look like m6a.large."
  }
}

variable "instance_min_size" {
  description = "Fewest EC2 instances (EC2 launch type only). Null: enough for min_tasks, and one per Availability Zone up to min_tasks, so the minimum survives a zone."
  type        = number
  default     = null

  validation {
    condition     = var.instance_min_size == null ? true : (var.instance_min_size >= 0 && floor(var.instance_min_size) == var.instance_min_size)
    error_message = "instance_min_size must be a whole number, 0 or more, or null."
  }
}

variable "instance_max_size" {
  description = "Most EC2 instances (EC2 launch type only). Null: enough to place max_tasks at deployment_maximum_percent (a deployment at full scale starts its new tasks beside the old ones)."
  type        = number
  default     = null

  validation {
    condition     = var.instance_max_size == null ? true : (var.instance_max_size >= 1 && floor(var.instance_max_size) == var.instance_max_size)
    error_message = "instance_max_size must be a whole number, 1 or more, or null."
  }
}

variable "instance_reserved_memory" {
  description = "MiB of each instance kept from tasks for the OS, the ECS agent and the page cache (ECS_RESERVED_MEMORY)."
  type        = number
  default     = 256

  validation {
    condition     = var.instance_reserved_memory >= 0 && floor(var.instance_reserved_memory) == var.instance_reserved_memory
    error_message = "instance_reserved_memory must be a whole number of MiB."
  }
}

variable "task_enis_per_instance" {
  description = "Tasks one instance can hold by network interfaces (each awsvpc task takes one). Null: the instance type's interfaces minus its primary one. With awsvpcTrunking turned on for the account, give the trunked limit of the type."
  type        = number
  default     = null

  validation {
    condition     = var.task_enis_per_instance == null ? true : (var.task_enis_per_instance >= 1 && floor(var.task_enis_per_instance) == var.task_enis_per_instance)
    error_message = "task_enis_per_instance must be a whole number, 1 or more, or null."
  }
}

variable "image" {
  description = "Container image of wheelhouse, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/wheelhouse:1.0.0 (better: pinned by @sha256 digest)."
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
  description = "Memory of one task in MiB (on Fargate, a size Fargate accepts for the chosen cpu)."
  type        = number
  default     = 2048

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880 && floor(var.memory) == var.memory
    error_message = "memory must be a whole number between 512 and 122880 MiB."
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

variable "deployment_maximum_percent" {
  description = "Tasks a deployment may run at once, as a percentage of the desired count (new tasks start beside the old ones, which leave once the new are healthy). The EC2 capacity is sized for max_tasks at this percentage."
  type        = number
  default     = 200

  validation {
    condition     = var.deployment_maximum_percent >= 110 && var.deployment_maximum_percent <= 400 && floor(var.deployment_maximum_percent) == var.deployment_maximum_percent
    error_message = "deployment_maximum_percent must be a whole number between 110 and 400 (the minimum healthy percent is 100, so a deployment needs room above it)."
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
  description = "Allow `aws ecs execute-command` into running tasks. ECS Exec needs a writable root file system (its agent writes under /var/lib/amazon and /var/log/amazon), so turning it on also turns readonlyRootFilesystem off."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------
# Application settings (WHEELHOUSE_* variables)
# ---------------------------------------------------------------------------

variable "authenticate" {
  description = "WHEELHOUSE_AUTHENTICATE: actions that need a login, a comma list of download, list, update; \".\" for none. The default keeps the whole index private; opting out (e.g. \"update\") lets anyone who reaches the ALB list and download."
  type        = string
  default     = "download,list,update"

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

variable "trusted_proxy_hops" {
  description = "WHEELHOUSE_TRUST_PROXY: proxies in front of the tasks that append to X-Forwarded-For. 1 is the ALB alone (the client is the right-most entry, which the ALB appends itself); 2 for a CDN that appends in front of it. Never \"trust everything\": a client could then name any address."
  type        = number
  default     = 1

  validation {
    condition     = var.trusted_proxy_hops >= 1 && var.trusted_proxy_hops <= 5 && floor(var.trusted_proxy_hops) == var.trusted_proxy_hops
    error_message = "trusted_proxy_hops must be a whole number between 1 and 5."
  }
}

variable "upstream_url" {
  description = "WHEELHOUSE_UPSTREAM: an upstream index URL (e.g. https://pypi.org/simple/) for projects the volume does not hold. Null: none."
  type        = string
  default     = null

  validation {
    condition     = var.upstream_url == null || can(regex("^https?://[^\\s]+$", var.upstream_url))
    error_message = "upstream_url must be an http(s) URL."
  }
}

variable "upstream_credentials_secret_arn" {
  description = "Secrets Manager secret (ARN, optionally with :json-key:: appended) holding user:password for the upstream index: WHEELHOUSE_UPSTREAM_CREDENTIALS. Null: none."
  type        = string
  default     = null

  validation {
    condition     = var.upstream_credentials_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.upstream_credentials_secret_arn))
    error_message = "upstream_credentials_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "token_key_secret_arn" {
  description = "Secrets Manager secret (ARN, optionally with :json-key:: appended) holding the signing keys of API tokens: WHEELHOUSE_TOKEN_KEY. Null: none."
  type        = string
  default     = null

  validation {
    condition     = var.token_key_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.token_key_secret_arn))
    error_message = "token_key_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "trusted_publishers_json_arn" {
  description = "Where the trusted-publisher configuration (JSON) lives: a Secrets Manager secret ARN or an SSM parameter ARN. Becomes WHEELHOUSE_TRUSTED_PUBLISHERS_JSON. Null: none."
  type        = string
  default     = null

  validation {
    condition     = var.trusted_publishers_json_arn == null || can(regex("^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+|ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+)$", var.trusted_publishers_json_arn))
    error_message = "trusted_publishers_json_arn must be a Secrets Manager secret ARN or an SSM parameter ARN."
  }
}

variable "extra_environment" {
  description = "More settings for the container, e.g. { WHEELHOUSE_MAX_UPLOAD_SIZE = \"2GiB\" }. Never credentials (they would show in the task definition: use extra_secrets), and none of the variables the module sets itself (use its variables)."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([for k in keys(var.extra_environment) : !contains([
      "WHEELHOUSE_PASSWORD", "WHEELHOUSE_HTPASSWD", "WHEELHOUSE_TOKEN_KEY", "WHEELHOUSE_UPSTREAM_CREDENTIALS", "WHEELHOUSE_TRUSTED_PUBLISHERS_JSON",
    ], k)])
    error_message = "extra_environment must not carry credentials (WHEELHOUSE_PASSWORD, WHEELHOUSE_HTPASSWD, WHEELHOUSE_TOKEN_KEY, WHEELHOUSE_UPSTREAM_CREDENTIALS, WHEELHOUSE_TRUSTED_PUBLISHERS_JSON): give them through Secrets Manager."
  }

  validation {
    condition = alltrue([for k in keys(var.extra_environment) : !contains([
      "WHEELHOUSE_ROOT", "WHEELHOUSE_PORT", "WHEELHOUSE_AUTHENTICATE", "WHEELHOUSE_REFRESH_INTERVAL", "WHEELHOUSE_WORKERS",
      "WHEELHOUSE_USERNAME", "WHEELHOUSE_TRUST_PROXY", "WHEELHOUSE_KEEP_ALIVE_TIMEOUT", "WHEELHOUSE_HEADERS_TIMEOUT",
      "WHEELHOUSE_REQUEST_TIMEOUT", "WHEELHOUSE_SHUTDOWN_TIMEOUT", "WHEELHOUSE_UPSTREAM", "WHEELHOUSE_BASE_PATH", "WHEELHOUSE_HEALTH_ENDPOINT",
    ], k)])
    error_message = "extra_environment must not set a variable the module sets itself (root, port, authenticate, refresh interval, workers, username, trust proxy, the timeouts, upstream, base path, health endpoint): use the module's variables, which keep the ALB and ECS settings in step."
  }
}

variable "extra_secrets" {
  description = "More settings read from Secrets Manager or SSM Parameter Store when a task starts: a map of environment variable name to secret ARN (optionally with :json-key:: appended) or SSM parameter ARN. The execution role may read exactly these."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([for k, v in var.extra_secrets : (
      can(regex("^[A-Za-z_][A-Za-z0-9_]*$", k)) &&
      can(regex("^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+|ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+)$", v))
    )])
    error_message = "extra_secrets maps environment variable names to Secrets Manager secret ARNs or SSM parameter ARNs."
  }

  validation {
    condition = alltrue([for k in keys(var.extra_secrets) : !contains([
      "WHEELHOUSE_PASSWORD", "WHEELHOUSE_TOKEN_KEY", "WHEELHOUSE_UPSTREAM_CREDENTIALS", "WHEELHOUSE_TRUSTED_PUBLISHERS_JSON",
      "WHEELHOUSE_ROOT", "WHEELHOUSE_PORT", "WHEELHOUSE_AUTHENTICATE", "WHEELHOUSE_REFRESH_INTERVAL", "WHEELHOUSE_WORKERS",
      "WHEELHOUSE_USERNAME", "WHEELHOUSE_TRUST_PROXY", "WHEELHOUSE_KEEP_ALIVE_TIMEOUT", "WHEELHOUSE_HEADERS_TIMEOUT",
      "WHEELHOUSE_REQUEST_TIMEOUT", "WHEELHOUSE_SHUTDOWN_TIMEOUT", "WHEELHOUSE_UPSTREAM", "WHEELHOUSE_BASE_PATH", "WHEELHOUSE_HEALTH_ENDPOINT",
    ], k)])
    error_message = "extra_secrets must not set a variable the module sets itself: use the module's variable for it."
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

variable "read_existing_password" {
  description = "With password_secret_arn: read the secret at plan time so the pypi_password output holds the password (`terraform output -raw pypi_password`). The password then lands in the state, and whoever runs Terraform needs secretsmanager:GetSecretValue on it. False keeps it out: pypi_password is null and the password is read with `aws secretsmanager get-secret-value`."
  type        = bool
  default     = true
}

variable "secret_kms_key_arn" {
  description = "Customer managed KMS key that encrypts the secrets (password, token key, upstream credentials, SecureString parameters), if any: the task execution role may then decrypt with it."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------
# Storage
# ---------------------------------------------------------------------------

variable "efs_file_system_id" {
  description = "An existing EFS file system to serve (a migrated pypiserver volume, a restored copy). Null: the module makes one. The module then manages the file system policy and the backup setting of the given one."
  type        = string
  default     = null

  validation {
    condition     = var.efs_file_system_id == null || can(regex("^fs-[0-9a-f]+$", var.efs_file_system_id))
    error_message = "efs_file_system_id must look like fs-0123456789abcdef0."
  }
}

variable "efs_create_mount_targets" {
  description = "Make one EFS mount target per private subnet. Set false for an existing file system that has its own mount targets; their security group must then accept NFS (2049) from output task_security_group_id."
  type        = bool
  default     = true
}

variable "efs_root_directory" {
  description = "Directory of the file system the tasks see as their root (created 1000:1000, 0755 if missing). An existing pypiserver volume that keeps its packages at the top: \"/\"."
  type        = string
  default     = "/packages"

  validation {
    condition     = can(regex("^/([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?$", var.efs_root_directory))
    error_message = "efs_root_directory must be an absolute path such as /packages (or /)."
  }
}

variable "efs_throughput_mode" {
  description = "EFS throughput mode of a file system the module makes: elastic (follows each burst, no credits), bursting (throughput from a credit balance, alarmed), provisioned (efs_provisioned_throughput_mibps)."
  type        = string
  default     = "elastic"

  validation {
    condition     = contains(["elastic", "bursting", "provisioned"], var.efs_throughput_mode)
    error_message = "efs_throughput_mode must be elastic, bursting or provisioned."
  }
}

variable "efs_provisioned_throughput_mibps" {
  description = "Throughput in MiB/s with efs_throughput_mode = \"provisioned\"."
  type        = number
  default     = null

  validation {
    condition     = var.efs_provisioned_throughput_mibps == null ? true : var.efs_provisioned_throughput_mibps >= 1
    error_message = "efs_provisioned_throughput_mibps must be 1 or more."
  }
}

variable "efs_kms_key_arn" {
  description = "Customer managed KMS key for EFS encryption at rest. Null uses the AWS managed key."
  type        = string
  default     = null
}

variable "efs_backup" {
  description = "Turn on AWS Backup's automatic daily backups of the file system."
  type        = bool
  default     = true
}

variable "efs_admin_role_arns" {
  description = "IAM roles that may mount the whole file system as root, past the access point: restores from AWS Backup land in a directory at the top (aws-backup-restore_...), and a migration copies in from outside /packages. TLS is still required."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.efs_admin_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", a))])
    error_message = "efs_admin_role_arns must hold IAM role ARNs."
  }
}

variable "efs_admin_security_group_ids" {
  description = "Security groups (of an admin instance or task) allowed to reach the EFS mount targets on 2049 besides the tasks."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.efs_admin_security_group_ids : can(regex("^sg-[0-9a-f]+$", s))])
    error_message = "efs_admin_security_group_ids must hold sg-... ids."
  }
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

variable "access_logs_bucket" {
  description = "An existing S3 bucket for the ALB's access logs (its policy must let the ALB write). Null: the module makes one."
  type        = string
  default     = null
}

variable "access_logs_retention_days" {
  description = "Days the bucket the module makes keeps ALB access logs."
  type        = number
  default     = 90

  validation {
    condition     = var.access_logs_retention_days >= 1 && floor(var.access_logs_retention_days) == var.access_logs_retention_days
    error_message = "access_logs_retention_days must be a whole number of days, 1 or more."
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
  description = "Alarm when tasks answer 5xx to more than this percentage of requests over three 1-minute periods."
  type        = number
  default     = 5

  validation {
    condition     = var.alarm_5xx_percent > 0 && var.alarm_5xx_percent <= 100
    error_message = "alarm_5xx_percent must be a percentage above 0."
  }
}

variable "alarm_elb_5xx_percent" {
  description = "Alarm when the ALB itself answers 5xx (502, 503, 504: a task closed or timed out, or none is healthy) to more than this percentage of requests over three 1-minute periods."
  type        = number
  default     = 1

  validation {
    condition     = var.alarm_elb_5xx_percent > 0 && var.alarm_elb_5xx_percent <= 100
    error_message = "alarm_elb_5xx_percent must be a percentage above 0."
  }
}

variable "alarm_min_healthy_tasks" {
  description = "Alarm when fewer tasks than this pass the ALB health check for three minutes (no data counts as none). Null: min_tasks."
  type        = number
  default     = null

  validation {
    condition     = var.alarm_min_healthy_tasks == null ? true : var.alarm_min_healthy_tasks >= 1
    error_message = "alarm_min_healthy_tasks must be 1 or more, or null."
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

variable "alarm_memory_percent" {
  description = "Alarm when the busiest task's memory use exceeds this percentage of its memory for five minutes."
  type        = number
  default     = 90

  validation {
    condition     = var.alarm_memory_percent > 0 && var.alarm_memory_percent <= 100
    error_message = "alarm_memory_percent must be a percentage above 0."
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

variable "alarm_efs_burst_credit_gib" {
  description = "With bursting throughput: alarm when the EFS burst credit balance falls below this many GiB (350 GiB is about an hour of bursting at 100 MiB/s)."
  type        = number
  default     = 350

  validation {
    condition     = var.alarm_efs_burst_credit_gib > 0
    error_message = "alarm_efs_burst_credit_gib must be positive."
  }
}
