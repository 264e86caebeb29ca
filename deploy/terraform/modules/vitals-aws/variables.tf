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

# The AWS checks beyond S3 (vitals-aws): each list grants its check's one read action on
# exactly those resources; empty lists grant nothing.
variable "health_check_sqs_queue_arns" {
  description = "Queues of SQS_QUEUES: sqs:GetQueueAttributes (and sqs:GetQueueUrl, which a queue named rather than addressed needs)."
  type        = list(string)
  default     = []
}

variable "health_check_sns_topic_arns" {
  description = "Topics of SNS_TOPICS: sns:GetTopicAttributes."
  type        = list(string)
  default     = []
}

variable "health_check_dynamodb_table_arns" {
  description = "Tables of DYNAMODB_TABLES: dynamodb:DescribeTable."
  type        = list(string)
  default     = []
}

variable "health_check_secret_arns" {
  description = "Secrets of SECRETS_MANAGER_SECRETS: secretsmanager:DescribeSecret (never GetSecretValue)."
  type        = list(string)
  default     = []
}

variable "health_check_kms_key_arns" {
  description = "Keys of KMS_KEYS: kms:DescribeKey."
  type        = list(string)
  default     = []
}
