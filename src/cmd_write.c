/*-------------------------------------------------------------------------
 *
 * cmd_write.c
 *	  insert, update, delete and findAndModify.
 *
 * Inserts go in batches through one statement per batch,
 *
 *	INSERT INTO <table> SELECT * FROM unnest($1::bson[], $2::bson[])
 *	ON CONFLICT DO NOTHING RETURNING _id
 *
 * and the documents missing from RETURNING are the duplicates (MongoDB's
 * write error 11000).  An ordered insert stops at its first error: its
 * batch runs in a subtransaction that is rolled back and redone up to the
 * failing document.
 *
 * Updates and deletes lock their targets with SELECT ... FOR UPDATE in
 * READ COMMITTED, so a concurrent change to the same document makes the
 * second writer see the first one's result (PostgreSQL re-checks the row):
 * two $inc never lose one another.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "utils/acl.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "agg.h"
#include "bson_compare.h"
#include "cdc.h"
#include "documents.h"
#include "update.h"

#define INSERT_BATCH		1000
#define MAX_WRITE_BATCH		100000

/* ---- write errors ---- */

static void
WriteErrorAdd(WriteErrors *we, int index, int code, const char *message,
			  const bson_t *extra)
{
	bson_t		e;
	char		key[16];
	const char *keyp;

	bson_uint32_to_string(we->count++, &keyp, key, sizeof(key));
	bson_append_document_begin(&we->array, keyp, -1, &e);
	BSON_APPEND_INT32(&e, "index", index);
	BSON_APPEND_INT32(&e, "code", code);
	if (extra != NULL)
		bson_concat(&e, extra);
	BSON_APPEND_UTF8(&e, "errmsg", message);
	bson_append_document_end(&we->array, &e);
}

/* The text MongoDB shows for a key value in messages: { _id: 1 } */
static char *
KeyValueText(const bson_iter_t *id)
{
	return psprintf("{ _id: %s }", BsonToCString(BsonFromIter(id), BSON_JSON_RELAXED));
}

/* keyPattern and keyValue of a duplicate _id */
static void
DuplicateIdExtra(const bson_iter_t *id, bson_t *extra)
{
	bson_t		kp,
				kv;

	bson_init(extra);
	BSON_APPEND_DOCUMENT_BEGIN(extra, "keyPattern", &kp);
	BSON_APPEND_INT32(&kp, "_id", 1);
	bson_append_document_end(extra, &kp);
	BSON_APPEND_DOCUMENT_BEGIN(extra, "keyValue", &kv);
	bson_append_iter(&kv, "_id", 3, id);
	bson_append_document_end(extra, &kv);
}

static char *
DuplicateIdMessage(const Collection *coll, const bson_iter_t *id)
{
	return psprintf("E11000 duplicate key error collection: %s.%s index: _id_ dup key: %s",
					coll->database, coll->name, KeyValueText(id));
}

void
DuplicateIdRaise(const Collection *coll, const bson_iter_t *id)
{
	bson_t		extra;

	DuplicateIdExtra(id, &extra);
	MongoRaiseExtra(MONGO_DUPLICATE_KEY, &extra, "%s", DuplicateIdMessage(coll, id));
}

/*
 * The index a write statement hints, for the next UpdateDocuments or
 * DeleteDocuments only: each reads and clears it (set right before the
 * call by the statements that have a hint).
 */
static const char *write_hint = NULL;

void
WriteHintSet(const char *hint)
{
	write_hint = hint;
}

static const char *
WriteHintTake(void)
{
	const char *h = write_hint;

	write_hint = NULL;
	return h;
}

/* ---- preparing documents for storage ---- */

/*
 * Check a document for storage and give it an _id (first) when it has none.
 * Returns NULL when valid (with *out holding the document to store and
 * *id_out its _id), else a message with *code set.
 */
char *
PrepareDocument(const uint8_t *data, uint32_t len, bson_t *out, int *code)
{
	bson_t		doc;
	bson_iter_t it;
	bool		has_id = false;
	bool		id_first = false;
	bson_iter_t id;
	bool		first = true;

	if (!bson_init_static(&doc, data, len) || !bson_iter_init(&it, &doc))
	{
		*code = MONGO_BAD_VALUE;
		return pstrdup("invalid document");
	}
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "_id") == 0)
		{
			if (has_id)
			{
				*code = MONGO_BAD_VALUE;
				return pstrdup("can't have multiple _id fields in one document");
			}
			has_id = true;
			id_first = first;
			id = it;
			switch (bson_iter_type(&it))
			{
				case BSON_TYPE_ARRAY:
					*code = MONGO_INVALID_ID_FIELD;
					return pstrdup("The '_id' value cannot be of type array");
				case BSON_TYPE_REGEX:
					*code = MONGO_INVALID_ID_FIELD;
					return pstrdup("can't use a regex for _id");
				case BSON_TYPE_UNDEFINED:
					*code = MONGO_INVALID_ID_FIELD;
					return pstrdup("can't use a undefined for _id");
				case BSON_TYPE_DOCUMENT:
					{
						bson_iter_t inner;

						bson_iter_recurse(&it, &inner);
						while (bson_iter_next(&inner))
							if (bson_iter_key(&inner)[0] == '$')
							{
								*code = MONGO_DOLLAR_PREFIXED;
								return psprintf("_id fields may not contain '$'-prefixed fields: %s is not valid for storage.",
												bson_iter_key(&inner));
							}
						break;
					}
				default:
					break;
			}
		}
		first = false;
	}

	if (has_id && id_first)
	{
		/* already as stored: use the bytes in place, no copy */
		bson_init_static(out, data, len);
		return NULL;
	}
	bson_init(out);
	if (has_id)
		bson_append_iter(out, "_id", 3, &id);
	else
	{
		bson_oid_t	oid;

		bson_oid_init(&oid, NULL);
		BSON_APPEND_OID(out, "_id", &oid);
	}
	bson_iter_init(&it, &doc);
	while (bson_iter_next(&it))
		if (strcmp(bson_iter_key(&it), "_id") != 0)
			bson_append_iter(out, NULL, 0, &it);
	return NULL;
}

/* The _id of a stored document (the first field) */
static void
DocumentId(const bson_t *doc, bson_iter_t *id)
{
	if (!bson_iter_init_find(id, doc, "_id"))
		elog(ERROR, "document without _id");
}

/* ---- document validation (the collection's validator) ---- */

/*
 * The compiled validator of a collection, or NULL when it has none, its
 * validationLevel is "off" or its validationAction is "warn".  *moderate
 * says whether the level is "moderate" (updates of documents that were
 * already invalid are not checked).
 */
static BsonFilter *
CollectionValidator(const Collection *coll, bool *moderate)
{
	bson_iter_t it;
	const uint8_t *data = NULL;
	uint32_t	len = 0;

	*moderate = false;
	if (bson_iter_init_find(&it, coll->options, "validationLevel") && BSON_ITER_HOLDS_UTF8(&it))
	{
		const char *level = bson_iter_utf8(&it, NULL);

		if (strcmp(level, "off") == 0)
			return NULL;
		*moderate = strcmp(level, "moderate") == 0;
	}
	if (bson_iter_init_find(&it, coll->options, "validationAction") &&
		BSON_ITER_HOLDS_UTF8(&it) && strcmp(bson_iter_utf8(&it, NULL), "warn") == 0)
		return NULL;
	if (!bson_iter_init_find(&it, coll->options, "validator") || !BSON_ITER_HOLDS_DOCUMENT(&it))
		return NULL;
	bson_iter_document(&it, &len, &data);
	if (len <= 5)
		return NULL;
	return CompileFilter(data, len);
}

#define VALIDATION_FAILED	121

/* ---- insert ---- */

