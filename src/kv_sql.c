/*-------------------------------------------------------------------------
 *
 * kv_sql.c
 *	  The SQL functions of the etcd v3 key-value store: nosql.kv_put,
 *	  kv_put_prev, kv_get, kv_range, kv_prefix, kv_count, kv_delete,
 *	  kv_delete_prev, kv_compact, kv_current_revision, and kv_key_head, by
 *	  which the store indexes its keys.
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
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"

#include "kv.h"
#include "raft.h"

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
	text	   *key;
	bytea	   *value;
	int64		lease;
	int64		revision;

	KvArgNotNull(fcinfo, 0, "key");
	KvArgNotNull(fcinfo, 1, "value");
	KvArgNotNull(fcinfo, 2, "lease");
	key = PG_GETARG_TEXT_PP(0);
	value = PG_GETARG_BYTEA_PP(1);
	lease = PG_GETARG_INT64(2);
	/* on a raft member, through the group's log (kv_raft.c) */
	if (RaftActive())
		PG_RETURN_INT64(KvRaftPut(key, value, lease, 0, NULL, NULL));
	/* with many writers, through the apply worker (kv_apply.c) */
	if (KvApplyPut(fcinfo, key, value, lease, &revision))
		PG_RETURN_INT64(revision);
	PG_RETURN_INT64(KvPut(key, value, lease));
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

/* Keeps a copy of the row passed (a prev_kv) in the caller's memory */
typedef struct KvRowCopy
{
	TupleDesc	tupdesc;
	MemoryContext context;
	Datum		result;
	bool		found;
} KvRowCopy;

static void
KvCopyRow(Datum *values, bool *nulls, void *arg)
{
	KvRowCopy  *copy = (KvRowCopy *) arg;
	MemoryContext old = MemoryContextSwitchTo(copy->context);

	copy->result = HeapTupleGetDatum(heap_form_tuple(copy->tupdesc, values, nulls));
	copy->found = true;
	MemoryContextSwitchTo(old);
}

/*
 * nosql.kv_put_prev(key, value bytea | text, lease bigint DEFAULT 0,
 * ignore_value boolean DEFAULT false, ignore_lease boolean DEFAULT false,
 * OUT revision bigint, OUT prev_kv nosql.kv) — etcd's Put with prev_kv:
 * the revision and the version replaced.  With ignore_value the value may
 * be NULL and the key keeps its value; with ignore_lease, its lease.
 */
