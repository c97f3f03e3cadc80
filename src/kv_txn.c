/*-------------------------------------------------------------------------
 *
 * kv_txn.c
 *	  nosql.kv_txn(request bson) RETURNS bson: etcd's Txn over the key-value
 *	  store, with etcd's TxnRequest and TxnResponse in their JSON field
 *	  names.
 *
 * Design note
 * -----------
 * A request is parsed and checked whole before anything runs (field names
 * and types, etcd's limit of 128 operations per list, and etcd's rule that
 * no key is written twice in one txn: no two puts of one key, no put of a
 * key a delete of the same branch also covers, with the two branches of a
 * nested txn allowed to write the same key since only one runs).  Then it
 * runs as one etcd request: when any branch may write, the revision
 * counter is locked first (KvWriteBegin), so the compares and the writes
 * see one state of the store, and every write of the txn gets the one
 * revision, numbered by sub; a txn that writes nothing creates no
 * revision.  Reads inside the txn see its earlier writes, as in etcd.
 *
 * Compares follow etcd: every key of the compare's range must satisfy it;
 * a range without keys is compared as one absent key (version, create,
 * mod revision and lease 0), except for VALUE, which is then false.
 *
 * Results are collected first and written out at the end, when the txn's
 * revision (for every response header) is known.
 *
 * Keys and values in the request are strings (UTF-8) or BSON binary; in the
 * reply a value is a string when it is valid UTF-8 without NUL bytes and
 * binary otherwise.  etcd's range_end "\0" (every key from key on) is a
 * string or binary of one NUL byte, and the key "\0" with it is the
 * smallest key.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"

#include "bson.h"
#include "kv.h"
#include "raft.h"

/* etcd's --max-txn-ops default */
#define KV_TXN_MAX_OPS 128
/* how deep txns may nest */
#define KV_TXN_MAX_DEPTH 16

typedef enum KvCompareResult
{
	KV_CMP_EQUAL,
	KV_CMP_GREATER,
	KV_CMP_LESS,
	KV_CMP_NOT_EQUAL
} KvCompareResult;

typedef struct KvCompare
{
	KvRange		range;
	KvTarget	target;
	KvCompareResult result;
	int64		number;			/* VERSION, CREATE, MOD, LEASE */
	bytea	   *value;			/* VALUE */
} KvCompare;

typedef enum KvOpType
{
	KV_OP_RANGE,
	KV_OP_PUT,
	KV_OP_DELETE,
	KV_OP_TXN
} KvOpType;

typedef struct KvTxnRequest KvTxnRequest;

typedef struct KvOp
{
	KvOpType	type;
	KvRange		range;			/* range, delete; a put's key is range.key */
	bytea	   *value;			/* put */
	int64		lease;			/* put */
	int			put_flags;		/* put */
	bool		prev_kv;		/* put, delete */
	KvReadOptions read;			/* range */
	KvTxnRequest *txn;			/* txn */
} KvOp;

struct KvTxnRequest
{
	List	   *compares;		/* of KvCompare */
	List	   *success;		/* of KvOp */
	List	   *failure;		/* of KvOp */
};

/* A row of nosql.kv kept for the reply */
typedef struct KvRowData
{
	text	   *key;
	bytea	   *value;			/* NULL: keys_only */
	int64		create_revision;
	int64		mod_revision;
	int64		version;
	int64		lease;
} KvRowData;

typedef struct KvTxnResult KvTxnResult;

typedef struct KvOpResult
{
	KvOpType	type;
	List	   *rows;			/* range: kvs; put, delete: prev_kv(s) */
	KvReadResult read;			/* range */
	int64		deleted;		/* delete */
	bool		prev_kv;		/* put, delete: prev_kv asked */
	KvTxnResult *txn;			/* txn */
} KvOpResult;

struct KvTxnResult
{
	bool		succeeded;
	List	   *responses;		/* of KvOpResult */
};

static KvTxnRequest *KvParseTxn(const bson_t *doc, int depth);
static void KvCheckDuplicates(List *ops, List **puts, List **deletes);


/* ---------------------------------------------------------------------
 * Parsing
 * ---------------------------------------------------------------------
 */

static void pg_attribute_noreturn()
KvTxnError(const char *fmt,...) pg_attribute_printf(1, 2);

static void
KvTxnError(const char *fmt,...)
{
	char		buf[512];
	va_list		args;

	va_start(args, fmt);
	vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid key-value txn request: %s", buf)));
}

