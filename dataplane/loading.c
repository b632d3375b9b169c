/* Loading the dataset at start; see loading.h. (Stub: nothing is loaded yet.) */
#include "loading.h"

int loading_start(void)
{
    return 0;
}

void loading_stop(void)
{
}

void loading_info(buf *out)
{
    buf_printf(out, "loading:0\r\nasync_loading:0\r\n");
}
