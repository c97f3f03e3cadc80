/*-------------------------------------------------------------------------
 *
 * cmd_bulk.c
 *	  bulkWrite: MongoDB 8's admin command that mixes inserts, updates and
 *	  deletes on several collections in one request.
 *
 *	{bulkWrite: 1,
 *	 ops: [{insert: <i>, document}, {update: <i>, filter, updateMods, ...},
 *		   {delete: <i>, filter, multi, ...}],
 *	 nsInfo: [{ns: "db.coll"}, ...], ordered, errorsOnly, let, cursor, ...}
 *
 * Design note
 * -----------
 * The request is parsed the way MongoDB's IDL parser reads it: fields in
 * document order, each type-checked as it comes (TypeMismatch), a null
 * taken as an absent field, unknown fields refused (IDLUnknownField), and
 * the required fields checked at the end of each struct
 * (IDLFailedToParse).  An operation's kind is its first field.  Then the
 * whole request is validated (batch size, namespaces, nsInfo indexes)
 * before anything is written, so a malformed request writes nothing.
 *
 * Every operation then runs in a subtransaction (RunCaught): an error
 * becomes that operation's {ok: 0} reply item and rolls back only that
 * operation; an ordered request stops there.  A run of consecutive
 * inserts into the same namespace goes through the shared insert engine
 * in one call (InsertDocuments), which reports duplicates per document.
 *
 * The reply is a cursor whose first batch holds every reply item (the
 * cursor id is always 0: the whole result fits in one reply), with the
 * summary counters beside it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "bson_compare.h"
#include "agg.h"
#include "documents.h"
#include "update.h"

#define BULK_MAX_OPS		100000
#define BULK_INSERT_RUN		1000

typedef enum BulkOpKind
{
	BULK_INSERT,
	BULK_UPDATE,
	BULK_DELETE
} BulkOpKind;

/*
 * One parsed operation.  Pointers point into the command document (no
 * bson_t or bson_iter_t here: both are declared 128-byte aligned, which a
 * palloc'd array does not guarantee).
 */
typedef struct BulkOp
{
	BulkOpKind	kind;
	int64		ns_index;
	const uint8_t *document;	/* insert */
	uint32_t	document_len;
	const uint8_t *filter;		/* update, delete */
	uint32_t	filter_len;
	const uint8_t *mods;		/* update */
	uint32_t	mods_len;
	bool		mods_pipeline;
	const uint8_t *array_filters;
	uint32_t	af_len;
	const uint8_t *sort;
	uint32_t	sort_len;
	const uint8_t *collation;	/* update, delete; NULL when absent */
	uint32_t	collation_len;
	bool		multi;
	bool		upsert;
	bson_type_t hint_type;		/* BSON_TYPE_EOD when absent */
	const char *hint_name;		/* a string hint */
	const uint8_t *hint_doc;	/* a key pattern hint */
	uint32_t	hint_len;
} BulkOp;

/* One nsInfo entry, resolved to its collection lazily */
typedef struct BulkNs
{
	char	   *database;
	char	   *name;
	Collection *coll;			/* NULL until looked up (or when missing) */
} BulkNs;

/* The request as parsed */
typedef struct BulkRequest
{
	BulkOp	   *ops;
	int			nops;
	BulkNs	   *ns;
	int			nns;
	bool		ordered;
	bool		errors_only;
} BulkRequest;

/* The reply being built: items and counters */
typedef struct BulkReply
{
	bson_t	   *batch;			/* the firstBatch array */
	int			nitems;
	bool		errors_only;
	int64		n_errors;
	int64		n_inserted;
	int64		n_matched;
	int64		n_modified;
	int64		n_upserted;
	int64		n_deleted;
} BulkReply;

/* ---- parsing ---- */

static void BulkMissing(const char *path) pg_attribute_noreturn();
static void BulkUnknown(const char *path, const char *key) pg_attribute_noreturn();

/* A required field is absent (a null counts as absent) */
static void
BulkMissing(const char *path)
{
	MongoRaise(MONGO_IDL_MISSING_FIELD,
			   "BSON field '%s' is missing but a required field", path);
}

/* A field the struct at path does not have */
static void
BulkUnknown(const char *path, const char *key)
{
	MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field '%s.%s' is an unknown field.", path, key);
}