static SPIPlanPtr
InsertPlan(const Collection *coll)
{
	Oid			arraytype = get_array_type(BsonTypeOid());
	Oid			types[2];
	SPIPlanPtr	plan;

	types[0] = arraytype;
	types[1] = arraytype;
	plan = SPI_prepare(psprintf("INSERT INTO %s (_id, document) "
								"SELECT * FROM unnest($1, $2) ON CONFLICT DO NOTHING "
								"RETURNING _id", coll->qualified),
					   2, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	return plan;
}

/*
 * Insert docs[from, to) (prepared) through plan; fills inserted[] with
 * whether each was inserted.  Returns how many were.
 */
static int
InsertRun(SPIPlanPtr plan, bson_t **docs, int from, int to, bool *inserted)
{
	int			n = to - from;
	Datum	   *ids = palloc(sizeof(Datum) * n);
	Datum	   *bodies = palloc(sizeof(Datum) * n);
	Oid			bsonoid = BsonTypeOid();
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum		values[2];
	int			j = 0;

	get_typlenbyvalalign(bsonoid, &typlen, &typbyval, &typalign);
	for (int i = 0; i < n; i++)
	{
		bson_iter_t id;

		DocumentId(docs[from + i], &id);
		ids[i] = PointerGetDatum(BsonFromIter(&id));
		bodies[i] = PointerGetDatum(BsonDatumFromBson(docs[from + i]));
	}
	values[0] = PointerGetDatum(construct_array(ids, n, bsonoid, typlen, typbyval, typalign));
	values[1] = PointerGetDatum(construct_array(bodies, n, bsonoid, typlen, typbyval, typalign));
	if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "insert failed");

	/* RETURNING gives the inserted _ids in input order */
	for (int i = 0; i < n; i++)
	{
		inserted[from + i] = false;
		if ((uint64) j < SPI_processed)
		{
			bool		isnull;
			Bson	   *rid = DatumGetBsonP(SPI_getbinval(SPI_tuptable->vals[j],
														  SPI_tuptable->tupdesc, 1,
														  &isnull));
			Bson	   *mine = (Bson *) DatumGetPointer(ids[i]);

			if (VARSIZE_ANY_EXHDR(rid) == VARSIZE_ANY_EXHDR(mine) &&
				memcmp(VARDATA_ANY(rid), VARDATA_ANY(mine), VARSIZE_ANY_EXHDR(mine)) == 0)
			{
				inserted[from + i] = true;
				j++;
			}
		}
	}
	SPI_freetuptable(SPI_tuptable);
	return j;
}

/*
 * The fast path of inserts: documents go straight into the table with
 * table_multi_insert and its indexes, as COPY does, without the planner
 * and ON CONFLICT's speculative insertion.  Only for tables with no
 * triggers and no row-level security; the unique _id index raises on a
 * duplicate, and the caller (in a subtransaction) then falls back to the
 * statement path, which reports duplicates one by one.
 */
static bool
InsertFastPossible(Relation rel)
{
	if (rel->trigdesc != NULL)
		return false;
	if (check_enable_rls(RelationGetRelid(rel), InvalidOid, true) == RLS_ENABLED)
		return false;
	if (rel->rd_rel->relkind != RELKIND_RELATION)
		return false;
	/* capped collections have a generated insertion-order column */
	if (RelationGetDescr(rel)->natts != 2)
		return false;
	return true;
}

#define INSERT_FAST_CHUNK	100

static void
InsertFast(Relation rel, bson_t **docs, int from, int to)
{
	EState	   *estate = CreateExecutorState();
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	TupleDesc	desc = RelationGetDescr(rel);
	int			nslots = Min(to - from, INSERT_FAST_CHUNK);
	TupleTableSlot **slots = palloc(sizeof(TupleTableSlot *) * nslots);
	CommandId	cid = GetCurrentCommandId(true);
	BulkInsertState bistate = (to - from) > 1 ? GetBulkInsertState() : NULL;
	MemoryContext chunk_context = GetPerTupleMemoryContext(estate);

	if (desc->natts != 2)
		elog(ERROR, "collection table %s has %d columns, not 2",
			 RelationGetRelationName(rel), desc->natts);
	InitResultRelInfo(rri, rel, 1, NULL, 0);
	ExecOpenIndices(rri, false);

	/* a few slots, reused chunk after chunk (as COPY does) */
	for (int i = 0; i < nslots; i++)
		slots[i] = table_slot_create(rel, NULL);

	for (int start = from; start < to; start += nslots)
	{
		int			n = Min(nslots, to - start);
		MemoryContext old = MemoryContextSwitchTo(chunk_context);

		for (int i = 0; i < n; i++)
		{
			bson_iter_t id;
			TupleTableSlot *slot = slots[i];

			DocumentId(docs[start + i], &id);
			ExecClearTuple(slot);
			slot->tts_values[0] = PointerGetDatum(BsonFromIter(&id));
			slot->tts_values[1] = PointerGetDatum(BsonDatumFromBson(docs[start + i]));
			slot->tts_isnull[0] = false;
			slot->tts_isnull[1] = false;
			ExecStoreVirtualTuple(slot);
			if (rel->rd_att->constr != NULL)
				ExecConstraints(rri, slot, estate);
		}
		table_multi_insert(rel, slots, n, cid, 0, bistate);
		for (int i = 0; i < n; i++)
			if (rri->ri_NumIndices > 0)
				(void) ExecInsertIndexTuples(rri, slots[i], estate, false, false, NULL, NIL);
		for (int i = 0; i < n; i++)
			ExecClearTuple(slots[i]);
		MemoryContextSwitchTo(old);
		ResetPerTupleExprContext(estate);
	}
	for (int i = 0; i < nslots; i++)
		ExecDropSingleTupleTableSlot(slots[i]);
	if (bistate != NULL)
		FreeBulkInsertState(bistate);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
	pfree(slots);
}

/*
 * Try the fast path for docs[from, to) in a subtransaction: true when all
 * were inserted; false (nothing inserted) on a duplicate key.  Other errors
 * propagate.
 */
static bool
InsertFastTry(Relation rel, bson_t **docs, int from, int to, bool *inserted)
{
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller);
	PG_TRY();
	{
		InsertFast(rel, docs, from, to);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode != ERRCODE_UNIQUE_VIOLATION)
			ReThrowError(edata);
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	if (ok)
		for (int i = from; i < to; i++)
			inserted[i] = true;
	return ok;
}

/*
 * InsertRun for an ordered insert: nothing after the first duplicate may be
 * inserted, so the batch runs in a subtransaction that is rolled back and
 * redone up to the duplicate (*first_bad, else -1) when there is one.
 */
static int
InsertRunOrdered(SPIPlanPtr plan, bson_t **docs, int start, int end, bool *inserted,
				 int *first_bad)
{
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile int n = 0;

	*first_bad = -1;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller);
	PG_TRY();
	{
		n = InsertRun(plan, docs, start, end, inserted);
	}
	PG_CATCH();
	{
		/* never leave the subtransaction open behind an error */
		ErrorData  *edata;

		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
		ReThrowError(edata);
	}
	PG_END_TRY();

	if (n == end - start)
	{
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
		return n;
	}
	for (int i = start; i < end; i++)
		if (!inserted[i])
		{
			*first_bad = i;
			break;
		}
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(caller);
	CurrentResourceOwner = owner;
	n = 0;
	if (*first_bad > start)
		n = InsertRun(plan, docs, start, *first_bad, inserted);
	for (int i = *first_bad; i < end; i++)
		inserted[i] = false;
	return n;
}

typedef struct InsertOneArgs
{
	const Collection *coll;
	bson_t	   *doc;
} InsertOneArgs;

