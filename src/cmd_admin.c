/*-------------------------------------------------------------------------
 *
 * cmd_admin.c
 *	  Collection and database commands: create, drop, dropDatabase,
 *	  listCollections, listDatabases, renameCollection, collMod and the
 *	  index catalogue commands (createIndexes, listIndexes, dropIndexes).
 *
 * Index specifications are recorded in the catalog (nosql.collection's
 * indexes column, an array of specs, the _id index implied); building
 * secondary indexes belongs to the indexing work.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "documents.h"

static int
hex_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 0;
}

/* ---- a table-driven check of command fields ---- */

#define FT_STRING	(1 << 0)
#define FT_DOC		(1 << 1)
#define FT_ARRAY	(1 << 2)
#define FT_BOOL		(1 << 3)
#define FT_NUMBER	(1 << 4)
#define FT_NULL		(1 << 5)
#define FT_ANY		(1 << 6)
#define FT_SAFEBOOL	(FT_BOOL | FT_NUMBER)

typedef struct FieldSpec
{
	const char *name;
	int			types;
} FieldSpec;

static bool
FieldTypeOk(const bson_iter_t *it, int types)
{
	if (types & FT_ANY)
		return true;
	switch (bson_iter_type(it))
	{
		case BSON_TYPE_UTF8:
			return (types & FT_STRING) != 0;
		case BSON_TYPE_DOCUMENT:
			return (types & FT_DOC) != 0;
		case BSON_TYPE_ARRAY:
			return (types & FT_ARRAY) != 0;
		case BSON_TYPE_BOOL:
			return (types & FT_BOOL) != 0;
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
		case BSON_TYPE_DOUBLE:
		case BSON_TYPE_DECIMAL128:
			return (types & FT_NUMBER) != 0;
		case BSON_TYPE_NULL:
			return (types & FT_NULL) != 0;
		default:
			return false;
	}
}

static const char *
FieldTypeNames(int types)
{
	if ((types & FT_SAFEBOOL) == FT_SAFEBOOL)
		return "[bool, long, int, decimal, double]";
	if (types & FT_NUMBER)
		return "[long, int, decimal, double]";
	if (types & FT_STRING)
		return "string";
	if (types & FT_DOC)
		return "object";
	if (types & FT_ARRAY)
		return "array";
	if (types & FT_BOOL)
		return "bool";
	return "unknown";
}

/* Fields common to every command, with their types */
static const FieldSpec generic_fields[] = {
	{"readConcern", FT_DOC},
	{"writeConcern", FT_DOC},
	{"maxTimeMS", FT_NUMBER},
	{"lsid", FT_DOC},
	{"$clusterTime", FT_DOC},
	{"$readPreference", FT_DOC},
	{"apiVersion", FT_STRING},
	{"apiStrict", FT_BOOL},
	{"apiDeprecationErrors", FT_BOOL},
	{NULL, 0}
};

/*
 * Check the fields after a command's first one against spec (and the
 * generic fields): unknown fields are IDLUnknownField, wrong types
 * TypeMismatch.  Fields whose value is null are taken as absent where the
 * spec allows FT_NULL.
 */
static void
CheckFields(CommandContext *ctx, const FieldSpec *spec)
{
	bson_iter_t it = ctx->first;

	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);
		const FieldSpec *f = NULL;

		for (int i = 0; spec[i].name != NULL; i++)
			if (strcmp(spec[i].name, key) == 0)
				f = &spec[i];
		if (f == NULL)
			for (int i = 0; generic_fields[i].name != NULL; i++)
				if (strcmp(generic_fields[i].name, key) == 0)
					f = &generic_fields[i];
		if (f == NULL)
		{
			if (IsGenericField(key))
				continue;
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field '%s.%s' is an unknown field.",
					   ctx->name, key);
		}
		if (!FieldTypeOk(&it, f->types))
			RaiseWrongType(ctx->name, &it, FieldTypeNames(f->types));
		if (strcmp(key, "maxTimeMS") == 0)
		{
			int64		v;

			if (!BsonIterAsInt64(&it, &v) || v < 0 || v > INT32_MAX)
				MongoRaise(MONGO_BAD_VALUE, "%s value for maxTimeMS is out of range",
						   "BSON field 'maxTimeMS'");
		}
	}
}

/* ---- create ---- */

static const FieldSpec create_fields[] = {
	{"capped", FT_SAFEBOOL},
	{"autoIndexId", FT_SAFEBOOL},
	{"idIndex", FT_DOC},
	{"size", FT_NUMBER},
	{"max", FT_NUMBER},
	{"storageEngine", FT_DOC},
	{"validator", FT_DOC},
	{"validationLevel", FT_STRING},
	{"validationAction", FT_STRING},
	{"indexOptionDefaults", FT_DOC},
	{"viewOn", FT_STRING},
	{"pipeline", FT_ARRAY},
	{"collation", FT_DOC},
	{"changeStreamPreAndPostImages", FT_DOC},
	{"timeseries", FT_DOC},
	{"clusteredIndex", FT_SAFEBOOL | FT_DOC},
	{"recordIdsReplicated", FT_SAFEBOOL},
	{"expireAfterSeconds", FT_NUMBER},
	{"encryptedFields", FT_DOC},
	{"temp", FT_SAFEBOOL},
	{"flags", FT_NUMBER},
	{"comment", FT_ANY},
	{NULL, 0}
};

