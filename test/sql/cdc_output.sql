-- The logical decoding output plugin "nosql": etcd watch events for the
-- key-value store, MongoDB change events for collections, options, the
-- BSON format.  Resume tokens and commit times depend on the WAL position
-- and the clock: the listings mask them, and the checks after the
-- listings compare them with what the server says.
SET search_path = public, nosql;
SET client_min_messages = warning;

CREATE FUNCTION cmd(db text, c text) RETURNS bson
    LANGUAGE sql AS $$ SELECT nosql.run_command(db, c::bson) $$;

-- An event's text with its resume token and commit time masked
CREATE FUNCTION cdc_mask(data text) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(regexp_replace(regexp_replace(data,
        '"_data": "[0-9A-F]{24}"', '"_data": "<token>"'),
        '"\$timestamp": \{"t": [0-9]+,', '"$timestamp": {"t": <secs>,'),
        '"\$date": "[^"]*"', '"$date": "<commit>"')
$$;

-- The events the slot has, without consuming them, with the options given
-- (by default only this test's collections and keys: the database may
-- hold other tests' collections, which the background worker may write).
CREATE FUNCTION cdc_peek(VARIADIC opts text[] DEFAULT ARRAY['collections', 'cdc.c,cdc.big,cdc.ren2',
                                                              'kv_prefix', 'cdc/'])
    RETURNS TABLE (n bigint, lsn pg_lsn, x xid, data text) LANGUAGE sql AS $$
    SELECT row_number() OVER (), lsn, xid, data
      FROM pg_logical_slot_peek_changes('nosql_cdc', NULL, NULL, VARIADIC opts)
$$;

-- Transactions to find again among the events
CREATE TEMP TABLE marks (what text PRIMARY KEY, x xid);
CREATE FUNCTION mark(what text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO marks VALUES (what, pg_current_xact_id()::text::xid)
$$;
CREATE TEMP TABLE started AS SELECT clock_timestamp() AS at;

-- A fresh key-value store, then the slot: events are what comes after it.
TRUNCATE nosql.kv_history, nosql.kv_revision, nosql.kv_compaction;
SELECT cmd('cdc', '{"create": "c"}');
SELECT cmd('cdc', '{"create": "big"}');
SELECT cmd('cdc', '{"create": "ren"}');
CREATE TABLE cdc_plain (a int PRIMARY KEY, b text);
SELECT 'created' FROM pg_create_logical_replication_slot('nosql_cdc', 'nosql');

-- Key-value writes: puts, binary and non-UTF-8 values, two requests in one
-- transaction (two revisions), a txn (one revision, two keys), a range
-- delete (one revision, two tombstones), a new life of a key.
SELECT nosql.kv_put('cdc/a', 'a1');                         -- 2
SELECT nosql.kv_put('cdc/b', '\x00ff'::bytea);              -- 3
BEGIN;
SELECT mark('kv two requests');
SELECT nosql.kv_put('cdc/a', 'a2');                         -- 4
SELECT nosql.kv_put('cdc/c', 'c1');                         -- 5
COMMIT;
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "cdc/d", "value": "d1"}},
                                  {"request_put": {"key": "cdc/e", "value": {"$binary": {"base64": "gA==", "subType": "00"}}}}]}')
       -> 'header';                                         -- 6
SELECT nosql.kv_delete('cdc/a', 'cdc/c');                   -- 7: a and b
SELECT nosql.kv_put('cdc/a', 'a3');                         -- 8: version 1 again
SELECT nosql.kv_put('other/x', 'not under the prefix');     -- 9

-- Collections: an insert of two documents, an update, a replacement, a
-- delete, a document whose _id is a document, an upsert.
SELECT cmd('cdc', '{"insert": "c", "documents": [{"_id": 1, "a": 1}, {"_id": 2, "a": 2}]}');
SELECT cmd('cdc', '{"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$inc": {"a": 10}}}]}');
SELECT cmd('cdc', '{"update": "c", "updates": [{"q": {"_id": 2}, "u": {"b": "replaced"}}]}');
SELECT cmd('cdc', '{"delete": "c", "deletes": [{"q": {"_id": 1}, "limit": 1}]}');
SELECT cmd('cdc', '{"insert": "c", "documents": [{"_id": {"k": 1, "t": {"$date": "2024-01-02T03:04:05Z"}}, "n": {"$numberLong": "7"}}]}');
SELECT cmd('cdc', '{"update": "c", "updates": [{"q": {"_id": "up"}, "u": {"$set": {"v": 1}}, "upsert": true}]}');

-- A rolled back transaction emits nothing.
BEGIN;
SELECT nosql.kv_put('cdc/never', 'x');
SELECT cmd('cdc', '{"insert": "c", "documents": [{"_id": "never"}]}');
ROLLBACK;

-- Tables that are neither the store nor a collection emit nothing; nor do
-- compaction (deletes of the history) and, in this version, a truncate.
BEGIN;
SELECT mark('plain table');
INSERT INTO cdc_plain VALUES (1, 'x');
UPDATE cdc_plain SET b = 'y';
DELETE FROM cdc_plain;
COMMIT;
BEGIN;
SELECT mark('compaction');
SELECT nosql.kv_compact(7) > 0 AS removed;
COMMIT;
BEGIN;
SELECT mark('truncate');
TRUNCATE nosql_data."cdc.ren";
COMMIT;

-- A collection created by its first insert, in the same transaction.
SELECT cmd('cdc', '{"insert": "implicit", "documents": [{"_id": "new"}]}');
SELECT (data::bson) -> 'ns' AS ns, (data::bson) -> 'fullDocument' AS doc
  FROM cdc_peek('collections', 'cdc.implicit', 'include_kv', 'false');

