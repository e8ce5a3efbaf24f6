#ifndef _STUB_LINUX_SCHED_TASK_H
#define _STUB_LINUX_SCHED_TASK_H
/* Nothing beyond the common kernel types and macros is needed. */
#include <linux/kernel.h>
#endif