PG_FUNCTION_INFO_V1(kv_put_prev);
Datum
kv_put_prev(PG_FUNCTION_ARGS)
{
	TupleDesc	result_desc;
	KvRowCopy	prev;
	KvWriter	writer;
	int			flags = 0;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	KvArgNotNull(fcinfo, 0, "key");
	KvArgNotNull(fcinfo, 2, "lease");
	KvArgNotNull(fcinfo, 3, "ignore_value");
	KvArgNotNull(fcinfo, 4, "ignore_lease");
	if (PG_GETARG_BOOL(3))
		flags |= KV_PUT_IGNORE_VALUE;
	if (PG_GETARG_BOOL(4))
		flags |= KV_PUT_IGNORE_LEASE;
	if (!(flags & KV_PUT_IGNORE_VALUE))
		KvArgNotNull(fcinfo, 1, "value");
	else if (!PG_ARGISNULL(1) && VARSIZE_ANY_EXHDR(PG_GETARG_BYTEA_PP(1)) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value is provided"),
				 errdetail("A put with ignore_value takes no value (NULL or empty), as in etcd.")));
	if ((flags & KV_PUT_IGNORE_LEASE) && PG_GETARG_INT64(2) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lease is provided"),
				 errdetail("A put with ignore_lease takes lease 0, as in etcd.")));
	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "kv_put_prev must return a composite type");
	result_desc = BlessTupleDesc(result_desc);

	/* prev_kv is a nosql.kv */
	prev.tupdesc = BlessTupleDesc(lookup_rowtype_tupdesc_copy(TupleDescAttr(result_desc, 1)->atttypid, -1));
	prev.context = CurrentMemoryContext;
	prev.found = false;
	if (RaftActive())
		values[0] = Int64GetDatum(KvRaftPut(PG_GETARG_TEXT_PP(0),
											PG_ARGISNULL(1) ? NULL : PG_GETARG_BYTEA_PP(1),
											PG_GETARG_INT64(2), flags, KvCopyRow, &prev));
	else
	{
		KvCheckKey(PG_GETARG_TEXT_PP(0));
		KvWriteBegin(&writer, true);
		KvPutAt(&writer, PG_GETARG_TEXT_PP(0),
				PG_ARGISNULL(1) ? NULL : PG_GETARG_BYTEA_PP(1),
				PG_GETARG_INT64(2), flags, KvCopyRow, &prev);
		KvWriteEnd(&writer);
		values[0] = Int64GetDatum(writer.revision);
	}
	values[1] = prev.result;
	nulls[1] = !prev.found;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(result_desc, values, nulls)));
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
	KvRowCopy	state;
	KvRange		range;
	KvReadOptions options;

	KvArgNotNull(fcinfo, 0, "key");
	KvArgNotNull(fcinfo, 1, "revision");
	KvArgNotNull(fcinfo, 2, "serializable");
	/* the result's descriptor, kept for the calls of this expression */
	if (fcinfo->flinfo->fn_extra == NULL)
	{
		TupleDesc	desc;
		MemoryContext old;

		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "kv_get must return a composite type");
		old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = BlessTupleDesc(CreateTupleDescCopy(desc));
		MemoryContextSwitchTo(old);
	}
	state.tupdesc = (TupleDesc) fcinfo->flinfo->fn_extra;
	state.context = CurrentMemoryContext;
	state.found = false;

	range.kind = KV_RANGE_ONE;
	range.key = PG_GETARG_TEXT_PP(0);
	range.end = NULL;
	KvReadOptionsInit(&options);
	options.revision = PG_GETARG_INT64(1);
	options.serializable = PG_GETARG_BOOL(2);
	if (!options.serializable && RaftActive())
		RaftReadBarrier();
	KvRead(&range, &options, KvCopyRow, &state, NULL);
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

/* etcd's SortOrder by name */
static KvSortOrder
KvSortOrderArg(text *name)
{
	char	   *s = text_to_cstring(name);

	if (pg_strcasecmp(s, "NONE") == 0)
		return KV_SORT_NONE;
	if (pg_strcasecmp(s, "ASCEND") == 0)
		return KV_SORT_ASCEND;
	if (pg_strcasecmp(s, "DESCEND") == 0)
		return KV_SORT_DESCEND;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid sort_order \"%s\"", s),
			 errhint("Valid orders are NONE, ASCEND and DESCEND.")));
	return KV_SORT_NONE;		/* keep compiler quiet */
}

/* etcd's SortTarget by name */
static KvTarget
KvSortTargetArg(text *name)
{
	char	   *s = text_to_cstring(name);

	if (pg_strcasecmp(s, "KEY") == 0)
		return KV_TARGET_KEY;
	if (pg_strcasecmp(s, "VERSION") == 0)
		return KV_TARGET_VERSION;
	if (pg_strcasecmp(s, "CREATE") == 0)
		return KV_TARGET_CREATE;
	if (pg_strcasecmp(s, "MOD") == 0)
		return KV_TARGET_MOD;
	if (pg_strcasecmp(s, "VALUE") == 0)
		return KV_TARGET_VALUE;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid sort_target \"%s\"", s),
			 errhint("Valid targets are KEY, VERSION, CREATE, MOD and VALUE.")));
	return KV_TARGET_KEY;		/* keep compiler quiet */
}

/*
 * The rows of a range into the set of a materialize-mode function; the
 * options are the arguments from argno on: limit, revision, serializable,
 * keys_only, sort_order, sort_target, min/max mod and create revision.
 */
