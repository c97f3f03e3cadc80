-- etcd Txn: compares, success and failure ops as one request at one revision.
SET nosql.bson_output = 'relaxed';
-- a new store (the test's own), so that the revisions below are fixed
TRUNCATE nosql.kv_history, nosql.kv_revision, nosql.kv_compaction;
SELECT nosql.kv_current_revision() AS r0 \gset
SELECT nosql.kv_put('a', '1'), nosql.kv_put('b', '2'), nosql.kv_put('a', '11');
-- a: version 2, create r0+1, mod r0+3; b: version 1, create = mod = r0+2

-- Every target and result; a missing key compares as version/revisions/lease 0.
CREATE TEMP TABLE cmp (c text);
INSERT INTO cmp VALUES
 ('{"key": "a", "target": "VALUE", "result": "EQUAL", "value": "11"}'),
 ('{"key": "a", "target": "VALUE", "result": "NOT_EQUAL", "value": "11"}'),
 ('{"key": "a", "target": "VALUE", "result": "GREATER", "value": "1"}'),
 ('{"key": "a", "target": "VALUE", "result": "LESS", "value": "2"}'),
 ('{"key": "a", "target": "VERSION", "result": "EQUAL", "version": 2}'),
 ('{"key": "a", "target": "VERSION", "result": "GREATER", "version": 1}'),
 ('{"key": "a", "target": "VERSION", "result": "LESS", "version": 2}'),
 ('{"key": "a", "version": 2}'),
 ('{"key": "a", "target": "CREATE", "result": "EQUAL", "create_revision": ' || (:r0 + 1) || '}'),
 ('{"key": "a", "target": "MOD", "result": "EQUAL", "mod_revision": ' || (:r0 + 3) || '}'),
 ('{"key": "a", "target": "MOD", "result": "LESS", "mod_revision": ' || (:r0 + 3) || '}'),
 ('{"key": "a", "target": "LEASE", "result": "EQUAL", "lease": 0}'),
 ('{"key": "a", "target": "LEASE", "result": "NOT_EQUAL", "lease": 0}'),
 ('{"key": "zz", "target": "VERSION", "result": "EQUAL", "version": 0}'),
 ('{"key": "zz", "target": "CREATE", "result": "EQUAL", "create_revision": 0}'),
 ('{"key": "zz", "target": "MOD", "result": "LESS", "mod_revision": 1}'),
 ('{"key": "zz", "target": "LEASE", "result": "EQUAL", "lease": 0}'),
 ('{"key": "zz", "target": "VALUE", "result": "EQUAL", "value": ""}'),
 ('{"key": "zz", "target": "VALUE", "result": "NOT_EQUAL", "value": "x"}'),
 ('{"key": "a", "range_end": "c", "target": "VERSION", "result": "GREATER", "version": 0}'),
 ('{"key": "a", "range_end": "c", "target": "VERSION", "result": "EQUAL", "version": 2}'),
 ('{"key": "a", "range_end": "\u0000", "target": "VALUE", "result": "NOT_EQUAL", "value": "x"}'),
 ('{"key": "x", "range_end": "z", "target": "VERSION", "result": "EQUAL", "version": 0}'),
 ('{"key": "x", "range_end": "z", "target": "VALUE", "result": "EQUAL", "value": ""}'),
 ('{"key": "a", "target": 3, "result": 0, "value": "11"}');
SELECT c, (nosql.kv_txn(('{"compare": [' || c || ']}')::nosql.bson)
           OPERATOR(nosql.->) 'succeeded')::text AS succeeded FROM cmp;
-- all compares must hold
SELECT nosql.kv_txn('{"compare": [{"key": "a", "version": 2}, {"key": "b", "version": 2}]}')
       OPERATOR(nosql.->) 'succeeded' AS both;

-- Success and failure branches; the reply is etcd's TxnResponse.
SELECT nosql.kv_txn(('{"compare": [{"key": "a", "target": "MOD", "result": "EQUAL", "mod_revision": ' || (:r0 + 3) || '}],
  "success": [{"request_put": {"key": "a", "value": "12", "prev_kv": true}},
              {"request_put": {"key": "c", "value": "3"}},
              {"request_range": {"key": "a", "range_end": "d"}},
              {"request_delete_range": {"key": "b", "prev_kv": true}}],
  "failure": [{"request_range": {"key": "a"}}]}')::nosql.bson);
SELECT nosql.kv_current_revision() - :r0 AS txn_is_one_revision;
SELECT key, mod_revision - :r0 AS rev, sub, deleted FROM nosql.kv_history
 WHERE mod_revision = :r0 + 4 ORDER BY sub;
-- the failure branch
SELECT nosql.kv_txn('{"compare": [{"key": "a", "target": "VALUE", "value": "nope"}],
  "success": [{"request_put": {"key": "a", "value": "x"}}],
  "failure": [{"request_range": {"key": "a", "keys_only": true}}, {"request_range": {"key": "a", "range_end": "\u0000", "count_only": true}}]}');
-- a txn that writes nothing creates no revision
SELECT nosql.kv_current_revision() - :r0 AS still;
SELECT nosql.kv_txn('{"success": [{"request_delete_range": {"key": "nothing"}}]}');
SELECT nosql.kv_txn('{}');
SELECT nosql.kv_current_revision() - :r0 AS still;
-- reads in the txn see its earlier writes; range options in a txn
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "t1", "value": "v"}},
  {"request_range": {"key": "t", "range_end": "u", "limit": 1, "sort_order": "DESCEND", "sort_target": "KEY"}},
  {"request_put": {"key": "t0", "value": "w"}},
  {"request_range": {"key": "t", "range_end": "u", "limit": 1}}]}');
