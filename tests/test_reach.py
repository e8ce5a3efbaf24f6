"""Walks from context entries (reach.walk), on small trees."""
from fencecheck.analyzer.config import Config
from fencecheck.analyzer.pipeline import scan


def shown(reports):
    """A walk's reports with the hops to each worked out."""
    return [(fid, idx, hops()) for fid, idx, hops in reports]


def test_entry_calling_through_its_own_parameter_has_no_known_target(tree):
    """What an entry calls through a function-pointer parameter depends on
    its caller, and an entry has none on its path: no target.  The program's
    last call passes an allocating function, so a walk that took it for the
    entry's caller would report an allocation in the signalling section (the
    one after the section is allowed, and puts foo_signal in may_reach)."""
    root = tree({
        "drivers/gpu/drm/foo/foo_signal.c": """
            static void foo_alloc(struct foo *f)
            {
            	kzalloc(8, GFP_KERNEL);
            }
            void foo_signal(struct foo *f, void (*done)(struct foo *))
            {
            	bool cookie = dma_fence_begin_signalling();
            	done(f);
            	dma_fence_end_signalling(cookie);
            	foo_alloc(f);
            }
            void foo_zz_last(struct foo *f)
            {
            	foo_signal(f, foo_alloc);
            }
        """,
    })
    result = scan(["drivers"], root, Config(), jobs=1)
    assert result.stats.entries >= 1
    assert [f for f in result.findings if f.entry == "foo_signal"] == []


def test_dead_ends_change_no_walk_and_keep_per_caller_states_out(tree):
    """Walks sharing dead ends report what they report without them, with the
    same hops; a walk that reports nothing hands on the plain functions it
    visited, never one reached through a parameter (what that one calls
    depends on its caller)."""
    from fencecheck.analyzer.reach import walk
    from fencecheck.analyzer.summaries import REPORT
    from fencecheck.rules.base import Entry
    root = tree({
        "drivers/gpu/drm/foo/foo_walk.c": """
            void foo_leaf(void) { foo_nothing(); }
            void foo_common(void) { foo_leaf(); }
            void foo_a(void) { foo_common(); }
            void foo_b(void) { foo_common(); foo_sink(); }
            void foo_c(void) { foo_a(); foo_b(); }
            void foo_run(void (*fn)(void)) { fn(); }
            void foo_d(void) { foo_run(foo_leaf); }
            void foo_e(void) { foo_run(foo_b); }
        """,
    })
    program = scan(["drivers"], root, Config(), jobs=1).program
    fid = {f.fn.name: f.id for f in program.funcs}

    def actions(f):
        return {i: REPORT for i, c in enumerate(program.funcs[f].fn.calls) if c.callee == "foo_sink"}

    everything = program.targets_within(set(fid.values()))

    def walked(name, dead_ends=None):
        entry = Entry("signalling", fid[name], "", "foo_walk.c", 1)
        return shown(walk(program, entry, actions, everything, None, None, dead_ends))
    dead: set[int] = set()
    order = ["foo_a", "foo_d", "foo_b", "foo_c", "foo_e", "foo_a"]
    assert [walked(n, dead) for n in order] == [walked(n) for n in order]
    assert walked("foo_c") == [(fid["foo_b"], 1, [(fid["foo_c"], 1)])]
    assert walked("foo_e")[0][:2] == (fid["foo_b"], 1)
    assert {fid[n] for n in ("foo_a", "foo_common", "foo_leaf", "foo_d")} <= dead
    assert not {fid[n] for n in ("foo_b", "foo_c", "foo_e", "foo_run")} & dead
    # A section of foo_b (its first call only) reports nothing; foo_b itself is no dead end.
    section = Entry("signalling", fid["foo_b"], "", "foo_walk.c", 1, frozenset({0}))
    fresh: set[int] = set()
    assert shown(walk(program, section, actions, everything, None, None, fresh)) == []
    assert fid["foo_common"] in fresh and fid["foo_b"] not in fresh
    assert walked("foo_b", fresh) == walked("foo_b")


