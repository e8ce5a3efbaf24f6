#ifndef _STUB_LINUX_FIRMWARE_H
#define _STUB_LINUX_FIRMWARE_H
/* Nothing beyond the common kernel types and macros is needed. */
#include <linux/kernel.h>
#endif
