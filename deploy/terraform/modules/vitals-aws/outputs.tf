output "tmp_bucket" {
  description = "TMP_STORAGE_BUCKET"
  value       = aws_s3_bucket.this["tmp"].id
}

output "connectors_bucket" {
  description = "CONNECTORS_STORAGE_BUCKET"
  value       = aws_s3_bucket.this["connectors"].id
}

output "static_bucket" {
  description = "STATIC_STORAGE_BUCKET"
  value       = aws_s3_bucket.this["static"].id
}

output "role_arn" {
  description = "The service account's eks.amazonaws.com/role-arn annotation (IRSA)."
  value       = aws_iam_role.service_account.arn
}

output "static_distribution_domain" {
  description = "The CloudFront domain serving the static bucket."
  value       = aws_cloudfront_distribution.static.domain_name
}
