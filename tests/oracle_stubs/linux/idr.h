#ifndef _STUB_LINUX_IDR_H
#define _STUB_LINUX_IDR_H
/* Nothing beyond the common kernel types and macros is needed. */
#include <linux/kernel.h>
#endif
