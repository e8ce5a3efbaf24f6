"""Extraction: kernel idioms keep their definitions and calls; positions stay exact."""
import pytest

from fencecheck.analyzer.extract import extract_source
from fencecheck.analyzer.preprocess import prepare


def facts(src: str):
    return extract_source("drivers/x/a.c", src.encode())


def fn(f, name):
    return next(x for x in f.functions if x.name == name)


def test_blanking_keeps_offsets():
    src = b"static int __init __must_check foo(void __user *p) __acquires(l)\n{ return 0; }\n"
    out = prepare(src)
    assert len(out) == len(src)
    assert out.count(b"\n") == src.count(b"\n")
    assert b"__init" not in out and b"__acquires" not in out and b"foo(void" in out


def test_annotated_definition_and_params():
    f = facts("static int __init foo(struct bar __iomem *regs, gfp_t gfp) __must_hold(&x)\n"
              "{\n\treturn kzalloc(4, gfp) != 0;\n}\n")
    foo = fn(f, "foo")
    assert foo.static and foo.line == 1 and foo.end_line == 4
    assert foo.params == (("regs", "bar"), ("gfp", "gfp_t"))
    assert [(c.callee, c.line, c.col, c.args) for c in foo.calls] == [("kzalloc", 3, 8, ("4", "gfp"))]


def test_iterator_macros_and_guards_keep_calls():
    f = facts("""void f(struct dev *d)
{
	list_for_each_entry(obj, &d->list, node) {
		a(obj);
	}
	scoped_guard(mutex, &d->lock) {
		b();
	}
	guard(mutex)(&d->lock);
	c();
}
""")
    names = [c.callee for c in fn(f, "f").calls]
    for expected in ("list_for_each_entry", "a", "scoped_guard", "b", "guard", "guard()", "c"):
        assert expected in names


def test_ifdef_splitting_braces_keeps_following_functions():
    f = facts("""int f(int x)
{
#ifdef CONFIG_A
	if (x) {
#else
	if (!x) {
#endif
		alloc_a();
	}
	return 0;
}
int g(void) { return alloc_b(); }
""")
    assert {x.name for x in f.functions} == {"f", "g"}
    assert [c.callee for c in fn(f, "g").calls] == ["alloc_b"]


def test_ifdef_inside_argument_list():
    f = facts("""void f(void)
{
	WREG32(CNTL,
#ifdef __BIG_ENDIAN
	       SWAP |
#endif
	       SIZE);
	after();
}
void g(void) { h(); }
""")
    assert [c.callee for c in fn(f, "f").calls] == ["WREG32", "after"]
    assert fn(f, "g").calls[0].callee == "h"


def test_if0_is_dead_code():
    f = facts("#if 0\nint dead(void) { return x(); }\n#else\nint live(void) { return y(); }\n#endif\n")
    assert [x.name for x in f.functions] == ["live"]


def test_bindings_nested_arrays_macros_and_assignments():
    f = facts("""static const struct adreno_gpu_funcs funcs = {
	.base = { .hw_init = a6xx_hw_init, },
	.get_timestamp = a6xx_ts,
};
static const struct dev_pm_ops pm = { SET_RUNTIME_PM_OPS(sus, res, NULL) };
static const job_fn table[] = { [0] = job_a, job_b };
void setup(struct shrinker *s) { s->scan_objects = my_scan; }
""")
    got = {(b.struct, b.path, b.target) for b in f.bindings}
    assert ("adreno_gpu_funcs", ("base", "hw_init"), "a6xx_hw_init") in got
    assert ("adreno_gpu_funcs", ("get_timestamp",), "a6xx_ts") in got
    assert ("dev_pm_ops", ("SET_RUNTIME_PM_OPS()", "1"), "res") in got
    assert ("job_fn", ("[]",), "job_a") in got and ("job_fn", ("[]",), "job_b") in got
    assign = next(b for b in f.bindings if b.target == "my_scan")
    assert assign.path == ("scan_objects",) and assign.receiver == ("v:s",) and assign.function == "setup"


def test_indirect_call_receivers():
    f = facts("""void f(struct msm_gpu *gpu, void *p)
{
	gpu->funcs->hw_init(gpu);
	container_of(p, struct a6xx_gpu, base)->ops->go(p);
	fns[job->type](job);
	(*cb)(1);
}
""")
    calls = fn(f, "f").calls
    # container_of in the receiver is a call too, made before go.
    assert [c.callee or c.field or c.array for c in calls] == ["hw_init", "container_of", "go", "fns", "cb"]
    assert calls[0].receiver == ("v:gpu", "funcs")
    assert calls[2].receiver[0] == "t:a6xx_gpu"


