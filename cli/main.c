/* dfly: the command-line tool. */
#include <stdio.h>

int main(void)
{
    fputs("dfly: not built yet\n", stderr);
    return 2;
}