-- The events: etcd watch events, then MongoDB change events.
SELECT n, cdc_mask(data) FROM cdc_peek();

-- Resume tokens: 24 upper-case hex digits, the commit LSN (after every
-- change of the transaction) then the change's ordinal; they sort in the
-- order the events come; an event's clusterTime is the commit time in
-- seconds with the ordinal as increment, its wallTime the commit time.
CREATE TEMP TABLE ev AS
    SELECT n, lsn, x, data, data::bson AS e,
           (data::bson -> '_id' ->> '_data') AS token
      FROM cdc_peek()
     WHERE data::bson -> '_id' IS NOT NULL;
SELECT count(*) AS collection_events,
       bool_and(token ~ '^[0-9A-F]{24}$') AS token_form,
       bool_and((substr(token, 1, 8) || '/' || substr(token, 9, 8))::pg_lsn > lsn) AS after_change,
       bool_and(((e::json -> 'clusterTime' -> '$timestamp' ->> 'i')::bigint)
                = ('x' || substr(token, 17, 8))::bit(32)::bigint) AS increment_is_ordinal,
       bool_and((e::json -> 'clusterTime' -> '$timestamp' ->> 't')::bigint
                = floor(extract(epoch FROM (e::json -> 'wallTime' ->> '$date')::timestamptz))) AS seconds,
       bool_and((e::json -> 'wallTime' ->> '$date')::timestamptz
                BETWEEN date_trunc('milliseconds', (SELECT at FROM started)) - interval '1 ms'
                    AND clock_timestamp()) AS commit_time
  FROM ev;
SELECT bool_and(token > prev) AS tokens_increase
  FROM (SELECT token, lag(token) OVER (ORDER BY n) AS prev FROM ev) s
 WHERE prev IS NOT NULL;
-- one transaction, one commit: the two inserts share LSN and time, and
-- their ordinals follow each other
SELECT count(DISTINCT substr(token, 1, 16)) AS commits, count(DISTINCT e -> 'wallTime') AS times,
       max(('x' || substr(token, 17, 8))::bit(32)::int) - min(('x' || substr(token, 17, 8))::bit(32)::int) AS ordinal_span
  FROM ev WHERE e ->> 'operationType' = 'insert' AND (e -> 'documentKey' ->> '_id') IN ('1', '2');
-- the two KV requests of one transaction: two events of one transaction
SELECT count(*) FROM cdc_peek() p JOIN marks m ON m.x = p.x WHERE m.what = 'kv two requests';
-- nothing from the plain table, compaction, a truncate, the rolled back
-- transaction, in any collection or key
SELECT m.what, count(p.n) FROM marks m LEFT JOIN cdc_peek('include_kv', 'true') p ON p.x = m.x
 WHERE m.what <> 'kv two requests' GROUP BY m.what ORDER BY m.what;
SELECT count(*) AS rolled_back FROM cdc_peek('include_kv', 'true') WHERE data ~ 'never';

-- BSON format: binary messages, the same events byte for byte.
SELECT count(*) AS events, bool_and(b.data = t.data::bson::bytea) AS same_bytes,
       bool_and(b.data::bson = t.data::bson) AS same_values
  FROM (SELECT row_number() OVER () AS n, data
          FROM pg_logical_slot_peek_binary_changes('nosql_cdc', NULL, NULL, 'format', 'bson',
                                                   'kv_prefix', 'cdc/', 'collections', 'cdc.c')) b
  JOIN cdc_peek('format', 'json', 'kv_prefix', 'cdc/', 'collections', 'cdc.c') t USING (n);
SELECT (data::bson) ->> 'operationType' AS op, (data::bson) -> 'documentKey' AS key
  FROM pg_logical_slot_peek_binary_changes('nosql_cdc', NULL, NULL, 'format', 'bson',
                                           'include_kv', 'false', 'collections', 'cdc.c');
-- a binary plugin needs the binary functions, as PostgreSQL says
SELECT data FROM pg_logical_slot_peek_changes('nosql_cdc', NULL, NULL, 'format', 'bson');

-- Options: which events.
SELECT count(*) AS kv_only FROM cdc_peek('include_collections', 'false', 'kv_prefix', 'cdc/');
SELECT count(*) AS collections_only FROM cdc_peek('include_kv', 'off', 'collections', 'cdc.c');
SELECT count(*) AS nothing FROM cdc_peek('include_kv', 'no', 'include_collections', 'false');
SELECT count(*) AS prefix FROM cdc_peek('include_collections', 'false', 'kv_prefix', 'cdc/a');
SELECT count(*) AS whole_store FROM cdc_peek('include_collections', 'false');
SELECT count(*) AS no_such_collection FROM cdc_peek('collections', 'cdc.nope', 'include_kv', 'false');
SELECT count(*) AS list_with_spaces FROM cdc_peek('collections', ' cdc.nope , cdc.c ', 'include_kv', 'false');

-- Option errors.
SELECT * FROM cdc_peek('nonsense', 'x');
SELECT * FROM cdc_peek('format', 'xml');
SELECT * FROM cdc_peek('include_kv', 'maybe');
SELECT * FROM cdc_peek('collections', 'nodot');
SELECT * FROM cdc_peek('collections', 'cdc.c,,cdc.d');
SELECT * FROM cdc_peek('collections', '.c');
SELECT * FROM cdc_peek('collections', 'cdc.');

-- Consume what was read so far.
SELECT count(*) > 0 AS consumed FROM pg_logical_slot_get_changes('nosql_cdc', NULL, NULL);

-- Large values: TOASTed documents and values come out whole.  An update by
-- the engine writes the whole document; an update by SQL that leaves the
-- document alone changes no document and emits nothing (never a null).
CREATE TEMP TABLE big AS
    SELECT string_agg(md5(i::text), '') AS s FROM generate_series(1, 400) i;
