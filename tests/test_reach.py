"""Walks from context entries (reach.walk), on small trees."""
from fencecheck.analyzer.config import Config
from fencecheck.analyzer.pipeline import scan


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
