variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "eu-west-1"
}

variable "vpc_id" {
  description = "VPC of the deployment."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets for the internet-facing ALB (two Availability Zones or more)."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Private subnets for the tasks and the EFS mount targets (one per Availability Zone)."
  type        = list(string)
}

variable "allowed_cidrs" {
  description = "Networks that may reach the index, e.g. the office and the CI runners' NAT addresses."
  type        = list(string)
}

variable "dns_name" {
  description = "Name of the index, e.g. pypi.example.com."
  type        = string
}

variable "zone_id" {
  description = "Route 53 hosted zone of dns_name."
  type        = string
}

variable "image" {
  description = "wheelhouse container image (for example in ECR, pinned by digest)."
  type        = string
}

variable "password_secret_arn" {
  description = "Existing Secrets Manager secret whose value is the password."
  type        = string
}

variable "efs_admin_role_arns" {
  description = "Roles that may mount the whole file system (restores, migration)."
  type        = list(string)
  default     = []
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic for alarm notifications."
  type        = string
  default     = null
}