SELECT cmd('cdc', format('{"insert": "big", "documents": [{"_id": 1, "s": "%s"}]}', s)) FROM big;
SELECT pg_relation_size(reltoastrelid) > 0 AS toasted FROM pg_class WHERE oid = 'nosql_data."cdc.big"'::regclass;
SELECT cmd('cdc', '{"update": "big", "updates": [{"q": {"_id": 1}, "u": {"$set": {"t": 1}}}]}');
UPDATE nosql_data."cdc.big" SET _id = _id;
SELECT cmd('cdc', '{"delete": "big", "deletes": [{"q": {}, "limit": 0}]}');
SELECT nosql.kv_put('cdc/big', convert_to(s, 'UTF8')) > 0 AS put FROM big;
-- an _id TOASTed apart from the document, which an update leaves as it is
-- (the key comes from the document then)
SELECT cmd('cdc', format('{"insert": "big", "documents": [{"_id": "%s", "s": "%s"}]}', left(s, 2400), right(s, 9000))) FROM big;
SELECT cmd('cdc', '{"update": "big", "updates": [{"q": {}, "u": {"$set": {"t": 2}}}]}');
SELECT cmd('cdc', '{"delete": "big", "deletes": [{"q": {}, "limit": 0}]}');
-- (with full_document post_image, an update event carries the document)
SELECT (data::bson) ->> 'operationType' AS op,
       length((data::bson) -> 'fullDocument' ->> 's') AS s_length,
       (data::bson) -> 'fullDocument' -> 't' AS t,
       CASE WHEN (data::bson) -> 'documentKey' ->> '_id' = (SELECT left(s, 2400) FROM big)
            THEN 'the long _id' ELSE (data::bson) -> 'documentKey' ->> '_id' END AS key,
       length((data::bson) -> 'kv' ->> 'value') AS value_length,
       data ~ 'null' AS has_null
  FROM cdc_peek('collections', 'cdc.big', 'kv_prefix', 'cdc/', 'full_document', 'post_image');
SELECT (SELECT length(s) FROM big) AS expected_length;

-- Update events: an update by operators is an "update" event whose
-- updateDescription says what changed, as MongoDB reports it: a path an
-- operator names comes whole (a $set document or array, a $pull, $pop or
-- $addToSet array), a plain $push its new elements by index, $unset and
-- $rename's source in removedFields; a pipeline update is the difference
-- of the documents, truncated arrays in truncatedArrays.  No fullDocument
-- by default.
SELECT count(*) > 0 AS consumed FROM pg_logical_slot_get_changes('nosql_cdc', NULL, NULL);
SELECT cmd('cdc', '{"insert": "u", "documents": [
    {"_id": 1, "a": 1, "s": "x", "n": {"x": 1, "y": [1, 2]}, "arr": [1, 2, 3],
     "objs": [{"k": 1, "v": 1}, {"k": 2, "v": 2}], "d": null},
    {"_id": 2, "a": 2}, {"_id": 3, "a": 3}]}');
CREATE FUNCTION upd(u text, q text DEFAULT '{"_id": 1}', more text DEFAULT '') RETURNS text
    LANGUAGE sql AS $$
    SELECT (cmd('cdc', format('{"update": "u", "updates": [{"q": %s, "u": %s%s}]}', q, u, more))
            ->> 'nModified') || ' ' || u