static void
CheckCollation(const bson_iter_t *it)
{
	bson_iter_t c;
	bool		has_locale = false;

	bson_iter_recurse(it, &c);
	while (bson_iter_next(&c))
	{
		const char *k = bson_iter_key(&c);

		if (strcmp(k, "locale") == 0)
		{
			if (!BSON_ITER_HOLDS_UTF8(&c))
				RaiseWrongType("collation", &c, "string");
			has_locale = true;
		}
		else if (strcmp(k, "caseLevel") == 0 || strcmp(k, "numericOrdering") == 0 ||
				 strcmp(k, "backwards") == 0 || strcmp(k, "normalization") == 0)
		{
			if (!BSON_ITER_HOLDS_BOOL(&c))
				RaiseWrongType("collation", &c, "bool");
		}
		else if (strcmp(k, "strength") == 0)
		{
			int64		v;

			if (!BsonIterIsNumber(&c))
				RaiseWrongType("collation", &c, "[long, int, decimal, double]");
			if (!BsonIterAsInt64(&c, &v) || v < 1 || v > 5)
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "Enumeration value '%lld' for field 'strength' is not a valid value.",
						   (long long) v);
		}
		else if (strcmp(k, "caseFirst") == 0 || strcmp(k, "alternate") == 0 ||
				 strcmp(k, "maxVariable") == 0)
		{
			if (!BSON_ITER_HOLDS_UTF8(&c))
				RaiseWrongType("collation", &c, "string");
		}
		else if (strcmp(k, "version") == 0)
		{
			if (!BSON_ITER_HOLDS_UTF8(&c))
				RaiseWrongType("collation", &c, "string");
		}
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field 'collation.%s' is an unknown field.", k);
	}
	if (!has_locale)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'collation.locale' is missing but a required field");
}

/*
 * create: {create: <name>, capped, size, max, validator, viewOn, pipeline,
 * collation, ...}
 */
void
CmdCreate(CommandContext *ctx, bson_t *reply)
{
	char	   *name = CommandCollectionName(ctx);
	bson_t		options;
	bson_iter_t it;
	bool		capped = false;
	bool		has_size = false;
	bool		is_view = false;
	Collection *existing;

	CheckFields(ctx, create_fields);
	bson_init(&options);
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "capped") == 0)
			capped = bson_iter_as_bool(&it);
		else if (strcmp(key, "size") == 0)
		{
			int64		v;

			has_size = true;
			if (!BsonIterAsInt64(&it, &v) || v < 0)
				MongoRaise(MONGO_BAD_VALUE, "size must be a non-negative number");
			if (v > INT64CONST(1) << 50)
				MongoRaise(MONGO_BAD_VALUE, "size has to be <= 1PB");
		}
		else if (strcmp(key, "max") == 0)
		{
			int64		v;

			if (!BsonIterAsInt64(&it, &v))
				MongoRaise(MONGO_BAD_VALUE, "max must be a whole number");
		}
		else if (strcmp(key, "viewOn") == 0)
		{
			is_view = true;
			if (bson_iter_utf8(&it, NULL)[0] == '\0')
				MongoRaise(MONGO_BAD_VALUE, "'viewOn' cannot be empty");
		}
		else if (strcmp(key, "collation") == 0)
			CheckCollation(&it);
		else if (strcmp(key, "validationLevel") == 0)
		{
			const char *v = bson_iter_utf8(&it, NULL);

			if (strcmp(v, "off") != 0 && strcmp(v, "strict") != 0 && strcmp(v, "moderate") != 0)
				MongoRaise(MONGO_BAD_VALUE,
						   "Enumeration value '%s' for field 'validationLevel' is not a valid value.", v);
		}
		else if (strcmp(key, "validationAction") == 0)
		{
			const char *v = bson_iter_utf8(&it, NULL);

			if (strcmp(v, "error") != 0 && strcmp(v, "warn") != 0 &&
				strcmp(v, "errorAndLog") != 0)
				MongoRaise(MONGO_BAD_VALUE,
						   "Enumeration value '%s' for field 'validationAction' is not a valid value.", v);
		}
		else if (strcmp(key, "validator") == 0)
		{
			const uint8_t *data;
			uint32_t	len;

			bson_iter_document(&it, &len, &data);
			(void) CompileFilter(data, len);
		}
		if (IsGenericField(key) || strcmp(key, "writeConcern") == 0 ||
			strcmp(key, "readConcern") == 0 || strcmp(key, "comment") == 0 ||
			strcmp(key, "lsid") == 0)
			continue;
		bson_append_iter(&options, NULL, 0, &it);
	}
	if (capped && !has_size && !is_view)
		MongoRaise(MONGO_INVALID_OPTIONS, "the 'size' field is required when 'capped' is true");
	if (is_view && capped)
		MongoRaise(MONGO_INVALID_OPTIONS, "Cannot create a view with the 'capped' option");

	existing = CollectionLookup(ctx->database, name);
	if (existing != NULL)
	{
		/* MongoDB accepts a repeated create with the same options */
		if (existing->options->len == options.len &&
			memcmp(bson_get_data(existing->options), bson_get_data(&options), options.len) == 0)
			return;
		MongoRaise(MONGO_NAMESPACE_EXISTS, "Collection %s.%s already exists.",
				   ctx->database, name);
	}
	(void) CollectionCreate(ctx->database, name, &options, false);
}

