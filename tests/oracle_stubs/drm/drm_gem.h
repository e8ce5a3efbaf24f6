#ifndef _STUB_DRM_DRM_GEM_H
#define _STUB_DRM_DRM_GEM_H
/* Nothing beyond the common kernel types and macros is needed. */
#include <linux/kernel.h>
#endif
