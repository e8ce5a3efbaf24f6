#ifndef _STUB_LINUX_MMU_NOTIFIER_H
#define _STUB_LINUX_MMU_NOTIFIER_H
/* Nothing beyond the common kernel types and macros is needed. */
#include <linux/kernel.h>
#endif
