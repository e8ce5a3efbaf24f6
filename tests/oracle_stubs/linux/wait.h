#ifndef _STUB_LINUX_WAIT_H
#define _STUB_LINUX_WAIT_H
#include <linux/spinlock.h>
typedef struct { spinlock_t lock; } wait_queue_head_t;
#endif
