/*-------------------------------------------------------------------------
 *
 * api.c
 *	  The ergonomic SQL functions of the document engine: create_collection,
 *	  insert_one, find, update_one, ... over the same engine as run_command.
 *
 * A collection argument is 'coll' (in the database named by nosql.database)
 * or 'db.coll'.  Errors are PostgreSQL errors: an SQLSTATE, and MongoDB's
 * code in the detail.  Write errors of the underlying command (a duplicate
 * _id, say) are raised the same way.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "documents.h"
#include "update.h"

/* The database and collection of a 'db.coll' or 'coll' argument */
static void
ArgCollection(FunctionCallInfo fcinfo, int argno, char **database, char **name)
{
	char	   *s = text_to_cstring(PG_GETARG_TEXT_PP(argno));

	SplitCollectionName(s, database, name);
	ValidateDatabaseName(*database);
	ValidateCollectionName(*database, *name);
}

/* A document argument (NULL when the SQL value is NULL) */
static const Bson *
ArgDocument(FunctionCallInfo fcinfo, int argno, const char *what)
{
	Bson	   *b;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return NULL;
	b = PG_GETARG_BSON_P(argno);
	if (BsonIsScalar(b))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a document", what)));
	return b;
}

/* Raise the first write error of a reply, if any */
static void
RaiseWriteErrors(const bson_t *reply)
{
	bson_iter_t it;
	bson_iter_t errs;
	bson_iter_t e;

	if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it))
		return;
	bson_iter_recurse(&it, &errs);
	if (!bson_iter_next(&errs))
		return;
	{
		int			code = 0;
		const char *msg = "write error";

		bson_iter_recurse(&errs, &e);
		while (bson_iter_next(&e))
		{
			if (strcmp(bson_iter_key(&e), "code") == 0)
				code = bson_iter_int32(&e);
			else if (strcmp(bson_iter_key(&e), "errmsg") == 0)
				msg = bson_iter_utf8(&e, NULL);
		}
		MongoRaise(code, "%s", msg);
	}
}

static int64
ReplyInt(const bson_t *reply, const char *field)
{
	bson_iter_t it;

	if (!bson_iter_init_find(&it, reply, field))
		return 0;
	return bson_iter_as_int64(&it);
}

/* Run a built command and raise its write errors */
static void
RunBuilt(const char *database, const bson_t *command, bson_t *reply)
{
	bson_init(reply);
	CommandExecute(database, bson_get_data(command), command->len, reply);
	RaiseWriteErrors(reply);
}

static void
AppendBson(bson_t *b, const char *key, const Bson *value)
{
	bson_t		doc;

	bson_init_static(&doc, BsonBytes(value), BsonDocLen(value));
	bson_append_document(b, key, -1, &doc);
}

/*
 * nosql.create_collection(name text, options bson DEFAULT NULL) RETURNS void
 */
PG_FUNCTION_INFO_V1(nosql_create_collection);
Datum
nosql_create_collection(PG_FUNCTION_ARGS)
{
	char	   *database,
			   *name;
	const Bson *options = ArgDocument(fcinfo, 1, "the options");
	bson_t		cmd = BSON_INITIALIZER;
	bson_t		reply;

	ArgCollection(fcinfo, 0, &database, &name);
	BSON_APPEND_UTF8(&cmd, "create", name);
	if (options != NULL)
	{
		bson_t		o;

		bson_init_static(&o, BsonBytes(options), BsonDocLen(options));
		bson_concat(&cmd, &o);
	}
	RunBuilt(database, &cmd, &reply);
	PG_RETURN_VOID();
}

/*
 * nosql.drop_collection(name text) RETURNS boolean (whether it existed)
 */
PG_FUNCTION_INFO_V1(nosql_drop_collection);
Datum
nosql_drop_collection(PG_FUNCTION_ARGS)
{
	char	   *database,
			   *name;

	ArgCollection(fcinfo, 0, &database, &name);
	PG_RETURN_BOOL(CollectionDrop(database, name));
}

