#ifndef _STUB_LINUX_IOSYS_MAP_H
#define _STUB_LINUX_IOSYS_MAP_H
/* Nothing beyond the common kernel types and macros is needed. */
#include <linux/kernel.h>
#endif