def test_a_walk_kept_to_the_reporting_functions_reports_the_same_and_visits_only_them(tree, monkeypatch):
    """Per home unit, the functions from which sink_walk can report: a walk
    kept to them reports what it reports within may_reach, with the same
    hops.  An ops call is followed only into the home unit, so bar's callback
    reports from bar's unit only; what a parameter call calls is what is
    passed, by a call of the function (foo_start) or by the parameter call
    that called it (core_pass); a function leading to no report is left out.  Fails if an edge the walk follows is missed
    (reports lost) or if one it does not follow is counted (core_run kept
    for the foo unit)."""
    from fencecheck.analyzer import reach
    from fencecheck.analyzer.reach import ReportingFunctions, sink_walk
    from fencecheck.analyzer.summaries import summarize
    from fencecheck.rules import reclaim_alloc
    from fencecheck.rules.base import Entry
    root = tree({
        "include/core.h": """
            struct core_ops { void (*hook)(struct core_dev *d); };
            struct core_dev { const struct core_ops *ops; };
        """,
        "drivers/gpu/drm/bar/bar_ops.c": """
            static void bar_hook(struct core_dev *d) { kmalloc(8, GFP_KERNEL); }
            static const struct core_ops bar_core_ops = { .hook = bar_hook };
            void bar_start(struct core_dev *d) { core_run(d); }
        """,
        "drivers/gpu/drm/core/core.c": """
            void core_run(struct core_dev *d) { d->ops->hook(d); core_idle(d); }
            void core_idle(struct core_dev *d) { core_nothing(d); }
            static void core_alloc(void) { kmalloc(8, GFP_KERNEL); }
            /* in may_reach through core_alloc, which no walk enters: it reports through fn alone */
            void core_apply(void (*fn)(void))
            {
            	unsigned int flags = memalloc_noreclaim_save();
            	core_alloc();
            	memalloc_noreclaim_restore(flags);
            	fn();
            }
            static void core_alloc_late(void) { kmalloc(8, GFP_KERNEL); }
            /* passes core_alloc_late to whatever function it is given */
            void core_pass(void (*visit)(void (*cb)(void)))
            {
            	unsigned int flags = memalloc_noreclaim_save();
            	core_alloc();
            	memalloc_noreclaim_restore(flags);
            	visit(core_alloc_late);
            }
        """,
        "drivers/gpu/drm/foo/foo.c": """
            static void foo_alloc(void) { kmalloc(8, GFP_KERNEL); }
            void foo_start(void) { core_apply(foo_alloc); core_idle(0); }
            void foo_quiet(void) { core_idle(0); }
            void foo_top(void) { foo_start(); }
            static void foo_visit(void (*cb)(void))
            {
            	unsigned int flags = memalloc_noreclaim_save();
            	foo_alloc();
            	memalloc_noreclaim_restore(flags);
            	cb();
            }
            void foo_visit_all(void) { core_pass(foo_visit); }
        """,
    })
    program = scan(["drivers", "include"], root, Config(), jobs=1).program
    fid = {f.fn.name: f.id for f in program.funcs}
    summary = summarize(program, reclaim_alloc.make_rule())
    reporting = ReportingFunctions(program, summary)

    def walked(name, within=None):
        entry = Entry("signalling", fid[name], "", "x.c", 1)
        return shown(sink_walk(program, entry, summary, within=within))

    def kept(unit):
        return {program.funcs[f].fn.name for f in reporting.within(unit).functions}
    for name in fid:
        within = reporting.within(program.units[fid[name]])
        assert walked(name, within) == walked(name)
    assert walked("bar_start") and walked("foo_top") and walked("foo_visit_all")
    assert {"bar_hook", "bar_start", "core_run"} <= kept(program.units[fid["bar_start"]])
    assert "core_run" not in kept(program.units[fid["foo_start"]])
    assert {"foo_alloc", "foo_start", "core_apply", "foo_top", "foo_visit_all"} <= kept(program.units[fid["foo_start"]])
    assert not {"core_idle", "foo_quiet"} & kept(program.units[fid["foo_start"]])
    # Too many to be worth working out: walks keep to may_reach, as without.
    monkeypatch.setattr(reach, "MAX_REPORTING", 2)
    dense = ReportingFunctions(program, summary)
    assert dense.within(program.units[fid["foo_start"]]) is summary.walk_targets