/* The bytes of a string or binary field; *len receives their length */
static const char *
KvIterBytes(const bson_iter_t *it, uint32 *len, const char *what)
{
	if (BSON_ITER_HOLDS_UTF8(it))
		return bson_iter_utf8(it, len);
	if (BSON_ITER_HOLDS_BINARY(it))
	{
		const uint8_t *data;
		bson_subtype_t subtype;

		bson_iter_binary(it, &subtype, len, &data);
		return (const char *) data;
	}
	KvTxnError("%s must be a string or binary, not %s", what,
			   BsonTypeName(bson_iter_type(it)));
}

/* A key (or range_end) as text: valid in the database encoding, no NUL */
static text *
KvIterText(const bson_iter_t *it, const char *what)
{
	uint32		len;
	const char *bytes = KvIterBytes(it, &len, what);

	if (memchr(bytes, '\0', len) != NULL)
		KvTxnError("%s contains a NUL byte (only range_end \"\\0\" and a key \"\\0\" with it are allowed)",
				   what);
	if (!pg_verifymbstr(bytes, len, true))
		KvTxnError("%s is not valid in the database encoding", what);
	return cstring_to_text_with_len(bytes, len);
}

/* A value as bytea: any bytes */
static bytea *
KvIterBytea(const bson_iter_t *it, const char *what)
{
	uint32		len;
	const char *bytes = KvIterBytes(it, &len, what);
	bytea	   *b = (bytea *) palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), bytes, len);
	return b;
}

/* Whether a string or binary field is exactly one NUL byte, etcd's "\0" */
static bool
KvIterIsNul(const bson_iter_t *it)
{
	uint32		len;
	const char *bytes;

	if (!BSON_ITER_HOLDS_UTF8(it) && !BSON_ITER_HOLDS_BINARY(it))
		return false;
	bytes = KvIterBytes(it, &len, "key");
	return len == 1 && bytes[0] == '\0';
}

static int64
KvIterInt64(const bson_iter_t *it, const char *what)
{
	if (BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it))
		return bson_iter_as_int64(it);
	if (BSON_ITER_HOLDS_DOUBLE(it))
	{
		double		d = bson_iter_double(it);

		if (d == floor(d) && d >= -9.2e18 && d <= 9.2e18)
			return (int64) d;
	}
	KvTxnError("%s must be an integer, not %s", what, BsonTypeName(bson_iter_type(it)));
}

static bool
KvIterBool(const bson_iter_t *it, const char *what)
{
	if (!BSON_ITER_HOLDS_BOOL(it))
		KvTxnError("%s must be a boolean, not %s", what, BsonTypeName(bson_iter_type(it)));
	return bson_iter_bool(it);
}

/* An enum field given by name (as etcd's JSON) or by number (as its proto) */
static int
KvIterEnum(const bson_iter_t *it, const char *what, const char *const *names, int n)
{
	if (BSON_ITER_HOLDS_UTF8(it))
	{
		const char *s = bson_iter_utf8(it, NULL);

		for (int i = 0; i < n; i++)
			if (strcmp(s, names[i]) == 0)
				return i;
		KvTxnError("unknown %s \"%s\"", what, s);
	}
	if (BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it))
	{
		int64		v = bson_iter_as_int64(it);

		if (v >= 0 && v < n)
			return (int) v;
		KvTxnError("unknown %s " INT64_FORMAT, what, v);
	}
	KvTxnError("%s must be a string, not %s", what, BsonTypeName(bson_iter_type(it)));
}

/* A sub-document field */
static void
KvIterDocument(const bson_iter_t *it, bson_t *doc, const char *what)
{
	uint32		len;
	const uint8_t *data;

	if (!BSON_ITER_HOLDS_DOCUMENT(it))
		KvTxnError("%s must be a document, not %s", what, BsonTypeName(bson_iter_type(it)));
	bson_iter_document(it, &len, &data);
	if (!bson_init_static(doc, data, len))
		KvTxnError("%s is not a valid document", what);
}

/* The key and range_end fields of a request, as read so far */
typedef struct KvRangeFields
{
	bson_iter_t key;
	bson_iter_t end;
	bool		have_key;
	bool		have_end;
} KvRangeFields;

/* Take the field if it is key or range_end; whether it was */
static bool
KvTakeRangeField(const char *name, const bson_iter_t *it, KvRangeFields *f)
{
	if (strcmp(name, "key") == 0)
	{
		f->key = *it;
		f->have_key = true;
		return true;
	}
	if (strcmp(name, "range_end") == 0)
	{
		f->end = *it;
		f->have_end = true;
		return true;
	}
	return false;
}

/*
 * The range of key and range_end fields, as etcd reads them: range_end
 * absent or empty is the one key, "\0" every key from key on (key "\0" is
 * then the smallest key), otherwise [key, range_end).
 */
