#ifndef _STUB_LINUX_DMA_RESV_H
#define _STUB_LINUX_DMA_RESV_H
/* Nothing beyond the common kernel types and macros is needed. */
#include <linux/kernel.h>
#endif
