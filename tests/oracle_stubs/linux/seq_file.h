#ifndef _STUB_LINUX_SEQ_FILE_H
#define _STUB_LINUX_SEQ_FILE_H
#include <linux/kernel.h>
/* The real macro also defines name##_open(); the extractor cannot see it. */
#define DEFINE_SHOW_ATTRIBUTE(name) extern const struct file_operations name##_fops
#endif