static void
InsertOneRun(void *arg)
{
	InsertOneArgs *a = (InsertOneArgs *) arg;
	bson_iter_t id;
	Datum		values[2];
	Oid			types[2];

	DocumentId(a->doc, &id);
	values[0] = PointerGetDatum(BsonFromIter(&id));
	values[1] = PointerGetDatum(BsonDatumFromBson(a->doc));
	types[0] = types[1] = BsonTypeOid();
	if (SPI_execute_with_args(psprintf("INSERT INTO %s (_id, document) VALUES ($1, $2)",
									   a->coll->qualified),
							  2, types, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "insert failed");
}

/*
 * Insert one document on its own, to learn why a batch could not: true
 * when it went in after all (a concurrent delete), else the MongoDB error
 * (a duplicate key: which index, which key).
 */
static bool
InsertOneCaught(const Collection *coll, bson_t *doc, int *code, char **message,
				bson_t **extra)
{
	InsertOneArgs a;

	a.coll = coll;
	a.doc = doc;
	*extra = NULL;
	return RunCaught(InsertOneRun, &a, code, message, extra);
}

/*
 * Insert prepared documents into a collection.  errors[i] (may be NULL)
 * says which already failed validation.  Returns the number inserted;
 * duplicates become write errors; an ordered insert stops at the first
 * error (*stopped_at, else -1).
 */
int
InsertDocuments(Collection *coll, bson_t **docs, int ndocs, bool ordered,
				const bool *invalid, WriteErrors *we, const int *error_codes,
				char **error_messages)
{
	SPIPlanPtr	plan;
	bool	   *inserted = palloc0(sizeof(bool) * Max(ndocs, 1));
	int			total = 0;
	int			start = 0;
	Relation	rel;
	bool		fast;
	bool		one_by_one;
	AclResult	acl;
	MemoryContext caller = CurrentMemoryContext;	/* the write errors grow here */
	MemoryContext old;

	CdcWatchNoteWrite();		/* its commit wakes the change stream decoder */
	/* the table's own privilege check first (the fast path skips the executor's) */
	acl = pg_class_aclcheck(coll->relid, GetUserId(), ACL_INSERT);
	rel = table_open(coll->relid, RowExclusiveLock);
	fast = acl == ACLCHECK_OK && InsertFastPossible(rel);
	one_by_one = rel->trigdesc != NULL;
	SPI_connect();
	plan = NULL;
	while (start < ndocs)
	{
		int			end;
		int			first_bad = -1;

		/* a run of valid documents */
		if (invalid != NULL && invalid[start])
		{
			old = MemoryContextSwitchTo(caller);
			WriteErrorAdd(we, start, error_codes[start], error_messages[start], NULL);
			MemoryContextSwitchTo(old);
			if (ordered)
				break;
			start++;
			continue;
		}
		end = start;
		while (end < ndocs && end - start < INSERT_BATCH && !(invalid != NULL && invalid[end]))
			end++;

		if (one_by_one)
		{
			/*
			 * Triggers (the unique-elements check of a unique index) may
			 * refuse a document: each goes in alone, so that the others
			 * still do (unordered) and the error names it.
			 */
			bool		stop = false;

			for (int i = start; i < end; i++)
			{
				int			code;
				char	   *message;
				bson_t	   *extra;

				if (InsertOneCaught(coll, docs[i], &code, &message, &extra))
				{
					inserted[i] = true;
					total++;
					continue;
				}
				old = MemoryContextSwitchTo(caller);
				WriteErrorAdd(we, i, code, message, extra);
				MemoryContextSwitchTo(old);
				if (ordered)
				{
					stop = true;
					break;
				}
			}
			if (stop)
				break;
			start = end;
			continue;
		}
		if (fast && InsertFastTry(rel, docs, start, end, inserted))
		{
			total += end - start;
			start = end;
			continue;
		}
		if (plan == NULL)
			plan = InsertPlan(coll);
		if (!ordered)
			total += InsertRun(plan, docs, start, end, inserted);
		else
			total += InsertRunOrdered(plan, docs, start, end, inserted, &first_bad);
		for (int i = start; i < end; i++)
		{
			if (!inserted[i] && (first_bad < 0 || i == first_bad))
			{
				int			code;
				char	   *message;
				bson_t	   *extra;

				/* alone, to learn which key is duplicate (or to insert it after all) */
				if (InsertOneCaught(coll, docs[i], &code, &message, &extra))
				{
					inserted[i] = true;
					total++;
					if (i == first_bad)
					{
						/* ordered: go on after it */
						end = i + 1;
						first_bad = -1;
						break;
					}
					continue;
				}
				old = MemoryContextSwitchTo(caller);
				WriteErrorAdd(we, i, code, message, extra);
				MemoryContextSwitchTo(old);
			}
		}
		if (ordered && first_bad >= 0)
			break;
		start = end;
	}
	SPI_finish();
	table_close(rel, NoLock);
	if (fast)
		CommandCounterIncrement();
	if (coll->capped && total > 0)
		CappedTrim(coll);
	return total;
}

/* The array of a required array field */
static void
FieldArray(const char *command, const bson_iter_t *it, bson_iter_t *elements)
{
	if (!BSON_ITER_HOLDS_ARRAY(it))
		RaiseWrongType(command, it, "array");
	bson_iter_recurse(it, elements);
}


/*
 * The fields insert, update and delete share: ordered,
 * bypassDocumentValidation (checked when bypass is given), let (when
 * takes_let), the statement ids of retryable writes and the fields every
 * command takes.  true when the field at it was one of them.
 */
static bool
WriteCommandField(CommandContext *ctx, const bson_iter_t *it, bool *ordered, bool *bypass,
				  bool takes_let)
{
	const char *key = bson_iter_key(it);

	if (strcmp(key, "ordered") == 0)
	{
		if (!BSON_ITER_HOLDS_BOOL(it))
			RaiseWrongType(ctx->name, it, "bool");
		*ordered = bson_iter_bool(it);
	}
	else if (strcmp(key, "bypassDocumentValidation") == 0)
	{
		if (bypass != NULL && !BSON_ITER_HOLDS_NULL(it))
			*bypass = FieldBool(ctx->name, it);
	}
	else if (takes_let && strcmp(key, "let") == 0)
	{
		if (!BSON_ITER_HOLDS_DOCUMENT(it))
			RaiseWrongType(ctx->name, it, "object");
		CommandLetEvaluate(ctx, it);
	}
	else if (strcmp(key, "stmtId") == 0 || strcmp(key, "stmtIds") == 0 ||
			 strcmp(key, "isTimeseriesNamespace") == 0 ||
			 strcmp(key, "collectionUUID") == 0 ||
			 strcmp(key, "encryptionInformation") == 0)
		;
	else
		return GenericFieldCheck(ctx, it);
	return true;
}

/*
 * The fields of insert, update and delete: the array of statements
 * (array_field, required) into *statements, and the common fields.
 */
void
WriteCommandArgs(CommandContext *ctx, const char *array_field, bson_iter_t *statements,
				 bool *ordered, bool *bypass, bool takes_let)
{
	bson_iter_t it = ctx->first;
	bool		have = false;

	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, array_field) == 0)
		{
			FieldArray(ctx->name, &it, statements);
			have = true;
		}
		else if (!WriteCommandField(ctx, &it, ordered, bypass, takes_let))
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field '%s.%s' is an unknown field.",
					   ctx->name, key);
	}
	if (!have)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field '%s.%s' is missing but a required field", ctx->name, array_field);
}

/*
 * insert: {insert: <collection>, documents: [...], ordered, bypassDocumentValidation}
 */
void
CmdInsert(CommandContext *ctx, bson_t *reply)
{
	char	   *collname = CommandCollectionName(ctx);
	bson_iter_t elements;
	bool		ordered = true;
	bool		bypass = false;
	int			ndocs = 0;
	bson_t	  **docs;
	bool	   *invalid;
	int		   *codes;
	char	  **messages;
	Collection *coll;
	bool		created;
	WriteErrors we;
	int			n;

	WriteCommandArgs(ctx, "documents", &elements, &ordered, &bypass, false);

	/* count and check the elements */
	{
		bson_iter_t c = elements;

		while (bson_iter_next(&c))
		{
			if (!BSON_ITER_HOLDS_DOCUMENT(&c))
				MongoRaise(MONGO_TYPE_MISMATCH,
						   "BSON field 'insert.documents.%d' is the wrong type '%s', expected type 'object'",
						   ndocs, BsonTypeName(bson_iter_type(&c)));
			ndocs++;
		}
	}
	if (ndocs == 0)
		MongoRaise(MONGO_INVALID_LENGTH, "Write batch sizes must be between 1 and %d. Got 0 operations.",
				   MAX_WRITE_BATCH);
	if (ndocs > MAX_WRITE_BATCH)
		MongoRaise(MONGO_INVALID_LENGTH, "Write batch sizes must be between 1 and %d. Got %d operations.",
				   MAX_WRITE_BATCH, ndocs);

	docs = palloc(sizeof(bson_t *) * ndocs);
	invalid = palloc0(sizeof(bool) * ndocs);
	codes = palloc0(sizeof(int) * ndocs);
	messages = palloc0(sizeof(char *) * ndocs);
	for (int i = 0; bson_iter_next(&elements); i++)
	{
		const uint8_t *data;
		uint32_t	len;

		bson_iter_document(&elements, &len, &data);
		docs[i] = bson_new();
		messages[i] = PrepareDocument(data, len, docs[i], &codes[i]);
		invalid[i] = messages[i] != NULL;
	}

	coll = CollectionGetOrCreate(ctx->database, collname, &created);
	if (coll->is_view)
		MongoRaise(166, "Namespace %s.%s is a view, not a collection", ctx->database, collname);
	if (!bypass)
	{
		bool		moderate;
		BsonFilter *validator = CollectionValidator(coll, &moderate);

		for (int i = 0; validator != NULL && i < ndocs; i++)
			if (!invalid[i] &&
				!BsonFilterMatches(validator, bson_get_data(docs[i]), docs[i]->len))
			{
				invalid[i] = true;
				codes[i] = VALIDATION_FAILED;
				messages[i] = pstrdup("Document failed validation");
			}
	}
	bson_init(&we.array);
	we.count = 0;
	n = InsertDocuments(coll, docs, ndocs, ordered, invalid, &we, codes, messages);
	BSON_APPEND_INT32(reply, "n", n);
	if (we.count > 0)
		bson_append_array(reply, "writeErrors", -1, &we.array);
}

