"""Kernel framework knowledge the linker needs: how control moves between
functions without a direct call, and where a "driver" begins and ends.

Pure data, read by ``analyzer/link.py``; extend it here (or, per tree, with
the ``hops`` key of the config) rather than teaching the engine new names.
"""

# Driver units: indirect calls whose struct type is unknown, and framework
# hops, resolve only within the caller's unit.  The first pattern that matches
# a strict prefix of the file's directory wins; '*' matches one component.
UNIT_PATTERNS = (
    "drivers/gpu/drm/*",
    "drivers/gpu/*",
    "drivers/accel/*",
    "drivers/media/*/*",
    "drivers/*/*",
    "drivers/*",
    "include/*",
    "sound/*/*",
    "tools/*",
    "scripts/*",
    "*",
)

# Top-level directories of a kernel tree: a path is matched against
# UNIT_PATTERNS and path prefixes from the first of these it contains, so a
# tree scanned from above its root (or the bundled fixtures) works the same.
KERNEL_TOP_DIRS = ("drivers", "include", "sound", "arch", "fs", "kernel", "mm", "net", "lib",
                   "block", "crypto", "security", "virt", "samples", "tools", "scripts")

# One kernel is built for one architecture, and host programs (tools/: perf,
# selftests, the userspace shims of kernel APIs in tools/testing; scripts/)
# are never linked into it.  A call by name resolves only to definitions the
# caller's build can link: kernel code never to a host program's, a host
# program only to its own directory's, one architecture's code never to
# another's.  Common code sees the configured architecture's definitions
# (DEFAULT_ARCH, or `arch` in the config); when neither common code nor that
# architecture defines the name (a macro there, or code only built for
# another architecture), the first architecture in FALLBACK_ARCHES (then
# alphabetically) that defines it: one build's definition, never all twenty.
HOST_DIRS = ("tools", "scripts")
DEFAULT_ARCH = "x86"
FALLBACK_ARCHES = ("arm64", "arm", "riscv", "powerpc", "s390", "loongarch", "mips")

# Core APIs that call back into the driver synchronously, so the caller's
# context follows them: name -> the (struct, field) bindings they reach,
# resolved within the caller's unit.
OPS_HOPS = {
    "pm_runtime_get_sync": (("dev_pm_ops", "runtime_resume"),),
    "pm_runtime_resume_and_get": (("dev_pm_ops", "runtime_resume"),),
    "pm_runtime_resume": (("dev_pm_ops", "runtime_resume"),),
    "pm_runtime_force_resume": (("dev_pm_ops", "runtime_resume"),),
    "__pm_runtime_resume": (("dev_pm_ops", "runtime_resume"),),
    "pm_runtime_put_sync": (("dev_pm_ops", "runtime_suspend"),),
    "pm_runtime_put_sync_suspend": (("dev_pm_ops", "runtime_suspend"),),
    "pm_runtime_force_suspend": (("dev_pm_ops", "runtime_suspend"),),
    "drm_gem_object_put": (("drm_gem_object_funcs", "free"),),
    "drm_gem_object_put_locked": (("drm_gem_object_funcs", "free"),),
    "drm_gem_object_put_unlocked": (("drm_gem_object_funcs", "free"),),
    "dma_fence_put": (("dma_fence_ops", "release"),),
    "drm_mode_object_put": (("drm_mode_object", "free_cb"),),
    "drm_framebuffer_put": (("drm_framebuffer_funcs", "destroy"),),
}

# Core APIs that call a function passed as an argument: name -> arg indices.
CALLBACK_ARG_HOPS = {
    "kref_put": (1,),
    "kref_put_mutex": (1,),
    "kref_put_lock": (1,),
    "drm_gem_object_put_locked": (),
}

# Waiting for deferred work runs it, as far as lock order is concerned: the
# work item's function joins the path.  name -> index of the work argument.
WORK_WAIT_HOPS = {
    "flush_work": 0,
    "cancel_work_sync": 0,
    "flush_delayed_work": 0,
    "cancel_delayed_work_sync": 0,
    "kthread_flush_work": 0,
    "kthread_cancel_work_sync": 0,
    "kthread_cancel_delayed_work_sync": 0,
    "irq_work_sync": 0,
}

# Generic work containers: `&x->dwork.work` is named by x's member dwork.
WORK_TYPES = frozenset({"delayed_work", "kthread_delayed_work", "rcu_work", "work_struct", "kthread_work"})

# Deferring work never carries the caller's context: these are never
# followed, even when their bodies are in the scanned tree.
DEFERRAL_APIS = frozenset({
    "queue_work", "queue_work_on", "schedule_work", "schedule_work_on",
    "queue_delayed_work", "queue_delayed_work_on", "mod_delayed_work",
    "mod_delayed_work_on", "schedule_delayed_work", "queue_rcu_work",
    "call_rcu", "call_srcu", "kfree_rcu", "kthread_queue_work",
    "kthread_queue_delayed_work", "kthread_mod_delayed_work", "irq_work_queue",
    "tasklet_schedule", "tasklet_hi_schedule", "mod_timer", "add_timer",
    "hrtimer_start", "hrtimer_start_range_ns", "wake_up_process",
    "kthread_run", "kthread_create", "drm_sched_start", "drm_sched_wakeup",
    "drm_sched_entity_push_job",
})

