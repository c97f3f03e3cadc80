-- The document API: collections, the ergonomic SQL functions and
-- nosql.run_command, their errors, transactions and permissions.  The
-- MongoDB semantics in depth are checked by the recorded conformance cases
-- (test/conformance) and the unit tests of the engines.
SET search_path = public, nosql;
SET nosql.database = 'shop';

-- collections: created on first insert or explicitly; plain tables
SELECT create_collection('orders');
SELECT name, database, type, relation FROM collections ORDER BY database, name;
SELECT insert_one('orders', '{"_id": 1, "item": "pen", "qty": 10, "tags": ["office", "blue"]}');
SELECT insert_one('orders', '{"_id": 2, "item": "ink", "qty": 25, "tags": ["office"], "price": {"$numberDecimal": "9.99"}}');
SELECT insert_many('orders', '[{"_id": 3, "item": "pad", "qty": 5}, {"_id": 4, "item": "pen", "qty": 1, "size": {"h": 14, "w": 21}}]');
-- a generated _id is an ObjectId, first in the document
SELECT bson_typeof(insert_one('orders', '{"item": "clip", "qty": 100}'));
SELECT (SELECT key FROM jsonb_each(document::jsonb) LIMIT 1) AS first_key
  FROM nosql_data."shop.orders" WHERE document @@ '{"item": "clip"}';
SELECT count(*) FROM nosql_data."shop.orders";

-- find: filter, projection, sort, skip, limit
SELECT find('orders', '{"qty": {"$gte": 5}}', '{"_id": 0, "item": 1, "qty": 1}', '{"qty": -1}');
SELECT find('orders', '{}', '{"item": 1}', '{"_id": 1}', 1, 2);
SELECT find('orders', '{"tags": "office"}', '{"tags": {"$slice": 1}, "item": 1}', '{"_id": 1}');
SELECT find_one('orders', '{"_id": 2}');
SELECT find_one('orders', '{"_id": 99}') IS NULL AS missing;
SELECT count('orders', '{}'), count('orders', '{"item": "pen"}');
-- count(text) is still the aggregate with nosql on the search_path
SELECT count(x) FROM (VALUES ('a'::text), (NULL)) v(x);
SELECT nosql.distinct('orders', 'item', '{"qty": {"$lt": 50}}');
SELECT nosql.distinct('orders', 'tags');

-- updates: operators, counts, upsert, replacement
SELECT update_one('orders', '{"_id": 1}', '{"$inc": {"qty": 5}, "$push": {"tags": "sale"}}');
SELECT update_one('orders', '{"_id": 1}', '{"$set": {"qty": 15}}');   -- no change: not modified
SELECT update_many('orders', '{"item": "pen"}', '{"$set": {"onSale": true}}');
SELECT update_one('orders', '{"_id": 7}', '{"$set": {"item": "tape"}, "$setOnInsert": {"qty": 0}}', true);
SELECT replace_one('orders', '{"_id": 3}', '{"item": "notepad", "qty": 6}');
SELECT find('orders', '{"_id": {"$in": [1, 3, 7]}}', NULL, '{"_id": 1}');
SELECT find_one_and_update('orders', '{"item": "ink"}', '{"$inc": {"qty": -1}}', NULL, true);
SELECT find_one_and_update('orders', '{"item": "nothing"}', '{"$inc": {"qty": -1}}');

-- deletes
SELECT delete_one('orders', '{"item": "pen"}');
SELECT delete_many('orders', '{"qty": {"$lt": 10}}');
SELECT find('orders', '{}', '{"_id": 0, "item": 1}', '{"item": 1}');

-- SQL over the collection's table, joined with a relational table
CREATE TABLE stock (item text PRIMARY KEY, warehouse text);
INSERT INTO stock VALUES ('ink', 'north'), ('clip', 'south');
SELECT s.warehouse, o.document->>'item' AS item, (o.document->'qty')::int AS qty
  FROM nosql_data."shop.orders" o JOIN stock s ON s.item = o.document->>'item'
 ORDER BY 1;

-- indexes (recorded in the catalog)
SELECT create_index('orders', '{"item": 1, "qty": -1}');
SELECT run_command('shop', '{"listIndexes": "orders"}');
-- backed by a btree over the key expressions (src/indexes.c), which find uses
SELECT regexp_replace(indexdef, 'nosql_ix_[0-9a-f_]+', 'nosql_ix_...') AS btree FROM pg_indexes
 WHERE schemaname = 'nosql_data' AND tablename = 'shop.orders' AND indexname LIKE 'nosql_ix_%';
