#ifndef _STUB_LINUX_DMA_FENCE_H
#define _STUB_LINUX_DMA_FENCE_H
/* Nothing beyond the common kernel types and macros is needed. */
#include <linux/kernel.h>
#endif
