#ifndef _STUB_LINUX_MODULE_H
#define _STUB_LINUX_MODULE_H
#include <linux/kernel.h>
#define module_param_named(name, value, type, perm) extern int __param_##name
#endif
