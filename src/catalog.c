/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  The collection catalog: nosql.collection rows and one heap table per
 *	  collection in schema nosql_data.
 *
 * A collection's table is nosql_data."<database>.<name>" when that fits in
 * an identifier (NAMEDATALEN - 1 bytes) and is free, otherwise
 * nosql_data.c_<uuid>; the catalog says which.  The table has two columns,
 * _id (the primary key, in MongoDB's equality through the bson btree
 * operator class) and document (the whole document, _id included).
 *
 * Tables are created and dropped as the calling role, so it owns what it
 * creates and PostgreSQL's privileges decide what it may do; the catalog
 * rows are written as the catalog's owner, after that check.
 *
 * Every command looks its collection up, so lookups are cached per backend
 * like PostgreSQL's own catalog caches: a statement trigger on
 * nosql.collection (nosql.collection_changed) empties this backend's cache
 * and sends a relcache invalidation of the catalog, on which every
 * backend's callback empties its own (at once here, at commit elsewhere,
 * and again if the writing transaction rolls back); so does any relcache
 * invalidation of a cached collection's table (renamed, dropped).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "common/hashfn.h"
#include "commands/trigger.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/uuid.h"

#include "cdc.h"
#include "documents.h"
#include "nosql.h"

#define DATA_SCHEMA "nosql_data"

/* Run fn(arg) with the privileges of the catalog's owner */
void
CatalogAsOwner(void (*fn) (void *), void *arg)
{
	Oid			catalog = get_relname_relid("collection",
											get_namespace_oid("nosql", false));
	Oid			owner;
	Oid			save_userid;
	int			save_sec_context;
	HeapTuple	tup;

	if (!OidIsValid(catalog))
		elog(ERROR, "nosql.collection is missing");
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(catalog));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", catalog);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		fn(arg);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
}

/*
 * MongoDB's rules for database names: 1 to 63 bytes, none of / \ . " $,
 * space or NUL.
 */
void
ValidateDatabaseName(const char *database)
{
	size_t		len = strlen(database);

	if (len == 0)
		MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid empty database name");
	if (len > MONGO_MAX_DB_NAME)
		MongoRaise(MONGO_INVALID_NAMESPACE,
				   "db name '%s' is too long, max length is %d",
				   database, MONGO_MAX_DB_NAME);
	if (strpbrk(database, "/\\. \"$") != NULL)
		MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid database name: '%s'", database);
}

/*
 * MongoDB's rules for collection names: not empty, no '$' and no NUL (the
 * caller passes C strings, so a NUL was refused where the name was read),
 * no leading '.', and the namespace "db.name" at most 255 bytes.
 */
void
ValidateCollectionName(const char *database, const char *name)
{
	size_t		len = strlen(name);

	if (len == 0)
		MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid namespace specified '%s.'", database);
	if (strchr(name, '$') != NULL || name[0] == '.')
		MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid collection name: %s", name);
	if (strlen(database) + 1 + len > MONGO_MAX_NS)
		MongoRaise(MONGO_INVALID_NAMESPACE,
				   "Fully qualified namespace is too long. Namespace: %s.%s Max: %d",
				   database, name, MONGO_MAX_NS);
	if (!pg_verifymbstr(name, len, true))
		MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid collection name: not valid UTF-8");
}

/* "db.coll" -> db, coll (the database part ends at the first dot) */
void
SplitCollectionName(const char *qualified, char **database, char **name)
{
	const char *dot = strchr(qualified, '.');

	if (dot == NULL)
	{
		*database = pstrdup(nosql_database);
		*name = pstrdup(qualified);
	}
	else
	{
		*database = pnstrdup(qualified, dot - qualified);
		*name = pstrdup(dot + 1);
	}
}

static SPIPlanPtr lookup_plan = NULL;

static Collection *CollectionLookupCatalog(const char *database, const char *name);