$$;
SELECT upd('{"$set": {"a": 2}}');
SELECT upd('{"$set": {"n.z": 1, "p.q.r": 1}}');
SELECT upd('{"$set": {"n.y": [1, 2, 3]}}');
SELECT upd('{"$set": {"arr.1": 20}}');
SELECT upd('{"$set": {"arr.4": 5}}');
SELECT upd('{"$unset": {"s": "", "arr.2": "", "nothing": ""}}');
SELECT upd('{"$inc": {"a": 1, "n.x": 1}}');
SELECT upd('{"$mul": {"a": 2}}');
SELECT upd('{"$min": {"a": 1}, "$max": {"n.x": 10}}');
SELECT upd('{"$currentDate": {"d": true}}');
SELECT upd('{"$bit": {"a": {"or": 4}}}');
SELECT upd('{"$push": {"arr": 6}}');
SELECT upd('{"$push": {"arr": {"$each": [7, 8]}}}');
SELECT upd('{"$push": {"arr": {"$each": [0], "$position": 0}}}');
SELECT upd('{"$push": {"arr": {"$each": [], "$slice": 4}}}');
SELECT upd('{"$addToSet": {"arr": 100}}');
SELECT upd('{"$pop": {"arr": 1}}');
SELECT upd('{"$pop": {"arr": -1}}');
SELECT upd('{"$pull": {"arr": {"$gte": 20}}}');
SELECT upd('{"$pullAll": {"n.y": [2, 3]}}');
SELECT upd('{"$rename": {"n.x": "nx", "p": "n.p"}}');
SELECT upd('{"$set": {"objs.$.v": 20}}', '{"_id": 1, "objs.k": 2}');
SELECT upd('{"$inc": {"objs.$[].v": 1}}');
SELECT upd('{"$set": {"objs.$[o].v": 0}}', '{"_id": 1}', ', "arrayFilters": [{"o.k": 1}]');
SELECT upd('{"$set": {"objs.0": {"k": 1}}}');
SELECT upd('[{"$set": {"arr": {"$slice": ["$arr", 1]}, "n.y": [], "w": "$a"}}, {"$unset": "a"}]');
SELECT upd('[{"$set": {"objs": [{"k": 1, "v": 5}]}}]');
-- nothing changes: no event (MongoDB's no-op update)
SELECT upd('{"$set": {"w": 5}}');
SELECT upd('{"$setOnInsert": {"x": 1}}');
SELECT upd('{"$pull": {"arr": 999}}');
-- several documents in one statement, and two updates of one document in
-- one transaction: one event each
SELECT cmd('cdc', '{"update": "u", "updates": [{"q": {"_id": {"$gt": 1}}, "u": {"$inc": {"a": 1}}, "multi": true}]}');
BEGIN;
SELECT upd('{"$set": {"t": 1}}', '{"_id": 2}');
SELECT upd('{"$set": {"t": 2}}', '{"_id": 2}');
COMMIT;
-- findAndModify, an upsert that inserts (an insert event), a replacement
SELECT cmd('cdc', '{"findAndModify": "u", "query": {"_id": 3}, "update": {"$set": {"f": 1}}}') -> 'value';
SELECT upd('{"$set": {"v": 1}, "$setOnInsert": {"w": 1}}', '{"_id": 4}', ', "upsert": true');
SELECT upd('{"replaced": true}', '{"_id": 3}');
-- a rolled back update emits nothing
BEGIN;
SELECT upd('{"$set": {"never": 1}}');
ROLLBACK;
-- messages of other prefixes, non-transactional ones, a broken update
-- message and one no row change follows emit nothing; nor does a
-- replacement written in SQL right after an update message of its row
SELECT 'x' FROM pg_logical_emit_message(true, 'other', 'x');
SELECT 'x' FROM pg_logical_emit_message(false, 'nosql.update', 'x');
SELECT 'x' FROM pg_logical_emit_message(true, 'nosql.update', '\x05000000'::bytea);
SELECT 'x' FROM pg_logical_emit_message(true, 'nosql.ddl', 'broken');
SELECT 'x' FROM pg_logical_emit_message(true, 'nosql.ddl', '{"op": "nonsense", "db": "cdc"}'::bson::bytea);
SELECT 'x' FROM pg_logical_emit_message(true, 'nosql.update',
    format('{"o": {"$numberLong": "%s"}, "_id": 1, "u": {"forged": 1}}', 'nosql_data."cdc.u"'::regclass::oid)::bson::bytea);
UPDATE nosql_data."cdc.u" SET document = '{"_id": 2, "sql": true}' WHERE _id::text = '2';
SELECT n, (data::bson) ->> 'operationType' AS op, (data::bson) -> 'documentKey' ->> '_id' AS id,
       regexp_replace((data::bson) ->> 'updateDescription', '"\$date": "[^"]*"', '"$date": "<now>"', 'g') AS description,
       (data::bson) -> 'fullDocument' AS doc
  FROM cdc_peek('collections', 'cdc.u', 'include_kv', 'false');
-- full_document post_image: the document after the update, last
SELECT cdc_mask(data) FROM cdc_peek('collections', 'cdc.u', 'include_kv', 'false', 'full_document', 'post_image')
 WHERE (data::bson) ->> 'operationType' = 'update' LIMIT 1;
SELECT count(*) AS with_doc FROM cdc_peek('collections', 'cdc.u', 'full_document', 'post_image')
 WHERE (data::bson) -> 'fullDocument' IS NOT NULL;
SELECT count(*) AS with_doc FROM cdc_peek('collections', 'cdc.u', 'full_document', 'default')
 WHERE (data::bson) -> 'fullDocument' IS NOT NULL;
-- an update's token and clusterTime are its row change's (after its message)
SELECT count(*) AS updates, bool_and((data::json -> 'clusterTime' -> '$timestamp' ->> 'i')::int = 2) AS second_change
  FROM cdc_peek('collections', 'cdc.u', 'include_kv', 'false')
 WHERE (data::bson) ->> 'operationType' = 'update' AND (data::bson) -> 'documentKey' ->> '_id' = '1';
SELECT * FROM cdc_peek('full_document', 'updateLookup');
SELECT * FROM cdc_peek('full_document', '');
SELECT count(*) > 0 AS consumed FROM pg_logical_slot_get_changes('nosql_cdc', NULL, NULL);

-- A collection is named as it was when the change was made: a rename
-- between two inserts, and a name too long for the table's name (the
-- table is then c_<uuid>: the name comes from the catalog).
SELECT cmd('cdc', '{"insert": "ren", "documents": [{"_id": "before"}]}');
SELECT cmd('admin', '{"renameCollection": "cdc.ren", "to": "cdc.ren2"}');
SELECT cmd('cdc', '{"insert": "ren2", "documents": [{"_id": "after"}]}');
SELECT cmd('cdc', format('{"insert": "%s", "documents": [{"_id": "long"}]}', repeat('l', 70)));
SELECT relation::text ~ '^nosql_data\.c_' AS uuid_table FROM nosql.collections WHERE name = repeat('l', 70);
SELECT (data::bson) -> 'ns' AS ns, (data::bson) -> 'documentKey' AS key
  FROM cdc_peek('include_kv', 'false', 'collections', 'cdc.ren,cdc.ren2');
SELECT (data::bson) -> 'documentKey' AS key FROM cdc_peek('include_kv', 'false', 'collections', 'cdc.ren');
SELECT (data::bson) -> 'documentKey' AS key FROM cdc_peek('include_kv', 'false', 'collections', 'cdc.ren2');
SELECT (data::bson) -> 'ns' ->> 'coll' = repeat('l', 70) AS long_name, (data::bson) -> 'documentKey' AS key
  FROM cdc_peek('include_kv', 'false', 'collections', 'cdc.' || repeat('l', 70));

