#ifndef _STUB_LINUX_SPINLOCK_H
#define _STUB_LINUX_SPINLOCK_H
typedef struct { int rlock; } spinlock_t;
#endif
