# A TLS instance that asks clients for a certificate, an application's ACL user and its client
# certificate: DFLY_ENDPOINT=http://127.0.0.1:8080 DFLY_TOKEN=dfly_...
#
#   terraform output -raw ca > ca.pem
#   terraform output -raw certificate > app.crt
#   terraform output -raw private_key > app.key
#   redis-cli --tls --cacert ca.pem --cert app.crt --key app.key \
#     -h "$(terraform output -raw host)" -p "$(terraform output -raw port)" \
#     --user app --pass "$(terraform output -raw app_password)" GET cache:1
terraform {
  required_providers {
    dfly = {
      source = "dfly/dfly"
    }
  }
}

provider "dfly" {}

data "dfly_ca_certificate" "ca" {}

resource "dfly_instance" "secure" {
  name            = "secure"
  memory          = "256mb"
  tls             = true
  tls_client_auth = "yes"
}

resource "dfly_acl_user" "app" {
  instance_id = dfly_instance.secure.id
  username    = "app"
  rules       = "+@read +@write -@dangerous ~cache:*"
}

resource "dfly_client_certificate" "app" {
  instance_id = dfly_instance.secure.id
  name        = "app"
  days        = 90
}

output "uri" {
  value = dfly_instance.secure.uri
}

output "host" {
  value = dfly_instance.secure.host
}

output "port" {
  value = dfly_instance.secure.port
}

output "ca" {
  value = data.dfly_ca_certificate.ca.pem
}

output "certificate" {
  value = dfly_client_certificate.app.certificate_pem
}

output "private_key" {
  value     = dfly_client_certificate.app.private_key_pem
  sensitive = true
}

output "app_password" {
  value     = dfly_acl_user.app.password
  sensitive = true
}