-- DDL events: a collection's drop (command and SQL function), rename (also
-- onto an existing collection, which drops it first), and a database's
-- drop (its collections' drops, then dropDatabase); a view's drop and a
-- failed rename emit nothing.  A collection filter takes a rename in by its
-- source or its target, a database's drop by any collection of it.
SELECT count(*) > 0 AS consumed FROM pg_logical_slot_get_changes('nosql_cdc', NULL, NULL);
SELECT cmd('cdc', '{"create": "dd"}');
SELECT cmd('cdc', '{"create": "dd2"}');
SELECT cmd('cdc', '{"create": "dv", "viewOn": "dd", "pipeline": []}');
SELECT cmd('cdc', '{"drop": "dd"}');
SELECT cmd('cdc', '{"drop": "dv"}');
SELECT cmd('cdc', '{"drop": "nothing"}');
SELECT nosql.drop_collection('cdc.dd2');
SELECT cmd('admin', '{"renameCollection": "cdc.ren2", "to": "cdc.ren3"}');
SELECT cmd('admin', '{"renameCollection": "cdc.nothing", "to": "cdc.ren4"}') ->> 'codeName';
SELECT cmd('cdc', '{"insert": "ren4", "documents": [{"_id": 1}]}');
SELECT cmd('admin', '{"renameCollection": "cdc.ren3", "to": "cdc.ren4", "dropTarget": true}');
SELECT cmd('cdcx', '{"insert": "x", "documents": [{"_id": 1}]}');
SELECT cmd('cdcx', '{"insert": "y", "documents": [{"_id": 1}]}');
SELECT cmd('cdcx', '{"dropDatabase": 1}');
SELECT cmd('cdcx', '{"dropDatabase": 1}');
SELECT cdc_mask(data) FROM cdc_peek('include_kv', 'false')
 WHERE (data::bson) ->> 'operationType' NOT IN ('insert', 'update', 'replace', 'delete')
   AND (data::bson) -> 'ns' ->> 'db' IN ('cdc', 'cdcx');
SELECT (data::bson) ->> 'operationType' AS op, (data::bson) -> 'ns' AS ns, (data::bson) -> 'to' AS "to"
  FROM cdc_peek('include_kv', 'false', 'collections', 'cdc.ren2,cdcx.y')
 WHERE (data::bson) ->> 'operationType' NOT IN ('insert', 'update', 'replace', 'delete');
SELECT count(*) AS none FROM cdc_peek('include_kv', 'false', 'include_collections', 'false');

-- Pre-images: a collection created with changeStreamPreAndPostImages has
-- REPLICA IDENTITY FULL, so its updates, replacements and deletes log the
-- old row, which option full_document_before_change 'on' puts into
-- fullDocumentBeforeChange (last); collMod switches it off and on, and a
-- collection without the option logs no old document.  A TOASTed old
-- document comes out whole.
SELECT count(*) > 0 AS consumed FROM pg_logical_slot_get_changes('nosql_cdc', NULL, NULL);
SELECT cmd('cdc', '{"create": "pre", "changeStreamPreAndPostImages": {"enabled": true}}');
SELECT cmd('cdc', '{"create": "nopre", "changeStreamPreAndPostImages": {"enabled": false}}');
SELECT c.name, t.relreplident, c.options FROM nosql.collections c JOIN pg_class t ON t.oid = c.relation
 WHERE c.database = 'cdc' AND c.name IN ('pre', 'nopre') ORDER BY 1;
SELECT cmd('cdc', '{"insert": "pre", "documents": [{"_id": 1, "x": 1}]}');
SELECT cmd('cdc', '{"insert": "nopre", "documents": [{"_id": 1, "x": 1}]}');
INSERT INTO nosql_data."cdc.pre"
    SELECT '2', ('{"_id": 2, "big": "' || string_agg(md5(i::text), '') || '"}')::bson
      FROM generate_series(1, 4000) i;
SELECT pg_relation_size(reltoastrelid) > 0 AS toasted FROM pg_class
 WHERE oid = 'nosql_data."cdc.pre"'::regclass;
SELECT cmd('cdc', '{"update": "pre", "updates": [{"q": {"_id": 1}, "u": {"$set": {"x": 2}}}]}');
SELECT cmd('cdc', '{"update": "pre", "updates": [{"q": {"_id": 1}, "u": {"y": 3}}]}');
SELECT cmd('cdc', '{"delete": "pre", "deletes": [{"q": {"_id": 1}, "limit": 1}]}');
SELECT cmd('cdc', '{"update": "nopre", "updates": [{"q": {"_id": 1}, "u": {"$set": {"x": 2}}}]}');
SELECT cmd('cdc', '{"update": "nopre", "updates": [{"q": {"_id": 1}, "u": {"y": 3}}]}');
SELECT cmd('cdc', '{"delete": "nopre", "deletes": [{"q": {"_id": 1}, "limit": 1}]}');
SELECT n, cdc_mask(data)
  FROM cdc_peek('include_kv', 'false', 'collections', 'cdc.pre,cdc.nopre',
                'full_document_before_change', 'on', 'full_document', 'post_image')
 WHERE data !~ '"big"';
-- off (the default) gives no pre-image
SELECT count(*) AS without FROM cdc_peek('include_kv', 'false', 'collections', 'cdc.pre')
 WHERE data ~ 'fullDocumentBeforeChange';
SELECT count(*) AS off FROM cdc_peek('include_kv', 'false', 'collections', 'cdc.pre',
                                     'full_document_before_change', 'off')
 WHERE data ~ 'fullDocumentBeforeChange';
-- the TOASTed document, updated then deleted: its pre-image is whole
SELECT cmd('cdc', '{"update": "pre", "updates": [{"q": {"_id": 2}, "u": {"$set": {"x": 1}}}]}');
SELECT cmd('cdc', '{"delete": "pre", "deletes": [{"q": {"_id": 2}, "limit": 1}]}');
SELECT (data::bson) ->> 'operationType' AS op,
       (data::bson) -> 'fullDocumentBeforeChange' ->> 'big' =
         (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 4000) i) AS whole,
       (data::bson) -> 'fullDocumentBeforeChange' ->> 'x' AS x
  FROM cdc_peek('include_kv', 'false', 'collections', 'cdc.pre', 'full_document_before_change', 'on')
 WHERE (data::bson) -> 'documentKey' ->> '_id' = '2' AND (data::bson) ->> 'operationType' <> 'insert';