static void
KvRangeFrom(KvRange *range, const KvRangeFields *f, const char *what)
{
	const bson_iter_t *key = f->have_key ? &f->key : NULL;
	const bson_iter_t *end = f->have_end ? &f->end : NULL;
	uint32		endlen = 0;

	if (key == NULL)
		KvTxnError("%s has no key", what);
	if (end != NULL)
		(void) KvIterBytes(end, &endlen, "range_end");
	range->end = NULL;
	if (end == NULL || endlen == 0)
	{
		range->kind = KV_RANGE_ONE;
		range->key = KvIterText(key, "key");
		return;
	}
	range->key = KvIterIsNul(key) ? cstring_to_text("") : KvIterText(key, "key");
	if (KvIterIsNul(end))
		range->kind = KV_RANGE_FROM;
	else
	{
		range->kind = KV_RANGE_BETWEEN;
		range->end = KvIterText(end, "range_end");
	}
}

static const char *const kv_target_names[] = {
	[KV_TARGET_KEY] = "KEY",
	[KV_TARGET_VERSION] = "VERSION",
	[KV_TARGET_CREATE] = "CREATE",
	[KV_TARGET_MOD] = "MOD",
	[KV_TARGET_VALUE] = "VALUE",
	[KV_TARGET_LEASE] = "LEASE",
};

/*
 * One compare: {key, range_end, target, result, version | create_revision |
 * mod_revision | value | lease}.  target defaults to VERSION and result to
 * EQUAL, the zero values of etcd's enums.
 */
