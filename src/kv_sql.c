/*-------------------------------------------------------------------------
 *
 * kv_sql.c
 *	  The SQL functions of the etcd v3 key-value store: nosql.kv_put,
 *	  kv_get, kv_range, kv_prefix, kv_delete, kv_current_revision, and
 *	  kv_key_head, by which the store indexes its keys.
 *
 * They check their arguments and hand them to the engine (kv.c).  Only
 * range_end may be NULL (no range: the one key); every other NULL argument
 * is an error rather than a silent no-op, since a write that quietly did
 * nothing is worse than one that fails.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "kv.h"

/* Refuse a NULL argument, naming it */
static void
KvArgNotNull(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s of a key-value call must not be null", name)));
}

/* The range of (key, range_end) arguments, as etcd reads them */
static void
KvRangeArgs(FunctionCallInfo fcinfo, KvRange *range)
{
	KvArgNotNull(fcinfo, 0, "key");
	range->key = PG_GETARG_TEXT_PP(0);
	range->end = NULL;
	if (PG_ARGISNULL(1))
		range->kind = KV_RANGE_ONE;
	else if (VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(1)) == 0)
		range->kind = KV_RANGE_FROM;
	else
	{
		range->kind = KV_RANGE_BETWEEN;
		range->end = PG_GETARG_TEXT_PP(1);
	}
}

/* Shared by both kv_put variants: text and bytea have the same layout */
static Datum
KvPutCommon(FunctionCallInfo fcinfo)
{
	KvArgNotNull(fcinfo, 0, "key");
	KvArgNotNull(fcinfo, 1, "value");
	KvArgNotNull(fcinfo, 2, "lease");
	PG_RETURN_INT64(KvPut(PG_GETARG_TEXT_PP(0), PG_GETARG_BYTEA_PP(1),
						  PG_GETARG_INT64(2)));
}

/*
 * nosql.kv_put(key text, value bytea, lease bigint DEFAULT 0) — etcd's Put;
 * returns the revision of the write.
 */
PG_FUNCTION_INFO_V1(kv_put);
Datum
kv_put(PG_FUNCTION_ARGS)
{
	return KvPutCommon(fcinfo);
}

/*
 * nosql.kv_put(key text, value text, lease bigint DEFAULT 0) — the same with
 * the value's UTF-8 (database encoding) bytes.
 */
PG_FUNCTION_INFO_V1(kv_put_text);
Datum
kv_put_text(PG_FUNCTION_ARGS)
{
	return KvPutCommon(fcinfo);
}

/* Collects the one row of kv_get as a composite in the caller's memory */
typedef struct KvGetState
{
	TupleDesc	tupdesc;
	MemoryContext context;
	Datum		result;
	bool		found;
} KvGetState;

static void
KvGetRow(Datum *values, bool *nulls, void *arg)
{
	KvGetState *state = (KvGetState *) arg;
	MemoryContext old = MemoryContextSwitchTo(state->context);

	state->result = HeapTupleGetDatum(heap_form_tuple(state->tupdesc, values, nulls));
	state->found = true;
	MemoryContextSwitchTo(old);
}

/*
 * nosql.kv_get(key text, revision bigint DEFAULT 0, serializable boolean
 * DEFAULT false) RETURNS nosql.kv — one key as of a revision, NULL when it
 * does not exist then.  serializable is accepted for etcd's API; on one
 * server every read is linearizable.
 */
