/* Linked with one translation unit per public header that includes only that header
 * (twice, for include guards): building this program is the test. */
#include <stdio.h>

int main(void)
{
	puts("1 passed, 0 failed");
	return 0;
}