/* Insert documents given as an array iterator or a single document */
static int64
InsertFromSql(const char *database, const char *name, bson_t **docs, int ndocs)
{
	Collection *coll;
	bool		created;
	WriteErrors we;
	bool	   *invalid = palloc0(sizeof(bool) * Max(ndocs, 1));
	int		   *codes = palloc0(sizeof(int) * Max(ndocs, 1));
	char	  **messages = palloc0(sizeof(char *) * Max(ndocs, 1));
	int64		n;
	bson_t		reply;

	for (int i = 0; i < ndocs; i++)
	{
		bson_t	   *prepared = bson_new();

		messages[i] = PrepareDocument(bson_get_data(docs[i]), docs[i]->len, prepared, &codes[i]);
		if (messages[i] != NULL)
			MongoRaise(codes[i], "document %d: %s", i, messages[i]);
		docs[i] = prepared;
	}
	coll = CollectionGetOrCreate(database, name, &created);
	if (coll->is_view)
		MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW,
				   "Namespace %s.%s is a view, not a collection", database, name);
	bson_init(&we.array);
	we.count = 0;
	n = InsertDocuments(coll, docs, ndocs, true, invalid, &we, codes, messages);
	if (we.count > 0)
	{
		bson_init(&reply);
		bson_append_array(&reply, "writeErrors", -1, &we.array);
		RaiseWriteErrors(&reply);
	}
	return n;
}

/*
 * nosql.insert_one(coll text, document bson) RETURNS bson: the _id
 */
PG_FUNCTION_INFO_V1(nosql_insert_one);
Datum
nosql_insert_one(PG_FUNCTION_ARGS)
{
	char	   *database,
			   *name;
	const Bson *doc = ArgDocument(fcinfo, 1, "the document");
	bson_t	   *docs[1];
	bson_iter_t id;

	ArgCollection(fcinfo, 0, &database, &name);
	docs[0] = bson_new_from_data(BsonBytes(doc), BsonDocLen(doc));
	(void) InsertFromSql(database, name, docs, 1);
	bson_iter_init_find(&id, docs[0], "_id");
	PG_RETURN_BSON_P(BsonFromIter(&id));
}

/*
 * nosql.insert_many(coll text, documents bson) RETURNS bigint: documents is
 * an array of documents; all are inserted or none.
 */
PG_FUNCTION_INFO_V1(nosql_insert_many);
Datum
nosql_insert_many(PG_FUNCTION_ARGS)
{
	char	   *database,
			   *name;
	Bson	   *arr = PG_GETARG_BSON_P(1);
	bson_iter_t it;
	bson_iter_t el;
	bson_t		holder;
	bson_t	  **docs;
	int			n = 0;
	int			cap = 64;

	ArgCollection(fcinfo, 0, &database, &name);
	if (!BsonValueIter(arr, &it, &holder) || !BSON_ITER_HOLDS_ARRAY(&it))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("insert_many takes an array of documents")));
	docs = palloc(sizeof(bson_t *) * cap);
	bson_iter_recurse(&it, &el);
	while (bson_iter_next(&el))
	{
		const uint8_t *data;
		uint32_t	len;

		if (!BSON_ITER_HOLDS_DOCUMENT(&el))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("element %d of the array is not a document", n)));
		if (n == cap)
		{
			cap *= 2;
			docs = repalloc(docs, sizeof(bson_t *) * cap);
		}
		bson_iter_document(&el, &len, &data);
		docs[n] = bson_new();
		bson_init_static(docs[n], data, len);
		n++;
	}
	if (n == 0)
		PG_RETURN_INT64(0);
	PG_RETURN_INT64(InsertFromSql(database, name, docs, n));
}

/*
 * nosql.find(coll, filter, projection, sort, skip, "limit") RETURNS SETOF bson
 */