-- nested txns: evaluated where they run, inside the one revision
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "n", "value": "1"}},
  {"request_txn": {"compare": [{"key": "n", "version": 1}],
                   "success": [{"request_put": {"key": "n2", "value": "yes"}}],
                   "failure": [{"request_put": {"key": "n2", "value": "no"}}]}}]}');
SELECT key, convert_from(value, 'UTF8'), mod_revision = create_revision AS same FROM nosql.kv_prefix('n');
-- binary keys and values; non-UTF-8 values come back as binary
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": {"$binary": {"base64": "Ymlu", "subType": "00"}}, "value": {"$binary": {"base64": "/wA=", "subType": "00"}}}},
  {"request_range": {"key": "bin"}}]}') OPERATOR(nosql.->) 'responses';
-- put with ignore_value / ignore_lease in a txn
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "n", "ignore_value": true, "prev_kv": true}}]}')
  OPERATOR(nosql.->) 'responses';

-- The txn is part of the SQL transaction: rolled back, it never happened.
SELECT nosql.kv_current_revision() AS r1 \gset
BEGIN;
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "rb", "value": "x"}}]}') OPERATOR(nosql.->) 'succeeded';
ROLLBACK;
SELECT nosql.kv_get('rb') IS NULL AS gone, nosql.kv_current_revision() = :r1 AS same_revision;

-- No key written twice in one branch; the two branches of a nested txn may.
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "d", "value": "1"}}, {"request_put": {"key": "d", "value": "2"}}]}');
SELECT nosql.kv_txn('{"success": [{"request_delete_range": {"key": "c", "range_end": "e"}}, {"request_put": {"key": "d", "value": "2"}}]}');
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "d", "value": "2"}}, {"request_delete_range": {"key": "d"}}]}');
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "d", "value": "1"}},
  {"request_txn": {"success": [{"request_put": {"key": "d", "value": "2"}}]}}]}');
SELECT nosql.kv_txn('{"success": [{"request_delete_range": {"key": "a", "range_end": "z"}},
  {"request_txn": {"failure": [{"request_put": {"key": "d", "value": "2"}}]}}]}');
SELECT nosql.kv_txn('{"success": [{"request_txn": {"compare": [{"key": "zz", "version": 5}],
    "success": [{"request_put": {"key": "d", "value": "then"}}],
    "failure": [{"request_put": {"key": "d", "value": "else"}}]}}]}') OPERATOR(nosql.->) 'succeeded';
