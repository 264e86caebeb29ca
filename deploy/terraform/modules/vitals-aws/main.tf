# What the deployment guide asks for on AWS, and what vitals checks at run time: three
# private, encrypted buckets (tmp with a 7-day expiration, connectors, static with CORS),
# CloudFront in front of the static bucket through Origin Access Control, and an IAM role for
# the pod's service account (IRSA, or EKS Pod Identity) with least privilege.

locals {
  buckets = {
    tmp        = "${var.name_prefix}-tmp"
    connectors = "${var.name_prefix}-connectors"
    static     = "${var.name_prefix}-static"
  }
  oidc_host = var.oidc_provider_arn == null ? null : element(split("oidc-provider/", var.oidc_provider_arn), 1)
}

resource "aws_s3_bucket" "this" {
  for_each = local.buckets
  bucket   = each.value
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each                = aws_s3_bucket.this
  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this
  bucket   = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this
  bucket   = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = { for k, v in aws_s3_bucket.this : k => v if k != "tmp" }
  bucket   = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

# The tmp bucket: objects expire after the guide's 7 days; unfinished multipart uploads are
# aborted after a day so their parts do not linger.
resource "aws_s3_bucket_lifecycle_configuration" "tmp" {
  bucket = aws_s3_bucket.this["tmp"].id
  rule {
    id     = "expire-tmp"
    status = "Enabled"
    filter {}
    expiration {
      days = var.tmp_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# The other buckets keep their data; only unfinished multipart uploads are cleaned up.
resource "aws_s3_bucket_lifecycle_configuration" "kept" {
  for_each = { for k, v in aws_s3_bucket.this : k => v if k != "tmp" }
  bucket   = each.value.id
  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
  }
}

# The static bucket: browsers of the application's origins may GET its files.
resource "aws_s3_bucket_cors_configuration" "static" {
  bucket = aws_s3_bucket.this["static"].id
  cors_rule {
    allowed_methods = ["GET", "HEAD"]
    allowed_origins = var.static_cors_allowed_origins
    allowed_headers = ["*"]
    max_age_seconds = 3000
  }
}

# CloudFront serves the static bucket through Origin Access Control (not the legacy OAI); the
# bucket policy admits only this distribution.
resource "aws_cloudfront_origin_access_control" "static" {
  name                              = "${var.name_prefix}-static"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_distribution" "static" {
  enabled             = true
  is_ipv6_enabled     = true
  default_root_object = "index.html"
  comment         = "${var.name_prefix} static files"
  price_class     = var.cloudfront_price_class

  origin {
    origin_id                = "static"
    domain_name              = aws_s3_bucket.this["static"].bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.static.id
  }

  default_cache_behavior {
    target_origin_id       = "static"
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD", "OPTIONS"]
    cached_methods         = ["GET", "HEAD"]
    compress               = true
    # AWS's managed CachingOptimized, CORS-S3Origin and SecurityHeadersPolicy policies.
    cache_policy_id            = "658327ea-f89d-4fab-a63d-7e88639e58f6"
    origin_request_policy_id   = "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf"
    response_headers_policy_id = "67f7725c-6f97-4210-82d7-5512b31e9d03"
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
    minimum_protocol_version       = "TLSv1.2_2021"
  }
}

data "aws_iam_policy_document" "static_bucket" {
  statement {
    sid       = "CloudFrontReadsThroughOAC"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.this["static"].arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.static.arn]
    }
  }
}

resource "aws_s3_bucket_policy" "static" {
  bucket = aws_s3_bucket.this["static"].id
  policy = data.aws_iam_policy_document.static_bucket.json
}

# The pod's role: IRSA (the cluster's OIDC provider, one namespace and service account) or
# EKS Pod Identity.
data "aws_iam_policy_document" "trust" {
  dynamic "statement" {
    for_each = var.oidc_provider_arn == null ? [] : [1]
    content {
      actions = ["sts:AssumeRoleWithWebIdentity"]
      principals {
        type        = "Federated"
        identifiers = [var.oidc_provider_arn]
      }
      condition {
        test     = "StringEquals"
        variable = "${local.oidc_host}:sub"
        values   = ["system:serviceaccount:${var.namespace}:${var.service_account}"]
      }
      condition {
        test     = "StringEquals"
        variable = "${local.oidc_host}:aud"
        values   = ["sts.amazonaws.com"]
      }
    }
  }
  dynamic "statement" {
    for_each = var.oidc_provider_arn == null ? [1] : []
    content {
      actions = ["sts:AssumeRole", "sts:TagSession"]
      principals {
        type        = "Service"
        identifiers = ["pods.eks.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "service_account" {
  name               = var.role_name
  assume_role_policy = data.aws_iam_policy_document.trust.json
}

resource "aws_eks_pod_identity_association" "service_account" {
  count           = var.oidc_provider_arn == null ? 1 : 0
  cluster_name    = var.pod_identity_cluster_name
  namespace       = var.namespace
  service_account = var.service_account
  role_arn        = aws_iam_role.service_account.arn
}

# Least privilege: HeadBucket (s3:ListBucket) on the three buckets for the health check, the
# two configuration reads only with the deep check, and the object actions the application
# needs on its buckets.
data "aws_iam_policy_document" "service_account" {
  statement {
    sid       = "HealthCheckHeadBucket"
    actions   = ["s3:ListBucket"]
    resources = [for b in aws_s3_bucket.this : b.arn]
  }
  dynamic "statement" {
    for_each = var.deep_storage_check ? [1] : []
    content {
      sid       = "DeepCheckLifecycle"
      actions   = ["s3:GetLifecycleConfiguration"]
      resources = [aws_s3_bucket.this["tmp"].arn]
    }
  }
  dynamic "statement" {
    for_each = var.deep_storage_check ? [1] : []
    content {
      sid       = "DeepCheckCors"
      actions   = ["s3:GetBucketCORS"]
      resources = [aws_s3_bucket.this["static"].arn]
    }
  }
  # The AWS checks beyond S3: one read action each, on the resources listed.
  dynamic "statement" {
    for_each = length(var.health_check_sqs_queue_arns) > 0 ? [1] : []
    content {
      sid       = "HealthCheckSqs"
      actions   = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
      resources = var.health_check_sqs_queue_arns
    }
  }
  dynamic "statement" {
    for_each = length(var.health_check_sns_topic_arns) > 0 ? [1] : []
    content {
      sid       = "HealthCheckSns"
      actions   = ["sns:GetTopicAttributes"]
      resources = var.health_check_sns_topic_arns
    }
  }
  dynamic "statement" {
    for_each = length(var.health_check_dynamodb_table_arns) > 0 ? [1] : []
    content {
      sid       = "HealthCheckDynamoDb"
      actions   = ["dynamodb:DescribeTable"]
      resources = var.health_check_dynamodb_table_arns
    }
  }
  dynamic "statement" {
    for_each = length(var.health_check_secret_arns) > 0 ? [1] : []
    content {
      sid       = "HealthCheckSecrets"
      actions   = ["secretsmanager:DescribeSecret"]
      resources = var.health_check_secret_arns
    }
  }
  dynamic "statement" {
    for_each = length(var.health_check_kms_key_arns) > 0 ? [1] : []
    content {
      sid       = "HealthCheckKms"
      actions   = ["kms:DescribeKey"]
      resources = var.health_check_kms_key_arns
    }
  }
  statement {
    sid       = "ApplicationObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [for b in aws_s3_bucket.this : "${b.arn}/*"]
  }
}

resource "aws_iam_role_policy" "service_account" {
  name   = "${var.role_name}-s3"
  role   = aws_iam_role.service_account.id
  policy = data.aws_iam_policy_document.service_account.json
}
