"""The linked program's call graph (link.Program.graph)."""
import networkx as nx
import pytest

from fencecheck.analyzer.config import Config
from fencecheck.analyzer.pipeline import scan


def test_the_call_graph_has_every_resolved_call_and_parameter_candidate_once_in_call_order(tree):
    """Successors in call order, each once, then what a parameter call may
    call (what callers pass); predecessors in the order the edges were made;
    a function nobody calls, and one that calls nothing, have none.  The
    graph is frozen, and networkx reads each function's neighbours (a tuple,
    link.Neighbours) as its dict of edges."""
    root = tree({
        "drivers/gpu/drm/foo/foo_graph.c": """
            void foo_b(void) { }
            void foo_a(void) { foo_b(); }
            void foo_apply(void (*fn)(void)) { fn(); foo_a(); }
            void foo_top(void) { foo_b(); foo_a(); foo_b(); foo_apply(foo_b); foo_apply(foo_a); }
            void foo_alone(void) { }
        """,
    })
    program = scan(["drivers"], root, Config(), jobs=1).program
    fid = {f.fn.name: f.id for f in program.funcs}
    name = {v: k for k, v in fid.items()}
    graph = program.graph

    def succ(f):
        return [name[g] for g in graph.successors(fid[f])]

    def pred(f):
        return [name[g] for g in graph.predecessors(fid[f])]
    assert succ("foo_top") == ["foo_b", "foo_a", "foo_apply"]
    assert succ("foo_apply") == ["foo_a", "foo_b"]          # its own call, then the passed ones
    assert succ("foo_a") == ["foo_b"]
    assert pred("foo_b") == ["foo_a", "foo_top", "foo_apply"]
    assert pred("foo_a") == ["foo_apply", "foo_top"]
    assert succ("foo_b") == pred("foo_top") == succ("foo_alone") == pred("foo_alone") == []
    assert graph.number_of_nodes() == len(program.funcs)
    assert graph.number_of_edges() == 6
    assert graph.has_edge(fid["foo_top"], fid["foo_apply"]) and not graph.has_edge(fid["foo_b"], fid["foo_a"])
    assert dict(graph.succ[fid["foo_a"]]) == {fid["foo_b"]: {}}
    assert sorted((name[u], name[v]) for u, v in graph.edges) == sorted(
        [("foo_a", "foo_b"), ("foo_apply", "foo_a"), ("foo_apply", "foo_b"), ("foo_top", "foo_b"),
         ("foo_top", "foo_a"), ("foo_top", "foo_apply")])
    # the nodes are the ids 0..n-1 (link.ByFunction and _Nodes, not dicts)
    assert list(graph) == list(graph.nodes) == list(range(len(program.funcs)))
    assert fid["foo_alone"] in graph and len(program.funcs) not in graph and -1 not in graph
    assert "foo_a" not in graph and not graph.has_node(None)
    assert graph.nodes[fid["foo_a"]] == {}
    with pytest.raises(KeyError):
        graph.nodes[len(program.funcs)]
    assert graph.in_degree(fid["foo_b"]) == 3 and graph.out_degree(fid["foo_top"]) == 3
    assert dict(graph.pred[fid["foo_a"]]) == {fid["foo_apply"]: {}, fid["foo_top"]: {}}
    assert sorted(nx.descendants(graph, fid["foo_apply"])) == sorted([fid["foo_a"], fid["foo_b"]])
    assert nx.is_frozen(graph)
    with pytest.raises(nx.NetworkXError):
        graph.add_edge(fid["foo_b"], fid["foo_alone"])
    assert pred("foo_alone") == []
    # Program.callers: the graph's predecessors but those that only may pass
    # a function to a parameter call (foo_apply calls foo_a itself, not foo_b)
    assert [name[c] for c in program.callers.get(fid["foo_b"])] == ["foo_a", "foo_top"]
    assert [name[c] for c in program.callers.get(fid["foo_a"])] == ["foo_apply", "foo_top"]
    assert program.callers.get(fid["foo_top"]) == ()
    # call sites by callee name, in call order, as (function id, call index)
    assert list(program.callers_by_name["foo_b"]) == [(fid["foo_a"], 0), (fid["foo_top"], 0), (fid["foo_top"], 2)]
    assert list(program.callers_by_name["fn"]) == [(fid["foo_apply"], 0)]
    # by name, built when first asked
    assert program.by_name["foo_a"] == [fid["foo_a"]] and "fn" not in program.by_name