/* Number of indexes of a collection, the _id index included */
static int
IndexCount(const Collection *c)
{
	return c->is_view ? 0 : 1 + (int) bson_count_keys(c->indexes);
}

/*
 * drop: {drop: <name>}
 */
void
CmdDrop(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {{"comment", FT_ANY}, {NULL, 0}};
	char	   *name = CommandCollectionName(ctx);
	Collection *c;

	CheckFields(ctx, fields);
	c = CollectionLookup(ctx->database, name);
	if (c == NULL)
		return;
	if (!c->is_view)
		BSON_APPEND_INT32(reply, "nIndexesWas", IndexCount(c));
	BSON_APPEND_UTF8(reply, "ns", psprintf("%s.%s", ctx->database, name));
	CollectionDrop(ctx->database, name);
}

/*
 * dropDatabase: {dropDatabase: 1}
 */
void
CmdDropDatabase(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {{"comment", FT_ANY}, {NULL, 0}};

	CheckFields(ctx, fields);
	if (strcmp(ctx->database, "admin") == 0 || strcmp(ctx->database, "config") == 0 ||
		strcmp(ctx->database, "local") == 0)
		MongoRaise(MONGO_ILLEGAL_OPERATION, "Cannot drop '%s' database", ctx->database);
	(void) DatabaseDrop(ctx->database);
}

/* The listCollections entry of a collection */
static void
CollectionInfo(const Collection *c, bool name_only, bson_t *out)
{
	bson_t		info,
				idx,
				key;

	bson_init(out);
	BSON_APPEND_UTF8(out, "name", c->name);
	BSON_APPEND_UTF8(out, "type", c->is_view ? "view" : "collection");
	if (name_only)
		return;
	BSON_APPEND_DOCUMENT(out, "options", c->options);
	BSON_APPEND_DOCUMENT_BEGIN(out, "info", &info);
	BSON_APPEND_BOOL(&info, "readOnly", c->is_view);
	if (!c->is_view)
	{
		uint8_t		uuid[16];
		int			j = 0;

		for (const char *p = c->uuid; *p && j < 16; p++)
		{
			int			hi,
						lo;

			if (*p == '-')
				continue;
			hi = hex_digit_value(p[0]);
			lo = hex_digit_value(p[1]);
			uuid[j++] = (uint8_t) (hi * 16 + lo);
			p++;
		}
		bson_append_binary(&info, "uuid", -1, BSON_SUBTYPE_UUID, uuid, 16);
	}
	bson_append_document_end(out, &info);
	if (!c->is_view)
	{
		BSON_APPEND_DOCUMENT_BEGIN(out, "idIndex", &idx);
		BSON_APPEND_INT32(&idx, "v", 2);
		BSON_APPEND_DOCUMENT_BEGIN(&idx, "key", &key);
		BSON_APPEND_INT32(&key, "_id", 1);
		bson_append_document_end(&idx, &key);
		BSON_APPEND_UTF8(&idx, "name", "_id_");
		bson_append_document_end(out, &idx);
	}
}

static void
AppendListCursor(bson_t *reply, const char *ns, const bson_t *batch)
{
	bson_t		cursor;

	BSON_APPEND_DOCUMENT_BEGIN(reply, "cursor", &cursor);
	BSON_APPEND_INT64(&cursor, "id", 0);
	BSON_APPEND_UTF8(&cursor, "ns", ns);
	bson_append_array(&cursor, "firstBatch", -1, batch);
	bson_append_document_end(reply, &cursor);
}

/*
 * listCollections: {listCollections: 1, filter, nameOnly, authorizedCollections}
 */