SELECT convert_from(value, 'UTF8') FROM nosql.kv_get('d');
-- the two top-level branches are separate
SELECT nosql.kv_txn('{"compare": [{"key": "d", "value": "else", "target": "VALUE"}],
  "success": [{"request_put": {"key": "d", "value": "s"}}],
  "failure": [{"request_put": {"key": "d", "value": "f"}}]}') OPERATOR(nosql.->) 'succeeded';
-- deletes may overlap each other
SELECT nosql.kv_txn('{"success": [{"request_delete_range": {"key": "d"}}, {"request_delete_range": {"key": "a", "range_end": "e"}}]}')
  OPERATOR(nosql.->) 'succeeded';

-- Bad requests.
SELECT nosql.kv_txn('{"compare": [{"key": "a", "target": "SIZE", "version": 1}]}');
SELECT nosql.kv_txn('{"compare": [{"key": "a", "result": "ABOUT", "version": 1}]}');
SELECT nosql.kv_txn('{"compare": [{"key": "a", "target": "VALUE", "version": 1}]}');
SELECT nosql.kv_txn('{"compare": [{"key": "a", "version": 1, "mod_revision": 2}]}');
SELECT nosql.kv_txn('{"compare": [{"key": "a", "version": "one"}]}');
SELECT nosql.kv_txn('{"compare": [{"key": "a", "version": 1.5}]}');
SELECT nosql.kv_txn('{"compare": [{"target": "VERSION", "version": 1}]}');
SELECT nosql.kv_txn('{"compare": [{"key": "a", "colour": 1}]}');
SELECT nosql.kv_txn('{"compare": {"key": "a"}}');
SELECT nosql.kv_txn('{"compare": [1]}');
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "a", "value": "1"}, "request_range": {"key": "a"}}]}');
SELECT nosql.kv_txn('{"success": [{}]}');
SELECT nosql.kv_txn('{"success": [{"request_get": {"key": "a"}}]}');
SELECT nosql.kv_txn('{"success": [{"request_put": {"value": "1"}}]}');
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "", "value": "1"}}]}');
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": 5, "value": "1"}}]}');
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "a", "value": "1", "lease": 42}}]}');
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "a", "value": "1", "ignore_value": true}}]}');
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "absent", "ignore_value": true}}]}');
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "a", "value": "1", "prev_kv": 1}}]}');
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "a\u0000b", "value": "1"}}]}');
SELECT nosql.kv_txn('{"success": [{"request_range": {"key": "a", "sort_order": "SIDEWAYS"}}]}');
SELECT nosql.kv_txn('{"success": [{"request_range": {"key": "a", "revision": 100000}}]}');
SELECT nosql.kv_txn('{"success": [{"request_range": {"key": "a", "follow": true}}]}');
SELECT nosql.kv_txn('{"success": [{"request_delete_range": {"key": "a", "all": true}}]}');
SELECT nosql.kv_txn('{"success": [{"request_txn": {"compare": 3}}]}');
SELECT nosql.kv_txn('{"conditions": []}');
SELECT nosql.kv_txn('5');
SELECT nosql.kv_txn(('{"success": [' || string_agg('{"request_range": {"key": "a"}}', ',') || ']}')::nosql.bson)
  FROM generate_series(1, 129);
SELECT (nosql.kv_txn(('{"success": [' || string_agg('{"request_range": {"key": "a"}}', ',') || ']}')::nosql.bson)
        OPERATOR(nosql.->) 'succeeded')::text FROM generate_series(1, 128);
SELECT nosql.kv_txn((repeat('{"success": [{"request_txn": ', 20) || '{}' || repeat('}]}', 20))::nosql.bson);
SELECT nosql.kv_txn(NULL) IS NULL AS null_is_null;
-- a failed txn wrote nothing
SELECT nosql.kv_current_revision() - :r1 AS revisions_since;
