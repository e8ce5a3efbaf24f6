#ifndef _STUB_LINUX_TYPES_H
#define _STUB_LINUX_TYPES_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;
typedef u32 __u32;
typedef u64 __u64;
typedef u32 __le32;
typedef u64 __le64;
typedef _Bool bool;
typedef unsigned long size_t;
typedef long ssize_t;
typedef unsigned int gfp_t;
typedef u64 resource_size_t;
typedef struct { int counter; } atomic_t;

#endif