/* ---- update ---- */

/*
 * A pipeline-style update (u given as an array of stages): MongoDB's stage
 * checks.  An empty pipeline changes nothing (*u becomes an update that
 * does nothing, and false is returned); true: UpdateDocuments runs the
 * stages (pipeline = true).
 */
bool
PipelineUpdateCheck(const uint8_t **u, uint32_t *len)
{
	static const uint8_t noop[] = {
		/* {"$set": {}} */
		16, 0, 0, 0, 3, '$', 's', 'e', 't', 0, 5, 0, 0, 0, 0, 0
	};
	bson_t		stages;
	bson_iter_t it;
	int			n = 0;

	if (!bson_init_static(&stages, *u, *len) || !bson_iter_init(&it, &stages))
		MongoRaise(MONGO_FAILED_TO_PARSE, "invalid update pipeline");
	while (bson_iter_next(&it))
	{
		bson_iter_t stage;
		const char *name;

		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			MongoRaise(MONGO_TYPE_MISMATCH, "Each element of the 'pipeline' array must be an object");
		bson_iter_recurse(&it, &stage);
		if (!bson_iter_next(&stage))
			MongoRaise(40323, "A pipeline stage specification object must contain exactly one field.");
		name = bson_iter_key(&stage);
		if (bson_iter_next(&stage))
			MongoRaise(40323, "A pipeline stage specification object must contain exactly one field.");
		if (strcmp(name, "$addFields") != 0 && strcmp(name, "$set") != 0 &&
			strcmp(name, "$project") != 0 && strcmp(name, "$unset") != 0 &&
			strcmp(name, "$replaceRoot") != 0 && strcmp(name, "$replaceWith") != 0)
		{
			if (name[0] == '$')
				MongoRaise(MONGO_INVALID_OPTIONS,
						   "%s is not allowed to be used within an update", name);
			MongoRaise(40324, "Unrecognized pipeline stage name: '%s'", name);
		}
		n++;
	}
	if (n == 0)
	{
		*u = noop;
		*len = sizeof(noop);
		return false;
	}
	return true;
}

/*
 * The stages of a pipeline-style update as a chain of the streaming
 * stages (agg_stages.c), under the statement's collation.
 */
static AggChain *
UpdatePipelineCompile(const uint8_t *stages, uint32_t len, const uint8_t *collation,
					  uint32_t collation_len)
{
	bson_t		desc;
	bson_t		array;
	AggChain   *chain;

	if (!bson_init_static(&array, stages, len))
		MongoRaise(MONGO_FAILED_TO_PARSE, "invalid update pipeline");
	bson_init(&desc);
	bson_append_array(&desc, "s", 1, &array);
	if (collation != NULL && collation_len > 5)
	{
		bson_t		c;

		bson_init_static(&c, collation, collation_len);
		bson_append_document(&desc, "c", 1, &c);
	}
	{
		/* each stage's own checks, with MongoDB's codes */
		bson_iter_t it;

		bson_iter_init(&it, &array);
		while (bson_iter_next(&it))
		{
			bson_iter_t stage;

			bson_iter_recurse(&it, &stage);
			bson_iter_next(&stage);
			AggStageValidate(bson_iter_key(&stage), &stage, NULL);
		}
	}
	chain = AggChainCompile(bson_get_data(&desc), desc.len);
	bson_destroy(&desc);
	return chain;
}

/*
 * Apply a pipeline-style update to a document: out gets the stages'
 * result.  _id is immutable: one the stages removed comes back first, one
 * they changed is ImmutableField (66).
 */
static void
UpdatePipelineApply(const AggChain *chain, const uint8_t *doc, uint32_t len, bson_t *out,
					bool *modified)
{
	bson_t		result;
	bson_t		old;
	bson_iter_t oid;
	bson_iter_t nid;
	bool		had_id;

	bson_init(&result);
	AggChainApplyOne(chain, doc, len, &result);
	bson_init_static(&old, doc, len);
	had_id = bson_iter_init_find(&oid, &old, "_id");
	if (had_id && !bson_iter_init_find(&nid, &result, "_id"))
	{
		bson_iter_t it;

		bson_append_iter(out, "_id", 3, &oid);
		bson_iter_init(&it, &result);
		while (bson_iter_next(&it))
			bson_append_iter(out, NULL, 0, &it);
	}
	else
	{
		if (had_id && (bson_iter_type(&oid) != bson_iter_type(&nid) ||
					   BsonCompareValues(&oid, &nid) != 0))
			MongoRaise(66, "Performing an update on the path '_id' would modify the immutable field '_id'");
		bson_concat(out, &result);
	}
	bson_destroy(&result);
	*modified = out->len != len || memcmp(bson_get_data(out), doc, len) != 0;
}

/*
 * Write the logical decoding message that tells the change stream what an
 * operator or pipeline update (u NULL) changes in a row's document
 * (cdc_message.c).
 */
static void
LogUpdateDescription(const Collection *coll, const BsonUpdate *u, const Bson *row,
					 const bson_t *out, const bson_iter_t *id)
{
	bson_t		updated;
	bson_t		removed;
	bson_t		truncated;
	bson_t		disambiguated;

	bson_init(&updated);
	bson_init(&removed);
	bson_init(&truncated);
	bson_init(&disambiguated);
	BsonUpdateDescribeAll(u, BsonBytes(row), BsonDocLen(row), bson_get_data(out), out->len,
						  &updated, &removed, &truncated, &disambiguated);
	CdcLogUpdate(coll->relid, id, &updated, &removed, &truncated, &disambiguated);
	bson_destroy(&updated);
	bson_destroy(&removed);
	bson_destroy(&truncated);
	bson_destroy(&disambiguated);
}

/* Current time in milliseconds since the Unix epoch */
static int64
NowMs(void)
{
	return (int64) (GetCurrentTransactionStartTimestamp() / 1000) + INT64CONST(946684800000);
}

