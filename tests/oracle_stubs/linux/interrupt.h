#ifndef _STUB_LINUX_INTERRUPT_H
#define _STUB_LINUX_INTERRUPT_H
#include <linux/kernel.h>
typedef int irqreturn_t;
#endif
