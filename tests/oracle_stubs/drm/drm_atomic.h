#ifndef _STUB_DRM_ATOMIC_H
#define _STUB_DRM_ATOMIC_H
#include <linux/kernel.h>
#define for_each_oldnew_plane_in_state(state, plane, old_state, new_state, i) \
	for (; for_each_oldnew_plane_in_state(state, plane, old_state, new_state, i);)
#endif