SELECT drop_index('orders', 'item_1_qty_-1');
SELECT count(*) AS gin_indexes FROM pg_indexes
 WHERE schemaname = 'nosql_data' AND tablename = 'shop.orders' AND indexname LIKE 'nosql_ix_%';

-- run_command: replies and MongoDB's errors
SELECT run_command('shop', '{"insert": "orders", "documents": [{"_id": 2}, {"_id": 50}], "ordered": false}');
SELECT run_command('shop', '{"find": "orders", "filter": {"_id": 50}, "projection": {"_id": 1}}');
SELECT run_command('shop', '{"update": "orders", "updates": [{"q": {"_id": 50}, "u": {"$set": {"_id": 51}}}]}');
SELECT run_command('shop', '{"find": "orders", "filter": {"$where": "1"}}');
SELECT run_command('shop', '{"find": "orders", "filter": {"a": {"$bogus": 1}}}');
SELECT run_command('shop', '{"find": "orders", "skip": -1}');
SELECT run_command('shop', '{"noSuchCommand": 1}');
SELECT run_command('shop', '{"create": "orders"}');
SELECT run_command('shop', '{"create": "bad$name"}');
SELECT run_command('shop', '{"getMore": {"$numberLong": "12345"}, "collection": "orders"}');
SELECT run_command('shop', '{"drop": "missing"}');
SELECT run_command('shop', '{"count": "missing"}');
SELECT run_command('bad.db', '{"ping": 1}');
-- found by test/conformance/fuzz_commands.py: a null where a document is read
SELECT run_command('shop', '{"listCollections": 1, "cursor": null}')->'ok' AS ok;

-- cursors: a first batch, getMore, the end, killCursors
SELECT insert_many('batchy', (SELECT ('[' || string_agg(format('{"_id": %s}', i), ',') || ']')::bson
                               FROM generate_series(1, 10) i));
CREATE TEMP TABLE c AS
  SELECT run_command('shop', '{"find": "batchy", "sort": {"_id": 1}, "batchSize": 4}') AS r;
SELECT r->'cursor'->'firstBatch' AS first, (r->'cursor'->'id')::bigint <> 0 AS open FROM c;
SELECT run_command('shop', format('{"getMore": %s, "collection": "batchy", "batchSize": 4}', (SELECT r->'cursor'->'id' FROM c))::bson)->'cursor'->'nextBatch';
SELECT r2->'cursor'->'nextBatch' AS last, r2->'cursor'->'id' AS id
  FROM (SELECT run_command('shop', format('{"getMore": %s, "collection": "batchy", "batchSize": 4}', (SELECT r->'cursor'->'id' FROM c))::bson) AS r2) x;
SELECT run_command('shop', format('{"getMore": %s, "collection": "batchy", "batchSize": 4}', (SELECT r->'cursor'->'id' FROM c))::bson)->'code' AS gone;

-- an idle cursor is closed after nosql.cursor_timeout
SET nosql.cursor_timeout = '1s';
CREATE TEMP TABLE c2 AS
  SELECT run_command('shop', '{"find": "batchy", "batchSize": 2}') AS r;
SELECT pg_sleep(1.2);
SELECT run_command('shop', format('{"getMore": %s, "collection": "batchy"}', (SELECT r->'cursor'->'id' FROM c2))::bson)->'codeName' AS expired;
RESET nosql.cursor_timeout;
-- killCursors
CREATE TEMP TABLE c3 AS
  SELECT run_command('shop', '{"find": "batchy", "batchSize": 2}') AS r;
SELECT run_command('shop', format('{"killCursors": "batchy", "cursors": [%s]}', (SELECT r->'cursor'->'id' FROM c3))::bson)->'cursorsKilled' = format('[%s]', (SELECT r->'cursor'->'id' FROM c3))::bson AS killed;
SELECT run_command('shop', format('{"getMore": %s, "collection": "batchy"}', (SELECT r->'cursor'->'id' FROM c3))::bson)->'codeName' AS after_kill;