static KvCompare *
KvParseCompare(const bson_t *doc)
{
	/* etcd's Compare.CompareTarget numbering: VERSION 0 ... LEASE 4 */
	static const char *const targets[] = {"VERSION", "CREATE", "MOD", "VALUE", "LEASE"};
	static const KvTarget target_of[] = {
		KV_TARGET_VERSION, KV_TARGET_CREATE, KV_TARGET_MOD, KV_TARGET_VALUE, KV_TARGET_LEASE
	};
	static const char *const results[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
	KvCompare  *c = palloc0(sizeof(KvCompare));
	bson_iter_t it;
	KvRangeFields fields = {0};
	bool		have_operand = false;
	KvTarget	operand_target = KV_TARGET_VERSION;

	c->target = KV_TARGET_VERSION;
	c->result = KV_CMP_EQUAL;
	bson_iter_init(&it, doc);
	while (bson_iter_next(&it))
	{
		const char *name = bson_iter_key(&it);

		if (KvTakeRangeField(name, &it, &fields))
			continue;
		if (strcmp(name, "target") == 0)
			c->target = target_of[KvIterEnum(&it, "compare target", targets, lengthof(targets))];
		else if (strcmp(name, "result") == 0)
			c->result = (KvCompareResult) KvIterEnum(&it, "compare result", results, lengthof(results));
		else
		{
			KvTarget	t;

			if (strcmp(name, "version") == 0)
				t = KV_TARGET_VERSION;
			else if (strcmp(name, "create_revision") == 0)
				t = KV_TARGET_CREATE;
			else if (strcmp(name, "mod_revision") == 0)
				t = KV_TARGET_MOD;
			else if (strcmp(name, "value") == 0)
				t = KV_TARGET_VALUE;
			else if (strcmp(name, "lease") == 0)
				t = KV_TARGET_LEASE;
			else
				KvTxnError("unknown compare field \"%s\"", name);
			if (have_operand)
				KvTxnError("a compare has one of version, create_revision, mod_revision, value and lease");
			have_operand = true;
			operand_target = t;
			if (t == KV_TARGET_VALUE)
				c->value = KvIterBytea(&it, "compare value");
			else
				c->number = KvIterInt64(&it, name);
		}
	}
	KvRangeFrom(&c->range, &fields, "a compare");
	if (!have_operand)
	{
		/* etcd's zero value for the target */
		if (c->target == KV_TARGET_VALUE)
			c->value = (bytea *) cstring_to_text("");
	}
	else if (operand_target != c->target)
		KvTxnError("compare target %s does not match its operand %s",
				   kv_target_names[c->target], kv_target_names[operand_target]);
	return c;
}

/* {key, value, lease, prev_kv, ignore_value, ignore_lease} */
static void
KvParsePut(const bson_t *doc, KvOp *op)
{
	bson_iter_t it;
	bool		have_key = false;

	op->value = NULL;
	bson_iter_init(&it, doc);
	while (bson_iter_next(&it))
	{
		const char *name = bson_iter_key(&it);

		if (strcmp(name, "key") == 0)
		{
			op->range.key = KvIterText(&it, "key");
			have_key = true;
		}
		else if (strcmp(name, "value") == 0)
			op->value = KvIterBytea(&it, "value");
		else if (strcmp(name, "lease") == 0)
			op->lease = KvIterInt64(&it, "lease");
		else if (strcmp(name, "prev_kv") == 0)
			op->prev_kv = KvIterBool(&it, "prev_kv");
		else if (strcmp(name, "ignore_value") == 0)
		{
			if (KvIterBool(&it, "ignore_value"))
				op->put_flags |= KV_PUT_IGNORE_VALUE;
		}
		else if (strcmp(name, "ignore_lease") == 0)
		{
			if (KvIterBool(&it, "ignore_lease"))
				op->put_flags |= KV_PUT_IGNORE_LEASE;
		}
		else
			KvTxnError("unknown request_put field \"%s\"", name);
	}
	if (!have_key)
		KvTxnError("request_put has no key");
	op->range.kind = KV_RANGE_ONE;
	if ((op->put_flags & KV_PUT_IGNORE_VALUE) && op->value != NULL &&
		VARSIZE_ANY_EXHDR(op->value) > 0)
		KvTxnError("request_put with ignore_value has a value");
	if ((op->put_flags & KV_PUT_IGNORE_LEASE) && op->lease != 0)
		KvTxnError("request_put with ignore_lease has a lease");
	if (op->value == NULL)
		op->value = (bytea *) cstring_to_text("");
}

/* etcd's RangeRequest fields */
static void
KvParseRangeRequest(const bson_t *doc, KvOp *op)
{
	static const char *const orders[] = {"NONE", "ASCEND", "DESCEND"};
	static const char *const targets[] = {"KEY", "VERSION", "CREATE", "MOD", "VALUE"};
	bson_iter_t it;
	KvRangeFields fields = {0};
	KvReadOptions *o = &op->read;

	KvReadOptionsInit(o);
	bson_iter_init(&it, doc);
	while (bson_iter_next(&it))
	{
		const char *name = bson_iter_key(&it);

		if (KvTakeRangeField(name, &it, &fields))
			continue;
		if (strcmp(name, "limit") == 0)
			o->limit = KvIterInt64(&it, name);
		else if (strcmp(name, "revision") == 0)
			o->revision = KvIterInt64(&it, name);
		else if (strcmp(name, "sort_order") == 0)
			o->sort_order = (KvSortOrder) KvIterEnum(&it, "sort_order", orders, lengthof(orders));
		else if (strcmp(name, "sort_target") == 0)
			o->sort_target = (KvTarget) KvIterEnum(&it, "sort_target", targets, lengthof(targets));
		else if (strcmp(name, "serializable") == 0)
			o->serializable = KvIterBool(&it, name);
		else if (strcmp(name, "keys_only") == 0)
			o->keys_only = KvIterBool(&it, name);
		else if (strcmp(name, "count_only") == 0)
			o->count_only = KvIterBool(&it, name);
		else if (strcmp(name, "min_mod_revision") == 0)
			o->min_mod_revision = KvIterInt64(&it, name);
		else if (strcmp(name, "max_mod_revision") == 0)
			o->max_mod_revision = KvIterInt64(&it, name);
		else if (strcmp(name, "min_create_revision") == 0)
			o->min_create_revision = KvIterInt64(&it, name);
		else if (strcmp(name, "max_create_revision") == 0)
			o->max_create_revision = KvIterInt64(&it, name);
		else
			KvTxnError("unknown request_range field \"%s\"", name);
	}
	KvRangeFrom(&op->range, &fields, "request_range");
}

/* {key, range_end, prev_kv} */
static void
KvParseDelete(const bson_t *doc, KvOp *op)
{
	bson_iter_t it;
	KvRangeFields fields = {0};

	bson_iter_init(&it, doc);
	while (bson_iter_next(&it))
	{
		const char *name = bson_iter_key(&it);

		if (KvTakeRangeField(name, &it, &fields))
			continue;
		if (strcmp(name, "prev_kv") == 0)
			op->prev_kv = KvIterBool(&it, name);
		else
			KvTxnError("unknown request_delete_range field \"%s\"", name);
	}
	KvRangeFrom(&op->range, &fields, "request_delete_range");
}

/* One RequestOp: a document with exactly one of the four requests */
static KvOp *
KvParseOp(const bson_t *doc, int depth)
{
	KvOp	   *op = palloc0(sizeof(KvOp));
	bson_iter_t it;
	bson_t		sub;
	int			n = 0;

	bson_iter_init(&it, doc);
	while (bson_iter_next(&it))
	{
		const char *name = bson_iter_key(&it);

		if (++n > 1)
			KvTxnError("a request op has exactly one of request_range, request_put, request_delete_range and request_txn");
		KvIterDocument(&it, &sub, name);
		if (strcmp(name, "request_range") == 0)
		{
			op->type = KV_OP_RANGE;
			KvParseRangeRequest(&sub, op);
		}
		else if (strcmp(name, "request_put") == 0)
		{
			op->type = KV_OP_PUT;
			KvParsePut(&sub, op);
		}
		else if (strcmp(name, "request_delete_range") == 0)
		{
			op->type = KV_OP_DELETE;
			KvParseDelete(&sub, op);
		}
		else if (strcmp(name, "request_txn") == 0)
		{
			op->type = KV_OP_TXN;
			op->txn = KvParseTxn(&sub, depth + 1);
		}
		else
			KvTxnError("unknown request op \"%s\"", name);
	}
	if (n == 0)
		KvTxnError("a request op is empty");
	return op;
}

/* An array field of documents, each parsed by parse */
static List *
KvParseList(const bson_iter_t *field, const char *what, int depth, bool compares)
{
	bson_iter_t it;
	List	   *list = NIL;

	if (!BSON_ITER_HOLDS_ARRAY(field))
		KvTxnError("%s must be an array, not %s", what, BsonTypeName(bson_iter_type(field)));
	if (!bson_iter_recurse(field, &it))
		KvTxnError("%s is not a valid array", what);
	while (bson_iter_next(&it))
	{
		bson_t		doc;

		if (list_length(list) >= KV_TXN_MAX_OPS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many operations in txn request"),
					 errdetail("%s has more than %d entries, etcd's --max-txn-ops default.",
							   what, KV_TXN_MAX_OPS)));
		KvIterDocument(&it, &doc, what);
		if (compares)
			list = lappend(list, KvParseCompare(&doc));
		else
			list = lappend(list, KvParseOp(&doc, depth));
	}
	return list;
}

