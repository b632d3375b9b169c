/* terraform-provider-dfly: the Terraform provider. */
#include <stdio.h>

int main(void)
{
    fputs("terraform-provider-dfly: not built yet\n", stderr);
    return 1;
}