void
CmdListCollections(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {
		{"filter", FT_DOC | FT_NULL},
		{"nameOnly", FT_SAFEBOOL | FT_NULL},
		{"authorizedCollections", FT_SAFEBOOL | FT_NULL},
		{"cursor", FT_DOC},
		{"includePendingDrops", FT_SAFEBOOL},
		{"comment", FT_ANY},
		{NULL, 0}
	};
	bson_iter_t it;
	bool		name_only = false;
	BsonFilter *filter = NULL;
	List	   *colls;
	ListCell   *lc;
	bson_t		batch;
	int			n = 0;

	CheckFields(ctx, fields);
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "filter") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it))
		{
			const uint8_t *data;
			uint32_t	len;

			bson_iter_document(&it, &len, &data);
			filter = CompileFilter(data, len);
		}
		else if (strcmp(key, "nameOnly") == 0 && !BSON_ITER_HOLDS_NULL(&it))
			name_only = bson_iter_as_bool(&it);
		else if (strcmp(key, "cursor") == 0)
		{
			bson_iter_t c;

			bson_iter_recurse(&it, &c);
			while (bson_iter_next(&c))
			{
				if (strcmp(bson_iter_key(&c), "batchSize") == 0)
					(void) FieldNonNegative("listCollections.cursor", &c);
				else
					MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
							   "BSON field 'listCollections.cursor.%s' is an unknown field.",
							   bson_iter_key(&c));
			}
		}
	}
	colls = CollectionList(ctx->database);
	bson_init(&batch);
	foreach(lc, colls)
	{
		Collection *c = lfirst(lc);
		bson_t		info;
		bson_t		full;

		CollectionInfo(c, name_only, &info);
		if (filter != NULL)
		{
			/* the filter sees the full entry even with nameOnly */
			CollectionInfo(c, false, &full);
			if (!BsonFilterMatches(filter, bson_get_data(&full), full.len))
				continue;
		}
		{
			char		buf[16];
			const char *keyp;

			bson_uint32_to_string(n++, &keyp, buf, sizeof(buf));
			bson_append_document(&batch, keyp, -1, &info);
		}
	}
	AppendListCursor(reply, psprintf("%s.$cmd.listCollections", ctx->database), &batch);
}

/*
 * listDatabases: {listDatabases: 1, filter, nameOnly}
 */
void
CmdListDatabases(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {
		{"filter", FT_DOC | FT_NULL},
		{"nameOnly", FT_SAFEBOOL | FT_NULL},
		{"authorizedDatabases", FT_SAFEBOOL | FT_NULL},
		{"comment", FT_ANY},
		{NULL, 0}
	};
	bson_iter_t it;
	bool		name_only = false;
	BsonFilter *filter = NULL;
	List	   *dbs;
	ListCell   *lc;
	bson_t		arr;
	int			n = 0;
	int64		total = 0;

	CheckFields(ctx, fields);
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "filter") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it))
		{
			const uint8_t *data;
			uint32_t	len;

			bson_iter_document(&it, &len, &data);
			filter = CompileFilter(data, len);
		}
		else if (strcmp(key, "nameOnly") == 0 && !BSON_ITER_HOLDS_NULL(&it))
			name_only = bson_iter_as_bool(&it);
	}
	dbs = DatabaseList();
	bson_init(&arr);
	foreach(lc, dbs)
	{
		const char *db = lfirst(lc);
		List	   *colls = CollectionList(db);
		ListCell   *lc2;
		int64		size = 0;
		bson_t		entry;

		foreach(lc2, colls)
		{
			Collection *c = lfirst(lc2);

			if (!c->is_view)
				size += DatumGetInt64(DirectFunctionCall1(pg_total_relation_size,
														  ObjectIdGetDatum(c->relid)));
		}
		bson_init(&entry);
		BSON_APPEND_UTF8(&entry, "name", db);
		if (!name_only)
		{
			BSON_APPEND_INT64(&entry, "sizeOnDisk", size);
			BSON_APPEND_BOOL(&entry, "empty", size == 0);
		}
		if (filter != NULL && !BsonFilterMatches(filter, bson_get_data(&entry), entry.len))
			continue;
		total += size;
		{
			char		buf[16];
			const char *keyp;

			bson_uint32_to_string(n++, &keyp, buf, sizeof(buf));
			bson_append_document(&arr, keyp, -1, &entry);
		}
	}
	bson_append_array(reply, "databases", -1, &arr);
	if (!name_only)
	{
		BSON_APPEND_INT64(reply, "totalSize", total);
		BSON_APPEND_INT64(reply, "totalSizeMb", total / (1024 * 1024));
	}
}

/*
 * renameCollection (on admin): {renameCollection: "db.a", to: "db.b", dropTarget}
 */
void
CmdRenameCollection(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {
		{"to", FT_STRING},
		{"dropTarget", FT_SAFEBOOL | FT_STRING},
		{"stayTemp", FT_SAFEBOOL},
		{"collectionUUID", FT_ANY},
		{"comment", FT_ANY},
		{NULL, 0}
	};
	bson_iter_t it;
	const char *from = NULL;
	const char *to = NULL;
	bool		drop_target = false;
	char	   *from_db,
			   *from_name,
			   *to_db,
			   *to_name;
	Collection *source;
	Collection *target;

	if (!BSON_ITER_HOLDS_UTF8(&ctx->first))
		RaiseWrongType("renameCollection", &ctx->first, "string");
	from = bson_iter_utf8(&ctx->first, NULL);
	CheckFields(ctx, fields);
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		if (strcmp(bson_iter_key(&it), "to") == 0)
			to = bson_iter_utf8(&it, NULL);
		else if (strcmp(bson_iter_key(&it), "dropTarget") == 0)
			drop_target = BSON_ITER_HOLDS_UTF8(&it) ? true : bson_iter_as_bool(&it);
	}
	if (to == NULL)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'renameCollection.to' is missing but a required field");
	if (strcmp(ctx->database, "admin") != 0)
		MongoRaise(MONGO_UNAUTHORIZED, "renameCollection may only be run against the admin database.");
	if (strchr(from, '.') == NULL)
		MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid source namespace: %s", from);
	if (strchr(to, '.') == NULL)
		MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid target namespace: %s", to);
	SplitCollectionName(from, &from_db, &from_name);
	SplitCollectionName(to, &to_db, &to_name);
	ValidateDatabaseName(from_db);
	ValidateCollectionName(from_db, from_name);
	ValidateDatabaseName(to_db);
	ValidateCollectionName(to_db, to_name);
	if (strcmp(from, to) == 0)
		MongoRaise(MONGO_ILLEGAL_OPERATION, "Can't rename a collection to itself");
	source = CollectionLookup(from_db, from_name);
	if (source == NULL)
		MongoRaise(MONGO_NAMESPACE_NOT_FOUND, "Source collection %s does not exist", from);
	if (source->is_view)
		MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW, "cannot rename view: %s", from);
	target = CollectionLookup(to_db, to_name);
	if (target != NULL && !drop_target)
		MongoRaise(MONGO_NAMESPACE_EXISTS, "target namespace exists");
	CollectionRename(source, to_db, to_name, target != NULL);
}