/* {compare: [...], success: [...], failure: [...]} */
static KvTxnRequest *
KvParseTxn(const bson_t *doc, int depth)
{
	KvTxnRequest *txn = palloc0(sizeof(KvTxnRequest));
	bson_iter_t it;
	List	   *puts = NIL,
			   *deletes = NIL;

	check_stack_depth();
	if (depth > KV_TXN_MAX_DEPTH)
		KvTxnError("txns nest more than %d deep", KV_TXN_MAX_DEPTH);
	bson_iter_init(&it, doc);
	while (bson_iter_next(&it))
	{
		const char *name = bson_iter_key(&it);

		if (strcmp(name, "compare") == 0)
			txn->compares = KvParseList(&it, "compare", depth, true);
		else if (strcmp(name, "success") == 0)
			txn->success = KvParseList(&it, "success", depth, false);
		else if (strcmp(name, "failure") == 0)
			txn->failure = KvParseList(&it, "failure", depth, false);
		else
			KvTxnError("unknown txn field \"%s\"", name);
	}
	if (depth == 0)
	{
		KvCheckDuplicates(txn->success, &puts, &deletes);
		puts = deletes = NIL;
		KvCheckDuplicates(txn->failure, &puts, &deletes);
	}
	return txn;
}


/* ---------------------------------------------------------------------
 * The duplicate key rule
 * ---------------------------------------------------------------------
 */

static bool
KvTextEqual(const text *a, const text *b)
{
	return VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
		memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
}

static bool
KvKeyListed(List *keys, const text *key)
{
	ListCell   *lc;

	foreach(lc, keys)
		if (KvTextEqual((const text *) lfirst(lc), key))
		return true;
	return false;
}

static bool
KvKeyDeleted(List *deletes, const text *key)
{
	ListCell   *lc;

	foreach(lc, deletes)
		if (KvKeyInRange(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key), (KvRange *) lfirst(lc)))
		return true;
	return false;
}

static void pg_attribute_noreturn()
KvDuplicateKey(const text *key)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("duplicate key given in txn request"),
			 errdetail("Key \"%s\" is written twice in one branch of the txn.",
					   text_to_cstring(key))));
}

/*
 * KvCheckDuplicates
 *		etcd's rule for one list of ops: no key is put twice, and no key put
 *		is also in a range deleted, counting the ops of nested txns (whose
 *		two branches may put the same key, only one of them running).
 *		Returns the keys put (*puts) and ranges deleted (*deletes).
 */