def test_a_walk_within_a_set_is_a_walk_that_keeps_only_its_members(tree):
    """Targets outside the set are dropped per function ahead of the walk,
    except a parameter's, which are known per caller: both must go."""
    from fencecheck.analyzer.reach import walk
    from fencecheck.analyzer.summaries import REPORT
    from fencecheck.rules.base import Entry
    root = tree({
        "drivers/gpu/drm/foo/foo_within.c": """
            void foo_leaf(void) { foo_sink(); }
            void foo_mid(void) { foo_leaf(); foo_sink(); }
            void foo_run(void (*fn)(void)) { fn(); foo_mid(); }
            void foo_top(void) { foo_mid(); foo_run(foo_leaf); foo_run(foo_mid); }
        """,
    })
    program = scan(["drivers"], root, Config(), jobs=1).program
    fid = {f.fn.name: f.id for f in program.funcs}

    def actions(f):
        return {i: REPORT for i, c in enumerate(program.funcs[f].fn.calls) if c.callee == "foo_sink"}
    everything = program.targets_within(set(fid.values()))
    entry = Entry("signalling", fid["foo_top"], "", "foo_within.c", 1)
    reports = {}
    for left_out in ("foo_leaf", "foo_mid", "foo_run"):
        kept = set(fid.values()) - {fid[left_out]}
        reports[left_out] = shown(walk(program, entry, actions, program.targets_within(kept)))
        assert reports[left_out] == shown(walk(program, entry, actions, everything, kept.__contains__))
    assert reports["foo_run"] == [(fid["foo_mid"], 1, [(fid["foo_top"], 0)]),
                                  (fid["foo_leaf"], 0, [(fid["foo_top"], 0), (fid["foo_mid"], 0)])]
    # foo_leaf is reached only as foo_run's parameter
    assert (fid["foo_leaf"], 0) not in {r[:2] for r in reports["foo_leaf"]}
    assert (fid["foo_leaf"], 0) in {r[:2] for r in reports["foo_mid"]}


def test_a_helper_over_one_with_too_many_sinks_is_judged_as_its_walk_would(tree):
    """Sizing the helpers behind wrapper sites stops at a helper of the same
    unit already judged to have too much below; the judgement is the one
    the whole walk gives, and a helper judged small stops nothing."""
    from fencecheck import rules as rule_registry
    from fencecheck.analyzer.reach import FOLLOW_HOME, _few_sinks_below, follow_small_wrappers
    from fencecheck.analyzer.summaries import summarize
    many = "\n".join(f"\tkzalloc({i}, GFP_KERNEL);" for i in range(17))
    root = tree({
        "drivers/gpu/drm/foo/foo_dump.c": f"""
            static void foo_few(void) {{ kzalloc(1, GFP_KERNEL); kzalloc(2, GFP_KERNEL); }}
            static void foo_many(void)
            {{
            {many}
            }}
            static void foo_over_few(void) {{ foo_few(); }}
            static void foo_over_many(void) {{ foo_many(); }}
            static void foo_top(void) {{ foo_over_few(); foo_over_many(); }}
        """,
    })
    program = scan(["drivers"], root, Config(), jobs=1).program
    fid = {f.fn.name: f.id for f in program.funcs}
    rule = next(r for r in rule_registry.sink_rules(Config()) if r.id == "reclaim_alloc")
    summary = summarize(program, rule)
    follow_small_wrappers(program, summary, set(fid.values()))
    top = summary.stops[fid["foo_top"]]
    assert [bool(top[i] & FOLLOW_HOME) for i in (0, 1)] == [True, False]

    def actions(f):
        return {i: a | FOLLOW_HOME for i, a in summary.stops.get(f, {}).items()}
    for helper, below in (("foo_over_few", "foo_few"), ("foo_over_many", "foo_many")):
        whole_walk = _few_sinks_below(program, summary, fid[helper], actions, {})
        judged = {fid[below]: _few_sinks_below(program, summary, fid[below], actions, {})}
        assert _few_sinks_below(program, summary, fid[helper], actions, judged) == whole_walk


