#ifndef _STUB_LINUX_UACCESS_H
#define _STUB_LINUX_UACCESS_H
/* Nothing beyond the common kernel types and macros is needed. */
#include <linux/kernel.h>
#endif
