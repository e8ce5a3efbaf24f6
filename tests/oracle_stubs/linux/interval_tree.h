#ifndef _STUB_LINUX_INTERVAL_TREE_H
#define _STUB_LINUX_INTERVAL_TREE_H
/* Nothing beyond the common kernel types and macros is needed. */
#include <linux/kernel.h>
#endif
