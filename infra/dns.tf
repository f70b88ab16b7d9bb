resource "aws_acm_certificate" "this" {
  count = local.create_cert ? 1 : 0

  domain_name       = var.dns_name
  validation_method = "DNS"
  tags              = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

# One name, so one validation record; counted (not keyed by the computed options) so plans work
# before the certificate exists.
resource "aws_route53_record" "validation" {
  count = local.create_cert ? 1 : 0

  zone_id         = var.zone_id
  name            = one(aws_acm_certificate.this[0].domain_validation_options).resource_record_name
  type            = one(aws_acm_certificate.this[0].domain_validation_options).resource_record_type
  records         = [one(aws_acm_certificate.this[0].domain_validation_options).resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  count = local.create_cert ? 1 : 0

  certificate_arn         = aws_acm_certificate.this[0].arn
  validation_record_fqdns = [aws_route53_record.validation[0].fqdn]
}

locals {
  # Through the validation resource, so the listener waits until the certificate is issued.
  certificate_arn = local.create_cert ? aws_acm_certificate_validation.this[0].certificate_arn : var.certificate_arn
}

# A shared ALB already answers for its names: the record is made only for the module's own, in
# zone_id when one is given.
moved {
  from = aws_route53_record.this
  to   = aws_route53_record.this[0]
}

resource "aws_route53_record" "this" {
  count = !local.existing_alb && var.zone_id != null ? 1 : 0

  zone_id = var.zone_id
  name    = var.dns_name
  type    = "A"

  alias {
    name                   = aws_lb.this[0].dns_name
    zone_id                = aws_lb.this[0].zone_id
    evaluate_target_health = true
  }
}