/* An object-typed field: its bytes */
static void
BulkDocument(const char *path, const bson_iter_t *it, const uint8_t **data, uint32_t *len)
{
	if (!BSON_ITER_HOLDS_DOCUMENT(it))
		RaiseWrongType(path, it, "object");
	bson_iter_document(it, len, data);
}

/* A bool-typed field (IDL "bool": true or false only) */
static bool
BulkBool(const char *path, const bson_iter_t *it)
{
	if (!BSON_ITER_HOLDS_BOOL(it))
		RaiseWrongType(path, it, "bool");
	return bson_iter_bool(it);
}

/*
 * An nsInfo index (IDL "safeInt": any number, truncated toward zero).
 * Out-of-range values become -1, refused later as an invalid index.
 */
static int64
BulkIndex(const bson_iter_t *it)
{
	int64		v;

	if (!BsonIterIsNumber(it))
		RaiseWrongType("bulkWrite.ops", it, "[long, int, decimal, double]");
	if (!BsonIterAsInt64(it, &v) || v > PG_INT32_MAX || v < PG_INT32_MIN)
		return -1;
	return v;
}

/* hint: a string (index name) or an object (key pattern) */
static void
BulkHint(const bson_iter_t *it, BulkOp *op)
{
	if (BSON_ITER_HOLDS_UTF8(it))
	{
		op->hint_type = BSON_TYPE_UTF8;
		op->hint_name = bson_iter_utf8(it, NULL);
	}
	else if (BSON_ITER_HOLDS_DOCUMENT(it))
	{
		op->hint_type = BSON_TYPE_DOCUMENT;
		bson_iter_document(it, &op->hint_len, &op->hint_doc);
	}
	else
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "Hint must be either a string or a nested object");
}

/* arrayFilters: an array of objects */
static void
BulkArrayFilters(const bson_iter_t *it, BulkOp *op)
{
	bson_iter_t elements;

	if (!BSON_ITER_HOLDS_ARRAY(it))
		RaiseWrongType("bulkWrite.ops", it, "array");
	bson_iter_recurse(it, &elements);
	while (bson_iter_next(&elements))
		if (!BSON_ITER_HOLDS_DOCUMENT(&elements))
			RaiseWrongType("bulkWrite.ops.arrayFilters", &elements, "object");
	bson_iter_array(it, &op->af_len, &op->array_filters);
}

/*
 * Parse one element of ops.  The first field names the kind (MongoDB's
 * IDL variant is discriminated by it).
 */