PG_FUNCTION_INFO_V1(nosql_find);
Datum
nosql_find(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *database,
			   *name;
	const Bson *filter = ArgDocument(fcinfo, 1, "the filter");
	const Bson *projection = ArgDocument(fcinfo, 2, "the projection");
	const Bson *sort = ArgDocument(fcinfo, 3, "the sort");
	FindSpec	spec;
	StringInfoData sql;
	Datum		values[FIND_MAX_PARAMS];
	Oid			types[FIND_MAX_PARAMS];
	int			nparams;
	Portal		portal;
	MemoryContext per_query;
	MemoryContext old;

	ArgCollection(fcinfo, 0, &database, &name);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	per_query = rsinfo->econtext->ecxt_per_query_memory;

	FindSpecInit(&spec);
	if (filter != NULL)
	{
		spec.filter = BsonBytes(filter);
		spec.filter_len = BsonDocLen(filter);
	}
	if (projection != NULL)
	{
		spec.projection = BsonBytes(projection);
		spec.projection_len = BsonDocLen(projection);
	}
	if (sort != NULL)
	{
		spec.sort = BsonBytes(sort);
		spec.sort_len = BsonDocLen(sort);
	}
	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
		spec.skip = PG_GETARG_INT64(4);
	if (PG_NARGS() > 5 && !PG_ARGISNULL(5))
		spec.limit = PG_GETARG_INT64(5);
	if (spec.skip < 0 || spec.limit < 0)
		MongoRaise(51024, "skip and limit must be >= 0");
	spec.coll = CollectionLookup(database, name);
	if (spec.coll == NULL)
	{
		(void) CompileFilter(spec.filter, spec.filter_len);
		return (Datum) 0;
	}
	if (spec.coll->is_view)
		MongoRaise(238, "find on a view is not supported yet");
	initStringInfo(&sql);
	FindSpecPrepare(&spec, "document", &sql, values, types, &nparams);

	SPI_connect();
	portal = SPI_cursor_open_with_args(NULL, sql.data, nparams, types, values, NULL, true,
									   CURSOR_OPT_NO_SCROLL);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Bson	   *row = DatumGetBsonP(SPI_getbinval(SPI_tuptable->vals[i],
														  SPI_tuptable->tupdesc, 1, &isnull));
			bson_t		projected;
			uint32_t	len;
			const uint8_t *doc = ProjectRow(spec.compiled_filter, spec.compiled_projection,
											row, &projected, &len);
			Datum		value;
			bool		null = false;
			bson_t		d;

			old = MemoryContextSwitchTo(per_query);
			bson_init_static(&d, doc, len);
			value = PointerGetDatum(BsonDatumFromBson(&d));
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &null);
			MemoryContextSwitchTo(old);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	return (Datum) 0;
}

/*
 * nosql.find_one(coll, filter, projection) RETURNS bson (NULL when none)
 */
PG_FUNCTION_INFO_V1(nosql_find_one);
Datum
nosql_find_one(PG_FUNCTION_ARGS)
{
	char	   *database,
			   *name;
	const Bson *filter = ArgDocument(fcinfo, 1, "the filter");
	const Bson *projection = ArgDocument(fcinfo, 2, "the projection");
	FindSpec	spec;
	StringInfoData sql;
	Datum		values[FIND_MAX_PARAMS];
	Oid			types[FIND_MAX_PARAMS];
	int			nparams;
	Bson	   *result = NULL;
	MemoryContext caller = CurrentMemoryContext;

	ArgCollection(fcinfo, 0, &database, &name);
	FindSpecInit(&spec);
	if (filter != NULL)
	{
		spec.filter = BsonBytes(filter);
		spec.filter_len = BsonDocLen(filter);
	}
	if (projection != NULL)
	{
		spec.projection = BsonBytes(projection);
		spec.projection_len = BsonDocLen(projection);
	}
	spec.limit = 1;
	spec.coll = CollectionLookup(database, name);
	if (spec.coll == NULL)
	{
		(void) CompileFilter(spec.filter, spec.filter_len);
		PG_RETURN_NULL();
	}
	if (spec.coll->is_view)
		MongoRaise(238, "find on a view is not supported yet");
	initStringInfo(&sql);
	FindSpecPrepare(&spec, "document", &sql, values, types, &nparams);
	SPI_connect();
	if (SPI_execute_with_args(sql.data, nparams, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "find_one failed");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Bson	   *row = DatumGetBsonP(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 1, &isnull));
		bson_t		projected;
		uint32_t	len;
		const uint8_t *doc = ProjectRow(spec.compiled_filter, spec.compiled_projection, row,
										&projected, &len);
		bson_t		d;
		MemoryContext old = MemoryContextSwitchTo(caller);

		bson_init_static(&d, doc, len);
		result = BsonDatumFromBson(&d);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_BSON_P(result);
}

