/*-------------------------------------------------------------------------
 *
 * raft_internal.h
 *	  What the files of the Raft core share (not part of its interface).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_RAFT_INTERNAL_H
#define NOSQL_RAFT_INTERNAL_H

#include "raft_core.h"

/* Allocation through the functions of raft_set_allocator() */
extern void *RaftAlloc(size_t size);
extern void *RaftRealloc(void *ptr, size_t size);
extern void RaftFree(void *ptr);

/* A deep copy of an entry (its data included) */
extern void RaftEntryCopy(RaftEntry *dst, const RaftEntry *src);

#endif							/* NOSQL_RAFT_INTERNAL_H */