-- errors of the SQL functions: SQLSTATE and MongoDB's code in the detail
\set VERBOSITY default
SELECT insert_one('orders', '{"_id": 2}');
SELECT insert_one('orders', '{"_id": [1]}');
SELECT update_one('orders', '{"_id": 2}', '{"$inc": {"item": 1}}');
SELECT update_one('orders', '{"_id": 2}', '{"item": "x"}');
SELECT find('orders', '{"$where": "1"}');
SELECT find('bad$coll');
SELECT insert_many('orders', '{"not": "an array"}');

-- transactional with SQL: a rolled back insert leaves nothing
BEGIN;
SELECT insert_one('orders', '{"_id": 1000, "item": "ghost"}');
UPDATE stock SET warehouse = 'east';
ROLLBACK;
SELECT count('orders', '{"_id": 1000}') AS ghosts, (SELECT warehouse FROM stock WHERE item = 'ink');
-- an error inside run_command rolls back only that command
BEGIN;
SELECT run_command('shop', '{"insert": "orders", "documents": [{"_id": 2000}]}');
SELECT run_command('shop', '{"update": "orders", "updates": [{"q": {"_id": 2000}, "u": {"$set": {"_id": 1}}}]}')->'writeErrors';
COMMIT;
SELECT find_one('orders', '{"_id": 2000}');

-- permissions: collections are tables, GRANT/REVOKE and RLS apply
CREATE ROLE doc_reader;
CREATE ROLE doc_nobody;
GRANT SELECT ON nosql_data."shop.orders" TO doc_reader;
SET ROLE doc_reader;
SELECT count('orders', '{}') > 0 AS can_read;
SELECT insert_one('orders', '{"_id": 3000}');
SELECT run_command('shop', '{"insert": "orders", "documents": [{"_id": 3000}]}')->'code' AS code;
RESET ROLE;
SET ROLE doc_nobody;
SELECT find('orders');
SELECT run_command('shop', '{"find": "orders"}')->'codeName' AS code_name;
SELECT run_command('shop', '{"drop": "orders"}')->'codeName' AS code_name;
RESET ROLE;
ALTER TABLE nosql_data."shop.orders" ENABLE ROW LEVEL SECURITY;
CREATE POLICY only_ink ON nosql_data."shop.orders" FOR SELECT TO doc_reader
  USING (document->>'item' = 'ink');
SET ROLE doc_reader;
SELECT find('orders', '{}', '{"item": 1}');
RESET ROLE;
DROP POLICY only_ink ON nosql_data."shop.orders";
ALTER TABLE nosql_data."shop.orders" DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON nosql_data."shop.orders" FROM doc_reader;
DROP ROLE doc_reader;
DROP ROLE doc_nobody;

-- validators: enforced on insert and update, bypassDocumentValidation skips them
SELECT run_command('shop', '{"create": "checked", "validator": {"a": {"$type": "int"}}}');
SELECT run_command('shop', '{"insert": "checked", "documents": [{"_id": 1, "a": 1}, {"_id": 2, "a": "x"}], "ordered": false}');
SELECT run_command('shop', '{"update": "checked", "updates": [{"q": {"_id": 1}, "u": {"$set": {"a": "x"}}}]}');
SELECT run_command('shop', '{"update": "checked", "updates": [{"q": {"_id": 1}, "u": {"$set": {"a": "x"}}}], "bypassDocumentValidation": true}');
SELECT run_command('shop', '{"findAndModify": "checked", "query": {"_id": 1}, "update": {"$set": {"a": "y"}}}')->'code';
SELECT find('shop.checked');

-- names MongoDB allows: dots, unicode, long names
SELECT create_collection('shop.a.b.c');
SELECT create_collection('shop.日本語');
SELECT create_collection('shop.' || repeat('x', 200));
SELECT left(name, 12) AS name, octet_length(name) AS bytes,
       relation::text LIKE 'nosql_data.c_%' AS generated_table
  FROM collections WHERE database = 'shop' AND name NOT IN ('orders', 'batchy') ORDER BY name;

-- rename and drop; a table dropped by SQL leaves the catalog
SELECT run_command('admin', '{"renameCollection": "shop.a.b.c", "to": "shop.abc"}');
SELECT name, relation FROM collections WHERE database = 'shop' AND name LIKE 'a%';
DROP TABLE nosql_data."shop.abc";
SELECT count(*) FROM collections WHERE name = 'abc';
SELECT drop_collection('orders'), drop_collection('orders');
SELECT run_command('shop', '{"dropDatabase": 1}');
SELECT count(*) FROM collections WHERE database = 'shop';