static void
BulkParseOp(const bson_iter_t *element, int i, BulkOp *op)
{
	bson_iter_t f;
	const char *kind_name;
	bool		has_index = false;

	memset(op, 0, sizeof(*op));
	op->hint_type = BSON_TYPE_EOD;
	if (!BSON_ITER_HOLDS_DOCUMENT(element))
		MongoRaise(MONGO_TYPE_MISMATCH,
				   "BSON field 'bulkWrite.ops.%d' is the wrong type '%s', expected type 'object'",
				   i, BsonTypeName(bson_iter_type(element)));
	bson_iter_recurse(element, &f);
	if (!bson_iter_next(&f))
		BulkUnknown("bulkWrite.ops", "");
	kind_name = bson_iter_key(&f);
	if (strcmp(kind_name, "insert") == 0)
		op->kind = BULK_INSERT;
	else if (strcmp(kind_name, "update") == 0)
		op->kind = BULK_UPDATE;
	else if (strcmp(kind_name, "delete") == 0)
		op->kind = BULK_DELETE;
	else
		BulkUnknown("bulkWrite.ops", kind_name);

	bson_iter_recurse(element, &f);
	while (bson_iter_next(&f))
	{
		const char *key = bson_iter_key(&f);

		/* null is an absent field, as MongoDB's IDL parser takes it */
		if (BSON_ITER_HOLDS_NULL(&f) &&
			!(op->kind == BULK_UPDATE && strcmp(key, "updateMods") == 0))
			continue;

		if (strcmp(key, kind_name) == 0)
		{
			op->ns_index = BulkIndex(&f);
			has_index = true;
		}
		else if (op->kind == BULK_INSERT && strcmp(key, "document") == 0)
			BulkDocument("bulkWrite.ops", &f, &op->document, &op->document_len);
		else if (op->kind != BULK_INSERT && strcmp(key, "filter") == 0)
			BulkDocument("bulkWrite.ops", &f, &op->filter, &op->filter_len);
		else if (op->kind != BULK_INSERT && strcmp(key, "multi") == 0)
			op->multi = BulkBool("bulkWrite.ops", &f);
		else if (op->kind != BULK_INSERT && strcmp(key, "hint") == 0)
			BulkHint(&f, op);
		else if (op->kind != BULK_INSERT && strcmp(key, "collation") == 0)
			BulkDocument("bulkWrite.ops", &f, &op->collation, &op->collation_len);
		else if (op->kind != BULK_INSERT && strcmp(key, "sampleId") == 0)
			continue;
		else if (op->kind == BULK_UPDATE && strcmp(key, "updateMods") == 0)
		{
			if (BSON_ITER_HOLDS_DOCUMENT(&f))
				bson_iter_document(&f, &op->mods_len, &op->mods);
			else if (BSON_ITER_HOLDS_ARRAY(&f))
			{
				bson_iter_array(&f, &op->mods_len, &op->mods);
				op->mods_pipeline = true;
			}
			else
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "Update argument must be either an object or an array");
		}
		else if (op->kind == BULK_UPDATE && strcmp(key, "upsert") == 0)
			op->upsert = BulkBool("bulkWrite.ops", &f);
		else if (op->kind == BULK_UPDATE &&
				 (strcmp(key, "upsertSupplied") == 0 ||
				  strcmp(key, "$_allowShardKeyUpdatesWithoutFullShardKeyInQuery") == 0))
			(void) BulkBool("bulkWrite.ops", &f);
		else if (op->kind == BULK_UPDATE && strcmp(key, "arrayFilters") == 0)
			BulkArrayFilters(&f, op);
		else if (op->kind == BULK_UPDATE && strcmp(key, "sort") == 0)
			BulkDocument("bulkWrite.ops", &f, &op->sort, &op->sort_len);
		else if (op->kind == BULK_UPDATE && strcmp(key, "constants") == 0)
		{
			const uint8_t *data;
			uint32_t	len;

			BulkDocument("bulkWrite.ops", &f, &data, &len);
		}
		else
			BulkUnknown("bulkWrite.ops", key);
	}

	if (!has_index)
		BulkMissing(psprintf("bulkWrite.ops.%s", kind_name));
	if (op->kind == BULK_INSERT && op->document == NULL)
		BulkMissing("bulkWrite.ops.document");
	if (op->kind != BULK_INSERT && op->filter == NULL)
		BulkMissing("bulkWrite.ops.filter");
	if (op->kind == BULK_UPDATE && op->mods == NULL)
		BulkMissing("bulkWrite.ops.updateMods");
}

/* Parse one element of nsInfo */
static void
BulkParseNs(const bson_iter_t *element, int i, BulkNs *ns, const char **qualified)
{
	bson_iter_t f;

	*qualified = NULL;
	if (!BSON_ITER_HOLDS_DOCUMENT(element))
		MongoRaise(MONGO_TYPE_MISMATCH,
				   "BSON field 'bulkWrite.nsInfo.%d' is the wrong type '%s', expected type 'object'",
				   i, BsonTypeName(bson_iter_type(element)));
	bson_iter_recurse(element, &f);
	while (bson_iter_next(&f))
	{
		const char *key = bson_iter_key(&f);

		if (BSON_ITER_HOLDS_NULL(&f))
			continue;
		if (strcmp(key, "ns") == 0)
		{
			uint32_t	len;
			const char *s;

			if (!BSON_ITER_HOLDS_UTF8(&f))
				RaiseWrongType("bulkWrite.nsInfo", &f, "string");
			s = bson_iter_utf8(&f, &len);
			if (strlen(s) != len)
				MongoRaise(MONGO_INVALID_NAMESPACE, "namespaces cannot contain a NUL byte");
			*qualified = s;
		}
		else if (strcmp(key, "collectionUUID") == 0)
		{
			if (!BSON_ITER_HOLDS_BINARY(&f))
				RaiseWrongType("bulkWrite.nsInfo", &f, "binData");
		}
		else if (strcmp(key, "encryptionInformation") == 0)
		{
			const uint8_t *data;
			uint32_t	len;

			BulkDocument("bulkWrite.nsInfo", &f, &data, &len);
		}
		else if (strcmp(key, "isTimeseriesNamespace") == 0)
			(void) BulkBool("bulkWrite.nsInfo", &f);
		else if (strcmp(key, "shardVersion") == 0 || strcmp(key, "databaseVersion") == 0)
			continue;
		else
			BulkUnknown("bulkWrite.nsInfo", key);
	}
	if (*qualified == NULL)
		BulkMissing("bulkWrite.nsInfo.ns");
	memset(ns, 0, sizeof(*ns));
}