static void
KvCheckDuplicates(List *ops, List **puts, List **deletes)
{
	ListCell   *lc;

	/* the deletes of this level first: puts of nested txns meet them too */
	foreach(lc, ops)
	{
		KvOp	   *op = lfirst(lc);

		if (op->type == KV_OP_DELETE)
			*deletes = lappend(*deletes, &op->range);
	}
	foreach(lc, ops)
	{
		KvOp	   *op = lfirst(lc);
		List	   *then_puts = NIL,
				   *then_deletes = NIL,
				   *else_puts = NIL,
				   *else_deletes = NIL;
		ListCell   *k;

		if (op->type != KV_OP_TXN)
			continue;
		KvCheckDuplicates(op->txn->success, &then_puts, &then_deletes);
		KvCheckDuplicates(op->txn->failure, &else_puts, &else_deletes);
		foreach(k, then_puts)
		{
			text	   *key = lfirst(k);

			if (KvKeyListed(*puts, key) || KvKeyDeleted(*deletes, key))
				KvDuplicateKey(key);
			*puts = lappend(*puts, key);
		}
		foreach(k, else_puts)
		{
			text	   *key = lfirst(k);

			if ((KvKeyListed(*puts, key) && !KvKeyListed(then_puts, key)) ||
				KvKeyDeleted(*deletes, key))
				KvDuplicateKey(key);
			*puts = lappend(*puts, key);
		}
		*deletes = list_concat(*deletes, then_deletes);
		*deletes = list_concat(*deletes, else_deletes);
	}
	foreach(lc, ops)
	{
		KvOp	   *op = lfirst(lc);

		if (op->type != KV_OP_PUT)
			continue;
		if (KvKeyListed(*puts, op->range.key) || KvKeyDeleted(*deletes, op->range.key))
			KvDuplicateKey(op->range.key);
		*puts = lappend(*puts, op->range.key);
	}
}

/* Whether any op of the lists (nested txns included) writes */
static bool
KvTxnMayWrite(const KvTxnRequest *txn)
{
	List	   *lists[2] = {txn->success, txn->failure};

	for (int i = 0; i < 2; i++)
	{
		ListCell   *lc;

		foreach(lc, lists[i])
		{
			KvOp	   *op = lfirst(lc);

			if (op->type == KV_OP_PUT || op->type == KV_OP_DELETE ||
				(op->type == KV_OP_TXN && KvTxnMayWrite(op->txn)))
				return true;
		}
	}
	return false;
}


/* ---------------------------------------------------------------------
 * Running
 * ---------------------------------------------------------------------
 */

/*
 * A list of rows collected from the engine, in the memory of the caller:
 * the engine calls back inside SPI, whose memory goes at SPI_finish.
 */
typedef struct KvRowList
{
	List	   *rows;
	MemoryContext context;
} KvRowList;

/* Copies a row passed by the engine into a list of KvRowData */
static void
KvCollectRow(Datum *values, bool *nulls, void *arg)
{
	KvRowList  *list = (KvRowList *) arg;
	MemoryContext old = MemoryContextSwitchTo(list->context);
	KvRowData  *r = palloc(sizeof(KvRowData));

	r->key = DatumGetTextPCopy(values[0]);
	r->value = nulls[1] ? NULL : DatumGetByteaPCopy(values[1]);
	r->create_revision = DatumGetInt64(values[2]);
	r->mod_revision = DatumGetInt64(values[3]);
	r->version = DatumGetInt64(values[4]);
	r->lease = DatumGetInt64(values[5]);
	list->rows = lappend(list->rows, r);
	MemoryContextSwitchTo(old);
}

static int
KvSign(int64 a, int64 b)
{
	return (a > b) - (a < b);
}

/* One key (or the absent key: row NULL) against a compare */
static bool
KvCompareRow(const KvCompare *c, const KvRowData *row)
{
	int			cmp = 0;

	switch (c->target)
	{
		case KV_TARGET_VALUE:
			{
				int			alen = VARSIZE_ANY_EXHDR(row->value);
				int			blen = VARSIZE_ANY_EXHDR(c->value);

				cmp = memcmp(VARDATA_ANY(row->value), VARDATA_ANY(c->value), Min(alen, blen));
				if (cmp == 0)
					cmp = KvSign(alen, blen);
				cmp = (cmp > 0) - (cmp < 0);
				break;
			}
		case KV_TARGET_VERSION:
			cmp = KvSign(row ? row->version : 0, c->number);
			break;
		case KV_TARGET_CREATE:
			cmp = KvSign(row ? row->create_revision : 0, c->number);
			break;
		case KV_TARGET_MOD:
			cmp = KvSign(row ? row->mod_revision : 0, c->number);
			break;
		case KV_TARGET_LEASE:
			cmp = KvSign(row ? row->lease : 0, c->number);
			break;
		case KV_TARGET_KEY:
			break;
	}
	switch (c->result)
	{
		case KV_CMP_EQUAL:
			return cmp == 0;
		case KV_CMP_NOT_EQUAL:
			return cmp != 0;
		case KV_CMP_GREATER:
			return cmp > 0;
		case KV_CMP_LESS:
			return cmp < 0;
	}
	return false;
}