static SPIPlanPtr
UpdateRowPlan(const Collection *coll)
{
	Oid			types[2];
	SPIPlanPtr	plan;

	types[0] = BsonTypeOid();
	types[1] = BsonTypeOid();
	plan = SPI_prepare(psprintf("UPDATE %s SET document = $2 WHERE _id OPERATOR(nosql.=) $1",
								coll->qualified), 2, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed");
	return plan;
}

/*
 * Apply an update to the documents of a collection that match a filter.
 * multi: all of them, else the first (in sort order when sort is given).
 * collation: the statement's (NULL: the collection's default).
 * keep_docs: keep the old and new document of the (single) target.
 */
void
UpdateDocuments(Collection *coll, const uint8_t *filter, uint32_t filter_len,
				const uint8_t *update, uint32_t update_len, bool pipeline,
				const uint8_t *array_filters,
				uint32_t af_len, bool multi, bool upsert, const uint8_t *sort,
				uint32_t sort_len, const uint8_t *collation, uint32_t collation_len,
				bool keep_docs, bool bypass_validation, UpdateResult *result)
{
	BsonQueryError error = {0};
	BsonUpdate *u = NULL;
	AggChain   *chain = NULL;
	FindSpec	spec;
	StringInfoData sql;
	Datum		values[FIND_MAX_PARAMS];
	Oid			types[FIND_MAX_PARAMS];
	int			nparams;
	Portal		portal;
	SPIPlanPtr	rowplan;
	int64		now = NowMs();
	MemoryContext caller = CurrentMemoryContext;
	BsonFilter *validator;
	bool		moderate;
	const char *hint = WriteHintTake();

	CdcWatchNoteWrite();		/* its commit wakes the change stream decoder */
	FindSpecInit(&spec);
	spec.coll = coll;
	spec.collation = collation;
	spec.collation_len = collation_len;
	if (pipeline)
	{
		const uint8_t *c = collation;
		uint32_t	clen = collation_len;
		bson_iter_t it;

		if (array_filters != NULL && af_len > 5)
			MongoRaise(MONGO_FAILED_TO_PARSE,
					   "arrayFilters may not be specified for pipeline-style updates");
		if (c == NULL && bson_iter_init_find(&it, coll->options, "collation") &&
			BSON_ITER_HOLDS_DOCUMENT(&it))
			bson_iter_document(&it, &clen, &c);
		chain = UpdatePipelineCompile(update, update_len, c, clen);
	}
	else
	{
		u = BsonUpdateCompileCollated(update, update_len, array_filters, af_len,
									  FindSpecCollation(&spec, NULL), &error);
		if (u == NULL)
			MongoRaise(error.code, "%s", error.message);
	}
	validator = bypass_validation ? NULL : CollectionValidator(coll, &moderate);
	if (multi && u != NULL && BsonUpdateIsReplacement(u))
		MongoRaise(MONGO_FAILED_TO_PARSE, "multi update is not supported for replacement-style update");

	memset(result, 0, sizeof(*result));
	spec.filter = filter;
	spec.filter_len = filter_len;
	spec.sort = sort;
	spec.sort_len = sort_len;
	spec.hint = hint;
	if (!multi)
		spec.limit = 1;
	initStringInfo(&sql);
	FindSpecPrepare(&spec, "document", &sql, values, types, &nparams);
	appendStringInfoString(&sql, " FOR UPDATE");

	SPI_connect();
	rowplan = UpdateRowPlan(coll);
	{
		int			level = HintSettingsPush(coll, spec.hint);

		portal = SPI_cursor_open(NULL, CommandPlan(sql.data, nparams, types, CURSOR_OPT_NO_SCROLL),
								 values, NULL, false);
		HintSettingsPop(level);
	}
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 100);
		if (SPI_processed == 0)
			break;
		{
			SPITupleTable *tuptable = SPI_tuptable;
			uint64		nrows = SPI_processed;

			for (uint64 i = 0; i < nrows; i++)
			{
				bool		isnull;
				Bson	   *row = DatumGetBsonP(SPI_getbinval(tuptable->vals[i],
															  tuptable->tupdesc, 1, &isnull));
				int32_t		position = -1;
				bson_t		out;
				bool		modified = false;
				bson_iter_t id;

				if (u != NULL && BsonUpdateNeedsPosition(u))
					(void) BsonFilterMatchesWithPosition(spec.compiled_filter, BsonBytes(row),
														 BsonDocLen(row), &position);
				bson_init(&out);
				if (chain != NULL)
					UpdatePipelineApply(chain, BsonBytes(row), BsonDocLen(row), &out, &modified);
				else if (!BsonUpdateApply(u, BsonBytes(row), BsonDocLen(row), position, false,
										  now, &out, &modified, &error))
					MongoRaise(error.code, "%s", error.message);
				result->matched++;
				if (modified && validator != NULL &&
					!BsonFilterMatches(validator, bson_get_data(&out), out.len) &&
					!(moderate && !BsonFilterMatches(validator, BsonBytes(row), BsonDocLen(row))))
					MongoRaise(VALIDATION_FAILED, "Document failed validation");
				if (modified)
				{
					Datum		args[2];
					bson_t		rowdoc;

					bson_init_static(&rowdoc, BsonBytes(row), BsonDocLen(row));
					DocumentId(&rowdoc, &id);
					/* the change stream's updateDescription, before the row */
					if ((u == NULL || !BsonUpdateIsReplacement(u)) && CdcMessagesWanted())
						LogUpdateDescription(coll, u, row, &out, &id);
					args[0] = PointerGetDatum(BsonFromIter(&id));
					args[1] = PointerGetDatum(BsonDatumFromBson(&out));
					if (SPI_execute_plan(rowplan, args, NULL, false, 0) != SPI_OK_UPDATE)
						elog(ERROR, "update failed");
					result->modified++;
				}
				if (keep_docs)
				{
					MemoryContext old = MemoryContextSwitchTo(caller);

					result->old_doc = bson_new_from_data(BsonBytes(row), BsonDocLen(row));
					result->new_doc = bson_copy(&out);
					MemoryContextSwitchTo(old);
				}
				bson_destroy(&out);
			}
			SPI_freetuptable(tuptable);
		}
		if (!multi && result->matched > 0)
			break;
	}
	SPI_cursor_close(portal);
	SPI_finish();

	if (result->matched == 0 && upsert)
	{
		bson_t		seed;
		bson_t		out;
		bool		modified;
		bson_t	   *stored;
		bson_t	   *docs[1];
		bool		inserted;
		int			code;
		char	   *msg;
		bson_iter_t id;

		bson_init(&seed);
		if (!BsonUpsertSeed(filter, filter_len, &seed, &error))
			MongoRaise(error.code, "%s", error.message);
		bson_init(&out);
		if (chain != NULL)
			UpdatePipelineApply(chain, bson_get_data(&seed), seed.len, &out, &modified);
		else if (!BsonUpdateApply(u, bson_get_data(&seed), seed.len, -1, true, now, &out,
								  &modified, &error))
			MongoRaise(error.code, "%s", error.message);
		stored = bson_new();
		msg = PrepareDocument(bson_get_data(&out), out.len, stored, &code);
		if (msg != NULL)
			MongoRaise(code, "%s", msg);
		if (validator != NULL && !BsonFilterMatches(validator, bson_get_data(stored), stored->len))
			MongoRaise(VALIDATION_FAILED, "Document failed validation");
		docs[0] = stored;
		SPI_connect();
		{
			SPIPlanPtr	plan = InsertPlan(coll);

			if (InsertRun(plan, docs, 0, 1, &inserted) != 1)
			{
				InsertOneArgs a;

				/* raises the duplicate key error of the index at fault */
				a.coll = coll;
				a.doc = stored;
				InsertOneRun(&a);
			}
		}
		SPI_finish();
		result->upserted = true;
		DocumentId(stored, &id);
		bson_init(&result->upserted_id);
		bson_append_iter(&result->upserted_id, "_id", 3, &id);
		if (keep_docs)
		{
			MemoryContext old = MemoryContextSwitchTo(caller);

			result->new_doc = bson_copy(stored);
			result->old_doc = NULL;
			MemoryContextSwitchTo(old);
		}
	}
}

typedef struct UpdateStatementArgs
{
	CommandContext *ctx;
	const char *collname;
	Collection *coll;
	const uint8_t *q,
			   *u,
			   *af,
			   *sort,
			   *collation;
	uint32_t	qlen,
				ulen,
				aflen,
				sortlen,
				collationlen;
	bool		multi,
				upsert;
	bool		has_hint;
	bson_iter_t hint;
	bool		pipeline;		/* u is an array of stages */
	bool		bypass;			/* bypassDocumentValidation */
	UpdateResult *result;
} UpdateStatementArgs;

