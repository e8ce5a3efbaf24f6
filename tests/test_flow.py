"""Scopes, always-reaches and calls-before on function skeletons."""
from fencecheck.analyzer.extract import extract_source
from fencecheck.analyzer.flow import always_reaches, calls_before, calls_in_scope


def scoped(src: str, open_name="begin", close_name="end"):
    fn = extract_source("a.c", src.encode()).functions[0]
    inside = calls_in_scope(fn.body, lambda i: fn.calls[i].callee == open_name,
                            lambda i: fn.calls[i].callee == close_name)
    return sorted(fn.calls[i].callee for i in inside)


def test_section_between_begin_and_end():
    assert scoped("void f(void) { a(); c = begin(); b(); end(c); d(); }") == ["b", "end"]


def test_early_exit_does_not_end_section_for_later_code():
    src = """int f(void) {
	bool c = begin();
	if (err()) { end(c); return -1; }
	late();
	end(c);
	after();
	return 0;
}"""
    assert scoped(src) == ["end", "end", "err", "late"]


def test_goto_carries_section_to_label():
    src = """int f(void) {
	c = begin();
	if (x()) goto out;
	y();
	end(c);
	return 0;
out:
	in_section_via_goto();
	end(c);
	return 1;
}"""
    assert "in_section_via_goto" in scoped(src)


def test_branch_opening_section_joins():
    assert "z" in scoped("void f(int a) { if (a) c = begin(); z(); }")


def test_nested_sections():
    assert scoped("void f(void) { a = begin(); b = begin(); end(b); x(); end(a); y(); }") == \
        ["begin", "end", "end", "x"]


def always(src: str, name: str):
    fn = extract_source("a.c", src.encode()).functions[0]
    w = always_reaches(fn.body, lambda i: fn.calls[i].callee == name)
    return None if w is None else fn.calls[w].line


def test_always_reaches_ignores_early_error_return():
    assert always("void *f(void) {\n if (!ok()) return 0;\n return alloc();\n}", "alloc") == 3


def test_conditional_call_is_not_always():
    assert always("void f(int a) { if (a) alloc(); }", "alloc") is None
    assert always("void f(int a) { while (a) alloc(); }", "alloc") is None
    assert always("void f(int a) { a ? alloc() : 0; }", "alloc") is None


def test_both_branches_reach():
    assert always("void f(int a) {\n if (a) alloc();\n else alloc();\n}", "alloc") == 2


def test_iterator_macro_body_is_a_loop():
    src = "void f(struct list_head *l) {\n list_for_each_entry(p, l, node) {\n  alloc();\n }\n}"
    assert always(src, "alloc") is None
    assert always("void f(void) {\n scoped_guard(mutex, &m) {\n  alloc();\n }\n}", "alloc") == 3


def before_signal(src: str):
    fn = extract_source("a.c", src.encode()).functions[0]
    return sorted(fn.calls[i].callee for i in calls_before(fn.body, lambda i: fn.calls[i].callee == "signal"))


def test_calls_before_stop_at_the_last_signal():
    src = """void f(void) {
	a();
	if (x())
		signal();
	after();
	while (more())
		in_loop_after();
}"""
    assert before_signal(src) == ["a", "signal", "x"]


def test_calls_before_include_a_signalling_loop():
    src = """void f(void) {
	first();
	for (i = 0; i < n; i++) {
		prepare();
		signal();
		cleanup_then_next_signal();
	}
	after_loop();
}"""
    assert before_signal(src) == ["cleanup_then_next_signal", "first", "prepare", "signal"]


def test_calls_before_without_a_signal_is_empty():
    assert before_signal("void f(void) { a(); b(); }") == []
