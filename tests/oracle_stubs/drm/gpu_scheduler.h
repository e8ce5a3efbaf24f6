#ifndef _STUB_DRM_GPU_SCHEDULER_H
#define _STUB_DRM_GPU_SCHEDULER_H
/* Nothing beyond the common kernel types and macros is needed. */
#include <linux/kernel.h>
#endif
