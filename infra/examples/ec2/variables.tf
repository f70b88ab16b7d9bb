variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "eu-west-1"
}

variable "vpc_id" {
  description = "VPC of the deployment."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets, one per Availability Zone (two or more): the internal ALB, the tasks, the instances and the EFS mount targets."
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

variable "password" {
  description = "Password of the index user (at least 16 characters), e.g. from TF_VAR_password."
  type        = string
  sensitive   = true
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic for alarm notifications."
  type        = string
  default     = null
}