def test_skeleton_structure():
    f = facts("""int f(int x)
{
	a();
	if (x) { b(); return 1; } else c();
	while (x--) d();
	e(x ? g() : 0);
out:
	return h();
}
""")
    body = fn(f, "f").body
    names = [c.callee for c in fn(f, "f").calls]
    idx = {n: i for i, n in enumerate(names)}
    assert body[0] == idx["a"]
    assert body[1] == ["if", [["block", [idx["b"], ["ret"]]]], [idx["c"]]]
    assert body[2] == ["loop", [idx["d"]]]
    assert ["cond", [idx["g"]]] in body and ["label", "out"] in body


def test_deep_nesting_does_not_overflow():
    depth = 3000
    src = "void f(void) {" + "{" * depth + "x();" + "}" * depth + "}\n"
    f = facts(src)
    assert [c.callee for c in fn(f, "f").calls] == ["x"]


def test_non_utf8_bytes():
    f = extract_source("a.c", b"/* caf\xe9 */ void f(void) { g(\"\xff\"); }\n")
    assert f.functions[0].calls[0].callee == "g"


def test_annotations_are_blanked_only_as_whole_words():
    src = (b"static int __init f(void) __attribute__((section(\".x\"))) asmlinkage;\n"
           b"int my__init, x__attribute__(y), notrace_count, __initdata_x;\n")
    out = prepare(src)
    assert b"__init " not in out and b"__attribute__" not in out[:70] and b"asmlinkage" not in out
    assert b"my__init" in out and b"x__attribute__(y)" in out and b"notrace_count" in out
    assert b"__initdata_x" in out


def test_includes_are_directives_at_line_start():
    f = facts('#include <linux/a.h>\n  #  include "b.h"\nint x; /* #include <c.h> */ #include <d.h>\n')
    assert f.includes == ("linux/a.h", "b.h")


def test_a_function_the_parser_swallowed_into_an_initializer_keeps_its_calls():
    # A #define inside a hook table, as in an LSM's: tree-sitter's error
    # recovery makes the table's initializer run on past demo_init's body.
    f = facts("""#include <linux/demo_hooks.h>

bool demo_initialized __ro_after_init;

static struct hook_list demo_hooks[] __ro_after_init = {
	#define DEMO_HOOK(RET, DEFAULT, NAME, ...) \
	HOOK_INIT(NAME, demo_##NAME),
	#include <linux/demo_hook_defs.h>
	#undef DEMO_HOOK
	HOOK_INIT(task_free, demo_task_free),
};

static const struct demo_id demo_lsmid = {
	.name = "demo",
};

static int __init demo_init(void)
{
	register_demo_hooks(demo_hooks, ARRAY_SIZE(demo_hooks), &demo_lsmid);
	return 0;
}

struct demo_blob_sizes demo_blob_sizes __ro_after_init = {
	.lbs_inode = sizeof(struct demo_storage_blob),
};

DEFINE_DEMO(demo) = {
	.name = "demo",
	.init = demo_init,
};
""")
    calls = [c.callee for c in f.file_calls] + [c.callee for x in f.functions for c in x.calls]
    assert "register_demo_hooks" in calls


def test_expressions_without_calls_still_bind_and_branch():
    f = facts("""void f(struct ops *o, int x)
{
	o->cb = handler;
	y = x ? p->q.r + 4 : s[2];
	z = x && ({ g(); 1; });
	for (i = 0; i < x; i++, o->done = handler_done)
		;
}
""")
    assert [(b.path, b.target) for b in f.bindings] == [(("cb",), "handler"), (("done",), "handler_done")]
    assert [c.callee for c in fn(f, "f").calls] == ["g"]
    assert ["cond", [["block", [0]]]] in fn(f, "f").body


def test_decoded_skeleton_reads_as_extracted():
    from fencecheck.analyzer.facts import decode, encode
    f = facts("int f(int x) { if (x) { a(); return 1; } b(); return 0; }\n")
    stored = decode(encode(f)).functions[0]
    assert isinstance(stored.body, bytes)
    assert stored.skeleton() == fn(f, "f").body == [["if", [["block", [0, ["ret"]]]], None], 1, ["ret"]]


