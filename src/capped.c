/*-------------------------------------------------------------------------
 *
 * capped.c
 *	  Capped collections: the limit kept after each insert, and the
 *	  convertToCapped and cloneCollectionAsCapped commands.
 *
 * A capped collection's table has a third column, _seq, an identity
 * column: the collection's natural order is _seq order (find without a
 * sort and $natural sorts use it), whatever the heap does with free
 * space.  Its options in the catalog say capped: true, size (bytes, int64)
 * and max (documents, int64, absent for none).  After an insert,
 * CappedTrim deletes the oldest documents until the newest ones fit both
 * limits, as MongoDB does.
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
#include "utils/uuid.h"

#include "documents.h"

/* The shape of the temporary name MongoDB's convertToCapped gives the copy */
#define CONVERT_TMP_PREFIX	"tmpXXXXX.convertToCapped."

/*
 * The byte limit MongoDB applies for a size: at least 4096, else rounded
 * up to a multiple of 256.
 */
static int64
CappedEffectiveSize(int64 size)
{
	if (size <= 4096)
		return 4096;
	return (size + 255) / 256 * 256;
}

/*
 * Delete the oldest documents of a capped collection until at most max of
 * them remain and the newest ones take at most its size in bytes.  Called
 * after every insert into a capped collection.
 */