-- collMod: off goes back to REPLICA IDENTITY DEFAULT, and leaves the
-- option out of listCollections; on again sets FULL
SELECT count(*) > 0 AS consumed FROM pg_logical_slot_get_changes('nosql_cdc', NULL, NULL);
SELECT cmd('cdc', '{"collMod": "pre", "changeStreamPreAndPostImages": {"enabled": false}}');
SELECT cmd('cdc', '{"collMod": "nopre", "changeStreamPreAndPostImages": {"enabled": true}}');
SELECT c.name, t.relreplident, c.options FROM nosql.collections c JOIN pg_class t ON t.oid = c.relation
 WHERE c.database = 'cdc' AND c.name IN ('pre', 'nopre') ORDER BY 1;
SELECT cmd('cdc', '{"listCollections": 1, "filter": {"name": {"$in": ["pre", "nopre"]}}}')
       -> 'cursor' -> 'firstBatch' -> '0' -> 'options' AS nopre_options;
SELECT cmd('cdc', '{"insert": "pre", "documents": [{"_id": 3}]}');
SELECT cmd('cdc', '{"insert": "nopre", "documents": [{"_id": 3}]}');
SELECT cmd('cdc', '{"delete": "pre", "deletes": [{"q": {"_id": 3}, "limit": 1}]}');
SELECT cmd('cdc', '{"delete": "nopre", "deletes": [{"q": {"_id": 3}, "limit": 1}]}');
SELECT (data::bson) -> 'ns' ->> 'coll' AS coll, (data::bson) -> 'fullDocumentBeforeChange' AS before
  FROM cdc_peek('include_kv', 'false', 'collections', 'cdc.pre,cdc.nopre', 'full_document_before_change', 'on')
 WHERE (data::bson) ->> 'operationType' = 'delete';
-- views have no pre-images (InvalidOptions)
SELECT cmd('cdc', '{"create": "preview", "viewOn": "pre", "pipeline": []}');
SELECT cmd('cdc', '{"collMod": "preview", "changeStreamPreAndPostImages": {"enabled": false}}');
SELECT cmd('cdc', '{"create": "preview2", "viewOn": "pre", "pipeline": [], "changeStreamPreAndPostImages": {"enabled": true}}');
SELECT cmd('cdc', '{"drop": "preview"}');
-- bad values
SELECT * FROM cdc_peek('full_document_before_change', 'whenAvailable');

-- prev_kv: with the option, a PUT over a live key and a DELETE carry the
-- version they replace, etcd's KeyValue as prev_kv (after kv); a put of a
-- new key, or of a deleted one, has none.  Every write path: kv_put,
-- kv_put_prev, kv_delete (of one key, of a range: one per tombstone),
-- kv_txn (two puts and a delete at one revision), a lease's revoke.
SELECT count(*) >= 0 AS consumed FROM pg_logical_slot_get_changes('nosql_cdc', NULL, NULL);
SELECT nosql.kv_put('pk/a', 'a1') AS pk_start \gset
SELECT nosql.kv_put('pk/a', 'a2');                            -- over a live key
SELECT nosql.kv_put('pk/b', '\x00ff'::bytea);                 -- new key
SELECT revision FROM nosql.kv_put_prev('pk/b', '\x01'::bytea);  -- binary over binary
SELECT nosql.kv_delete('pk/a');                               -- prev: a2
SELECT nosql.kv_put('pk/a', 'a3');                            -- over a tombstone
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "pk/a", "value": "a4"}},
                                  {"request_put": {"key": "pk/c", "value": "c1"}},
                                  {"request_delete_range": {"key": "pk/b"}}]}') -> 'header';
SELECT nosql.kv_put('pk/d', 'd1');
SELECT nosql.kv_delete('pk/a', 'pk/d');                       -- a and c, not d
SELECT nosql.lease_grant(3600, 4242) AS lease;
SELECT nosql.kv_put('pk/l', 'l1', 4242);
SELECT nosql.kv_put('pk/m', 'm1', 4242);
SELECT nosql.lease_revoke(4242);                              -- l and m
-- a collection write after a put in one transaction: the kv_prev message
-- is a change of the transaction, so the insert's ordinal is 3
BEGIN;
SELECT nosql.kv_put('pk/d', 'd2');
SELECT cmd('cdc', '{"insert": "c", "documents": [{"_id": "after kv"}]}');
COMMIT;
CREATE TEMP TABLE pk AS
SELECT n, data::jsonb AS e FROM cdc_peek('include_collections', 'false', 'kv_prefix', 'pk/', 'prev_kv', 'on');
-- one event in full, then each event's revision, type, key and prev_kv
SELECT e FROM pk WHERE n = 2;
SELECT e -> 'header' -> 'revision' ->> '$numberLong' AS rev, e ->> 'type' AS type,
       e -> 'kv' ->> 'key' AS key, e -> 'prev_kv' ->> 'value' AS prev_value,
       e -> 'prev_kv' -> 'value' -> '$binary' ->> 'base64' AS prev_binary,
       e -> 'prev_kv' -> 'mod_revision' ->> '$numberLong' AS prev_mod,
       e -> 'prev_kv' -> 'create_revision' ->> '$numberLong' AS prev_create,
       e -> 'prev_kv' -> 'version' ->> '$numberLong' AS prev_version,
       e -> 'prev_kv' -> 'lease' ->> '$numberLong' AS prev_lease
  FROM pk ORDER BY n;