def test_equal_values_decode_as_one_object():
    """Equal argument lists (across files: one interned string), parameter
    lists and locals of a file come back from the cache as one object each;
    every value is as extracted."""
    import marshal
    from fencecheck.analyzer.facts import NO_CALLS, NO_LOCALS, Locals, decode, encode
    src = "\n" * 300 + """int a(struct drm_device *dev, int flags)
{
	int ret = 0;
	lock(dev); ret = submit(dev, flags);
	return ret;
}
int b(struct drm_device *dev, int flags)
{
	int ret = 0;
	lock(dev);
	return ret;
}
"""
    first = decode(marshal.loads(marshal.dumps(encode(extract_source("x.c", src.encode())))))
    a, b = first.functions
    assert a.params is b.params and a.locals["ret"] is b.locals["ret"]
    assert tuple.__getitem__(a.calls, 3) is tuple.__getitem__(b.calls, 3) and a.calls.args(0) == ("dev",)
    extracted = facts(src)
    assert [(f.params, dict(f.locals.items()), [(c.callee, c.line, c.col, c.args) for c in f.calls])
            for f in first.functions] == \
        [(f.params, dict(f.locals.items()), [(c.callee, c.line, c.col, c.args) for c in f.calls])
         for f in extracted.functions]
    # decoded locals are one flat tuple each, read as the dict extraction made
    assert isinstance(a.locals, Locals) and a.locals["ret"] == ("int", "0") and "ret" in a.locals
    assert a.locals.get("flags") is None and "int" not in a.locals and len(a.locals) == 1 and list(a.locals) == ["ret"]
    with pytest.raises(KeyError):
        a.locals["dev"]
    (c,) = decode(marshal.loads(marshal.dumps(encode(extract_source("z.c", b"void c(void) { }\n"))))).functions
    assert c.locals is NO_LOCALS and not c.locals
    assert c.calls is NO_CALLS and not c.calls and len(c.calls) == 0 and list(c.calls) == []


def test_direct_calls_have_no_slots_for_member_fields_and_the_cache_keeps_each_kind():
    """A call through a struct field or an array is a MemberCall; a direct
    call is a Call, which reads field, receiver and array as class defaults
    and has no slot for them.  Decoding what extraction encoded (a worker's
    transfer, the cache) gives back the same kinds."""
    from fencecheck.analyzer.facts import Call, MemberCall, decode, encode
    src = b"""
    void foo(struct foo_dev *dev, int i)
    {
    	foo_reset(dev, GFP_KERNEL);
    	dev->ops->submit(dev);
    	foo_handlers[i](dev);
    }
    """
    for facts in (extract_source("drivers/gpu/drm/foo/foo.c", src),
                  decode(encode(extract_source("drivers/gpu/drm/foo/foo.c", src)))):
        direct, member, table = facts.functions[0].calls
        assert type(direct) is Call and (direct.callee, direct.args) == ("foo_reset", ("dev", "GFP_KERNEL"))
        assert (direct.field, direct.receiver, direct.array) == ("", (), "")
        assert not hasattr(direct, "__dict__") and "field" not in Call.__slots__
        assert type(member) is MemberCall and (member.field, member.receiver) == ("submit", ("v:dev", "ops"))
        assert type(table) is MemberCall and table.array == "foo_handlers"


def test_decoded_calls_read_as_the_calls_extracted():
    """Decoded, a function's calls are one flat Calls tuple: indexing
    (negative too) and iteration, forwards and backwards, make the Calls
    extraction made; callee, callees, args and member read them in place."""
    from fencecheck.analyzer.facts import Calls, decode, encode
    src = b"""
    void foo(struct foo_dev *dev, int i)
    {
    	foo_reset(dev, GFP_KERNEL);
    	dev->ops->submit(dev);
    	foo_handlers[i](dev);
    	foo_done(dev);
    }
    """
    extracted = extract_source("drivers/gpu/drm/foo/foo.c", src).functions[0].calls
    calls = decode(encode(extract_source("drivers/gpu/drm/foo/foo.c", src))).functions[0].calls
    assert isinstance(calls, Calls) and len(calls) == 4 and calls
    assert list(calls) == extracted and list(reversed(calls)) == extracted[::-1]
    assert [calls[i] for i in range(-4, 4)] == extracted + extracted
    assert [c.line for c in calls] == [4, 5, 6, 7] and calls[1].col == 5
    with pytest.raises(IndexError):
        calls[4]
    with pytest.raises(IndexError):
        calls[-5]
    assert calls.callees() == ("foo_reset", "", "", "foo_done") == tuple(calls.callee(i) for i in range(4))
    assert [calls.args(i) for i in range(4)] == [c.args for c in extracted]
    assert calls.member(0) is None and calls.member(3) is None
    assert calls.member(1) == ("submit", ("v:dev", "ops"), "") and calls.member(2) == ("", (), "foo_handlers")
    # a NUL byte in an argument's text is no separator between arguments
    nul = decode(encode(extract_source("a.c", b'void f(int x)\n{\n\tfoo("a\\0b", x); foo("a\0b", x);\n}\n')))
    assert [nul.functions[0].calls.args(i) for i in range(2)] == [('"a\\0b"', "x"), ('"a b"', "x")]