void
CappedTrim(const Collection *coll)
{
	char	   *sql;

	if (!coll->capped || coll->qualified == NULL)
		return;
	SPI_connect();
	if (coll->capped_max > 0)
	{
		sql = psprintf("DELETE FROM %s WHERE _seq <= (SELECT _seq FROM %s ORDER BY _seq DESC "
					   "OFFSET " INT64_FORMAT " LIMIT 1)",
					   coll->qualified, coll->qualified, coll->capped_max);
		if (SPI_execute(sql, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not trim capped collection %s", coll->qualified);
	}
	sql = psprintf("DELETE FROM %s WHERE _seq <= (SELECT max(_seq) FROM "
				   "(SELECT _seq, sum(octet_length(nosql.bytea(document))) "
				   "OVER (ORDER BY _seq DESC) AS total FROM %s) s "
				   "WHERE total > " INT64_FORMAT ")",
				   coll->qualified, coll->qualified,
				   CappedEffectiveSize(coll->capped_size));
	if (SPI_execute(sql, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not trim capped collection %s", coll->qualified);
	SPI_finish();
}

/* The options of a new capped collection of size bytes */
static void
CappedOptions(int64 size, bson_t *options)
{
	bson_init(options);
	BSON_APPEND_BOOL(options, "capped", true);
	BSON_APPEND_INT64(options, "size", size);
}

/* Copy the documents of from into to, in from's natural order, then trim to */
static void
CappedCopy(const Collection *from, const Collection *to)
{
	char	   *sql;

	sql = psprintf("INSERT INTO %s (_id, document) SELECT _id, document FROM %s ORDER BY %s",
				   to->qualified, from->qualified, from->capped ? "_seq" : "ctid");
	SPI_connect();
	if (SPI_execute(sql, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not copy %s into %s", from->qualified, to->qualified);
	SPI_finish();
	CappedTrim(to);
}

/*
 * The collection name of a capped command's first field (or toCollection):
 * a string, else InvalidNamespace.
 */
static const char *
CappedNameField(const char *command, const bson_iter_t *it)
{
	uint32_t	len;
	const char *name;

	if (!BSON_ITER_HOLDS_UTF8(it))
		MongoRaise(MONGO_INVALID_NAMESPACE, "collection name has invalid type %s",
				   BsonTypeName(bson_iter_type(it)));
	name = bson_iter_utf8(it, &len);
	if (strlen(name) != len || len == 0 || name[0] == '.')
		MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid namespace specified '%s'", name);
	return name;
}

/* A source of convertToCapped or cloneCollectionAsCapped: a collection, not time-series */
static Collection *
CappedSource(const char *database, const char *name)
{
	Collection *c;
	bson_iter_t it;

	if (strncmp(name, "system.buckets.", 15) == 0)
		MongoRaise(MONGO_ILLEGAL_OPERATION, "cannot convert or clone a time-series buckets collection");
	c = CollectionLookup(database, name);
	if (c == NULL)
		MongoRaise(MONGO_NAMESPACE_NOT_FOUND, "source collection %s.%s does not exist",
				   database, name);
	if (c->is_view || bson_iter_init_find(&it, c->options, "timeseries"))
		MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW,
				   "cannot convert or clone a view or time-series collection: %s.%s",
				   database, name);
	if (!pg_class_ownercheck(c->relid, GetUserId()))
		MongoRaise(MONGO_UNAUTHORIZED, "not authorized on %s to change %s", database, name);
	return c;
}

/*
 * convertToCapped: {convertToCapped: <name>, size}.  The documents move
 * into a new capped table in their natural order (the oldest are trimmed
 * to fit); secondary indexes are dropped, as MongoDB does.
 */
void
CmdConvertToCapped(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {
		{"size", FT_ANY},
		{"bypassDocumentValidation", FT_ANY},
		{"comment", FT_ANY},
		{NULL, 0}
	};
	const char *name = CappedNameField(ctx->name, &ctx->first);
	bson_iter_t it;
	bson_iter_t size_it;
	bool		has_size = false;
	int64		size;
	Collection *source;
	Collection *tmp;
	bson_t		options;
	char	   *tmpname;

	/* MongoDB reads this command by hand, ignoring fields it does not know */
	CheckFieldsFlags(ctx, fields, CF_IGNORE_UNKNOWN);
	it = ctx->first;
	while (bson_iter_next(&it))
		if (strcmp(bson_iter_key(&it), "size") == 0 && !BSON_ITER_HOLDS_NULL(&it))
		{
			size_it = it;
			has_size = true;
		}
	size = CappedSizeArgument(&size_it, has_size);
	/*
	 * MongoDB builds the capped copy as "tmpXXXXX.convertToCapped.<name>",
	 * which must fit the namespace limit too
	 */
	if (strlen(ctx->database) + 1 + strlen(CONVERT_TMP_PREFIX) + strlen(name) > MONGO_MAX_NS)
		MongoRaise(MONGO_INVALID_NAMESPACE, "Fully qualified namespace is too long: %s.%s%s",
				   ctx->database, CONVERT_TMP_PREFIX, name);
	if (strcmp(name, "system.views") == 0 || strcmp(name, "system.profile") == 0 ||
		strcmp(name, "system.js") == 0)
		MongoRaise(MONGO_BAD_VALUE, "cannot convert the system collection %s to capped", name);
	source = CappedSource(ctx->database, name);

	/* a new capped collection under a temporary name takes the source's place */
	tmpname = psprintf("tmp%s.convertToCapped",
					   DatumGetCString(DirectFunctionCall1(uuid_out,
														   DirectFunctionCall1(gen_random_uuid, (Datum) 0))));
	CappedOptions(size, &options);
	/* the collection keeps its pre-images (REPLICA IDENTITY FULL) */
	if (CollectionPreImagesEnabled(source->options))
	{
		bson_t		images;

		BSON_APPEND_DOCUMENT_BEGIN(&options, "changeStreamPreAndPostImages", &images);
		BSON_APPEND_BOOL(&images, "enabled", true);
		bson_append_document_end(&options, &images);
	}
	tmp = CollectionCreate(ctx->database, tmpname, &options, false);
	CappedCopy(source, tmp);
	CollectionDrop(ctx->database, name);
	CollectionRename(tmp, ctx->database, name, false);
}

/* The system collections a client may write, hence clone into */
static bool
CappedSystemTargetAllowed(const char *suffix)
{
	return strcmp(suffix, "users") == 0 || strcmp(suffix, "views") == 0 ||
		strcmp(suffix, "js") == 0 || strcmp(suffix, "profile") == 0;
}

/*
 * cloneCollectionAsCapped: {cloneCollectionAsCapped: <from>, toCollection:
 * <to>, size}.  A new capped collection with the newest documents of from
 * that fit.
 */
void
CmdCloneCollectionAsCapped(CommandContext *ctx, bson_t *reply)
{
	static const FieldSpec fields[] = {
		{"toCollection", FT_ANY},
		{"size", FT_ANY},
		{"comment", FT_ANY},
		{NULL, 0}
	};
	const char *from;
	const char *to = NULL;
	bson_iter_t it;
	bson_iter_t size_it;
	bool		has_size = false;
	int64		size;
	Collection *source;
	Collection *target;
	bson_t		options;

	/* MongoDB reads this command by hand: both names must be strings */
	if (!BSON_ITER_HOLDS_UTF8(&ctx->first))
		MongoRaise(MONGO_TYPE_MISMATCH, "'cloneCollectionAsCapped' must be of type String");
	it = ctx->first;
	if (!bson_iter_find(&it, "toCollection") || !BSON_ITER_HOLDS_UTF8(&it))
		MongoRaise(MONGO_TYPE_MISMATCH, "'toCollection' must be of type String");
	from = CappedNameField(ctx->name, &ctx->first);
	CheckFieldsFlags(ctx, fields, CF_IGNORE_UNKNOWN);
	it = ctx->first;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "size") == 0 && !BSON_ITER_HOLDS_NULL(&it))
		{
			size_it = it;
			has_size = true;
		}
		else if (strcmp(key, "toCollection") == 0)
			to = CappedNameField(ctx->name, &it);
	}
	if (strchr(from, '$') != NULL)
		MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid collection name: %s", from);
	if (strlen(ctx->database) + 1 + strlen(from) > MONGO_MAX_NS)
		MongoRaise(MONGO_NAMESPACE_NOT_FOUND, "source collection %s.%s does not exist",
				   ctx->database, from);
	if (strncmp(to, "system.buckets.", 15) == 0)
		MongoRaise(MONGO_ILLEGAL_OPERATION, "cannot clone into a time-series buckets collection");
	if (strncmp(to, "system.", 7) == 0 && !CappedSystemTargetAllowed(to + 7))
		MongoRaise(MONGO_INVALID_NAMESPACE, "Invalid target namespace: %s.%s", ctx->database, to);
	ValidateCollectionName(ctx->database, to);
	size = CappedSizeArgument(&size_it, has_size);
	source = CappedSource(ctx->database, from);
	target = CollectionLookup(ctx->database, to);
	if (target != NULL && target->is_view)
		MongoRaise(MONGO_COMMAND_NOT_SUPPORTED_ON_VIEW, "%s.%s is a view", ctx->database, to);
	if (target != NULL)
		MongoRaise(MONGO_NAMESPACE_EXISTS, "Collection %s.%s already exists.", ctx->database, to);
	CappedOptions(size, &options);
	target = CollectionCreate(ctx->database, to, &options, false);
	CappedCopy(source, target);
}
