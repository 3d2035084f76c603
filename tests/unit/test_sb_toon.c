#include "sb_toon.h"
#include "sb_test.h"
int
main (void)
{
    return SB_TEST_DONE ();
}