/* capped, size and max of a collection, from its options */
static void
CollectionReadCapped(Collection *c)
{
	bson_iter_t it;

	c->capped = false;
	c->capped_size = 0;
	c->capped_max = 0;
	if (!bson_iter_init(&it, c->options))
		return;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "capped") == 0)
			c->capped = BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it);
		else if (strcmp(key, "size") == 0 && BSON_ITER_HOLDS_INT64(&it))
			c->capped_size = bson_iter_int64(&it);
		else if (strcmp(key, "max") == 0 && BSON_ITER_HOLDS_INT64(&it))
			c->capped_max = bson_iter_int64(&it);
	}
}

/* Collection from the current row of SPI_tuptable */
static Collection *
CollectionFromTuple(int row, MemoryContext context)
{
	HeapTuple	tup = SPI_tuptable->vals[row];
	TupleDesc	desc = SPI_tuptable->tupdesc;
	MemoryContext old = MemoryContextSwitchTo(context);
	Collection *c = palloc0(sizeof(Collection));
	bool		isnull;
	Datum		d;
	Bson	   *opts;

	c->database = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
	c->name = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
	d = SPI_getbinval(tup, desc, 3, &isnull);
	c->relid = isnull ? InvalidOid : DatumGetObjectId(d);
	c->is_view = isnull;
	opts = DatumGetBsonP(SPI_getbinval(tup, desc, 4, &isnull));
	c->options = bson_new_from_data(BsonBytes(opts), BsonDocLen(opts));
	CollectionReadCapped(c);
	strlcpy(c->uuid, SPI_getvalue(tup, desc, 5), sizeof(c->uuid));
	d = SPI_getbinval(tup, desc, 6, &isnull);
	c->indexes = NULL;
	if (!isnull)
	{
		Bson	   *idx = DatumGetBsonP(d);
		bson_iter_t it;
		bson_t		holder;

		if (BsonValueIter(idx, &it, &holder) && BSON_ITER_HOLDS_ARRAY(&it))
		{
			const uint8_t *data;
			uint32_t	len;

			bson_iter_array(&it, &len, &data);
			c->indexes = bson_new_from_data(data, len);
		}
	}
	if (c->indexes == NULL)
		c->indexes = bson_new();
	if (OidIsValid(c->relid))
	{
		char	   *relname = get_rel_name(c->relid);
		Oid			nsp = get_rel_namespace(c->relid);

		if (relname == NULL)
			c->qualified = NULL;	/* dropped behind our back */
		else
			c->qualified = quote_qualified_identifier(get_namespace_name(nsp), relname);
	}
	MemoryContextSwitchTo(old);
	return c;
}

/* ---- the lookup cache ---- */

/* "database.name" (database names have no dot), the key of the cache */
#define CACHE_KEY_LEN (MONGO_MAX_NS + 2)

typedef struct CollectionCacheEntry
{
	char		key[CACHE_KEY_LEN];
	Collection *coll;			/* in collection_cache_context */
} CollectionCacheEntry;

static HTAB *collection_cache = NULL;
static MemoryContext collection_cache_context = NULL;
static Oid	collection_catalog_relid = InvalidOid;

static void
CollectionCacheReset(void)
{
	if (collection_cache != NULL)
	{
		hash_destroy(collection_cache);
		collection_cache = NULL;
	}
	if (collection_cache_context != NULL)
		MemoryContextReset(collection_cache_context);
}

/* Relcache invalidations: of the catalog, of a cached table, or of all */
static void
CollectionCacheCallback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	CollectionCacheEntry *e;

	if (collection_cache == NULL)
		return;
	if (!OidIsValid(relid) || relid == collection_catalog_relid)
	{
		CollectionCacheReset();
		return;
	}
	hash_seq_init(&status, collection_cache);
	while ((e = hash_seq_search(&status)) != NULL)
		if (e->coll->relid == relid)
		{
			hash_seq_term(&status);
			CollectionCacheReset();
			return;
		}
}