/* One statement of an update command (run by RunCaught) */
static void
UpdateStatement(void *arg)
{
	UpdateStatementArgs *a = arg;
	bool		pipeline = false;

	if (a->pipeline)
		pipeline = PipelineUpdateCheck(&a->u, &a->ulen);
	if (a->coll == NULL)
	{
		if (a->upsert)
		{
			bool		created;

			a->coll = CollectionGetOrCreate(a->ctx->database, a->collname, &created);
		}
		else
			a->coll = CollectionLookup(a->ctx->database, a->collname);
	}
	if (a->coll != NULL && a->coll->is_view)
		MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW,
				   "Namespace %s.%s is a view, not a collection", a->ctx->database, a->collname);
	write_hint = NULL;
	if (a->has_hint)
		write_hint = CheckHint(a->coll, &a->hint);
	if (a->coll != NULL)
		UpdateDocuments(a->coll, a->q, a->qlen, a->u, a->ulen, pipeline, a->af, a->aflen,
						a->multi,
						a->upsert, a->sort, a->sortlen, a->collation, a->collationlen,
						false, a->bypass, a->result);
	else
	{
		/* nothing to update: still validate the update, collation and filter */
		BsonQueryError error = {0};

		if (a->collation != NULL)
			(void) CompileCollation(a->collation, a->collationlen);
		if (pipeline)
			(void) UpdatePipelineCompile(a->u, a->ulen, NULL, 0);
		else if (BsonUpdateCompile(a->u, a->ulen, a->af, a->aflen, &error) == NULL)
			MongoRaise(error.code, "%s", error.message);
		(void) CompileFilter(a->q, a->qlen);
		memset(a->result, 0, sizeof(UpdateResult));
	}
}

/*
 * update: {update: <collection>, updates: [{q, u, upsert, multi, arrayFilters,
 * hint, collation}], ordered, let, bypassDocumentValidation}
 */
void
CmdUpdate(CommandContext *ctx, bson_t *reply)
{
	char	   *collname = CommandCollectionName(ctx);
	bson_iter_t updates;
	bool		ordered = true;
	bool		bypass = false;
	Collection *coll = NULL;
	WriteErrors we;
	int64		n = 0;
	int64		nmodified = 0;
	bson_t		upserted;
	int			nupserted = 0;
	int			index = 0;
	int			count = 0;

	WriteCommandArgs(ctx, "updates", &updates, &ordered, &bypass, true);

	/* check the shape of every statement first, as MongoDB parses the batch */
	{
		bson_iter_t c = updates;

		while (bson_iter_next(&c))
		{
			bson_iter_t f;
			bool		has_q = false,
						has_u = false,
						has_sort = false,
						has_c = false,
						is_multi = false,
						u_pipeline = false;

			if (!BSON_ITER_HOLDS_DOCUMENT(&c))
				MongoRaise(MONGO_TYPE_MISMATCH,
						   "BSON field 'update.updates.%d' is the wrong type '%s', expected type 'object'",
						   count, BsonTypeName(bson_iter_type(&c)));
			bson_iter_recurse(&c, &f);
			while (bson_iter_next(&f))
			{
				const char *k = bson_iter_key(&f);

				if (strcmp(k, "q") == 0)
				{
					has_q = true;
					if (!BSON_ITER_HOLDS_DOCUMENT(&f))
						RaiseWrongType("update.updates", &f, "object");
				}
				else if (strcmp(k, "u") == 0)
				{
					has_u = true;
					if (!BSON_ITER_HOLDS_DOCUMENT(&f) && !BSON_ITER_HOLDS_ARRAY(&f))
						MongoRaise(MONGO_FAILED_TO_PARSE,
								   "Update argument must be either an object or an array");
					u_pipeline = BSON_ITER_HOLDS_ARRAY(&f);
				}
				else if (strcmp(k, "upsert") == 0 || strcmp(k, "multi") == 0)
				{
					if (!BSON_ITER_HOLDS_BOOL(&f) && !BsonIterIsNumber(&f))
						RaiseWrongType("update.updates", &f, "bool");
					if (strcmp(k, "multi") == 0)
						is_multi = bson_iter_as_bool(&f);
				}
				else if (strcmp(k, "sort") == 0)
				{
					if (!BSON_ITER_HOLDS_DOCUMENT(&f))
						RaiseWrongType("update.updates", &f, "object");
					has_sort = true;
				}
				else if (strcmp(k, "arrayFilters") == 0)
				{
					if (!BSON_ITER_HOLDS_ARRAY(&f))
						RaiseWrongType("update.updates", &f, "array");
				}
				else if (strcmp(k, "c") == 0 || strcmp(k, "collation") == 0)
				{
					if (!BSON_ITER_HOLDS_DOCUMENT(&f))
						RaiseWrongType("update.updates", &f, "object");
					if (strcmp(k, "c") == 0)
						has_c = true;
				}
				else if (strcmp(k, "hint") == 0 || strcmp(k, "upsertSupplied") == 0 ||
						 strcmp(k, "sampleId") == 0)
					continue;
				else
					MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
							   "BSON field 'update.updates.%s' is an unknown field.", k);
			}
			if (!has_q)
				MongoRaise(MONGO_IDL_MISSING_FIELD,
						   "BSON field 'update.updates.q' is missing but a required field");
			if (!has_u)
				MongoRaise(MONGO_IDL_MISSING_FIELD,
						   "BSON field 'update.updates.u' is missing but a required field");
			if (has_sort && is_multi)
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "Cannot specify sort with multi=true");
			if (has_c && !u_pipeline)
				MongoRaise(51198, "Constant values may only be specified for pipeline updates");
			count++;
		}
	}
	if (count == 0)
		MongoRaise(MONGO_INVALID_LENGTH, "Write batch sizes must be between 1 and %d. Got 0 operations.",
				   MAX_WRITE_BATCH);

	bson_init(&we.array);
	we.count = 0;
	bson_init(&upserted);
	while (bson_iter_next(&updates))
	{
		bson_iter_t f;
		bool		u_pipeline = false;
		const uint8_t *q = NULL,
				   *u = NULL,
				   *af = NULL,
				   *sort = NULL,
				   *collation = NULL;
		uint32_t	qlen = 0,
					ulen = 0,
					aflen = 0,
					sortlen = 0,
					collationlen = 0;
		bool		multi = false,
					upsert = false;
		UpdateResult result;
		bool		failed = false;
		UpdateStatementArgs stmt;
		int			code = 0;
		char	   *message = NULL;
		bson_t	   *extra = NULL;

		stmt.has_hint = false;
		bson_iter_recurse(&updates, &f);
		while (bson_iter_next(&f))
		{
			const char *k = bson_iter_key(&f);

			if (strcmp(k, "q") == 0)
			{
				bson_iter_document(&f, &qlen, &q);
				CommandBindFilter(ctx, &q, &qlen);
			}
			else if (strcmp(k, "u") == 0)
			{
				if (BSON_ITER_HOLDS_ARRAY(&f))
				{
					bson_iter_array(&f, &ulen, &u);
					CommandBindPipeline(ctx, &u, &ulen);
					u_pipeline = true;
				}
				else
					bson_iter_document(&f, &ulen, &u);
			}
			else if (strcmp(k, "multi") == 0)
				multi = bson_iter_as_bool(&f);
			else if (strcmp(k, "upsert") == 0)
				upsert = bson_iter_as_bool(&f);
			else if (strcmp(k, "arrayFilters") == 0)
				bson_iter_array(&f, &aflen, &af);
			else if (strcmp(k, "sort") == 0 && BSON_ITER_HOLDS_DOCUMENT(&f))
				bson_iter_document(&f, &sortlen, &sort);
			else if (strcmp(k, "collation") == 0 && BSON_ITER_HOLDS_DOCUMENT(&f))
				bson_iter_document(&f, &collationlen, &collation);
			else if (strcmp(k, "hint") == 0)
			{
				stmt.hint = f;
				stmt.has_hint = true;
			}
		}

		/* each statement is its own subtransaction: an error is a write error */
		stmt.ctx = ctx;
		stmt.collname = collname;
		stmt.coll = coll;
		stmt.q = q;
		stmt.qlen = qlen;
		stmt.u = u;
		stmt.ulen = ulen;
		stmt.af = af;
		stmt.aflen = aflen;
		stmt.sort = sort;
		stmt.sortlen = sortlen;
		stmt.collation = collation;
		stmt.collationlen = collationlen;
		stmt.multi = multi;
		stmt.upsert = upsert;
		stmt.pipeline = u_pipeline;
		stmt.bypass = bypass;
		stmt.result = &result;
		if (RunCaught(UpdateStatement, &stmt, &code, &message, &extra))
			coll = stmt.coll;
		else
		{
			WriteErrorAdd(&we, index, code, message, extra);
			failed = true;
			/* the collection may have been created in the rolled back part */
			coll = NULL;
		}

		if (!failed)
		{
			n += result.matched;
			nmodified += result.modified;
			if (result.upserted)
			{
				bson_t		e;
				bson_iter_t id;
				char		key[16];
				const char *keyp;

				n++;
				bson_uint32_to_string(nupserted++, &keyp, key, sizeof(key));
				bson_append_document_begin(&upserted, keyp, -1, &e);
				BSON_APPEND_INT32(&e, "index", index);
				bson_iter_init_find(&id, &result.upserted_id, "_id");
				bson_append_iter(&e, "_id", 3, &id);
				bson_append_document_end(&upserted, &e);
			}
		}
		else if (ordered)
			break;
		index++;
	}

	BSON_APPEND_INT32(reply, "n", (int32) n);
	if (nupserted > 0)
		bson_append_array(reply, "upserted", -1, &upserted);
	BSON_APPEND_INT32(reply, "nModified", (int32) nmodified);
	if (we.count > 0)
		bson_append_array(reply, "writeErrors", -1, &we.array);
}