/* cursor: {batchSize} */
static void
BulkParseCursor(const bson_iter_t *it)
{
	bson_iter_t f;

	if (!BSON_ITER_HOLDS_DOCUMENT(it))
		RaiseWrongType("bulkWrite", it, "object");
	bson_iter_recurse(it, &f);
	while (bson_iter_next(&f))
	{
		const char *key = bson_iter_key(&f);

		if (BSON_ITER_HOLDS_NULL(&f))
			continue;
		if (strcmp(key, "batchSize") == 0)
			(void) FieldNonNegative("bulkWrite.cursor", &f);
		else
			BulkUnknown("bulkWrite.cursor", key);
	}
}

/* Split and check "db.coll" (InvalidNamespace) */
static void
BulkCheckNamespace(const char *qualified, BulkNs *ns)
{
	const char *dot = strchr(qualified, '.');

	if (dot == NULL || dot == qualified || dot[1] == '\0')
		MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid namespace specified '%s'", qualified);
	ns->database = pnstrdup(qualified, dot - qualified);
	ns->name = pstrdup(dot + 1);
	ValidateDatabaseName(ns->database);
	ValidateCollectionName(ns->database, ns->name);
}

/*
 * Parse and validate the whole request; raises the command's error (the
 * request then writes nothing).
 */
static void
BulkParse(CommandContext *ctx, BulkRequest *req)
{
	bson_iter_t it;
	bool		have_ops = false;
	bool		have_ns = false;
	const char **qualified = NULL;

	memset(req, 0, sizeof(*req));
	req->ordered = true;
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (BSON_ITER_HOLDS_NULL(&it))
			continue;
		if (strcmp(key, "ops") == 0)
		{
			bson_iter_t elements;
			int			count = 0;

			if (!BSON_ITER_HOLDS_ARRAY(&it))
				RaiseWrongType("bulkWrite", &it, "array");
			bson_iter_recurse(&it, &elements);
			while (bson_iter_next(&elements))
				count++;
			req->ops = palloc0(sizeof(BulkOp) * Max(count, 1));
			req->nops = count;
			bson_iter_recurse(&it, &elements);
			for (int i = 0; bson_iter_next(&elements); i++)
			{
				CHECK_FOR_INTERRUPTS();
				BulkParseOp(&elements, i, &req->ops[i]);
			}
			have_ops = true;
		}
		else if (strcmp(key, "nsInfo") == 0)
		{
			bson_iter_t elements;
			int			count = 0;

			if (!BSON_ITER_HOLDS_ARRAY(&it))
				RaiseWrongType("bulkWrite", &it, "array");
			bson_iter_recurse(&it, &elements);
			while (bson_iter_next(&elements))
				count++;
			req->ns = palloc0(sizeof(BulkNs) * Max(count, 1));
			qualified = palloc0(sizeof(char *) * Max(count, 1));
			req->nns = count;
			bson_iter_recurse(&it, &elements);
			for (int i = 0; bson_iter_next(&elements); i++)
				BulkParseNs(&elements, i, &req->ns[i], &qualified[i]);
			have_ns = true;
		}
		else if (strcmp(key, "cursor") == 0)
			BulkParseCursor(&it);
		else if (strcmp(key, "bypassDocumentValidation") == 0)
			(void) FieldBool("bulkWrite", &it);
		else if (strcmp(key, "ordered") == 0)
			req->ordered = BulkBool("bulkWrite", &it);
		else if (strcmp(key, "errorsOnly") == 0)
			req->errors_only = BulkBool("bulkWrite", &it);
		else if (strcmp(key, "let") == 0 || strcmp(key, "writeConcern") == 0 ||
				 strcmp(key, "$_originalQuery") == 0 ||
				 strcmp(key, "$_originalCollation") == 0)
		{
			const uint8_t *data;
			uint32_t	len;

			BulkDocument("bulkWrite", &it, &data, &len);
			if (strcmp(key, "let") == 0 && data != NULL)
				CommandLetEvaluate(ctx, &it);
		}
		else if (strcmp(key, "stmtId") == 0)
		{
			if (!BSON_ITER_HOLDS_INT32(&it))
				RaiseWrongType("bulkWrite", &it, "int");
		}
		else if (strcmp(key, "stmtIds") == 0)
		{
			bson_iter_t elements;

			if (!BSON_ITER_HOLDS_ARRAY(&it))
				RaiseWrongType("bulkWrite", &it, "array");
			bson_iter_recurse(&it, &elements);
			while (bson_iter_next(&elements))
				if (!BSON_ITER_HOLDS_INT32(&elements))
					RaiseWrongType("bulkWrite.stmtIds", &elements, "int");
		}
		else if (IsGenericField(key))
			continue;
		else
			BulkUnknown("bulkWrite", key);
	}
	if (!have_ops)
		BulkMissing("bulkWrite.ops");
	if (!have_ns)
		BulkMissing("bulkWrite.nsInfo");

	/* the request as a whole */
	if (req->nops == 0 || req->nops > BULK_MAX_OPS)
		MongoRaise(MONGO_INVALID_LENGTH,
				   "Write batch sizes must be between 1 and %d. Got %d operations.",
				   BULK_MAX_OPS, req->nops);
	if (req->nns == 0)
		MongoRaise(MONGO_BAD_VALUE, "At least one namespace must be specified in nsInfo");
	for (int i = 0; i < req->nns; i++)
		BulkCheckNamespace(qualified[i], &req->ns[i]);
	for (int i = 0; i < req->nops; i++)
		if (req->ops[i].ns_index < 0 || req->ops[i].ns_index >= req->nns)
			MongoRaise(MONGO_BAD_VALUE,
					   "BulkWrite ops entry %d has an invalid nsInfo index.", i);
}

