#ifndef _STUB_LINUX_CLEANUP_H
#define _STUB_LINUX_CLEANUP_H
/* guard(mutex)(&l) is left undefined: a call returning a callee, as the
 * extractor reports it (guard and guard()).  scoped_guard takes a body. */
#define scoped_guard(type, ...) for (; scoped_guard(type, __VA_ARGS__);)
#endif