/*
 * collMod: {collMod: <name>, validator, validationLevel, validationAction, ...}
 */
void
CmdCollMod(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {
		{"validator", FT_DOC},
		{"validationLevel", FT_STRING},
		{"validationAction", FT_STRING},
		{"index", FT_DOC},
		{"viewOn", FT_STRING},
		{"pipeline", FT_ARRAY},
		{"expireAfterSeconds", FT_NUMBER | FT_STRING},
		{"changeStreamPreAndPostImages", FT_DOC},
		{"timeseries", FT_DOC},
		{"cappedSize", FT_NUMBER},
		{"cappedMax", FT_NUMBER},
		{"dryRun", FT_SAFEBOOL},
		{"collectionUUID", FT_ANY},
		{"comment", FT_ANY},
		{"recordIdsReplicated", FT_SAFEBOOL},
		{NULL, 0}
	};
	char	   *name = CommandCollectionName(ctx);
	Collection *c;
	bson_t		options;
	bson_iter_t it;
	bson_iter_t old;

	CheckFields(ctx, fields);
	c = CollectionLookup(ctx->database, name);
	if (c == NULL)
		MongoRaise(MONGO_NAMESPACE_NOT_FOUND, "ns does not exist: %s.%s", ctx->database, name);

	/* the new options: the old ones with the given fields replaced */
	bson_init(&options);
	bson_iter_init(&old, c->options);
	while (bson_iter_next(&old))
	{
		bson_iter_t given = ctx->first;
		bool		replaced = false;

		while (bson_iter_next(&given))
			if (strcmp(bson_iter_key(&given), bson_iter_key(&old)) == 0)
				replaced = true;
		if (!replaced)
			bson_append_iter(&options, NULL, 0, &old);
	}
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "validator") == 0)
		{
			const uint8_t *data;
			uint32_t	len;

			bson_iter_document(&it, &len, &data);
			(void) CompileFilter(data, len);
		}
		if (strcmp(key, "validator") == 0 || strcmp(key, "validationLevel") == 0 ||
			strcmp(key, "validationAction") == 0 || strcmp(key, "viewOn") == 0 ||
			strcmp(key, "pipeline") == 0 || strcmp(key, "expireAfterSeconds") == 0 ||
			strcmp(key, "changeStreamPreAndPostImages") == 0 ||
			strcmp(key, "cappedSize") == 0 || strcmp(key, "cappedMax") == 0)
			bson_append_iter(&options, NULL, 0, &it);
	}
	if (!c->is_view && !pg_class_ownercheck(c->relid, GetUserId()))
		MongoRaise(MONGO_UNAUTHORIZED, "not authorized on %s to execute command collMod",
				   ctx->database);
	CollectionSetOptions(c, &options, NULL);
}

/* ---- indexes ---- */

static void
AppendIdIndex(bson_t *batch, int n)
{
	bson_t		idx,
				key;
	char		buf[16];
	const char *keyp;

	bson_uint32_to_string(n, &keyp, buf, sizeof(buf));
	bson_append_document_begin(batch, keyp, -1, &idx);
	BSON_APPEND_INT32(&idx, "v", 2);
	BSON_APPEND_DOCUMENT_BEGIN(&idx, "key", &key);
	BSON_APPEND_INT32(&key, "_id", 1);
	bson_append_document_end(&idx, &key);
	BSON_APPEND_UTF8(&idx, "name", "_id_");
	bson_append_document_end(batch, &idx);
}

/*
 * listIndexes: {listIndexes: <name>, cursor}
 */