/* ---- reply items ---- */

/* Open the next element of the first batch */
static void
BulkItemBegin(BulkReply *r, bson_t *item)
{
	char		key[16];
	const char *keyp;

	bson_uint32_to_string(r->nitems++, &keyp, key, sizeof(key));
	bson_append_document_begin(r->batch, keyp, -1, item);
}

/* A successful operation: {ok: 1, idx, n, nModified?, upserted?} */
static void
BulkItemOk(BulkReply *r, const BulkOp *op, int idx, int64 n, int64 nmodified,
		   const bson_t *upserted)
{
	bson_t		item;

	if (r->errors_only)
		return;
	BulkItemBegin(r, &item);
	BSON_APPEND_DOUBLE(&item, "ok", 1.0);
	BSON_APPEND_INT32(&item, "idx", idx);
	BSON_APPEND_INT32(&item, "n", (int32) n);
	if (op->kind == BULK_UPDATE)
	{
		BSON_APPEND_INT32(&item, "nModified", (int32) nmodified);
		if (upserted != NULL)
			BSON_APPEND_DOCUMENT(&item, "upserted", upserted);
	}
	bson_append_document_end(r->batch, &item);
}

/*
 * A failed operation: {ok: 0, idx, code, codeName, errmsg, <extra>, n: 0,
 * nModified: 0 (updates)}.
 */
static void
BulkItemError(BulkReply *r, const BulkOp *op, int idx, int code, const char *message,
			  const bson_t *extra)
{
	bson_t		item;

	r->n_errors++;
	BulkItemBegin(r, &item);
	BSON_APPEND_DOUBLE(&item, "ok", 0.0);
	BSON_APPEND_INT32(&item, "idx", idx);
	BSON_APPEND_INT32(&item, "code", code);
	BSON_APPEND_UTF8(&item, "codeName", MongoCodeName(code));
	BSON_APPEND_UTF8(&item, "errmsg", message);
	if (extra != NULL)
		bson_concat(&item, extra);
	BSON_APPEND_INT32(&item, "n", 0);
	if (op->kind == BULK_UPDATE)
		BSON_APPEND_INT32(&item, "nModified", 0);
	bson_append_document_end(r->batch, &item);
}

