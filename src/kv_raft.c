/*-------------------------------------------------------------------------
 *
 * kv_raft.c
 *	  The key-value calls of a raft member: each write becomes an etcd
 *	  TxnRequest that goes through the group's log (raft_client.c), and
 *	  its TxnResponse is turned back into what the SQL function returns.
 *
 * Design note.  One kind of log entry for every write keeps apply simple:
 * kv_put, kv_put_prev, kv_delete and kv_delete_prev are the one-operation
 * transactions etcd's own client sends for Put and DeleteRange, and apply
 * runs kv_txn on them, so a replicated put means exactly what a local one
 * does.  Rows in the reply (prev_kv) come back as etcd's KeyValue
 * documents and are handed to the same row callbacks the local path uses.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "bson.h"
#include "kv.h"
#include "nosql.h"
#include "raft.h"

static void
KvRaftAppendKey(bson_t *doc, const char *name, const text *key)
{
	bson_append_utf8(doc, name, -1, VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key));
}

/* The range's key and range_end, as etcd's request has them */
static void
KvRaftAppendRange(bson_t *doc, const KvRange *range)
{
	static const uint8_t nul = 0;

	KvRaftAppendKey(doc, "key", range->key);
	if (range->kind == KV_RANGE_FROM)
		bson_append_binary(doc, "range_end", -1, BSON_SUBTYPE_BINARY, &nul, 1);
	else if (range->kind == KV_RANGE_BETWEEN)
		KvRaftAppendKey(doc, "range_end", range->end);
}

/* Send {success: [op]} through the group; the reply's first response */
static Bson *
KvRaftOne(bson_t *request)
{
	/* the quota is checked where the write is proposed (see raft_worker.c) */
	KvCheckQuota(request->len);
	return RaftKvTxn(BsonFromDocument(request, false));
}

/* The document at responses.0.<name> of a TxnResponse */
static void
KvRaftResponse(Bson *reply, const char *name, bson_iter_t *out)
{
	bson_t		doc;
	bson_iter_t it;
	char		path[64];

	if (!bson_init_static(&doc, BsonBytes(reply), BsonDocLen(reply)))
		elog(ERROR, "raft: malformed key-value response");
	snprintf(path, sizeof(path), "responses.0.%s", name);
	if (!bson_iter_init(&it, &doc) || !bson_iter_find_descendant(&it, path, out) ||
		!BSON_ITER_HOLDS_DOCUMENT(out))
		elog(ERROR, "raft: the key-value response has no %s", name);
}

static int64
KvRaftInt64(const bson_iter_t *parent, const char *name)
{
	bson_iter_t it;

	if (bson_iter_recurse(parent, &it) && bson_iter_find(&it, name))
		return bson_iter_as_int64(&it);
	return 0;
}

/* One etcd KeyValue document into a row of nosql.kv */
static void
KvRaftRow(const bson_iter_t *kv, KvRowCallback callback, void *arg)
{
	bson_iter_t it;
	Datum		values[KV_NATTS];
	bool		nulls[KV_NATTS] = {false, true, false, false, false, false};

	if (!bson_iter_recurse(kv, &it))
		elog(ERROR, "raft: malformed key-value row");
	while (bson_iter_next(&it))
	{
		const char *name = bson_iter_key(&it);
		const char *bytes = NULL;
		uint32		len = 0;

		if (BSON_ITER_HOLDS_UTF8(&it))
			bytes = bson_iter_utf8(&it, &len);
		else if (BSON_ITER_HOLDS_BINARY(&it))
		{
			bson_subtype_t subtype;
			const uint8_t *data;

			bson_iter_binary(&it, &subtype, &len, &data);
			bytes = (const char *) data;
		}
		if (strcmp(name, "key") == 0 && bytes)
			values[0] = PointerGetDatum(cstring_to_text_with_len(bytes, len));
		else if (strcmp(name, "value") == 0 && bytes)
		{
			bytea	   *b = palloc(VARHDRSZ + len);

			SET_VARSIZE(b, VARHDRSZ + len);
			memcpy(VARDATA(b), bytes, len);
			values[1] = PointerGetDatum(b);
			nulls[1] = false;
		}
		else if (strcmp(name, "create_revision") == 0)
			values[2] = Int64GetDatum(bson_iter_as_int64(&it));
		else if (strcmp(name, "mod_revision") == 0)
			values[3] = Int64GetDatum(bson_iter_as_int64(&it));
		else if (strcmp(name, "version") == 0)
			values[4] = Int64GetDatum(bson_iter_as_int64(&it));
		else if (strcmp(name, "lease") == 0)
			values[5] = Int64GetDatum(bson_iter_as_int64(&it));
	}
	if (nulls[1])
		values[1] = (Datum) 0;
	callback(values, nulls, arg);
}

