#ifndef _STUB_LINUX_PM_RUNTIME_H
#define _STUB_LINUX_PM_RUNTIME_H
#include <linux/kernel.h>
#define SET_SYSTEM_SLEEP_PM_OPS(suspend_fn, resume_fn) \
	.suspend = suspend_fn, .resume = resume_fn,
#define SET_RUNTIME_PM_OPS(suspend_fn, resume_fn, idle_fn) \
	.runtime_suspend = suspend_fn, .runtime_resume = resume_fn, .runtime_idle = idle_fn,
#endif