/* ---- running the operations ---- */

/* The collection of an nsInfo entry, created if asked; NULL if missing */
static Collection *
BulkCollection(BulkNs *ns, bool create)
{
	if (ns->coll == NULL)
	{
		if (create)
		{
			bool		created;

			ns->coll = CollectionGetOrCreate(ns->database, ns->name, &created);
		}
		else
			ns->coll = CollectionLookup(ns->database, ns->name);
	}
	if (ns->coll != NULL && ns->coll->is_view)
		MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW,
				   "Namespace %s.%s is a view, not a collection", ns->database, ns->name);
	return ns->coll;
}

/*
 * The index a hint names (CheckHint: by name or key pattern; an unknown
 * one is error 2), or NULL for no hint.
 */
static const char *
BulkCheckHint(const Collection *coll, const BulkOp *op)
{
	bson_t		holder = BSON_INITIALIZER;
	bson_iter_t it;
	const char *name;

	if (op->hint_type == BSON_TYPE_EOD)
		return NULL;
	if (op->hint_type == BSON_TYPE_DOCUMENT)
	{
		bson_t		hint;

		/* {} is no hint */
		if (op->hint_len <= 5 || !bson_init_static(&hint, op->hint_doc, op->hint_len))
			return NULL;
		bson_append_document(&holder, "hint", 4, &hint);
	}
	else
		bson_append_utf8(&holder, "hint", 4, op->hint_name, -1);
	if (!bson_iter_init_find(&it, &holder, "hint"))
		elog(ERROR, "could not read a hint");
	name = CheckHint(coll, &it);
	if (name != NULL)
		name = pstrdup(name);	/* it may point into holder */
	bson_destroy(&holder);
	return name;
}

/* A run of inserts into one namespace (run by RunCaught) */
typedef struct BulkInsertArgs
{
	BulkNs	   *ns;
	bson_t	  **docs;
	int			ndocs;
	bool		ordered;
	bool	   *invalid;
	int		   *codes;
	char	  **messages;
	WriteErrors *we;
	int			inserted;
} BulkInsertArgs;

/* Insert the prepared documents of a run (its collection created if needed) */
static void
BulkInsertRun(void *arg)
{
	BulkInsertArgs *a = arg;
	Collection *coll = BulkCollection(a->ns, true);

	a->inserted = InsertDocuments(coll, a->docs, a->ndocs, a->ordered, a->invalid, a->we,
								  a->codes, a->messages);
}

/*
 * Inserts ops[from, to) (all into the same namespace).  Returns whether
 * an ordered request must stop.
 */