/*
 * KvRaftPut
 *		A put through the group; its revision, and prev_kv (when asked) to
 *		the callback.
 */
int64
KvRaftPut(text *key, bytea *value, int64 lease, int flags,
		  KvRowCallback prev_kv, void *arg)
{
	bson_t		request;
	bson_t		success;
	bson_t		op;
	bson_t		put;
	Bson	   *reply;
	bson_iter_t response;
	bson_iter_t it;
	bson_iter_t field;
	int64		revision;

	KvCheckKey(key);
	if (value != NULL)
		KvCheckValue(value);
	bson_init(&request);
	bson_append_array_begin(&request, "success", -1, &success);
	bson_append_document_begin(&success, "0", -1, &op);
	bson_append_document_begin(&op, "request_put", -1, &put);
	KvRaftAppendKey(&put, "key", key);
	if (value != NULL)
		bson_append_binary(&put, "value", -1, BSON_SUBTYPE_BINARY,
						   (const uint8_t *) VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
	BSON_APPEND_INT64(&put, "lease", lease);
	if (prev_kv != NULL)
		BSON_APPEND_BOOL(&put, "prev_kv", true);
	if (flags & KV_PUT_IGNORE_VALUE)
		BSON_APPEND_BOOL(&put, "ignore_value", true);
	if (flags & KV_PUT_IGNORE_LEASE)
		BSON_APPEND_BOOL(&put, "ignore_lease", true);
	bson_append_document_end(&op, &put);
	bson_append_document_end(&success, &op);
	bson_append_array_end(&request, &success);
	reply = KvRaftOne(&request);
	bson_destroy(&request);

	KvRaftResponse(reply, "response_put", &response);
	revision = 0;
	if (bson_iter_recurse(&response, &it) && bson_iter_find_descendant(&it, "header.revision", &field))
		revision = bson_iter_as_int64(&field);
	if (prev_kv != NULL && bson_iter_recurse(&response, &it) &&
		bson_iter_find(&it, "prev_kv") && BSON_ITER_HOLDS_DOCUMENT(&it))
		KvRaftRow(&it, prev_kv, arg);
	return revision;
}

/*
 * KvRaftDelete
 *		A delete of a range through the group; how many keys it deleted,
 *		and the deleted versions (when asked) to the callback.
 */
int64
KvRaftDelete(const KvRange *range, KvRowCallback prev_kv, void *arg)
{
	bson_t		request;
	bson_t		success;
	bson_t		op;
	bson_t		del;
	Bson	   *reply;
	bson_iter_t response;
	bson_iter_t it;

	bson_init(&request);
	bson_append_array_begin(&request, "success", -1, &success);
	bson_append_document_begin(&success, "0", -1, &op);
	bson_append_document_begin(&op, "request_delete_range", -1, &del);
	KvRaftAppendRange(&del, range);
	if (prev_kv != NULL)
		BSON_APPEND_BOOL(&del, "prev_kv", true);
	bson_append_document_end(&op, &del);
	bson_append_document_end(&success, &op);
	bson_append_array_end(&request, &success);
	reply = KvRaftOne(&request);
	bson_destroy(&request);

	KvRaftResponse(reply, "response_delete_range", &response);
	if (prev_kv != NULL && bson_iter_recurse(&response, &it) &&
		bson_iter_find(&it, "prev_kvs") && BSON_ITER_HOLDS_ARRAY(&it))
	{
		bson_iter_t row;

		bson_iter_recurse(&it, &row);
		while (bson_iter_next(&row))
			if (BSON_ITER_HOLDS_DOCUMENT(&row))
				KvRaftRow(&row, prev_kv, arg);
	}
	return KvRaftInt64(&response, "deleted");
}
