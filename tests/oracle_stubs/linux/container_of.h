#ifndef _STUB_LINUX_CONTAINER_OF_H
#define _STUB_LINUX_CONTAINER_OF_H
/* One call named container_of with three arguments, as the extractor sees it;
 * the self-reference is not re-expanded.  The cast keeps the receiver type
 * ("t:T") the extractor derives from the text. */
#define container_of(ptr, type, member) ((type *)container_of(ptr, 0, member))
#endif