PG_FUNCTION_INFO_V1(kv_get);
Datum
kv_get(PG_FUNCTION_ARGS)
{
	KvGetState state;
	KvRange		range;

	KvArgNotNull(fcinfo, 0, "key");
	KvArgNotNull(fcinfo, 1, "revision");
	KvArgNotNull(fcinfo, 2, "serializable");
	if (get_call_result_type(fcinfo, NULL, &state.tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "kv_get must return a composite type");
	state.tupdesc = BlessTupleDesc(state.tupdesc);
	state.context = CurrentMemoryContext;
	state.found = false;

	range.kind = KV_RANGE_ONE;
	range.key = PG_GETARG_TEXT_PP(0);
	range.end = NULL;
	KvRead(&range, PG_GETARG_INT64(1), 1, KvGetRow, &state);
	if (!state.found)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(state.result);
}

/* Appends a row of kv_range or kv_prefix to the result set */
static void
KvRangeRow(Datum *values, bool *nulls, void *arg)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) arg;

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* The rows of a range into the set of a materialize-mode function */
static void
KvRangeResult(FunctionCallInfo fcinfo, const KvRange *range, int argno)
{
	KvArgNotNull(fcinfo, argno, "limit");
	KvArgNotNull(fcinfo, argno + 1, "revision");
	KvArgNotNull(fcinfo, argno + 2, "serializable");
	InitMaterializedSRF(fcinfo, 0);
	KvRead(range, PG_GETARG_INT64(argno + 1), PG_GETARG_INT64(argno),
		   KvRangeRow, fcinfo->resultinfo);
}

/*
 * nosql.kv_range(key text, range_end text DEFAULT NULL, "limit" bigint
 * DEFAULT 0, revision bigint DEFAULT 0, serializable boolean DEFAULT false)
 * RETURNS SETOF nosql.kv — etcd's Range: range_end NULL is the one key, ''
 * every key >= key (etcd's "\0"), otherwise [key, range_end) in byte order;
 * limit <= 0 means no limit and revision <= 0 the current one, as in etcd.
 */
PG_FUNCTION_INFO_V1(kv_range);
Datum
kv_range(PG_FUNCTION_ARGS)
{
	KvRange		range;

	KvRangeArgs(fcinfo, &range);
	KvRangeResult(fcinfo, &range, 2);
	return (Datum) 0;
}

/*
 * nosql.kv_prefix(prefix text, "limit" bigint DEFAULT 0, revision bigint
 * DEFAULT 0, serializable boolean DEFAULT false) RETURNS SETOF nosql.kv —
 * the keys with a prefix (all keys for ''), as etcd's WithPrefix.
 */
PG_FUNCTION_INFO_V1(kv_prefix);
Datum
kv_prefix(PG_FUNCTION_ARGS)
{
	KvRange		range;

	KvArgNotNull(fcinfo, 0, "prefix");
	KvPrefixRange(PG_GETARG_TEXT_PP(0), &range);
	KvRangeResult(fcinfo, &range, 1);
	return (Datum) 0;
}

/*
 * nosql.kv_delete(key text, range_end text DEFAULT NULL) RETURNS bigint —
 * etcd's DeleteRange, with kv_range's meaning of range_end; returns how
 * many keys were deleted, all at one revision.
 */
PG_FUNCTION_INFO_V1(kv_delete);
Datum
kv_delete(PG_FUNCTION_ARGS)
{
	KvRange		range;
	int64		revision;

	KvRangeArgs(fcinfo, &range);
	PG_RETURN_INT64(KvDeleteRange(&range, &revision));
}

/*
 * nosql.kv_current_revision() — the store's revision, etcd's header
 * revision: 1 in a new store, then that of the last write.
 */
PG_FUNCTION_INFO_V1(kv_current_revision);
Datum
kv_current_revision(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(KvCurrentRevision());
}

/*
 * nosql.kv_key_head(key text) — the part of a key the store's index holds:
 * the key up to KV_KEY_HEAD_BYTES bytes, longer ones cut to a prefix at a
 * character boundary (so the result is valid text, ordered as the keys).
 */
PG_FUNCTION_INFO_V1(kv_key_head);
Datum
kv_key_head(PG_FUNCTION_ARGS)
{
	text	   *key = PG_GETARG_TEXT_PP(0);
	int			len = VARSIZE_ANY_EXHDR(key);

	if (len <= KV_KEY_HEAD_BYTES)
		PG_RETURN_TEXT_P(key);
	len = pg_mbcliplen(VARDATA_ANY(key), len, KV_KEY_HEAD_BYTES);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(VARDATA_ANY(key), len));
}