def test_an_api_call_judged_harmless_is_not_followed_into_its_definition(tree):
    """A call of an API a rule knows is judged, never followed, even when the
    verdict is that it is harmless: a zero timeout only tests the fence, a
    GFP_NOWAIT mask does not reclaim.  The tree defines both APIs, in the
    shape of dma-fence.c and slab.c, and their bodies wait and reclaim: a
    walk into them would report what the call itself does not do."""
    root = tree({
        "drivers/dma-buf/dma-fence.c": """
            long dma_fence_wait_timeout(struct dma_fence *fence, bool intr, long timeout)
            {
            	return dma_fence_wait(fence, intr);
            }
        """,
        "mm/slub.c": """
            void *kmalloc(size_t size, gfp_t flags)
            {
            	return kzalloc(size, GFP_KERNEL);
            }
        """,
        "drivers/gpu/drm/foo/foo_job.c": """
            static struct dma_fence *foo_run_job(struct drm_sched_job *job)
            {
            	dma_fence_wait_timeout(job->dep, false, 0);
            	kmalloc(16, GFP_NOWAIT);
            	dma_fence_wait_timeout(job->dep, false, HZ);
            	kmalloc(16, GFP_KERNEL);
            	return NULL;
            }
            static const struct drm_sched_backend_ops foo_sched_ops = { .run_job = foo_run_job };
        """,
    })
    result = scan(["drivers", "mm"], root, Config(), jobs=1)
    reported = sorted((f.rule, f.location.line) for f in result.findings if f.entry == "foo_run_job")
    # the waiting and reclaiming calls, at their own lines, and nothing below the harmless ones
    assert reported == [("fence_wait", 6), ("reclaim_alloc", 7)]


def test_summaries_do_not_depend_on_the_order_evaluation_takes(tree):
    """Which target a site names, which call a parameter's flow goes on
    through and which call witnesses "always reaches" are the first in call
    and target order of all evaluation met, whatever order it met them in.
    foo_mid passes its mask on through two calls; evaluated in id order it
    meets foo_b's flow first (foo_a is defined after it), backwards foo_a's:
    either way its flow goes on through its first call, foo_a, and every
    rule's summary is the same (a change
    re-evaluating only what it touches must get what a full run gets).
    foo_maybe's mask reaches kmalloc before foo_grab makes it always
    reclaim: in id order foo_caller first sees a mask passed, backwards a
    wrapper, and the site is the wrapper's either way.  foo_first always
    reclaims at its kmalloc before foo_later is known to: its witness is
    still its first call."""
    from fencecheck import rules
    from fencecheck.analyzer.summaries import ParamSink, summarize
    root = tree({
        "drivers/gpu/drm/foo/foo_order.c": """
            void foo_b(gfp_t gfp) { kmalloc(8, gfp); }
            void foo_mid(gfp_t gfp) { foo_a(gfp); foo_b(gfp); }
            void foo_a(gfp_t gfp) { kmalloc(16, gfp); }
            void foo_top(void) { foo_mid(GFP_KERNEL); }
            void foo_caller(void) { foo_maybe(GFP_KERNEL); }
            void foo_maybe(gfp_t gfp) { kmalloc(8, gfp); foo_grab(); }
            void foo_grab(void) { kmalloc(32, GFP_KERNEL); }
            void foo_first(void) { foo_later(); kmalloc(8, GFP_KERNEL); }
            void foo_later(void) { kmalloc(4, GFP_KERNEL); }
        """,
    })
    program = scan(["drivers"], root, Config(), jobs=1).program
    fid = {f.fn.name: f.id for f in program.funcs}
    backwards = list(reversed(range(len(program.funcs))))
    for rule in rules.sink_rules(Config()):
        ahead, behind = summarize(program, rule), summarize(program, rule, backwards)
        assert ahead.sites == behind.sites, rule.id
        assert [ahead.what(*site, program) for site in ahead.sites] == \
            [behind.what(*site, program) for site in ahead.sites], rule.id
        assert ahead.always == behind.always, rule.id
        assert dict(ahead.params) == dict(behind.params), rule.id
        if rule.id == "reclaim_alloc":
            assert dict(ahead.params[fid["foo_mid"]].items()) == {0: ParamSink(0, fid["foo_a"])}
            assert ahead.sites[(fid["foo_top"], 0)].callee == fid["foo_mid"]
            assert ahead.sites[(fid["foo_caller"], 0)].kind == "wrapper"
            assert ahead.always[fid["foo_first"]] == 0