# Core code that is not the caller's path, never followed: crash and debug
# reports (panic never returns to the caller's locks; warnings and stack dumps
# only print), and sleeping: what schedule() does around the context switch
# (flushing block plugs, waking workqueue workers) and the perf events and
# BPF programs attached to the switch run for whatever task sleeps; a wait
# that is forbidden is a sink of its own.  kfree(), kmem_cache_free() and
# wakeups may be called in any context, hard irqs included, and releasing a
# mutex or rwsem only wakes a waiter, so nothing they do waits or reclaims;
# the paths a whole tree shows below them (a large kmalloc freed as if it
# were a hugetlb folio, a woken task's last reference dropped) are
# data-dependent branches never taken.  By name.  The
# hooks of the sanitizers, lockdep, kmemleak and debugobjects run in debug
# builds only, with allocators of their own: by where they are defined.
# Following them, more than half of a whole tree's findings went through
# panic(), KASAN's or KMSAN's hooks (memcpy, memset, kfree) or lockdep.
NOT_ENTERED = frozenset({
    "panic", "nmi_panic", "__warn", "warn_slowpath_fmt", "dump_stack", "dump_stack_lvl",
    "print_tainted", "ftrace_dump", "schedule", "__schedule",
    "kfree", "kvfree", "kfree_sensitive", "kvfree_sensitive", "kmem_cache_free", "kmem_cache_free_bulk",
    "mutex_unlock", "ww_mutex_unlock", "up_read", "up_write", "wake_up_q", "try_to_wake_up",
})
NOT_ENTERED_CODE = ("mm/kasan/", "mm/kmsan/", "mm/kfence/", "kernel/kcsan/", "kernel/locking/lockdep.c",
                    "lib/stackdepot.c", "mm/page_owner.c", "mm/kmemleak.c", "lib/debugobjects.c")

# Calls that bind a function as the body of something that runs later,
# elsewhere: name -> (function arg index, object arg index or None, kind).
REGISTRATIONS = {
    "INIT_WORK": (1, 0, "work"),
    "INIT_WORK_ONSTACK": (1, 0, "work"),
    "INIT_DELAYED_WORK": (1, 0, "work"),
    "INIT_DEFERRABLE_WORK": (1, 0, "work"),
    "INIT_RCU_WORK": (1, 0, "work"),
    "kthread_init_work": (1, 0, "kthread_work"),
    "kthread_init_delayed_work": (1, 0, "kthread_work"),
    "timer_setup": (1, 0, "timer"),
    "setup_timer": (1, 0, "timer"),
    "tasklet_setup": (1, 0, "tasklet"),
    "tasklet_init": (1, 0, "tasklet"),
    "request_irq": (1, None, "irq"),
    "request_any_context_irq": (1, None, "irq"),
    "devm_request_irq": (2, None, "irq"),
    "request_threaded_irq": (1, None, "irq"),
    "devm_request_threaded_irq": (2, None, "irq"),
    "irq_work_init": (1, 0, "irq_work"),
    "init_irq_work": (1, 0, "irq_work"),
    "kthread_run": (0, None, "kthread"),
    "kthread_create": (0, None, "kthread"),
}
# threaded irq handlers are the argument after the primary handler
REGISTRATION_EXTRA_ARGS = {
    "request_threaded_irq": (2,),
    "devm_request_threaded_irq": (3,),
}
# Fields that hold a deferred function when assigned directly.
REGISTRATION_FIELDS = {
    ("hrtimer", "function"): "hrtimer",
    ("timer_list", "function"): "timer",
}

# Binding macros used inside initializers: macro -> {arg index: (struct, field)}.
BINDING_MACROS = {
    "SET_RUNTIME_PM_OPS": {0: ("dev_pm_ops", "runtime_suspend"), 1: ("dev_pm_ops", "runtime_resume"),
                           2: ("dev_pm_ops", "runtime_idle")},
    "RUNTIME_PM_OPS": {0: ("dev_pm_ops", "runtime_suspend"), 1: ("dev_pm_ops", "runtime_resume"),
                       2: ("dev_pm_ops", "runtime_idle")},
    "SET_SYSTEM_SLEEP_PM_OPS": {0: ("dev_pm_ops", "suspend"), 1: ("dev_pm_ops", "resume")},
    "SYSTEM_SLEEP_PM_OPS": {0: ("dev_pm_ops", "suspend"), 1: ("dev_pm_ops", "resume")},
}
# File-scope macros that define a whole table: macro -> {arg index: (struct, field)}.
DEFINING_MACROS = {
    "DEFINE_RUNTIME_DEV_PM_OPS": {1: ("dev_pm_ops", "runtime_suspend"), 2: ("dev_pm_ops", "runtime_resume"),
                                  3: ("dev_pm_ops", "runtime_idle")},
    "UNIVERSAL_DEV_PM_OPS": {1: ("dev_pm_ops", "runtime_suspend"), 2: ("dev_pm_ops", "runtime_resume"),
                             3: ("dev_pm_ops", "runtime_idle")},
    "DEFINE_SIMPLE_DEV_PM_OPS": {1: ("dev_pm_ops", "suspend"), 2: ("dev_pm_ops", "resume")},
    "SIMPLE_DEV_PM_OPS": {1: ("dev_pm_ops", "suspend"), 2: ("dev_pm_ops", "resume")},
}

# Test code (selftests, KUnit) binds mock implementations into the same ops
# tables as the driver; its bindings and registrations would resolve real
# calls to mocks, so they are ignored (its functions are still scanned).
TEST_CODE = ("/selftests/", "/tests/", "/kunit/", "_kunit.c", "_test.c", "_selftest.c", "selftest_")

# Directories whose code belongs to the kernel core rather than a driver: a
# finding's primary location is never put there when the path passes through
# driver code a developer can change.
FRAMEWORK_PREFIXES = ("include/",)