void
CmdListIndexes(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {
		{"cursor", FT_DOC},
		{"includeBuildUUIDs", FT_SAFEBOOL},
		{"includeIndexBuildInfo", FT_SAFEBOOL},
		{"comment", FT_ANY},
		{NULL, 0}
	};
	char	   *name = CommandCollectionName(ctx);
	Collection *c;
	bson_t		batch;
	bson_iter_t it;
	int			n = 0;

	CheckFields(ctx, fields);
	c = CollectionLookup(ctx->database, name);
	if (c == NULL)
		MongoRaise(MONGO_NAMESPACE_NOT_FOUND, "ns does not exist: %s.%s", ctx->database, name);
	if (c->is_view)
		MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW,
				   "Namespace %s.%s is a view, not a collection", ctx->database, name);
	bson_init(&batch);
	AppendIdIndex(&batch, n++);
	bson_iter_init(&it, c->indexes);
	while (bson_iter_next(&it))
	{
		char		buf[16];
		const char *keyp;

		bson_uint32_to_string(n++, &keyp, buf, sizeof(buf));
		bson_append_iter(&batch, keyp, -1, &it);
	}
	AppendListCursor(reply, psprintf("%s.%s", ctx->database, name), &batch);
}

/* The default name of an index: field_direction joined with '_' */
static char *
IndexDefaultName(const bson_iter_t *key)
{
	StringInfoData buf;
	bson_iter_t k;

	initStringInfo(&buf);
	bson_iter_recurse(key, &k);
	while (bson_iter_next(&k))
	{
		if (buf.len > 0)
			appendStringInfoChar(&buf, '_');
		appendStringInfoString(&buf, bson_iter_key(&k));
		appendStringInfoChar(&buf, '_');
		if (BSON_ITER_HOLDS_UTF8(&k))
			appendStringInfoString(&buf, bson_iter_utf8(&k, NULL));
		else
		{
			int64		v;

			if (BsonIterAsInt64(&k, &v))
				appendStringInfo(&buf, "%lld", (long long) v);
			else
				appendStringInfoString(&buf, "1");
		}
	}
	return buf.data;
}

/* Check one index key pattern */
static void
CheckIndexKey(const bson_iter_t *key)
{
	bson_iter_t k;
	int			n = 0;

	bson_iter_recurse(key, &k);
	while (bson_iter_next(&k))
	{
		const char *field = bson_iter_key(&k);

		n++;
		if (field[0] == '\0')
			MongoRaise(67, "Index keys cannot be an empty field");
		if (BsonIterIsNumber(&k))
		{
			double		d = bson_iter_as_double(&k);

			if (d == 0 || isnan(d))
				MongoRaise(67, "Values in the index key pattern can't be 0 or NaN");
		}
		else if (BSON_ITER_HOLDS_UTF8(&k))
		{
			const char *t = bson_iter_utf8(&k, NULL);

			if (strcmp(t, "text") != 0 && strcmp(t, "2dsphere") != 0 &&
				strcmp(t, "2d") != 0 && strcmp(t, "hashed") != 0 &&
				strcmp(t, "columnstore") != 0)
				MongoRaise(67, "Unknown index plugin '%s'", t);
		}
		else
			MongoRaise(67, "Values in v:2 index key pattern cannot be of type %s. Only numbers > 0, numbers < 0, and strings are allowed.",
					   BsonTypeName(bson_iter_type(&k)));
	}
	if (n == 0)
		MongoRaise(67, "Index keys cannot be empty.");
}

static bool
DocumentsEqual(const bson_iter_t *a, const bson_iter_t *b)
{
	uint32_t	alen,
				blen;
	const uint8_t *ad,
			   *bd;

	bson_iter_document(a, &alen, &ad);
	bson_iter_document(b, &blen, &bd);
	return alen == blen && memcmp(ad, bd, alen) == 0;
}

/*
 * createIndexes: {createIndexes: <name>, indexes: [{key, name, ...}]}
 */