def test_targets_of_a_function_read_as_a_dict_in_call_order(tree):
    """Program.targets holds one CallTargets per function, a flat tuple read
    as the dict {call index: its targets}, in call order; the functions that
    resolve no call share one empty one."""
    from fencecheck.analyzer.link import NO_TARGETS, CallTargets
    root = tree({
        "drivers/gpu/drm/foo/foo_targets.c": """
            void foo_b(void) { }
            void foo_c(void) { }
            void foo_a(void) { unknown(); foo_c(); unknown(); foo_b(); foo_c(); }
            void foo_none(void) { unknown(); }
        """,
    })
    program = scan(["drivers"], root, Config(), jobs=1).program
    fid = {f.fn.name: f.id for f in program.funcs}
    targets = program.targets[fid["foo_a"]]
    expected = {1: (fid["foo_c"],), 3: (fid["foo_b"],), 4: (fid["foo_c"],)}
    assert isinstance(targets, CallTargets)
    assert dict(targets.items()) == expected and list(targets) == list(targets.keys()) == [1, 3, 4]
    assert list(targets.values()) == list(expected.values()) and len(targets) == 3 and targets
    assert targets[3] == targets.get(3) == (fid["foo_b"],) and 3 in targets
    assert 0 not in targets and 2 not in targets and targets.get(0) is None and targets.get(2, ()) == ()
    with pytest.raises(KeyError):
        targets[2]
    assert program.call_targets(fid["foo_a"], 4) == (fid["foo_c"],) and program.call_targets(fid["foo_a"], 0) == ()
    assert program.targets[fid["foo_none"]] is program.targets[fid["foo_b"]] is NO_TARGETS and not NO_TARGETS


def test_assignments_bind_through_their_own_files_function_and_link_consumes_the_bindings(tree):
    """An assignment `x->field = fn` takes the receiver's type from the
    function it is made in, looked up in its own file (two files define a
    function of the same name, with receivers of different types).  Link
    consumes what it alone reads: the files' bindings, struct fields and
    typedefs are empty after it, and what they said is in Program.bound."""
    from fencecheck.analyzer.link import link
    from fencecheck.analyzer.pipeline import read_and_extract
    sources = {
        "drivers/gpu/drm/foo/foo_a.c": """
            struct foo_ops { void (*run)(void); };
            struct foo_a { struct foo_ops *ops; };
            typedef struct foo_a foo_a_t;
            static void foo_a_run(void) { }
            static void setup(struct foo_a *x) { x->ops->run = foo_a_run; }
        """,
        "drivers/gpu/drm/foo/foo_b.c": """
            struct bar_ops { void (*run)(void); };
            struct foo_b { struct bar_ops *ops; };
            static void foo_b_run(void) { }
            static void setup(struct foo_b *y) { y->ops->run = foo_b_run; }
        """,
    }
    root = tree(sources)
    files = [read_and_extract(rel, f"{root}/{rel}") for rel in sources]
    assert all(f.bindings and f.structs for f in files)
    program = link(files)
    bound = {key: sorted(program.funcs[b.fid].fn.name for b in found) for key, found in program.bound.items()}
    assert bound[("foo_ops", "run")] == ["foo_a_run"] and bound[("bar_ops", "run")] == ["foo_b_run"]
    assert all(not f.bindings and not f.structs and not f.typedefs for f in files)