void
CatalogInit(void)
{
	CacheRegisterRelcacheCallback(CollectionCacheCallback, (Datum) 0);
}

/* A deep copy of a collection in a memory context */
static Collection *
CollectionCopy(const Collection *src, MemoryContext context)
{
	MemoryContext old = MemoryContextSwitchTo(context);
	Collection *c = palloc(sizeof(Collection));

	*c = *src;
	c->database = pstrdup(src->database);
	c->name = pstrdup(src->name);
	c->qualified = src->qualified != NULL ? pstrdup(src->qualified) : NULL;
	c->options = bson_new_from_data(bson_get_data(src->options), src->options->len);
	c->indexes = bson_new_from_data(bson_get_data(src->indexes), src->indexes->len);
	MemoryContextSwitchTo(old);
	return c;
}

static bool
CollectionCacheKey(const char *database, const char *name, char *key)
{
	if (strlen(database) + strlen(name) + 2 > CACHE_KEY_LEN)
		return false;
	memset(key, 0, CACHE_KEY_LEN);
	snprintf(key, CACHE_KEY_LEN, "%s.%s", database, name);
	return true;
}

/*
 * nosql.collection_changed() — statement trigger on nosql.collection: the
 * cached lookups of every backend are stale.
 */
PG_FUNCTION_INFO_V1(collection_changed);
Datum
collection_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("nosql.collection_changed() must be called as a trigger")));
	CollectionCacheReset();
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}

/*
 * The collection (or view) database.name, or NULL.  A collection whose
 * table was dropped directly counts as absent.  Served from the cache
 * when it can be; the caller gets its own copy.
 */
