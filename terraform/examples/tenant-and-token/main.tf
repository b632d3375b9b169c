# An operator sets up a team: a tenant with quotas, a token for it, and an instance created
# with that token (a second, aliased provider). Run with the operator token:
#   DFLY_ENDPOINT=http://127.0.0.1:8080 DFLY_TOKEN=$(cat var/operator.token) terraform apply
terraform {
  required_providers {
    dfly = {
      source = "dfly/dfly"
    }
  }
}

provider "dfly" {}

resource "dfly_tenant" "team" {
  name          = "team-a"
  max_instances = 5
  max_memory    = "8gb"
}

resource "dfly_token" "ci" {
  tenant_id = dfly_tenant.team.id
  name      = "ci"
}

# The tenant's own view: instances created with its token belong to it.
provider "dfly" {
  alias = "team"
  token = dfly_token.ci.secret
}

resource "dfly_instance" "sessions" {
  provider = dfly.team
  name     = "sessions"
  memory   = "512mb"
}

data "dfly_instances" "team" {
  provider   = dfly.team
  depends_on = [dfly_instance.sessions]
}

output "team_token" {
  value     = dfly_token.ci.secret
  sensitive = true
}

output "team_instances" {
  value = data.dfly_instances.team.ids
}