/* ---- delete ---- */

/*
 * Delete the documents matching a filter (all, or the first); how many.
 */
int64
DeleteDocuments(Collection *coll, const uint8_t *filter, uint32_t filter_len, bool multi,
				const uint8_t *sort, uint32_t sort_len, const uint8_t *collation,
				uint32_t collation_len, bson_t **deleted)
{
	FindSpec	spec;
	StringInfoData sql;
	StringInfoData del;
	Datum		values[FIND_MAX_PARAMS];
	Oid			types[FIND_MAX_PARAMS];
	int			nparams;
	int64		n;
	MemoryContext caller = CurrentMemoryContext;

	CdcWatchNoteWrite();		/* its commit wakes the change stream decoder */
	FindSpecInit(&spec);
	spec.coll = coll;
	spec.filter = filter;
	spec.filter_len = filter_len;
	spec.sort = sort;
	spec.sort_len = sort_len;
	spec.collation = collation;
	spec.collation_len = collation_len;
	spec.hint = WriteHintTake();
	if (!multi)
		spec.limit = 1;
	initStringInfo(&sql);
	initStringInfo(&del);
	if (multi && filter_len <= 5)
	{
		FindSpecCollation(&spec, NULL);
		(void) CompileFilter(filter, filter_len);
		appendStringInfo(&del, "DELETE FROM %s", coll->qualified);
		nparams = 0;
	}
	else
	{
		FindSpecPrepare(&spec, "_id", &sql, values, types, &nparams);
		appendStringInfo(&del, "WITH target AS (%s FOR UPDATE) "
						 "DELETE FROM %s t USING target WHERE t._id OPERATOR(nosql.=) target._id",
						 sql.data, coll->qualified);
	}
	if (deleted != NULL)
		appendStringInfoString(&del, " RETURNING t.document");
	SPI_connect();
	{
		int			level = HintSettingsPush(coll, spec.hint);

		if (SPI_execute_plan(CommandPlan(del.data, nparams, types, 0), values, NULL, false, 0) < 0)
			elog(ERROR, "delete failed");
		HintSettingsPop(level);
	}
	n = (int64) SPI_processed;
	if (deleted != NULL)
	{
		*deleted = NULL;
		if (n > 0)
		{
			bool		isnull;
			Bson	   *row = DatumGetBsonP(SPI_getbinval(SPI_tuptable->vals[0],
														  SPI_tuptable->tupdesc, 1, &isnull));
			MemoryContext old = MemoryContextSwitchTo(caller);

			*deleted = bson_new_from_data(BsonBytes(row), BsonDocLen(row));
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
	return n;
}

typedef struct DeleteStatementArgs
{
	Collection *coll;
	const uint8_t *q;
	uint32_t	qlen;
	const uint8_t *collation;	/* or NULL */
	uint32_t	collationlen;
	bool		multi;
	bool		has_hint;
	bson_iter_t hint;
	int64		deleted;
} DeleteStatementArgs;

/* One statement of a delete command (run by RunCaught) */
static void
DeleteStatement(void *arg)
{
	DeleteStatementArgs *a = arg;

	write_hint = NULL;
	if (a->has_hint)
		write_hint = CheckHint(a->coll, &a->hint);
	if (a->coll != NULL)
		a->deleted = DeleteDocuments(a->coll, a->q, a->qlen, a->multi, NULL, 0,
									 a->collation, a->collationlen, NULL);
	else
	{
		if (a->collation != NULL)
			(void) CompileCollation(a->collation, a->collationlen);
		(void) CompileFilter(a->q, a->qlen);
	}
}

/*
 * delete: {delete: <collection>, deletes: [{q, limit, collation, hint}], ordered}
 */
void
CmdDelete(CommandContext *ctx, bson_t *reply)
{
	char	   *collname = CommandCollectionName(ctx);
	bson_iter_t deletes;
	bool		ordered = true;
	Collection *coll;
	WriteErrors we;
	int64		n = 0;
	int			index = 0;
	int			count = 0;

	WriteCommandArgs(ctx, "deletes", &deletes, &ordered, NULL, true);
	{
		bson_iter_t c = deletes;

		while (bson_iter_next(&c))
		{
			bson_iter_t f;
			bool		has_q = false,
						has_limit = false;

			if (!BSON_ITER_HOLDS_DOCUMENT(&c))
				MongoRaise(MONGO_TYPE_MISMATCH,
						   "BSON field 'delete.deletes.%d' is the wrong type '%s', expected type 'object'",
						   count, BsonTypeName(bson_iter_type(&c)));
			bson_iter_recurse(&c, &f);
			while (bson_iter_next(&f))
			{
				const char *k = bson_iter_key(&f);

				if (strcmp(k, "q") == 0)
				{
					has_q = true;
					if (!BSON_ITER_HOLDS_DOCUMENT(&f))
						RaiseWrongType("delete.deletes", &f, "object");
				}
				else if (strcmp(k, "limit") == 0)
				{
					int64		v;

					has_limit = true;
					if (!BsonIterIsNumber(&f))
						RaiseWrongType("delete.deletes", &f, "[long, int, decimal, double]");
					if (!BsonIterAsInt64(&f, &v) || (v != 0 && v != 1))
						MongoRaise(MONGO_FAILED_TO_PARSE,
								   "The limit field in delete objects must be 0 or 1. Got %s",
								   BsonIterAsInt64(&f, &v) ? psprintf("%lld", (long long) v) : "a fraction");
				}
				else if (strcmp(k, "collation") == 0)
				{
					if (!BSON_ITER_HOLDS_DOCUMENT(&f))
						RaiseWrongType("delete.deletes", &f, "object");
				}
				else if (strcmp(k, "hint") == 0 || strcmp(k, "sampleId") == 0)
					continue;
				else
					MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
							   "BSON field 'delete.deletes.%s' is an unknown field.", k);
			}
			if (!has_q)
				MongoRaise(MONGO_IDL_MISSING_FIELD,
						   "BSON field 'delete.deletes.q' is missing but a required field");
			if (!has_limit)
				MongoRaise(MONGO_IDL_MISSING_FIELD,
						   "BSON field 'delete.deletes.limit' is missing but a required field");
			count++;
		}
	}
	if (count == 0)
		MongoRaise(MONGO_INVALID_LENGTH, "Write batch sizes must be between 1 and %d. Got 0 operations.",
				   MAX_WRITE_BATCH);

	coll = CollectionLookup(ctx->database, collname);
	if (coll != NULL && coll->is_view)
		MongoRaise(166, "Namespace %s.%s is a view, not a collection", ctx->database, collname);
	bson_init(&we.array);
	we.count = 0;
	while (bson_iter_next(&deletes))
	{
		bson_iter_t f;
		const uint8_t *q = NULL;
		uint32_t	qlen = 0;
		bool		multi = true;
		bool		failed = false;
		int64		deleted = 0;
		DeleteStatementArgs dstmt;
		int			code = 0;
		char	   *message = NULL;

		dstmt.has_hint = false;
		dstmt.collation = NULL;
		dstmt.collationlen = 0;
		bson_iter_recurse(&deletes, &f);
		while (bson_iter_next(&f))
		{
			const char *k = bson_iter_key(&f);

			if (strcmp(k, "q") == 0)
			{
				bson_iter_document(&f, &qlen, &q);
				CommandBindFilter(ctx, &q, &qlen);
			}
			else if (strcmp(k, "limit") == 0)
			{
				int64		v = 0;

				BsonIterAsInt64(&f, &v);
				multi = (v == 0);
			}
			else if (strcmp(k, "collation") == 0 && BSON_ITER_HOLDS_DOCUMENT(&f))
				bson_iter_document(&f, &dstmt.collationlen, &dstmt.collation);
			else if (strcmp(k, "hint") == 0)
			{
				dstmt.hint = f;
				dstmt.has_hint = true;
			}
		}
		dstmt.coll = coll;
		dstmt.q = q;
		dstmt.qlen = qlen;
		dstmt.multi = multi;
		dstmt.deleted = 0;
		if (!RunCaught(DeleteStatement, &dstmt, &code, &message, NULL))
		{
			WriteErrorAdd(&we, index, code, message, NULL);
			failed = true;
		}
		deleted = dstmt.deleted;
		if (failed && ordered)
			break;
		n += deleted;
		index++;
	}
	BSON_APPEND_INT32(reply, "n", (int32) n);
	if (we.count > 0)
		bson_append_array(reply, "writeErrors", -1, &we.array);
}

/* ---- findAndModify ---- */

void
CmdFindAndModify(CommandContext *ctx, bson_t *reply)
{
	char	   *collname = CommandCollectionName(ctx);
	bson_iter_t it;
	const uint8_t *query = NULL,
			   *sort = NULL,
			   *update = NULL,
			   *fields = NULL,
			   *af = NULL,
			   *collation = NULL;
	uint32_t	query_len = 5,
				sort_len = 0,
				update_len = 0,
				fields_len = 0,
				aflen = 0,
				collation_len = 0;
	static const uint8_t empty[5] = {5, 0, 0, 0, 0};
	bool		remove = false,
				return_new = false,
				upsert = false;
	bool		bypass = false;
	bool		has_update = false;
	bool		update_pipeline = false;
	Collection *coll;
	bson_t		leo;
	bson_t	   *value = NULL;
	BsonProjection *projection = NULL;
	BsonQueryError error = {0};
	bson_iter_t hint;
	bool		has_hint = false;
	const char *hint_name = NULL;

	query = empty;
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "query") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			FieldDocument("findAndModify", &it, &query, &query_len);
		}
		else if (strcmp(key, "sort") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			FieldDocument("findAndModify", &it, &sort, &sort_len);
		}
		else if (strcmp(key, "fields") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			FieldDocument("findAndModify", &it, &fields, &fields_len);
		}
		else if (strcmp(key, "update") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			has_update = true;
			if (BSON_ITER_HOLDS_ARRAY(&it))
			{
				bson_iter_array(&it, &update_len, &update);
				update_pipeline = PipelineUpdateCheck(&update, &update_len);
			}
			else if (BSON_ITER_HOLDS_DOCUMENT(&it))
				bson_iter_document(&it, &update_len, &update);
			else
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "Update argument must be either an object or an array");
		}
		else if (strcmp(key, "remove") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			remove = FieldBool("findAndModify", &it);
		}
		else if (strcmp(key, "new") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			return_new = FieldBool("findAndModify", &it);
		}
		else if (strcmp(key, "upsert") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			upsert = FieldBool("findAndModify", &it);
		}
		else if (strcmp(key, "arrayFilters") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			if (!BSON_ITER_HOLDS_ARRAY(&it))
				RaiseWrongType("findAndModify", &it, "array");
			bson_iter_array(&it, &aflen, &af);
		}
		else if (strcmp(key, "bypassDocumentValidation") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			bypass = FieldBool("findAndModify", &it);
		}
		else if (strcmp(key, "collation") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			FieldDocument("findAndModify", &it, &collation, &collation_len);
		}
		else if (strcmp(key, "let") == 0)
		{
			if (BSON_ITER_HOLDS_NULL(&it))
				continue;
			if (!BSON_ITER_HOLDS_DOCUMENT(&it))
				RaiseWrongType("findAndModify", &it, "object");
			CommandLetEvaluate(ctx, &it);
		}
		else if (strcmp(key, "hint") == 0)
		{
			hint = it;
			has_hint = true;
		}
		else if (strcmp(key, "stmtId") == 0 ||
				 strcmp(key, "collectionUUID") == 0 ||
				 strcmp(key, "encryptionInformation") == 0 ||
				 strcmp(key, "isTimeseriesNamespace") == 0 || GenericFieldCheck(ctx, &it))
			continue;
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
					   "BSON field 'findAndModify.%s' is an unknown field.", key);
	}
	if (remove && has_update)
		MongoRaise(MONGO_FAILED_TO_PARSE, "Cannot specify both an update and remove=true");
	if (!remove && !has_update)
		MongoRaise(MONGO_FAILED_TO_PARSE, "Either an update or remove=true must be specified");
	if (remove && upsert)
		MongoRaise(MONGO_FAILED_TO_PARSE, "Cannot specify both upsert=true and remove=true ");
	if (remove && return_new)
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "Cannot specify both new=true and remove=true; 'remove' always returns the deleted document");
	if (fields != NULL && fields_len > 5)
	{
		projection = BsonProjectionCompile(fields, fields_len, &error);
		if (projection == NULL)
			MongoRaise(error.code, "%s", error.message);
	}

	/* the let variables and $$NOW in the filter and an update pipeline */
	CommandBindFilter(ctx, &query, &query_len);
	if (update_pipeline)
		CommandBindPipeline(ctx, &update, &update_len);
	if (has_hint)
		hint_name = CheckHint(CollectionLookup(ctx->database, collname), &hint);
	bson_init(&leo);
	if (remove)
	{
		coll = CollectionLookup(ctx->database, collname);
		if (coll != NULL && coll->is_view)
			MongoRaise(166, "Namespace %s.%s is a view, not a collection", ctx->database, collname);
		write_hint = coll != NULL ? hint_name : NULL;
		if (coll != NULL)
			BSON_APPEND_INT32(&leo, "n",
							  (int32) DeleteDocuments(coll, query, query_len, false, sort,
													  sort_len, collation, collation_len,
													  &value));
		else
		{
			if (collation != NULL)
				(void) CompileCollation(collation, collation_len);
			(void) CompileFilter(query, query_len);
			BSON_APPEND_INT32(&leo, "n", 0);
		}
	}
	else
	{
		UpdateResult result;

		if (upsert)
		{
			bool		created;

			coll = CollectionGetOrCreate(ctx->database, collname, &created);
		}
		else
			coll = CollectionLookup(ctx->database, collname);
		if (coll != NULL && coll->is_view)
			MongoRaise(166, "Namespace %s.%s is a view, not a collection", ctx->database, collname);
		write_hint = coll != NULL ? hint_name : NULL;
		if (coll != NULL)
			UpdateDocuments(coll, query, query_len, update, update_len, update_pipeline, af,
							aflen, false, upsert, sort, sort_len, collation, collation_len, true,
							bypass, &result);
		else
		{
			if (collation != NULL)
				(void) CompileCollation(collation, collation_len);
			if (update_pipeline)
				(void) UpdatePipelineCompile(update, update_len, NULL, 0);
			else if (BsonUpdateCompile(update, update_len, af, aflen, &error) == NULL)
				MongoRaise(error.code, "%s", error.message);
			(void) CompileFilter(query, query_len);
			memset(&result, 0, sizeof(result));
		}
		BSON_APPEND_INT32(&leo, "n", (int32) (result.matched + (result.upserted ? 1 : 0)));
		BSON_APPEND_BOOL(&leo, "updatedExisting", result.matched > 0);
		if (result.upserted)
		{
			bson_iter_t id;

			bson_iter_init_find(&id, &result.upserted_id, "_id");
			bson_append_iter(&leo, "upserted", -1, &id);
		}
		value = return_new ? result.new_doc : result.old_doc;
	}
	bson_append_document(reply, "lastErrorObject", -1, &leo);
	if (value == NULL)
		BSON_APPEND_NULL(reply, "value");
	else if (projection != NULL)
	{
		bson_t		projected;

		bson_init(&projected);
		if (!BsonProjectionApply(projection, bson_get_data(value), value->len, -1,
								 &projected, &error))
			MongoRaise(error.code, "%s", error.message);
		bson_append_document(reply, "value", -1, &projected);
	}
	else
		bson_append_document(reply, "value", -1, value);
}
