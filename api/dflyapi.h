/* libdflyapi: the C client of dfly-control's REST API (api/openapi.yaml), shared by dfly (cli/)
 * and terraform-provider-dfly (terraform/). */
#ifndef DFLY_API_H
#define DFLY_API_H

#endif