/*
 * nosql.count(coll, filter DEFAULT NULL) RETURNS bigint
 */
PG_FUNCTION_INFO_V1(nosql_count);
Datum
nosql_count(PG_FUNCTION_ARGS)
{
	char	   *database,
			   *name;
	const Bson *filter = ArgDocument(fcinfo, 1, "the filter");
	bson_t		cmd = BSON_INITIALIZER;
	bson_t		reply;

	ArgCollection(fcinfo, 0, &database, &name);
	BSON_APPEND_UTF8(&cmd, "count", name);
	if (filter != NULL)
		AppendBson(&cmd, "query", filter);
	RunBuilt(database, &cmd, &reply);
	PG_RETURN_INT64(ReplyInt(&reply, "n"));
}

/*
 * nosql.distinct(coll, key text, filter DEFAULT NULL) RETURNS bson: the
 * array of distinct values, as MongoDB's distinct returns it
 */
PG_FUNCTION_INFO_V1(nosql_distinct);
Datum
nosql_distinct(PG_FUNCTION_ARGS)
{
	char	   *database,
			   *name;
	char	   *key = text_to_cstring(PG_GETARG_TEXT_PP(1));
	const Bson *filter = ArgDocument(fcinfo, 2, "the filter");
	bson_t		cmd = BSON_INITIALIZER;
	bson_t		reply;
	bson_iter_t it;

	ArgCollection(fcinfo, 0, &database, &name);
	BSON_APPEND_UTF8(&cmd, "distinct", name);
	BSON_APPEND_UTF8(&cmd, "key", key);
	if (filter != NULL)
		AppendBson(&cmd, "query", filter);
	RunBuilt(database, &cmd, &reply);
	if (!bson_iter_init_find(&it, &reply, "values"))
		elog(ERROR, "distinct returned no values");
	PG_RETURN_BSON_P(BsonFromIter(&it));
}