Collection *
CollectionLookup(const char *database, const char *name)
{
	char		key[CACHE_KEY_LEN];
	bool		cacheable = CollectionCacheKey(database, name, key);
	CollectionCacheEntry *e;
	Collection *found;

	if (cacheable && collection_cache != NULL &&
		(e = hash_search(collection_cache, key, HASH_FIND, NULL)) != NULL)
		return CollectionCopy(e->coll, CurrentMemoryContext);
	found = CollectionLookupCatalog(database, name);
	if (found == NULL || !cacheable)
		return found;

	/* remember it */
	if (collection_cache_context == NULL)
		collection_cache_context = AllocSetContextCreate(CacheMemoryContext,
														 "nosql collection cache",
														 ALLOCSET_SMALL_SIZES);
	if (collection_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = CACHE_KEY_LEN;
		ctl.entrysize = sizeof(CollectionCacheEntry);
		ctl.hcxt = collection_cache_context;
		collection_cache = hash_create("nosql collections", 64, &ctl,
									   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
		collection_catalog_relid = get_relname_relid("collection",
													 get_namespace_oid("nosql", false));
	}
	e = hash_search(collection_cache, key, HASH_ENTER, NULL);
	e->coll = CollectionCopy(found, collection_cache_context);
	return found;
}

/* The catalog's row of database.name, read with SPI */
static Collection *
CollectionLookupCatalog(const char *database, const char *name)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum		values[2];
	Collection *result = NULL;

	SPI_connect();
	if (lookup_plan == NULL)
	{
		Oid			types[2] = {TEXTOID, TEXTOID};
		SPIPlanPtr	plan = SPI_prepare("SELECT database, name, relation, options, uuid, indexes "
									   "FROM nosql.collection WHERE database = $1 AND name = $2",
									   2, types);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		lookup_plan = plan;
	}
	values[0] = CStringGetTextDatum(database);
	values[1] = CStringGetTextDatum(name);
	if (SPI_execute_plan(lookup_plan, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "nosql catalog lookup failed");
	if (SPI_processed == 1)
	{
		result = CollectionFromTuple(0, caller);
		if (!result->is_view && result->qualified == NULL)
			result = NULL;
	}
	SPI_finish();
	return result;
}

/* Serialise creation of one namespace: a transaction advisory lock */
static void
LockNamespace(const char *database, const char *name)
{
	uint32		h1 = hash_bytes((const unsigned char *) database, strlen(database));
	uint32		h2 = hash_bytes((const unsigned char *) name, strlen(name));
	Datum		args[2];

	args[0] = Int32GetDatum((int32) 0x6e6f73);	/* "nos" */
	args[1] = Int32GetDatum((int32) (h1 ^ (h2 * 31)));
	/* pg_advisory_xact_lock(int4, int4) */
	DirectFunctionCall2(pg_advisory_xact_lock_int4, args[0], args[1]);
}

typedef struct CatalogInsert
{
	const char *database;
	const char *name;
	Oid			relid;
	const bson_t *options;
} CatalogInsert;

static void
CatalogInsertRow(void *arg)
{
	CatalogInsert *ci = arg;
	Oid			types[4] = {TEXTOID, TEXTOID, REGCLASSOID, 0};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	Bson	   *opts = BsonDatumFromBson(ci->options);

	types[3] = BsonTypeOid();
	values[0] = CStringGetTextDatum(ci->database);
	values[1] = CStringGetTextDatum(ci->name);
	values[2] = ObjectIdGetDatum(ci->relid);
	if (!OidIsValid(ci->relid))
		nulls[2] = 'n';
	values[3] = PointerGetDatum(opts);
	if (SPI_execute_with_args("INSERT INTO nosql.collection (database, name, relation, options, uuid) "
							  "VALUES ($1, $2, $3, $4, gen_random_uuid())",
							  4, types, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "nosql catalog insert failed");
}

/*
 * Whether a collection's options ask for change stream pre-images:
 * changeStreamPreAndPostImages: {enabled: true}.
 */
bool
CollectionPreImagesEnabled(const bson_t *options)
{
	bson_iter_t it;
	bson_iter_t e;

	return options != NULL &&
		bson_iter_init_find(&it, options, "changeStreamPreAndPostImages") &&
		BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &e) &&
		bson_iter_find(&e, "enabled") && BSON_ITER_HOLDS_BOOL(&e) && bson_iter_bool(&e);
}

/*
 * Give a collection's table (quoted schema.table) REPLICA IDENTITY FULL,
 * so that every update and delete logs the whole old row, which the change
 * stream plugin turns into fullDocumentBeforeChange; or back to DEFAULT,
 * which logs only the primary key (the _id) of a delete.  Needs SPI.
 */
void
CollectionSetReplicaIdentity(const char *qualified, bool full)
{
	if (SPI_execute(psprintf("ALTER TABLE %s REPLICA IDENTITY %s", qualified,
							 full ? "FULL" : "DEFAULT"), false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not set the replica identity of %s", qualified);
}

/*
 * The change stream's "create" event of a new collection (an expanded
 * event): its operationDescription is the collection's options as
 * listCollections shows them, then the _id index that comes with it
 * (none for a clustered or time-series collection, which have no such
 * index).  Views log nothing: the change stream has no events of views.
 */
static void
CollectionLogCreate(const Collection *c)
{
	bson_t		desc;
	bson_t		idx;
	bson_t		key;
	bson_iter_t it;

	if (!CdcMessagesWanted())
		return;
	bson_copy_to(c->options, &desc);
	if (!bson_iter_init_find(&it, c->options, "idIndex") &&
		!bson_iter_init_find(&it, c->options, "clusteredIndex") &&
		!bson_iter_init_find(&it, c->options, "timeseries"))
	{
		BSON_APPEND_DOCUMENT_BEGIN(&desc, "idIndex", &idx);
		BSON_APPEND_INT32(&idx, "v", 2);
		BSON_APPEND_DOCUMENT_BEGIN(&idx, "key", &key);
		BSON_APPEND_INT32(&key, "_id", 1);
		bson_append_document_end(&idx, &key);
		BSON_APPEND_UTF8(&idx, "name", "_id_");
		bson_append_document_end(&desc, &idx);
	}
	CdcLogCollectionDdl("create", c->database, c->name, c->uuid, &desc, NULL);
	bson_destroy(&desc);
}

/*
 * Create a collection (or, with viewOn in options, a view).  With
 * exists_ok an existing collection is returned; otherwise it is MongoDB's
 * NamespaceExists.
 */
Collection *
CollectionCreate(const char *database, const char *name, const bson_t *options,
				 bool exists_ok)
{
	Collection *existing;
	char		relname[NAMEDATALEN];
	char	   *qualified;
	char	   *sql;
	bool		is_view;
	bool		capped;
	bson_iter_t it;
	CatalogInsert ci;
	Oid			relid = InvalidOid;

	ValidateDatabaseName(database);
	ValidateCollectionName(database, name);
	LockNamespace(database, name);

	existing = CollectionLookup(database, name);
	if (existing != NULL)
	{
		if (exists_ok)
			return existing;
		MongoRaise(MONGO_NAMESPACE_EXISTS, "Collection %s.%s already exists.",
				   database, name);
	}

	is_view = bson_iter_init_find(&it, options, "viewOn");
	capped = bson_iter_init_find(&it, options, "capped") && BSON_ITER_HOLDS_BOOL(&it) &&
		bson_iter_bool(&it);

	SPI_connect();
	if (!is_view)
	{
		/* the readable table name when it fits and is free */
		if (strlen(database) + 1 + strlen(name) < NAMEDATALEN &&
			!OidIsValid(get_relname_relid(psprintf("%s.%s", database, name),
										  get_namespace_oid(DATA_SCHEMA, false))))
			snprintf(relname, sizeof(relname), "%s.%s", database, name);
		else
		{
			Datum		u = DirectFunctionCall1(gen_random_uuid, (Datum) 0);
			char	   *s = DatumGetCString(DirectFunctionCall1(uuid_out, u));
			int			j = 0;

			relname[j++] = 'c';
			relname[j++] = '_';
			for (char *p = s; *p && j < NAMEDATALEN - 1; p++)
				if (*p != '-')
					relname[j++] = *p;
			relname[j] = '\0';
		}
		qualified = quote_qualified_identifier(DATA_SCHEMA, relname);
		/* a capped collection keeps its insertion order in _seq */
		sql = psprintf("CREATE TABLE %s (_id nosql.bson NOT NULL, document nosql.bson NOT NULL, "
					   "%sCONSTRAINT %s PRIMARY KEY (_id))",
					   qualified,
					   capped ? "_seq bigint GENERATED ALWAYS AS IDENTITY, " : "",
					   quote_identifier(psprintf("%.*s_pkey", NAMEDATALEN - 6, relname)));
		if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not create the table of collection %s.%s", database, name);
		CommandCounterIncrement();
		relid = get_relname_relid(relname, get_namespace_oid(DATA_SCHEMA, false));
		if (!OidIsValid(relid))
			elog(ERROR, "table %s not found after creating it", qualified);
		sql = psprintf("COMMENT ON TABLE %s IS %s", qualified,
					   quote_literal_cstr(psprintf("nosql collection %s.%s", database, name)));
		SPI_execute(sql, false, 0);
		if (CollectionPreImagesEnabled(options))
			CollectionSetReplicaIdentity(qualified, true);
	}
	SPI_finish();

	ci.database = database;
	ci.name = name;
	ci.relid = relid;
	ci.options = options;
	SPI_connect();
	CatalogAsOwner(CatalogInsertRow, &ci);
	SPI_finish();
	CommandCounterIncrement();

	existing = CollectionLookup(database, name);
	if (existing == NULL)
		elog(ERROR, "collection %s.%s not found after creating it", database, name);
	if (!is_view)
		CollectionLogCreate(existing);
	return existing;
}

/* The collection, created with default options when absent (inserts, upserts) */
Collection *
CollectionGetOrCreate(const char *database, const char *name, bool *created)
{
	Collection *c = CollectionLookup(database, name);

	*created = false;
	if (c == NULL)
	{
		bson_t		empty = BSON_INITIALIZER;

		c = CollectionCreate(database, name, &empty, true);
		*created = true;
	}
	return c;
}

typedef struct CatalogDelete
{
	const char *database;
	const char *name;
} CatalogDelete;

static void
CatalogDeleteRow(void *arg)
{
	CatalogDelete *cd = arg;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(cd->database);
	values[1] = CStringGetTextDatum(cd->name);
	if (SPI_execute_with_args("DELETE FROM nosql.collection WHERE database = $1 AND name = $2",
							  2, types, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "nosql catalog delete failed");
}

/*
 * Drop a collection (its table, as the calling role) and its catalog row.
 * false when it did not exist.
 */
bool
CollectionDrop(const char *database, const char *name)
{
	Collection *c;
	CatalogDelete cd;

	LockNamespace(database, name);
	c = CollectionLookup(database, name);
	if (c == NULL)
	{
		/* a catalog row whose table is gone: clean it up quietly */
		cd.database = database;
		cd.name = name;
		SPI_connect();
		CatalogAsOwner(CatalogDeleteRow, &cd);
		SPI_finish();
		return false;
	}
	SPI_connect();
	if (!c->is_view)
	{
		/* the change stream's "drop" event: DROP TABLE leaves no change */
		CdcLogDdl(database, name, NULL, NULL, c->uuid, NULL);
		/* its background index builds would hold the table until they end */
		IndexBuildAbort(c->relid, NULL);
		if (SPI_execute(psprintf("DROP TABLE %s", c->qualified), false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not drop %s", c->qualified);
	}
	cd.database = database;
	cd.name = name;
	CatalogAsOwner(CatalogDeleteRow, &cd);
	SPI_finish();
	CommandCounterIncrement();
	return true;
}

typedef struct CatalogRename
{
	const Collection *coll;
	const char *database;
	const char *name;
} CatalogRename;

static void
CatalogRenameRow(void *arg)
{
	CatalogRename *cr = arg;
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];

	values[0] = CStringGetTextDatum(cr->database);
	values[1] = CStringGetTextDatum(cr->name);
	values[2] = CStringGetTextDatum(cr->coll->database);
	values[3] = CStringGetTextDatum(cr->coll->name);
	if (SPI_execute_with_args("UPDATE nosql.collection SET database = $1, name = $2 "
							  "WHERE database = $3 AND name = $4",
							  4, types, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "nosql catalog update failed");
}

/*
 * Rename a collection (the caller checked the names and the target).  The
 * table follows when its readable name fits and is free.
 */
void
CollectionRename(Collection *coll, const char *to_database, const char *to_name,
				 bool drop_target)
{
	CatalogRename cr;
	char	   *newrel;
	char	   *target_uuid = NULL;

	if (drop_target)
	{
		/* the expanded rename event names the collection it replaced */
		Collection *target = CollectionLookup(to_database, to_name);

		if (target != NULL && !target->is_view)
			target_uuid = pstrdup(target->uuid);
		CollectionDrop(to_database, to_name);
	}
	LockNamespace(to_database, to_name);

	SPI_connect();
	if (!coll->is_view)
	{
		/* the change stream's "rename" event */
		CdcLogDdl(coll->database, coll->name, to_database, to_name, coll->uuid,
				  target_uuid);
		/* a rename needs ownership of the table: check it as the caller */
		newrel = psprintf("%s.%s", to_database, to_name);
		if (strlen(newrel) < NAMEDATALEN &&
			!OidIsValid(get_relname_relid(newrel, get_namespace_oid(DATA_SCHEMA, false))))
			SPI_execute(psprintf("ALTER TABLE %s RENAME TO %s", coll->qualified,
								 quote_identifier(newrel)), false, 0);
		else
			SPI_execute(psprintf("ALTER TABLE %s OWNER TO CURRENT_USER", coll->qualified),
						false, 0);
	}
	cr.coll = coll;
	cr.database = to_database;
	cr.name = to_name;
	CatalogAsOwner(CatalogRenameRow, &cr);
	SPI_finish();
	CommandCounterIncrement();
}

typedef struct CatalogSet
{
	const Collection *coll;
	const bson_t *options;
	const bson_t *indexes;
} CatalogSet;

static void
CatalogSetRow(void *arg)
{
	CatalogSet *cs = arg;
	Oid			types[4] = {TEXTOID, TEXTOID, 0, 0};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	types[2] = BsonTypeOid();
	types[3] = BsonTypeOid();
	values[0] = CStringGetTextDatum(cs->coll->database);
	values[1] = CStringGetTextDatum(cs->coll->name);
	if (cs->options != NULL)
		values[2] = PointerGetDatum(BsonDatumFromBson(cs->options));
	else
		nulls[2] = 'n';
	if (cs->indexes != NULL)
	{
		bson_t		wrapper = BSON_INITIALIZER;

		bson_append_array(&wrapper, "", 0, cs->indexes);
		values[3] = PointerGetDatum(BsonFromDocument(&wrapper, true));
	}
	else
		nulls[3] = 'n';
	if (SPI_execute_with_args("UPDATE nosql.collection SET options = coalesce($3, options), "
							  "indexes = coalesce($4, indexes) "
							  "WHERE database = $1 AND name = $2",
							  4, types, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "nosql catalog update failed");
}

/*
 * Replace a collection's options and/or index list (NULL: keep).  The
 * caller checked the role's right to do so.
 */
void
CollectionSetOptions(const Collection *coll, const bson_t *options, const bson_t *indexes)
{
	CatalogSet	cs;

	cs.coll = coll;
	cs.options = options;
	cs.indexes = indexes;
	SPI_connect();
	/* pre-images switched on or off: the table logs old rows or not */
	if (options != NULL && !coll->is_view &&
		CollectionPreImagesEnabled(options) != CollectionPreImagesEnabled(coll->options))
		CollectionSetReplicaIdentity(coll->qualified, CollectionPreImagesEnabled(options));
	CatalogAsOwner(CatalogSetRow, &cs);
	SPI_finish();
	CommandCounterIncrement();
}

/* Every collection and view of a database, by name */
List *
CollectionList(const char *database)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	List	   *result = NIL;

	values[0] = CStringGetTextDatum(database);
	SPI_connect();
	if (SPI_execute_with_args("SELECT database, name, relation, options, uuid, indexes "
							  "FROM nosql.collection WHERE database = $1 ORDER BY name",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "nosql catalog scan failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		Collection *c = CollectionFromTuple(i, caller);
		MemoryContext old;

		if (!c->is_view && c->qualified == NULL)
			continue;
		old = MemoryContextSwitchTo(caller);
		result = lappend(result, c);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return result;
}

/* Names of the databases that have collections */
List *
DatabaseList(void)
{
	MemoryContext caller = CurrentMemoryContext;
	List	   *result = NIL;

	SPI_connect();
	if (SPI_execute("SELECT DISTINCT database FROM nosql.collection ORDER BY 1",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "nosql catalog scan failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		result = lappend(result, SPI_getvalue(SPI_tuptable->vals[i],
											  SPI_tuptable->tupdesc, 1));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return result;
}

/* Drop every collection of a database; how many */
int
DatabaseDrop(const char *database)
{
	List	   *colls = CollectionList(database);
	ListCell   *lc;
	int			n = 0;

	foreach(lc, colls)
	{
		Collection *c = lfirst(lc);

		if (CollectionDrop(c->database, c->name))
			n++;
	}
	/* the change stream's "dropDatabase" event, after its collections' */
	if (colls != NIL)
		CdcLogDdl(database, NULL, NULL, NULL, NULL, NULL);
	return n;
}
