/*-------------------------------------------------------------------------
 *
 * kv.h
 *	  The etcd v3 key-value store: the engine (kv.c) and its SQL functions
 *	  (kv_sql.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef KV_H
#define KV_H

#include "fmgr.h"

/*
 * etcd refuses requests larger than --max-request-bytes, 1.5 MiB by default;
 * we apply that limit to a key and to a value each.
 */
#define KV_MAX_REQUEST_BYTES (1536 * 1024)

/*
 * Keys are indexed by their first bytes, up to this many (cut at a character
 * boundary): a btree entry holds about 2.7 kB.
 */
#define KV_KEY_HEAD_BYTES 1024

/* The columns of nosql.kv, in order */
#define KV_NATTS 6

/* Which keys a request names, as etcd's key and range_end do */
typedef enum KvRangeKind
{
	KV_RANGE_ONE,				/* range_end absent: the key itself */
	KV_RANGE_FROM,				/* range_end "\0": every key >= key */
	KV_RANGE_BETWEEN			/* [key, range_end) in byte order */
} KvRangeKind;

typedef struct KvRange
{
	KvRangeKind kind;
	text	   *key;
	text	   *end;			/* KV_RANGE_BETWEEN only */
} KvRange;

/* Receives one row of nosql.kv (KV_NATTS values) of a read */
typedef void (*KvRowCallback) (Datum *values, bool *nulls, void *arg);

extern int64 KvPut(text *key, bytea *value, int64 lease);
extern int64 KvDeleteRange(const KvRange *range, int64 *revision);
extern void KvRead(const KvRange *range, int64 revision, int64 limit,
				   KvRowCallback callback, void *arg);
extern int64 KvCurrentRevision(void);

extern void KvCheckKey(text *key);
extern void KvCheckValue(bytea *value);
extern void KvPrefixRange(text *prefix, KvRange *range);

#endif							/* KV_H */
