#ifndef _STUB_LINUX_COMPILER_H
#define _STUB_LINUX_COMPILER_H
/* Annotations: fencecheck's preprocess blanks the same words. */
#define __init
#define __exit
#define __user
#define __iomem
#define __rcu
#define __force
#define __percpu
#define __must_check
#define __always_inline inline
#define __maybe_unused
#define __always_unused
#define __read_mostly
#define __ro_after_init
#define __packed
#define __cold
#define noinline
#define notrace
#define __acquires(x)
#define __releases(x)
#define __must_hold(x)
#define __free(x)
#define __cleanup(x)
#define __printf(a, b)
#define __aligned(x)
#define __counted_by(x)
#define __attribute__(x)
#define __attribute(x)

#endif