void
CmdCreateIndexes(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {
		{"indexes", FT_ARRAY},
		{"commitQuorum", FT_ANY},
		{"ignoreUnknownIndexOptions", FT_SAFEBOOL},
		{"isTimeseriesNamespace", FT_SAFEBOOL},
		{"collectionUUID", FT_ANY},
		{"comment", FT_ANY},
		{NULL, 0}
	};
	char	   *name = CommandCollectionName(ctx);
	Collection *c;
	bool		created;
	bson_iter_t it;
	bson_iter_t specs;
	bool		have = false;
	bson_t		newlist;
	int			before,
				after;
	int			n = 0;
	int			added = 0;

	CheckFields(ctx, fields);
	it = ctx->first;
	while (bson_iter_next(&it))
		if (strcmp(bson_iter_key(&it), "indexes") == 0)
		{
			bson_iter_recurse(&it, &specs);
			have = true;
		}
	if (!have)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'createIndexes.indexes' is missing but a required field");

	c = CollectionGetOrCreate(ctx->database, name, &created);
	if (c->is_view)
		MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW,
				   "Namespace %s.%s is a view, not a collection", ctx->database, name);
	if (!pg_class_ownercheck(c->relid, GetUserId()))
		MongoRaise(MONGO_UNAUTHORIZED, "not authorized on %s to execute command createIndexes",
				   ctx->database);
	before = IndexCount(c);

	bson_init(&newlist);
	{
		bson_iter_t old;

		bson_iter_init(&old, c->indexes);
		while (bson_iter_next(&old))
		{
			char		buf[16];
			const char *keyp;

			bson_uint32_to_string(n++, &keyp, buf, sizeof(buf));
			bson_append_iter(&newlist, keyp, -1, &old);
		}
	}
	if (!bson_iter_next(&specs))
		MongoRaise(MONGO_BAD_VALUE, "Must specify at least one index to create");
	do
	{
		bson_iter_t f;
		bson_iter_t key;
		bool		has_key = false;
		const char *iname = NULL;
		bson_t		spec;
		bool		exists = false;
		bson_iter_t old;

		if (!BSON_ITER_HOLDS_DOCUMENT(&specs))
			MongoRaise(MONGO_TYPE_MISMATCH, "The field 'indexes' must be an array of objects");
		bson_iter_recurse(&specs, &f);
		while (bson_iter_next(&f))
		{
			const char *k = bson_iter_key(&f);

			if (strcmp(k, "key") == 0)
			{
				if (!BSON_ITER_HOLDS_DOCUMENT(&f))
					RaiseWrongType("createIndexes.indexes", &f, "object");
				key = f;
				has_key = true;
			}
			else if (strcmp(k, "name") == 0)
			{
				if (!BSON_ITER_HOLDS_UTF8(&f))
					RaiseWrongType("createIndexes.indexes", &f, "string");
				iname = bson_iter_utf8(&f, NULL);
			}
		}
		if (!has_key)
			MongoRaise(MONGO_FAILED_TO_PARSE, "The 'key' field is a required property of an index specification");
		CheckIndexKey(&key);
		if (iname == NULL)
			iname = IndexDefaultName(&key);
		if (iname[0] == '\0')
			MongoRaise(MONGO_CANNOT_CREATE_INDEX, "The index name cannot be empty");

		/* the _id index exists already */
		{
			bson_iter_t k;

			bson_iter_recurse(&key, &k);
			if (bson_iter_next(&k) && strcmp(bson_iter_key(&k), "_id") == 0 &&
				BsonIterIsNumber(&k) && bson_iter_as_double(&k) == 1 && !bson_iter_next(&k))
			{
				if (strcmp(iname, "_id_") != 0)
					MongoRaise(MONGO_INDEX_OPTIONS_CONFLICT,
							   "Index already exists with a different name: _id_");
				continue;
			}
		}
		if (strcmp(iname, "_id_") == 0)
			MongoRaise(MONGO_INDEX_KEY_SPECS_CONFLICT,
					   "An existing index has the same name as the requested index but different key");

		bson_iter_init(&old, &newlist);
		while (bson_iter_next(&old))
		{
			bson_iter_t on,
						ok;
			bson_iter_t od;

			bson_iter_recurse(&old, &od);
			on = od;
			ok = od;
			if (!bson_iter_find(&on, "name") || !bson_iter_find(&ok, "key"))
				continue;
			if (strcmp(bson_iter_utf8(&on, NULL), iname) == 0)
			{
				if (!DocumentsEqual(&ok, &key))
					MongoRaise(MONGO_INDEX_KEY_SPECS_CONFLICT,
							   "An existing index has the same name as the requested index but different key. Requested index: %s",
							   iname);
				exists = true;
			}
			else if (DocumentsEqual(&ok, &key))
				MongoRaise(MONGO_INDEX_OPTIONS_CONFLICT,
						   "Index already exists with a different name: %s",
						   bson_iter_utf8(&on, NULL));
		}
		if (exists)
			continue;

		/* the stored spec: v, key, name, then the other options */
		bson_init(&spec);
		BSON_APPEND_INT32(&spec, "v", 2);
		bson_append_iter(&spec, "key", 3, &key);
		BSON_APPEND_UTF8(&spec, "name", iname);
		bson_iter_recurse(&specs, &f);
		while (bson_iter_next(&f))
		{
			const char *k = bson_iter_key(&f);

			if (strcmp(k, "key") == 0 || strcmp(k, "name") == 0 || strcmp(k, "v") == 0 ||
				strcmp(k, "ns") == 0)
				continue;
			bson_append_iter(&spec, NULL, 0, &f);
		}
		{
			char		buf[16];
			const char *keyp;

			bson_uint32_to_string(n++, &keyp, buf, sizeof(buf));
			bson_append_document(&newlist, keyp, -1, &spec);
		}
		added++;
	} while (bson_iter_next(&specs));

	if (added > 0)
		CollectionSetOptions(c, NULL, &newlist);
	after = before + added;
	BSON_APPEND_INT32(reply, "numIndexesBefore", before);
	BSON_APPEND_INT32(reply, "numIndexesAfter", after);
	if (added == 0)
		BSON_APPEND_UTF8(reply, "note", "all indexes already exist");
	BSON_APPEND_BOOL(reply, "createdCollectionAutomatically", created);
}

/*
 * dropIndexes: {dropIndexes: <name>, index: "name" | {key} | "*" | ["a", "b"]}
 */
