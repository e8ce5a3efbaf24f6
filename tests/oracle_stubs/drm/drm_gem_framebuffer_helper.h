#ifndef _STUB_DRM_DRM_GEM_FRAMEBUFFER_HELPER_H
#define _STUB_DRM_DRM_GEM_FRAMEBUFFER_HELPER_H
/* Nothing beyond the common kernel types and macros is needed. */
#include <linux/kernel.h>
#endif