/* update_one, update_many, replace_one: {matchedCount, modifiedCount, upsertedId} */
static Datum
UpdateFromSql(FunctionCallInfo fcinfo, bool multi, bool replacement)
{
	char	   *database,
			   *name;
	const Bson *filter = ArgDocument(fcinfo, 1, "the filter");
	const Bson *update = ArgDocument(fcinfo, 2, replacement ? "the replacement" : "the update");
	bool		upsert = PG_NARGS() > 3 && !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	bson_t		cmd = BSON_INITIALIZER;
	bson_t		updates,
				stmt;
	bson_t		reply;
	bson_t		result = BSON_INITIALIZER;
	bson_iter_t it;

	ArgCollection(fcinfo, 0, &database, &name);
	if (filter == NULL || update == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the filter and the update must not be NULL")));
	if (update != NULL)
	{
		bson_t		u;
		bson_iter_t first;

		bson_init_static(&u, BsonBytes(update), BsonDocLen(update));
		if (bson_iter_init(&first, &u) && bson_iter_next(&first))
		{
			bool		is_op = bson_iter_key(&first)[0] == '$';

			if (replacement && is_op)
				MongoRaise(MONGO_BAD_VALUE, "the replacement document must not contain update operators");
			if (!replacement && !is_op)
				MongoRaise(MONGO_FAILED_TO_PARSE, "update document requires atomic operators; use replace_one to replace a document");
		}
	}
	BSON_APPEND_UTF8(&cmd, "update", name);
	BSON_APPEND_ARRAY_BEGIN(&cmd, "updates", &updates);
	BSON_APPEND_DOCUMENT_BEGIN(&updates, "0", &stmt);
	AppendBson(&stmt, "q", filter);
	AppendBson(&stmt, "u", update);
	BSON_APPEND_BOOL(&stmt, "multi", multi);
	BSON_APPEND_BOOL(&stmt, "upsert", upsert);
	bson_append_document_end(&updates, &stmt);
	bson_append_array_end(&cmd, &updates);
	RunBuilt(database, &cmd, &reply);

	{
		int64		n = ReplyInt(&reply, "n");
		bool		upserted = bson_iter_init_find(&it, &reply, "upserted");

		BSON_APPEND_INT32(&result, "matchedCount", (int32) (upserted ? n - 1 : n));
		BSON_APPEND_INT32(&result, "modifiedCount", (int32) ReplyInt(&reply, "nModified"));
		if (upserted)
		{
			bson_iter_t arr,
						e;

			bson_iter_recurse(&it, &arr);
			if (bson_iter_next(&arr) && bson_iter_recurse(&arr, &e) &&
				bson_iter_find(&e, "_id"))
				bson_append_iter(&result, "upsertedId", -1, &e);
		}
	}
	PG_RETURN_BSON_P(BsonDatumFromBson(&result));
}

PG_FUNCTION_INFO_V1(nosql_update_one);
Datum
nosql_update_one(PG_FUNCTION_ARGS)
{
	return UpdateFromSql(fcinfo, false, false);
}

PG_FUNCTION_INFO_V1(nosql_update_many);
Datum
nosql_update_many(PG_FUNCTION_ARGS)
{
	return UpdateFromSql(fcinfo, true, false);
}

PG_FUNCTION_INFO_V1(nosql_replace_one);
Datum
nosql_replace_one(PG_FUNCTION_ARGS)
{
	return UpdateFromSql(fcinfo, false, true);
}

static Datum
DeleteFromSql(FunctionCallInfo fcinfo, bool multi)
{
	char	   *database,
			   *name;
	const Bson *filter = ArgDocument(fcinfo, 1, "the filter");
	Collection *coll;

	ArgCollection(fcinfo, 0, &database, &name);
	if (filter == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the filter must not be NULL (use {} to match every document)")));
	coll = CollectionLookup(database, name);
	if (coll == NULL)
	{
		(void) CompileFilter(BsonBytes(filter), BsonDocLen(filter));
		PG_RETURN_INT64(0);
	}
	if (coll->is_view)
		MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW,
				   "Namespace %s.%s is a view, not a collection", database, name);
	PG_RETURN_INT64(DeleteDocuments(coll, BsonBytes(filter), BsonDocLen(filter), multi,
									NULL, 0, NULL, 0, NULL));
}

PG_FUNCTION_INFO_V1(nosql_delete_one);
Datum
nosql_delete_one(PG_FUNCTION_ARGS)
{
	return DeleteFromSql(fcinfo, false);
}

PG_FUNCTION_INFO_V1(nosql_delete_many);
Datum
nosql_delete_many(PG_FUNCTION_ARGS)
{
	return DeleteFromSql(fcinfo, true);
}

/*
 * nosql.find_one_and_update(coll, filter, update, sort DEFAULT NULL,
 *   return_new boolean DEFAULT false, upsert boolean DEFAULT false,
 *   projection bson DEFAULT NULL) RETURNS bson (the document, or NULL)
 */
PG_FUNCTION_INFO_V1(nosql_find_one_and_update);
Datum
nosql_find_one_and_update(PG_FUNCTION_ARGS)
{
	char	   *database,
			   *name;
	const Bson *filter = ArgDocument(fcinfo, 1, "the filter");
	const Bson *update = ArgDocument(fcinfo, 2, "the update");
	const Bson *sort = ArgDocument(fcinfo, 3, "the sort");
	bool		return_new = !PG_ARGISNULL(4) && PG_GETARG_BOOL(4);
	bool		upsert = !PG_ARGISNULL(5) && PG_GETARG_BOOL(5);
	const Bson *projection = ArgDocument(fcinfo, 6, "the projection");
	bson_t		cmd = BSON_INITIALIZER;
	bson_t		reply;
	bson_iter_t it;

	ArgCollection(fcinfo, 0, &database, &name);
	if (update == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the update must not be NULL")));
	BSON_APPEND_UTF8(&cmd, "findAndModify", name);
	if (filter != NULL)
		AppendBson(&cmd, "query", filter);
	AppendBson(&cmd, "update", update);
	if (sort != NULL)
		AppendBson(&cmd, "sort", sort);
	if (projection != NULL)
		AppendBson(&cmd, "fields", projection);
	BSON_APPEND_BOOL(&cmd, "new", return_new);
	BSON_APPEND_BOOL(&cmd, "upsert", upsert);
	RunBuilt(database, &cmd, &reply);
	if (!bson_iter_init_find(&it, &reply, "value") || BSON_ITER_HOLDS_NULL(&it))
		PG_RETURN_NULL();
	PG_RETURN_BSON_P(BsonFromIter(&it));
}

/*
 * nosql.create_index(coll, keys bson, options bson DEFAULT NULL) RETURNS text
 */
PG_FUNCTION_INFO_V1(nosql_create_index);
Datum
nosql_create_index(PG_FUNCTION_ARGS)
{
	char	   *database,
			   *name;
	const Bson *keys = ArgDocument(fcinfo, 1, "the index keys");
	const Bson *options = ArgDocument(fcinfo, 2, "the index options");
	bson_t		cmd = BSON_INITIALIZER;
	bson_t		arr,
				spec;
	bson_t		reply;
	bson_iter_t it;
	char	   *index_name = NULL;

	ArgCollection(fcinfo, 0, &database, &name);
	if (options != NULL)
	{
		bson_t		o;

		bson_init_static(&o, BsonBytes(options), BsonDocLen(options));
		if (bson_iter_init_find(&it, &o, "name") && BSON_ITER_HOLDS_UTF8(&it))
			index_name = pstrdup(bson_iter_utf8(&it, NULL));
	}
	if (index_name == NULL)
	{
		/* the default name, as drivers make it: field_value joined by '_' */
		StringInfoData buf;
		bson_t		k;
		bson_iter_t ki;

		initStringInfo(&buf);
		bson_init_static(&k, BsonBytes(keys), BsonDocLen(keys));
		bson_iter_init(&ki, &k);
		while (bson_iter_next(&ki))
		{
			int64		v;

			if (buf.len > 0)
				appendStringInfoChar(&buf, '_');
			appendStringInfo(&buf, "%s_", bson_iter_key(&ki));
			if (BSON_ITER_HOLDS_UTF8(&ki))
				appendStringInfoString(&buf, bson_iter_utf8(&ki, NULL));
			else if (BsonIterAsInt64(&ki, &v))
				appendStringInfo(&buf, "%lld", (long long) v);
		}
		index_name = buf.data;
	}
	BSON_APPEND_UTF8(&cmd, "createIndexes", name);
	BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &arr);
	BSON_APPEND_DOCUMENT_BEGIN(&arr, "0", &spec);
	AppendBson(&spec, "key", keys);
	if (options != NULL)
	{
		bson_t		o;

		bson_init_static(&o, BsonBytes(options), BsonDocLen(options));
		if (!bson_iter_init_find(&it, &o, "name"))
			BSON_APPEND_UTF8(&spec, "name", index_name);
		bson_concat(&spec, &o);
	}
	else
		BSON_APPEND_UTF8(&spec, "name", index_name);
	bson_append_document_end(&arr, &spec);
	bson_append_array_end(&cmd, &arr);
	RunBuilt(database, &cmd, &reply);
	PG_RETURN_TEXT_P(cstring_to_text(index_name));
}

/*
 * nosql.drop_index(coll, name text) RETURNS void
 */
PG_FUNCTION_INFO_V1(nosql_drop_index);
Datum
nosql_drop_index(PG_FUNCTION_ARGS)
{
	char	   *database,
			   *name;
	char	   *index = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bson_t		cmd = BSON_INITIALIZER;
	bson_t		reply;

	ArgCollection(fcinfo, 0, &database, &name);
	BSON_APPEND_UTF8(&cmd, "dropIndexes", name);
	BSON_APPEND_UTF8(&cmd, "index", index);
	RunBuilt(database, &cmd, &reply);
	PG_RETURN_VOID();
}
