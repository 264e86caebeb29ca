# The deployment guide's AWS resources for one environment. `terraform apply` with your own
# prefix, origins and cluster (README, "Deploy on AWS"), then put the outputs in
# deploy/kubernetes/settings: the bucket names and region in settings.env, the role ARN in
# kustomization.yaml.
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  description = "AWS_REGION of the Deployment."
  type        = string
  default     = "us-east-1"
}

variable "name_prefix" {
  description = "Prefix of the three bucket names (<prefix>-tmp, -connectors, -static); S3 bucket names are global, so yours."
  type        = string
}

variable "static_cors_allowed_origins" {
  description = "Origins allowed to GET from the static bucket (CORS), e.g. [\"https://app.example.com\"]."
  type        = list(string)
}

variable "oidc_provider_arn" {
  description = "The EKS cluster's IAM OIDC provider ARN (aws eks describe-cluster … identity.oidc.issuer)."
  type        = string
}

module "vitals" {
  source                      = "../modules/vitals-aws"
  name_prefix                 = var.name_prefix
  static_cors_allowed_origins = var.static_cors_allowed_origins
  namespace                   = "vitals"
  service_account             = "vitals-server"
  role_name                   = "vitals-server-s3"
  oidc_provider_arn           = var.oidc_provider_arn
  deep_storage_check          = true
}

output "tmp_bucket" {
  value = module.vitals.tmp_bucket
}

output "connectors_bucket" {
  value = module.vitals.connectors_bucket
}

output "static_bucket" {
  value = module.vitals.static_bucket
}

output "role_arn" {
  value = module.vitals.role_arn
}

output "static_distribution_domain" {
  value = module.vitals.static_distribution_domain
}
