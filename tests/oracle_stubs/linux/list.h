#ifndef _STUB_LINUX_LIST_H
#define _STUB_LINUX_LIST_H

struct list_head { struct list_head *next, *prev; };

#define list_first_entry_or_null(ptr, type, member) \
	((type *)list_first_entry_or_null(ptr, 0, member))
/* Iterators: a for statement whose condition is the one call the extractor
 * reports; the following block is the loop body. */
#define list_for_each_entry(pos, head, member) \
	for (; list_for_each_entry(pos, head, member);)
#define list_for_each_entry_safe(pos, n, head, member) \
	for (; list_for_each_entry_safe(pos, n, head, member);)
#endif
