#ifndef _STUB_DRM_DRM_FILE_H
#define _STUB_DRM_DRM_FILE_H
/* Nothing beyond the common kernel types and macros is needed. */
#include <linux/kernel.h>
#endif
