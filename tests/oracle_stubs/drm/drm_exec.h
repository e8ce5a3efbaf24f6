#ifndef _STUB_DRM_EXEC_H
#define _STUB_DRM_EXEC_H
#include <linux/kernel.h>
#define drm_exec_until_all_locked(exec) for (; drm_exec_until_all_locked(exec);)
#endif
