#ifndef _STUB_LINUX_STRING_HELPERS_H
#define _STUB_LINUX_STRING_HELPERS_H
/* Nothing beyond the common kernel types and macros is needed. */
#include <linux/kernel.h>
#endif
