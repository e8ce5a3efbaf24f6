#ifndef _STUB_DRM_DRM_MODESET_HELPER_VTABLES_H
#define _STUB_DRM_DRM_MODESET_HELPER_VTABLES_H
/* Nothing beyond the common kernel types and macros is needed. */
#include <linux/kernel.h>
#endif
