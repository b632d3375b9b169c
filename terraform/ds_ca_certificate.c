/* Data source dfly_ca_certificate: the internal CA's certificate (GET /v1/ca, PEM), which
 * clients of TLS instances trust to verify the nodes. */
#include <stdlib.h>

#include "api_util.h"

#define CA_ID "ca"
#define CA_PATH "/v1/ca"
#define SUMMARY_READ "Cannot read the CA certificate"

static const tf_attr ds_ca_attrs[] = {
    {"id", &TF_STRING, ATTR_COMPUTED, "Always \"ca\"."},
    {"pem", &TF_STRING, ATTR_COMPUTED, "The CA certificate (PEM)."},
    {NULL, NULL, 0, NULL},
};
static const tf_schema ds_ca_schema = {
    0, "dfly-control's internal CA certificate, which signs the TLS instances' certificates.",
    ds_ca_attrs, NULL};

static cty_value *ds_ca_read(provider *p, const cty_value *config, diags *d)
{
    char *pem = NULL;
    if (!api_get_text(p, CA_PATH, &pem, d, SUMMARY_READ))
        return NULL;
    cty_value *out = cty_map();
    cty_set(out, "id", cty_str(CA_ID));
    cty_set(out, "pem", cty_str(pem));
    free(pem);
    return out;
}

const tf_data_source ds_ca_certificate = {"dfly_ca_certificate", &ds_ca_schema, NULL, ds_ca_read};