static bool
BulkInserts(BulkRequest *req, BulkReply *r, int from, int to)
{
	BulkInsertArgs a;
	WriteErrors we;
	int			n = to - from;
	int			code = 0;
	char	   *message = NULL;
	bson_t	   *extra = NULL;
	int		   *error_at;
	bool		stop = false;
	bson_iter_t it;

	a.ns = &req->ns[req->ops[from].ns_index];
	a.ndocs = n;
	a.ordered = req->ordered;
	a.docs = palloc(sizeof(bson_t *) * n);
	a.invalid = palloc0(sizeof(bool) * n);
	a.codes = palloc0(sizeof(int) * n);
	a.messages = palloc0(sizeof(char *) * n);
	for (int i = 0; i < n; i++)
	{
		const BulkOp *op = &req->ops[from + i];

		a.docs[i] = bson_new();
		a.messages[i] = PrepareDocument(op->document, op->document_len, a.docs[i],
										&a.codes[i]);
		a.invalid[i] = a.messages[i] != NULL;
	}
	bson_init(&we.array);
	we.count = 0;
	a.we = &we;
	a.inserted = 0;

	if (!RunCaught(BulkInsertRun, &a, &code, &message, &extra))
	{
		/* the collection could not be had: every insert of the run fails */
		a.ns->coll = NULL;
		for (int i = 0; i < n; i++)
		{
			BulkItemError(r, &req->ops[from + i], from + i, code, message, extra);
			if (req->ordered)
				return true;
		}
		return false;
	}

	/* which documents failed (index within the run -> write error) */
	error_at = palloc(sizeof(int) * n);
	for (int i = 0; i < n; i++)
		error_at[i] = -1;
	bson_iter_init(&it, &we.array);
	for (int e = 0; bson_iter_next(&it); e++)
	{
		bson_iter_t f;

		bson_iter_recurse(&it, &f);
		if (bson_iter_find(&f, "index") && BSON_ITER_HOLDS_INT32(&f))
		{
			int			i = bson_iter_int32(&f);

			if (i >= 0 && i < n)
				error_at[i] = e;
		}
	}

	r->n_inserted += a.inserted;
	for (int i = 0; i < n && !stop; i++)
	{
		const BulkOp *op = &req->ops[from + i];

		if (error_at[i] < 0)
			BulkItemOk(r, op, from + i, 1, 0, NULL);
		else
		{
			bson_iter_t e;
			bson_iter_t f;
			bson_t		werr_extra;
			int			werr_code = MONGO_INTERNAL_ERROR;
			const char *werr_message = "";
			char		key[16];

			snprintf(key, sizeof(key), "%d", error_at[i]);
			bson_init(&werr_extra);
			if (bson_iter_init_find(&e, &we.array, key) && BSON_ITER_HOLDS_DOCUMENT(&e))
			{
				bson_iter_recurse(&e, &f);
				while (bson_iter_next(&f))
				{
					const char *k = bson_iter_key(&f);

					if (strcmp(k, "index") == 0)
						continue;
					else if (strcmp(k, "code") == 0)
						werr_code = bson_iter_int32(&f);
					else if (strcmp(k, "errmsg") == 0)
						werr_message = bson_iter_utf8(&f, NULL);
					else
						bson_append_iter(&werr_extra, NULL, 0, &f);
				}
			}
			BulkItemError(r, op, from + i, werr_code, werr_message, &werr_extra);
			bson_destroy(&werr_extra);
			if (req->ordered)
				stop = true;
		}
	}
	return stop;
}

/* One update or delete (run by RunCaught) */
typedef struct BulkWriteArgs
{
	const BulkOp *op;
	BulkNs	   *ns;
	int64		n;
	int64		modified;
	bson_t	   *upserted;		/* {_id: value} when upserted */
} BulkWriteArgs;

/* Apply one update op; an upsert creates the collection if needed */
static void
BulkUpdateOne(void *arg)
{
	BulkWriteArgs *a = arg;
	const BulkOp *op = a->op;
	BsonQueryError error = {0};
	BsonUpdate *u;
	Collection *coll;
	UpdateResult result;
	bool		pipeline = false;
	const uint8_t *mods = op->mods;
	uint32_t	mods_len = op->mods_len;

	if (op->mods_pipeline)
		pipeline = PipelineUpdateCheck(&mods, &mods_len);
	/* the update is checked even when there is nothing to update */
	if (!pipeline)
	{
		u = BsonUpdateCompile(mods, mods_len, op->array_filters, op->af_len, &error);
		if (u == NULL)
			MongoRaise(error.code, "%s", error.message);
		if (op->multi && BsonUpdateIsReplacement(u))
			MongoRaise(MONGO_FAILED_TO_PARSE,
					   "multi update is not supported for replacement-style update");
		BsonUpdateFree(u);
	}
	coll = BulkCollection(a->ns, op->upsert);
	if (coll == NULL)
	{
		if (op->collation != NULL)
			(void) CompileCollation(op->collation, op->collation_len);
		(void) CompileFilter(op->filter, op->filter_len);
		return;
	}
	WriteHintSet(BulkCheckHint(coll, op));
	UpdateDocuments(coll, op->filter, op->filter_len, mods, mods_len, pipeline,
					op->array_filters, op->af_len, op->multi, op->upsert, op->sort,
					op->sort_len, op->collation, op->collation_len, false, false, &result);
	a->n = result.matched;
	a->modified = result.modified;
	if (result.upserted)
		a->upserted = bson_copy(&result.upserted_id);
}

/* Apply one delete op (nothing to do on a missing collection) */
static void
BulkDeleteOne(void *arg)
{
	BulkWriteArgs *a = arg;
	const BulkOp *op = a->op;
	Collection *coll = BulkCollection(a->ns, false);

	if (coll == NULL)
	{
		if (op->collation != NULL)
			(void) CompileCollation(op->collation, op->collation_len);
		(void) CompileFilter(op->filter, op->filter_len);
		return;
	}
	WriteHintSet(BulkCheckHint(coll, op));
	a->n = DeleteDocuments(coll, op->filter, op->filter_len, op->multi, NULL, 0,
						   op->collation, op->collation_len, NULL);
}