/* A compare over its range, as etcd's: every key must pass */
static bool
KvEvalCompare(const KvCompare *c)
{
	KvReadOptions options;
	KvRowList	list = {NIL, CurrentMemoryContext};
	ListCell   *lc;

	KvReadOptionsInit(&options);
	KvRead(&c->range, &options, KvCollectRow, &list, NULL);
	if (list.rows == NIL)
		return c->target != KV_TARGET_VALUE && KvCompareRow(c, NULL);
	foreach(lc, list.rows)
		if (!KvCompareRow(c, (KvRowData *) lfirst(lc)))
		return false;
	return true;
}

static KvTxnResult *KvRunTxn(KvWriter *writer, const KvTxnRequest *txn);

static KvOpResult *
KvRunOp(KvWriter *writer, const KvOp *op)
{
	KvOpResult *r = palloc0(sizeof(KvOpResult));
	KvRowList	list = {NIL, CurrentMemoryContext};

	r->type = op->type;
	r->prev_kv = op->prev_kv;
	switch (op->type)
	{
		case KV_OP_RANGE:
			KvRead(&op->range, &op->read, KvCollectRow, &list, &r->read);
			break;
		case KV_OP_PUT:
			KvPutAt(writer, op->range.key, op->value, op->lease, op->put_flags,
					op->prev_kv ? KvCollectRow : NULL, &list);
			break;
		case KV_OP_DELETE:
			r->deleted = KvDeleteAt(writer, &op->range,
									op->prev_kv ? KvCollectRow : NULL, &list);
			break;
		case KV_OP_TXN:
			r->txn = KvRunTxn(writer, op->txn);
			break;
	}
	r->rows = list.rows;
	return r;
}

static KvTxnResult *
KvRunTxn(KvWriter *writer, const KvTxnRequest *txn)
{
	KvTxnResult *result = palloc0(sizeof(KvTxnResult));
	ListCell   *lc;

	check_stack_depth();
	result->succeeded = true;
	foreach(lc, txn->compares)
	{
		if (!KvEvalCompare((KvCompare *) lfirst(lc)))
		{
			result->succeeded = false;
			break;
		}
	}
	foreach(lc, result->succeeded ? txn->success : txn->failure)
		result->responses = lappend(result->responses, KvRunOp(writer, (KvOp *) lfirst(lc)));
	return result;
}


/* ---------------------------------------------------------------------
 * The reply
 * ---------------------------------------------------------------------
 */

/*
 * A key or value: a string when it is UTF-8 without NUL bytes, binary
 * otherwise (also the change events of src/cdc_format.c)
 */
void
KvAppendBytes(bson_t *doc, const char *name, const bytea *value)
{
	const char *bytes = VARDATA_ANY(value);
	int			len = VARSIZE_ANY_EXHDR(value);

	if (memchr(bytes, '\0', len) == NULL && pg_verify_mbstr(PG_UTF8, bytes, len, true))
		bson_append_utf8(doc, name, -1, bytes, len);
	else
		bson_append_binary(doc, name, -1, BSON_SUBTYPE_BINARY, (const uint8_t *) bytes, len);
}

/* etcd's KeyValue */
static void
KvAppendRow(bson_t *doc, const char *name, const KvRowData *row)
{
	bson_t		kv;

	bson_append_document_begin(doc, name, -1, &kv);
	KvAppendBytes(&kv, "key", (const bytea *) row->key);
	BSON_APPEND_INT64(&kv, "create_revision", row->create_revision);
	BSON_APPEND_INT64(&kv, "mod_revision", row->mod_revision);
	BSON_APPEND_INT64(&kv, "version", row->version);
	if (row->value != NULL)
		KvAppendBytes(&kv, "value", row->value);
	BSON_APPEND_INT64(&kv, "lease", row->lease);
	bson_append_document_end(doc, &kv);
}

