#ifndef _STUB_LINUX_PLATFORM_DEVICE_H
#define _STUB_LINUX_PLATFORM_DEVICE_H
#include <linux/kernel.h>
#define module_platform_driver(drv) extern int __module_##drv
#endif
