#ifndef _STUB_LINUX_DEBUGFS_H
#define _STUB_LINUX_DEBUGFS_H
#include <linux/kernel.h>
#define DEFINE_DEBUGFS_ATTRIBUTE(fops, get, set, fmt) extern const struct file_operations fops
#endif
