-- bulkWrite: MongoDB 8's admin command mixing inserts, updates and deletes
-- on several collections; one reply item per operation in a cursor.
SET search_path = public, nosql;

-- inserts, updates (with an upsert) and deletes over two namespaces
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [
  {"insert": 0, "document": {"_id": 1, "x": 1}},
  {"insert": 0, "document": {"_id": 2, "x": 2}},
  {"insert": 1, "document": {"_id": 1, "y": 1}},
  {"update": 0, "filter": {"x": {"$gte": 1}}, "updateMods": {"$inc": {"x": 10}}, "multi": true},
  {"update": 1, "filter": {"_id": 7}, "updateMods": {"$set": {"y": 7}}, "upsert": true},
  {"update": 0, "filter": {"_id": 2}, "updateMods": {"_id": 2, "z": 3}},
  {"delete": 1, "filter": {"_id": 1}},
  {"delete": 0, "filter": {"x": {"$gt": 100}}, "multi": true}],
  "nsInfo": [{"ns": "bulkdb.a"}, {"ns": "bulkdb.b"}]}');
SELECT run_command('bulkdb', '{"find": "a", "sort": {"_id": 1}}');
SELECT run_command('bulkdb', '{"find": "b", "sort": {"_id": 1}}');

-- a duplicate key is a per-operation error; ordered stops there
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [
  {"insert": 0, "document": {"_id": 3}},
  {"insert": 0, "document": {"_id": 1}},
  {"delete": 0, "filter": {"_id": 3}}],
  "nsInfo": [{"ns": "bulkdb.a"}]}');
-- unordered goes on; errorsOnly keeps only the failures
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [
  {"insert": 0, "document": {"_id": 1}},
  {"update": 0, "filter": {"_id": 2}, "updateMods": {"$set": {"_id": 5}}},
  {"insert": 0, "document": {"_id": [4]}},
  {"delete": 0, "filter": {"_id": 3}}],
  "nsInfo": [{"ns": "bulkdb.a"}], "ordered": false, "errorsOnly": true}');
-- a hint must name an existing index
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [
  {"delete": 0, "filter": {}, "hint": "no_such_index"},
  {"update": 0, "filter": {"_id": 1}, "updateMods": {"$set": {"h": 1}}, "hint": {"_id": 1}}],
  "nsInfo": [{"ns": "bulkdb.a"}], "ordered": false}');
-- a replacement cannot be multi; the update is checked even with nothing to update
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [
  {"update": 0, "filter": {}, "updateMods": {"a": 1}, "multi": true},
  {"update": 0, "filter": {}, "updateMods": {"$bad": 1}}],
  "nsInfo": [{"ns": "bulkdb.missing"}], "ordered": false}');
-- on a missing collection: nothing matched, nothing created
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [
  {"update": 0, "filter": {}, "updateMods": {"$set": {"a": 1}}},
  {"delete": 0, "filter": {}}], "nsInfo": [{"ns": "bulkdb.missing"}]}');
SELECT run_command('bulkdb', '{"listCollections": 1, "nameOnly": true, "filter": {"name": "missing"}}');

-- errors of the whole command (nothing is written)
SELECT run_command('bulkdb', '{"bulkWrite": 1, "ops": [{"insert": 0, "document": {}}], "nsInfo": [{"ns": "bulkdb.a"}]}');
SELECT run_command('admin', '{"bulkWrite": 1, "nsInfo": [{"ns": "bulkdb.a"}]}');
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [{"insert": 0, "document": {}}]}');
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [], "nsInfo": [{"ns": "bulkdb.a"}]}');
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [{"insert": 0, "document": {}}], "nsInfo": []}');
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [{"insert": 1, "document": {}}], "nsInfo": [{"ns": "bulkdb.a"}]}');
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [{"insert": 0, "document": {}}], "nsInfo": [{"ns": "nodot"}]}');
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [{"insert": 0, "document": {}}], "nsInfo": [{"ns": "bulkdb.a"}], "ordered": 1}');
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [{"insert": 0, "document": 1}], "nsInfo": [{"ns": "bulkdb.a"}]}');
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [{"update": 0, "filter": {}, "updateMods": 1}], "nsInfo": [{"ns": "bulkdb.a"}]}');
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [{"delete": 0, "filter": {}, "hint": 1}], "nsInfo": [{"ns": "bulkdb.a"}]}');
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [{"delete": 0}], "nsInfo": [{"ns": "bulkdb.a"}]}');
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [{"replace": 0, "document": {}}], "nsInfo": [{"ns": "bulkdb.a"}]}');
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [{"insert": 0, "document": {}}], "nsInfo": [{"ns": "bulkdb.a"}], "extra": 1}');
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [{"insert": 0, "document": {"_id": 9}}], "nsInfo": [{"ns": "bulkdb.a"}], "nsInfo2": 1}');
SELECT run_command('bulkdb', '{"count": "a", "query": {"_id": 9}}');

SELECT run_command('bulkdb', '{"dropDatabase": 1}');