/* Run ops[i], an update or a delete; returns whether to stop */
static bool
BulkUpdateOrDelete(BulkRequest *req, BulkReply *r, int i)
{
	const BulkOp *op = &req->ops[i];
	BulkWriteArgs a;
	int			code = 0;
	char	   *message = NULL;
	bson_t	   *extra = NULL;

	memset(&a, 0, sizeof(a));
	a.op = op;
	a.ns = &req->ns[op->ns_index];
	if (!RunCaught(op->kind == BULK_UPDATE ? BulkUpdateOne : BulkDeleteOne, &a,
				   &code, &message, &extra))
	{
		/* a collection created in the rolled back part is gone again */
		a.ns->coll = NULL;
		BulkItemError(r, op, i, code, message, extra);
		return req->ordered;
	}
	if (op->kind == BULK_DELETE)
	{
		r->n_deleted += a.n;
		BulkItemOk(r, op, i, a.n, 0, NULL);
	}
	else if (a.upserted != NULL)
	{
		r->n_upserted++;
		BulkItemOk(r, op, i, 1, 0, a.upserted);
	}
	else
	{
		r->n_matched += a.n;
		r->n_modified += a.modified;
		BulkItemOk(r, op, i, a.n, a.modified, NULL);
	}
	return false;
}

/*
 * bulkWrite: see the note at the top of the file.
 */
void
CmdBulkWrite(CommandContext *ctx, bson_t *reply)
{
	BulkRequest req;
	BulkReply	r;
	bson_t		cursor;
	int			i = 0;

	/* admin-only: MongoDB refuses it elsewhere before parsing it */
	if (strcmp(ctx->database, "admin") != 0)
		MongoRaise(MONGO_UNAUTHORIZED,
				   "bulkWrite may only be run against the admin database.");
	BulkParse(ctx, &req);
	/* the command's let variables and $$NOW, bound into the statements */
	for (int k = 0; k < req.nops; k++)
	{
		BulkOp	   *op = &req.ops[k];

		if (op->kind == BULK_INSERT)
			continue;
		CommandBindFilter(ctx, &op->filter, &op->filter_len);
		if (op->kind == BULK_UPDATE && op->mods_pipeline)
			CommandBindPipeline(ctx, &op->mods, &op->mods_len);
	}

	memset(&r, 0, sizeof(r));
	r.batch = bson_new();
	r.errors_only = req.errors_only;
	while (i < req.nops)
	{
		bool		stop;

		CHECK_FOR_INTERRUPTS();
		if (req.ops[i].kind == BULK_INSERT)
		{
			int			end = i + 1;

			while (end < req.nops && end - i < BULK_INSERT_RUN &&
				   req.ops[end].kind == BULK_INSERT &&
				   req.ops[end].ns_index == req.ops[i].ns_index)
				end++;
			stop = BulkInserts(&req, &r, i, end);
			i = end;
		}
		else
			stop = BulkUpdateOrDelete(&req, &r, i++);
		if (stop)
			break;
	}

	BSON_APPEND_DOCUMENT_BEGIN(reply, "cursor", &cursor);
	BSON_APPEND_INT64(&cursor, "id", 0);
	BSON_APPEND_ARRAY(&cursor, "firstBatch", r.batch);
	BSON_APPEND_UTF8(&cursor, "ns", "admin.$cmd.bulkWrite");
	bson_append_document_end(reply, &cursor);
	BSON_APPEND_INT32(reply, "nErrors", (int32) r.n_errors);
	BSON_APPEND_INT32(reply, "nInserted", (int32) r.n_inserted);
	BSON_APPEND_INT32(reply, "nMatched", (int32) r.n_matched);
	BSON_APPEND_INT32(reply, "nModified", (int32) r.n_modified);
	BSON_APPEND_INT32(reply, "nUpserted", (int32) r.n_upserted);
	BSON_APPEND_INT32(reply, "nDeleted", (int32) r.n_deleted);
}
