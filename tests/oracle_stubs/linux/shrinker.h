#ifndef _STUB_LINUX_SHRINKER_H
#define _STUB_LINUX_SHRINKER_H
/* Nothing beyond the common kernel types and macros is needed. */
#include <linux/kernel.h>
#endif