static void
KvAppendRows(bson_t *doc, const char *name, List *rows)
{
	bson_t		array;
	ListCell   *lc;
	int			i = 0;

	bson_append_array_begin(doc, name, -1, &array);
	foreach(lc, rows)
	{
		char		index[16];

		snprintf(index, sizeof(index), "%d", i++);
		KvAppendRow(&array, index, (KvRowData *) lfirst(lc));
	}
	bson_append_array_end(doc, &array);
}

static void
KvAppendHeader(bson_t *doc, int64 revision)
{
	bson_t		header;

	bson_append_document_begin(doc, "header", -1, &header);
	BSON_APPEND_INT64(&header, "revision", revision);
	bson_append_document_end(doc, &header);
}

static void KvAppendTxnResult(bson_t *doc, const KvTxnResult *result, int64 revision);

static void
KvAppendOpResult(bson_t *doc, const char *name, const KvOpResult *r, int64 revision)
{
	bson_t		op;
	bson_t		response;

	bson_append_document_begin(doc, name, -1, &op);
	switch (r->type)
	{
		case KV_OP_RANGE:
			bson_append_document_begin(&op, "response_range", -1, &response);
			KvAppendHeader(&response, revision);
			KvAppendRows(&response, "kvs", r->rows);
			BSON_APPEND_BOOL(&response, "more", r->read.more);
			BSON_APPEND_INT64(&response, "count", r->read.count);
			bson_append_document_end(&op, &response);
			break;
		case KV_OP_PUT:
			bson_append_document_begin(&op, "response_put", -1, &response);
			KvAppendHeader(&response, revision);
			if (r->prev_kv && r->rows != NIL)
				KvAppendRow(&response, "prev_kv", (KvRowData *) linitial(r->rows));
			bson_append_document_end(&op, &response);
			break;
		case KV_OP_DELETE:
			bson_append_document_begin(&op, "response_delete_range", -1, &response);
			KvAppendHeader(&response, revision);
			BSON_APPEND_INT64(&response, "deleted", r->deleted);
			if (r->prev_kv)
				KvAppendRows(&response, "prev_kvs", r->rows);
			bson_append_document_end(&op, &response);
			break;
		case KV_OP_TXN:
			bson_append_document_begin(&op, "response_txn", -1, &response);
			KvAppendTxnResult(&response, r->txn, revision);
			bson_append_document_end(&op, &response);
			break;
	}
	bson_append_document_end(doc, &op);
}

/* etcd's TxnResponse: {header: {revision}, succeeded, responses} */
static void
KvAppendTxnResult(bson_t *doc, const KvTxnResult *result, int64 revision)
{
	bson_t		responses;
	ListCell   *lc;
	int			i = 0;

	check_stack_depth();
	KvAppendHeader(doc, revision);
	BSON_APPEND_BOOL(doc, "succeeded", result->succeeded);
	bson_append_array_begin(doc, "responses", -1, &responses);
	foreach(lc, result->responses)
	{
		char		index[16];

		snprintf(index, sizeof(index), "%d", i++);
		KvAppendOpResult(&responses, index, (KvOpResult *) lfirst(lc), revision);
	}
	bson_append_array_end(doc, &responses);
}

/*
 * nosql.kv_txn(request bson) RETURNS bson — etcd's Txn: the compares
 * decide between the success and failure ops, all run as one request at
 * one revision; the reply is etcd's TxnResponse.
 */
PG_FUNCTION_INFO_V1(kv_txn);
Datum
kv_txn(PG_FUNCTION_ARGS)
{
	Bson	   *request = PG_GETARG_BSON_P(0);
	bson_t		doc;
	bson_t		reply;
	KvTxnRequest *txn;
	KvTxnResult *result;
	KvWriter	writer;
	int64		revision;
	Bson	   *out;

	if (BsonIsScalar(request) ||
		!bson_init_static(&doc, BsonBytes(request), BsonDocLen(request)))
		KvTxnError("the request must be a document");
	txn = KvParseTxn(&doc, 0);
	/* on a raft member, checked here and run by every member's apply */
	if (RaftActive())
		PG_RETURN_BSON_P(RaftKvTxn(request));

	if (KvTxnMayWrite(txn))
	{
		KvWriteBegin(&writer, false);
		result = KvRunTxn(&writer, txn);
		KvWriteEnd(&writer);
		revision = writer.writes > 0 ? writer.revision : writer.revision - 1;
	}
	else
	{
		memset(&writer, 0, sizeof(writer));
		result = KvRunTxn(&writer, txn);
		revision = KvCurrentRevision();
	}

	bson_init(&reply);
	KvAppendTxnResult(&reply, result, revision);
	out = BsonFromDocument(&reply, false);
	bson_destroy(&reply);
	PG_RETURN_BSON_P(out);
}