-- the prev_kv of every event is the version nosql.kv_watch(prev_kv) gives
-- the value of (the key's previous row unless that is a tombstone)
SELECT count(*) AS events,
       count(*) FILTER (WHERE w.prev_value IS NOT DISTINCT FROM
                        CASE WHEN p.e -> 'prev_kv' -> 'value' ? '$binary'
                             THEN decode(p.e -> 'prev_kv' -> 'value' -> '$binary' ->> 'base64', 'base64')
                             ELSE convert_to(p.e -> 'prev_kv' ->> 'value', 'UTF8') END) AS same_as_watch,
       count(*) FILTER (WHERE p.e ? 'prev_kv') AS with_prev
  FROM pk p
  JOIN nosql.kv_watch('pk/', 'pk0', :pk_start, prev_kv => true) w
    ON w.revision = (p.e -> 'header' -> 'revision' ->> '$numberLong')::bigint
   AND w.key = p.e -> 'kv' ->> 'key';
-- without the option (or with it off) the events are the same but for
-- prev_kv, which none has
SELECT count(*) AS events, count(*) FILTER (WHERE q.data::jsonb ? 'prev_kv') AS with_prev,
       bool_and(q.data::jsonb = pk.e - 'prev_kv') AS same_otherwise
  FROM cdc_peek('include_collections', 'false', 'kv_prefix', 'pk/') q JOIN pk USING (n);
SELECT count(*) AS events, count(*) FILTER (WHERE data ~ 'prev_kv') AS with_prev
  FROM cdc_peek('include_collections', 'false', 'kv_prefix', 'pk/', 'prev_kv', 'off');
SELECT substr(data::bson -> '_id' ->> '_data', 17) AS ordinal
  FROM cdc_peek('collections', 'cdc.c', 'include_kv', 'false', 'prev_kv', 'on');
SELECT * FROM cdc_peek('prev_kv', 'maybe');
DROP TABLE pk;

-- Streaming (stream_changes): a transaction whose changes outgrow
-- logical_decoding_work_mem comes out while it runs, in blocks framed by
-- control messages, its events with a placeholder position (zeros for the
-- token's commit LSN, the epoch for the times) that its commit message
-- gives; a rolled-back savepoint's events are in the stream, and its
-- abort message says which to drop: those whose LSN lies from its
-- firstLsn up to (not including) its abortLsn.
SELECT count(*) > 0 AS consumed FROM pg_logical_slot_get_changes('nosql_cdc', NULL, NULL);
SET logical_decoding_work_mem = '64kB';
CREATE FUNCTION many(first int, last int) RETURNS bson LANGUAGE sql AS $$
    SELECT cmd('cdc', format('{"insert": "c", "documents": [%s]}',
                             string_agg(format('{"_id": "s%s", "pad": "%s"}', g, repeat('x', 200)), ',')))
      FROM generate_series(first, last) g
$$;
BEGIN;
SELECT many(1, 400) ->> 'n' AS n;
SAVEPOINT s;
SELECT many(401, 700) ->> 'n' AS n;
ROLLBACK TO s;
SELECT many(701, 701) ->> 'n' AS n;
COMMIT;
CREATE TEMP TABLE streamed AS
SELECT n, lsn, x, data::jsonb AS m
  FROM cdc_peek('format', 'json', 'include_kv', 'false', 'collections', 'cdc.c', 'stream_changes', 'on');
-- the control messages, in order (blocks of the one transaction, an abort
-- of its subtransaction, its commit)
SELECT m ->> 'stream' AS control, count(*) > 0 AS seen,
       count(*) = 1 AS once
  FROM streamed WHERE m ? 'stream' GROUP BY 1 ORDER BY 1;
SELECT bool_and(m -> 'subxid' ->> '$numberLong' = x::text) AS xid_column,
       bool_and(m ->> 'subxid' <> m ->> 'xid') AS subtransaction
  FROM streamed WHERE m ->> 'stream' = 'abort';
SELECT (SELECT max(n) FROM streamed) = n AS commit_is_last,
       m ? 'commitLsn' AND m ? '_data' AND m ? 'clusterTime' AND m ? 'wallTime' AS position
  FROM streamed WHERE m ->> 'stream' = 'commit';
-- every block is framed: start, its events, stop
SELECT count(*) AS unframed FROM streamed e
 WHERE NOT e.m ? 'stream'
   AND (SELECT s.m ->> 'stream' FROM streamed s WHERE s.n < e.n AND s.m ->> 'stream' IN ('start', 'stop')
         ORDER BY s.n DESC LIMIT 1) IS DISTINCT FROM 'start';
-- events: placeholders, distinct ordinals; those in the aborted
-- subtransaction's LSN range are of its documents, the others the 401
-- committed
SELECT bool_and(m -> '_id' ->> '_data' LIKE '0000000000000000%') AS zero_lsn,
       bool_and((m -> 'wallTime' ->> '$date') LIKE '1970-01-01%') AS epoch,
       count(DISTINCT m -> '_id' ->> '_data') = count(*) AS distinct_tokens
  FROM streamed WHERE NOT m ? 'stream';
SELECT count(*) FILTER (WHERE a.n IS NULL) AS kept,
       bool_and(substr(e.m -> 'fullDocument' ->> '_id', 2)::int BETWEEN 401 AND 700)
         FILTER (WHERE a.n IS NOT NULL) AS dropped_are_rolled_back
  FROM streamed e LEFT JOIN streamed a
    ON a.m ->> 'stream' = 'abort'
   AND e.lsn >= (a.m ->> 'firstLsn')::pg_lsn AND e.lsn < (a.m ->> 'abortLsn')::pg_lsn
 WHERE NOT e.m ? 'stream';
-- the same transaction without streaming: the 401 events of the commit,
-- the same documents in the same order
SELECT count(*) AS events,
       array_agg(data::jsonb -> 'fullDocument' ->> '_id' ORDER BY n) =
       (SELECT array_agg(e.m -> 'fullDocument' ->> '_id' ORDER BY e.n) FROM streamed e
         WHERE NOT e.m ? 'stream' AND NOT EXISTS (
               SELECT FROM streamed a WHERE a.m ->> 'stream' = 'abort'
                  AND e.lsn >= (a.m ->> 'firstLsn')::pg_lsn AND e.lsn < (a.m ->> 'abortLsn')::pg_lsn)) AS same
  FROM cdc_peek('format', 'json', 'include_kv', 'false', 'collections', 'cdc.c');
-- a rolled-back transaction streamed: its blocks, then its abort (a
-- commit after it flushes the WAL that has the abort)
SELECT count(*) > 0 AS consumed FROM pg_logical_slot_get_changes('nosql_cdc', NULL, NULL);
BEGIN;
SELECT many(1001, 1400) ->> 'n' AS n;
ROLLBACK;
SELECT cmd('cdc', '{"insert": "c", "documents": [{"_id": "after"}]}');
SELECT data::jsonb ->> 'stream' AS control, count(*) > 0 AS seen,
       bool_or(data::jsonb ->> 'subxid' = data::jsonb ->> 'xid') AS top_level
  FROM pg_logical_slot_get_changes('nosql_cdc', NULL, NULL, 'format', 'json', 'stream_changes', 'on',
                                   'include_kv', 'false', 'collections', 'cdc.c')
 GROUP BY 1 ORDER BY 1;
-- prev_kv in a streamed transaction: a range delete's kv_prev messages
-- outgrow logical_decoding_work_mem, so a block ends after some of them,
-- before the tombstones: the messages wait across blocks for their rows
SELECT count(*) >= 0 AS consumed FROM pg_logical_slot_get_changes('nosql_cdc', NULL, NULL);
SELECT count(nosql.kv_put(format('ps/%s', lpad(g::text, 3, '0')), repeat('v', 300) || g))
  FROM generate_series(1, 300) g;
SELECT count(*) > 0 AS consumed FROM pg_logical_slot_get_changes('nosql_cdc', NULL, NULL);
SELECT nosql.kv_delete('ps/', 'ps0');
CREATE TEMP TABLE kv_streamed AS
SELECT n, lsn, x, data::jsonb AS m
  FROM cdc_peek('format', 'json', 'include_collections', 'false', 'kv_prefix', 'ps/',
                'stream_changes', 'on', 'prev_kv', 'on');
SELECT count(*) AS deletes,
       count(*) FILTER (WHERE m -> 'prev_kv' ->> 'value' =
                        repeat('v', 300) || ltrim(substr(m -> 'kv' ->> 'key', 4), '0')
                        AND m -> 'prev_kv' ->> 'key' = m -> 'kv' ->> 'key') AS right_prev,
       (SELECT count(*) FROM kv_streamed s
         WHERE s.m ->> 'stream' = 'stop' AND s.n < min(d.n)) > 0 AS block_ended_before
  FROM kv_streamed d WHERE m ->> 'type' = 'DELETE';
DROP TABLE kv_streamed;
SELECT * FROM cdc_peek('stream_changes', 'sometimes');
RESET logical_decoding_work_mem;
DROP TABLE streamed;

SELECT pg_drop_replication_slot('nosql_cdc');

-- The kv_prev messages cost WAL only when a slot with plugin nosql exists
-- in the database: test_decoding shows the messages a transaction wrote.
SELECT 'created' FROM pg_create_logical_replication_slot('nosql_cdc_td', 'test_decoding');
SELECT nosql.kv_put('pk/d', 'd3');
SELECT count(*) FILTER (WHERE data ~ 'nosql.kv_prev') AS messages_without_slot
  FROM pg_logical_slot_get_changes('nosql_cdc_td', NULL, NULL);
SELECT 'created' FROM pg_create_logical_replication_slot('nosql_cdc_other', 'nosql');
SELECT nosql.kv_put('pk/d', 'd4');
SELECT nosql.kv_delete('pk/d');
SELECT count(*) FILTER (WHERE data ~ 'nosql.kv_prev') AS messages_with_slot
  FROM pg_logical_slot_get_changes('nosql_cdc_td', NULL, NULL);
SELECT e -> 'prev_kv' ->> 'value' AS prev_value
  FROM (SELECT data::jsonb AS e
          FROM pg_logical_slot_get_changes('nosql_cdc_other', NULL, NULL, 'include_collections', 'false',
                                           'kv_prefix', 'pk/', 'prev_kv', 'on')) s;
SELECT pg_drop_replication_slot('nosql_cdc_other');
SELECT pg_drop_replication_slot('nosql_cdc_td');

-- The plugin needs the collection catalog to be a user catalog table.
ALTER TABLE nosql.collection RESET (user_catalog_table);
SELECT 'created' FROM pg_create_logical_replication_slot('nosql_cdc_bad', 'nosql');
SELECT cmd('cdc', '{"insert": "c", "documents": [{"_id": "unseen"}]}');
\set SHOW_CONTEXT never
SELECT count(*) FROM pg_logical_slot_peek_changes('nosql_cdc_bad', NULL, NULL, 'include_kv', 'false');
\set SHOW_CONTEXT errors
SELECT pg_drop_replication_slot('nosql_cdc_bad');
ALTER TABLE nosql.collection SET (user_catalog_table = true);
SELECT cmd('cdc', '{"dropDatabase": 1}');
DROP TABLE cdc_plain;