static void
KvRangeResult(FunctionCallInfo fcinfo, const KvRange *range, int argno)
{
	static const char *const names[] = {
		"limit", "revision", "serializable", "keys_only", "sort_order",
		"sort_target", "min_mod_revision", "max_mod_revision",
		"min_create_revision", "max_create_revision"
	};
	KvReadOptions options;
	ReturnSetInfo *rsinfo;

	for (size_t i = 0; i < lengthof(names); i++)
		KvArgNotNull(fcinfo, argno + i, names[i]);
	KvReadOptionsInit(&options);
	options.limit = PG_GETARG_INT64(argno);
	options.revision = PG_GETARG_INT64(argno + 1);
	options.serializable = PG_GETARG_BOOL(argno + 2);
	options.keys_only = PG_GETARG_BOOL(argno + 3);
	options.sort_order = KvSortOrderArg(PG_GETARG_TEXT_PP(argno + 4));
	options.sort_target = KvSortTargetArg(PG_GETARG_TEXT_PP(argno + 5));
	options.min_mod_revision = PG_GETARG_INT64(argno + 6);
	options.max_mod_revision = PG_GETARG_INT64(argno + 7);
	options.min_create_revision = PG_GETARG_INT64(argno + 8);
	options.max_create_revision = PG_GETARG_INT64(argno + 9);
	if (!options.serializable && RaftActive())
		RaftReadBarrier();
	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	if (!KvReadInto(range, &options, rsinfo->setResult, rsinfo->setDesc,
					rsinfo->econtext->ecxt_per_query_memory))
		KvRead(range, &options, KvRangeRow, rsinfo, NULL);
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
	if (RaftActive())
		PG_RETURN_INT64(KvRaftDelete(&range, NULL, NULL));
	PG_RETURN_INT64(KvDeleteRange(&range, &revision));
}

/*
 * nosql.kv_count(key text, range_end text DEFAULT NULL, revision bigint
 * DEFAULT 0, serializable boolean DEFAULT false) — etcd's Range with
 * count_only: how many keys the range has.
 */
PG_FUNCTION_INFO_V1(kv_count);
Datum
kv_count(PG_FUNCTION_ARGS)
{
	KvRange		range;
	KvReadOptions options;
	KvReadResult result;

	KvRangeArgs(fcinfo, &range);
	KvArgNotNull(fcinfo, 2, "revision");
	KvArgNotNull(fcinfo, 3, "serializable");
	KvReadOptionsInit(&options);
	options.revision = PG_GETARG_INT64(2);
	options.serializable = PG_GETARG_BOOL(3);
	options.count_only = true;
	if (!options.serializable && RaftActive())
		RaftReadBarrier();
	KvRead(&range, &options, NULL, NULL, &result);
	PG_RETURN_INT64(result.count);
}

/*
 * nosql.kv_delete_prev(key text, range_end text DEFAULT NULL) RETURNS SETOF
 * nosql.kv — etcd's DeleteRange with prev_kv: the deleted versions.
 */
PG_FUNCTION_INFO_V1(kv_delete_prev);
Datum
kv_delete_prev(PG_FUNCTION_ARGS)
{
	KvRange		range;
	KvWriter	writer;

	KvRangeArgs(fcinfo, &range);
	InitMaterializedSRF(fcinfo, 0);
	if (RaftActive())
	{
		(void) KvRaftDelete(&range, KvRangeRow, fcinfo->resultinfo);
		return (Datum) 0;
	}
	KvWriteBegin(&writer, false);
	KvDeleteAt(&writer, &range, KvRangeRow, fcinfo->resultinfo);
	KvWriteEnd(&writer);
	return (Datum) 0;
}

/*
 * nosql.kv_compact(revision bigint) RETURNS bigint — etcd's Compact: the
 * versions superseded at or below the revision are removed; returns how
 * many.
 */
PG_FUNCTION_INFO_V1(kv_compact);
Datum
kv_compact(PG_FUNCTION_ARGS)
{
	if (RaftActive())
		PG_RETURN_INT64(RaftKvCall(RAFT_OP_COMPACT, PG_GETARG_INT64(0), 0));
	PG_RETURN_INT64(KvCompact(PG_GETARG_INT64(0)));
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
 * nosql.kv_store_changed() — statement trigger on the store's tables for
 * TRUNCATE, DELETE and UPDATE: forget the revision kept in shared memory
 * (kv.c), so that the next writer reads it from the history.
 */
PG_FUNCTION_INFO_V1(kv_store_changed);
Datum
kv_store_changed(PG_FUNCTION_ARGS)
{
	Oid			history;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("nosql.kv_store_changed() is a trigger function")));
	history = RangeVarGetRelid(makeRangeVar("nosql", "kv_history", -1), NoLock, true);
	if (OidIsValid(history))
		KvSetSharedRevision(history, 0);
	return PointerGetDatum(NULL);
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
