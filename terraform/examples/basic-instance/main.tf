# A 1 GiB cache with the tenant's token: DFLY_ENDPOINT=http://127.0.0.1:8080 DFLY_TOKEN=dfly_...
terraform {
  required_providers {
    dfly = {
      source = "dfly/dfly"
    }
  }
}

provider "dfly" {}

resource "dfly_instance" "cache" {
  name               = "cache"
  memory             = "1gb"
  replicas_per_shard = 1
  eviction_policy    = "allkeys-lru"
  snapshot_cron      = "0 * * * *"

  labels = {
    env  = "prod"
    team = "web"
  }

  timeouts {
    create = "10m"
  }
}

output "endpoint" {
  value = "${dfly_instance.cache.host}:${dfly_instance.cache.port}"
}

output "password" {
  value     = dfly_instance.cache.default_password
  sensitive = true
}