void
CmdDropIndexes(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {
		{"index", FT_STRING | FT_DOC | FT_ARRAY},
		{"collectionUUID", FT_ANY},
		{"isTimeseriesNamespace", FT_SAFEBOOL},
		{"comment", FT_ANY},
		{NULL, 0}
	};
	char	   *name = CommandCollectionName(ctx);
	Collection *c;
	bson_iter_t it;
	bson_iter_t index;
	bool		have = false;
	bson_t		newlist;
	int			n = 0;
	int			before;
	bool		all = false;

	CheckFields(ctx, fields);
	it = ctx->first;
	while (bson_iter_next(&it))
		if (strcmp(bson_iter_key(&it), "index") == 0)
		{
			index = it;
			have = true;
		}
	if (!have)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field 'dropIndexes.index' is missing but a required field");
	c = CollectionLookup(ctx->database, name);
	if (c == NULL)
		MongoRaise(MONGO_NAMESPACE_NOT_FOUND, "ns not found %s.%s", ctx->database, name);
	if (c->is_view)
		MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW,
				   "Namespace %s.%s is a view, not a collection", ctx->database, name);
	if (!pg_class_ownercheck(c->relid, GetUserId()))
		MongoRaise(MONGO_UNAUTHORIZED, "not authorized on %s to execute command dropIndexes",
				   ctx->database);
	before = IndexCount(c);

	if (BSON_ITER_HOLDS_UTF8(&index) && strcmp(bson_iter_utf8(&index, NULL), "*") == 0)
		all = true;
	else
	{
		/* every named index must exist, and none may be _id_ */
		bson_iter_t names;
		bool		is_array = BSON_ITER_HOLDS_ARRAY(&index);

		if (is_array)
			bson_iter_recurse(&index, &names);
		else
			names = index;
		while (is_array ? bson_iter_next(&names) : true)
		{
			bson_iter_t old;
			bool		found = false;

			if (is_array && !BSON_ITER_HOLDS_UTF8(&names))
				MongoRaise(MONGO_TYPE_MISMATCH, "dropIndexes: the index names must be strings");
			if (BSON_ITER_HOLDS_UTF8(&names) &&
				strcmp(bson_iter_utf8(&names, NULL), "_id_") == 0)
				MongoRaise(MONGO_INVALID_OPTIONS, "cannot drop _id index");
			if (BSON_ITER_HOLDS_DOCUMENT(&names))
			{
				bson_iter_t k;

				bson_iter_recurse(&names, &k);
				if (bson_iter_next(&k) && strcmp(bson_iter_key(&k), "_id") == 0 &&
					!bson_iter_next(&k))
					MongoRaise(MONGO_INVALID_OPTIONS, "cannot drop _id index");
			}
			bson_iter_init(&old, c->indexes);
			while (bson_iter_next(&old))
			{
				bson_iter_t od,
							on,
							ok;

				bson_iter_recurse(&old, &od);
				on = od;
				ok = od;
				if (BSON_ITER_HOLDS_UTF8(&names) && bson_iter_find(&on, "name") &&
					strcmp(bson_iter_utf8(&on, NULL), bson_iter_utf8(&names, NULL)) == 0)
					found = true;
				if (BSON_ITER_HOLDS_DOCUMENT(&names) && bson_iter_find(&ok, "key") &&
					DocumentsEqual(&ok, &names))
					found = true;
			}
			if (!found)
			{
				if (BSON_ITER_HOLDS_UTF8(&names))
					MongoRaise(MONGO_INDEX_NOT_FOUND, "index not found with name [%s]",
							   bson_iter_utf8(&names, NULL));
				MongoRaise(MONGO_INDEX_NOT_FOUND, "can't find index with key");
			}
			if (!is_array)
				break;
		}
	}

	bson_init(&newlist);
	if (!all)
	{
		bson_iter_t old;

		bson_iter_init(&old, c->indexes);
		while (bson_iter_next(&old))
		{
			bson_iter_t od,
						on,
						ok;
			bool		drop = false;
			bson_iter_t names;

			bson_iter_recurse(&old, &od);
			on = od;
			ok = od;
			bson_iter_find(&on, "name");
			bson_iter_find(&ok, "key");
			if (BSON_ITER_HOLDS_ARRAY(&index))
			{
				bson_iter_recurse(&index, &names);
				while (bson_iter_next(&names))
					if (strcmp(bson_iter_utf8(&names, NULL), bson_iter_utf8(&on, NULL)) == 0)
						drop = true;
			}
			else if (BSON_ITER_HOLDS_UTF8(&index))
				drop = strcmp(bson_iter_utf8(&index, NULL), bson_iter_utf8(&on, NULL)) == 0;
			else
				drop = DocumentsEqual(&ok, &index);
			if (!drop)
			{
				char		buf[16];
				const char *keyp;

				bson_uint32_to_string(n++, &keyp, buf, sizeof(buf));
				bson_append_iter(&newlist, keyp, -1, &old);
			}
		}
	}
	CollectionSetOptions(c, NULL, &newlist);
	BSON_APPEND_INT32(reply, "nIndexesWas", before);
	if (all)
		BSON_APPEND_UTF8(reply, "msg", "non-_id indexes dropped for collection");
}
