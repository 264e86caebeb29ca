variable "name_prefix" {
  description = "Prefix of the three bucket names: <prefix>-tmp, <prefix>-connectors, <prefix>-static (the deployment guide's naming)."
  type        = string
}

variable "tmp_expiration_days" {
  description = "Days after which objects in the tmp bucket expire (the guide's 7; vitals' deep storage check expects the same)."
  type        = number
  default     = 7
}

variable "static_cors_allowed_origins" {
  description = "Origins allowed to GET from the static bucket (the application's own URL)."
  type        = list(string)
}

variable "namespace" {
  description = "Kubernetes namespace of the service account that assumes the role."
  type        = string
  default     = "vitals"
}

variable "service_account" {
  description = "Kubernetes service account that assumes the role."
  type        = string
  default     = "vitals-server"
}

variable "role_name" {
  description = "Name of the IAM role for the service account."
  type        = string
  default     = "vitals-server-s3"
}

variable "oidc_provider_arn" {
  description = "ARN of the EKS cluster's IAM OIDC provider (IRSA). Leave null to use EKS Pod Identity instead."
  type        = string
  default     = null
}

variable "pod_identity_cluster_name" {
  description = "With EKS Pod Identity (oidc_provider_arn null): the cluster to associate the role with."
  type        = string
  default     = null
}

variable "deep_storage_check" {
  description = "Grant what STORAGE_DEEP_CHECK=true reads: the tmp bucket's lifecycle and the static bucket's CORS configuration."
  type        = bool
  default     = true
}

variable "cloudfront_price_class" {
  description = "CloudFront price class of the static distribution."
  type        = string
  default     = "PriceClass_100"
}