def test_successors_and_predecessors_are_the_same_edges_with_the_hops_link_adds_after_the_calls(tree):
    """Successors are read from the call targets (link.Successors), not
    stored; predecessors are stored.  Both must hold the same edges, those
    link adds after its pass over the calls too: what a parameter call may
    call, a function stored into a field through a parameter and called
    through it, the function of a work item a caller flushes."""
    root = tree({
        "drivers/gpu/drm/foo/foo_hops.c": """
            struct work_struct;
            struct foo { void (*cb)(void); struct work_struct work; };
            void foo_cb(void) { }
            void foo_work_fn(struct work_struct *w) { }
            void foo_other(void) { }
            void foo_apply(void (*fn)(void)) { fn(); foo_other(); }
            void foo_store(struct foo *f, void (*cb)(void)) { f->cb = cb; }
            void foo_fire(struct foo *f) { f->cb(); }
            void foo_init(struct foo *f) { INIT_WORK(&f->work, foo_work_fn); foo_store(f, foo_cb); foo_apply(foo_cb); }
            void foo_wait(struct foo *f) { flush_work(&f->work); }
        """,
    })
    program = scan(["drivers"], root, Config(), jobs=1).program
    fid = {f.fn.name: f.id for f in program.funcs}
    name = {v: k for k, v in fid.items()}
    graph = program.graph
    succ = {name[u]: [name[v] for v in graph.successors(u)] for u in graph}
    assert succ["foo_apply"] == ["foo_other", "foo_cb"]         # its own call, then the passed one
    assert succ["foo_fire"] == ["foo_cb"]                        # stored through foo_store's parameter
    assert succ["foo_wait"] == ["foo_work_fn"]                   # flush_work runs the work item
    assert succ["foo_init"] == ["foo_store", "foo_apply"]
    edges = {(u, v) for u in graph for v in graph.successors(u)}
    assert edges == {(u, v) for v in graph for u in graph.predecessors(v)}
    assert graph.number_of_edges() == len(edges) == 6
    assert not succ["foo_cb"] and graph.succ[fid["foo_cb"]] == {}


def test_functions_are_made_from_lists_by_id_when_asked(tree):
    """Program.funcs keeps a function's definition, file and unit in lists
    by id (link.Functions) and makes a FuncRef when asked."""
    root = tree({
        "drivers/gpu/drm/foo/foo_one.c": "void foo_a(void) { }\nvoid foo_b(void) { foo_a(); }\n",
        "drivers/gpu/drm/bar/bar_two.c": "void bar_c(void) { }\n",
    })
    funcs = scan(["drivers"], root, Config(), jobs=1).program.funcs
    assert [(f.id, f.fn.name, f.file, f.unit) for f in funcs] == [
        (0, "bar_c", "drivers/gpu/drm/bar/bar_two.c", "drivers/gpu/drm/bar"),
        (1, "foo_a", "drivers/gpu/drm/foo/foo_one.c", "drivers/gpu/drm/foo"),
        (2, "foo_b", "drivers/gpu/drm/foo/foo_one.c", "drivers/gpu/drm/foo")]
    assert len(funcs) == 3 and funcs[2] == list(funcs)[2] and funcs[2].fn is funcs.fn[2]
    assert funcs.file[1] is funcs.file[2] and funcs.unit[1] is funcs.unit[2]
    for out_of_range in (3, -1):
        with pytest.raises(IndexError):
            funcs[out_of_range]


def test_call_sites_by_name_group_every_site_under_its_callee_in_call_order():
    """link.CallSitesByName groups the sites link met in call order under
    their callee's name (a counting sort), reads as a dict of name to
    CallSites, iterates the names in the order first called, and finds a
    name by bisecting them sorted."""
    from array import array

    from fencecheck.analyzer.link import CallSitesByName
    names = ["mutex_lock", "kfree", "dma_resv_lock", "a"]
    name_of_site = array("i", [0, 1, 0, 2, 0, 3, 1])
    sites = array("i", [1, 0, 1, 1, 2, 0, 2, 1, 3, 0, 3, 1, 4, 0])
    by_name = CallSitesByName(names, name_of_site, sites)
    assert list(by_name) == names and len(by_name) == 4
    assert {name: list(found) for name, found in by_name.items()} == {
        "mutex_lock": [(1, 0), (2, 0), (3, 0)], "kfree": [(1, 1), (4, 0)],
        "dma_resv_lock": [(2, 1)], "a": [(3, 1)]}
    assert "kfree" in by_name and "kmalloc" not in by_name and "" not in by_name and 0 not in by_name
    assert by_name.get("kmalloc", ()) == () and by_name.get("zzz") is None
    with pytest.raises(KeyError):
        by_name["b"]
    empty = CallSitesByName([], array("i"), array("i"))
    assert len(empty) == 0 and "a" not in empty and empty.get("a") is None
