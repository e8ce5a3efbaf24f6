#ifndef _STUB_LINUX_KERNEL_H
#define _STUB_LINUX_KERNEL_H
/* Hub included by every stub: real headers pull these in transitively. */
#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/container_of.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/cleanup.h>

/* Only ever used through fixture macros (#define FLAG BIT(0)). */
#define BIT(nr) (1UL << (nr))

#endif
