-- Type, object and accumulator-style aggregation expressions in find
-- projections: $type, $convert and its shortcuts, $mergeObjects,
-- $getField/$setField/$unsetField, $objectToArray/$arrayToObject, $sum,
-- $avg, $min, $max, $stdDevPop.  Their semantics are unit-tested in
-- test/unit/test_expr_type.c; this checks the SQL surface and errors.
SET search_path = public, nosql;

SELECT run_command('exprtype', '{"insert": "t", "documents": [
  {"_id": 1, "s": "42", "d": "2018-03-20T12:00:00Z", "n": [1, 2.5, "x", null],
   "o": {"a": 1, "b": 2}, "dec": {"$numberDecimal": "1.5"}},
  {"_id": 2, "s": "abc", "n": [], "o": null, "dec": {"$numberDecimal": "-0.25"}}]}');

-- types and conversions
SELECT run_command('exprtype', '{"find": "t", "sort": {"_id": 1}, "projection": {
  "type": {"$type": "$s"}, "missing": {"$type": "$nosuch"},
  "int": {"$convert": {"input": "$s", "to": "int", "onError": "bad"}},
  "date": {"$toDate": "$d"}, "str": {"$toString": "$dec"},
  "long": {"$toLong": "$dec"}, "dbl": {"$toDouble": "$dec"},
  "bool": {"$toBool": "$s"}, "oid": {"$toObjectId": "507f1f77bcf86cd799439011"},
  "null": {"$convert": {"input": "$nosuch", "to": "decimal", "onNull": "none"}}}}');

-- accumulators over an array argument or several arguments
SELECT run_command('exprtype', '{"find": "t", "sort": {"_id": 1}, "projection": {
  "sum": {"$sum": "$n"}, "avg": {"$avg": "$n"}, "min": {"$min": "$n"},
  "max": {"$max": "$n"}, "sd": {"$stdDevPop": [1, 3]},
  "wide": {"$sum": [2147483647, 1]}, "decavg": {"$avg": ["$dec", 1]}}}');

-- objects
SELECT run_command('exprtype', '{"find": "t", "sort": {"_id": 1}, "projection": {
  "merged": {"$mergeObjects": ["$o", {"b": 3, "c": 4}]},
  "get": {"$getField": {"field": "a", "input": "$o"}},
  "set": {"$setField": {"field": "a.b", "input": "$o", "value": true}},
  "unset": {"$unsetField": {"field": "a", "input": "$o"}},
  "pairs": {"$objectToArray": "$o"},
  "back": {"$arrayToObject": [[["k", 1], ["k", 2]]]}}}');

-- errors: conversion failure, unknown type name, arity, bad arguments
SELECT run_command('exprtype', '{"find": "t", "projection": {"x": {"$toInt": "$s"}}}');
SELECT run_command('exprtype', '{"find": "t", "projection": {"x": {"$convert": {"input": 1, "to": "BOOL"}}}}');
SELECT run_command('exprtype', '{"find": "t", "projection": {"x": {"$toInt": [1, 2]}}}');
SELECT run_command('exprtype', '{"find": "t", "projection": {"x": {"$convert": {"to": "int"}}}}');
SELECT run_command('exprtype', '{"find": "t", "projection": {"x": {"$mergeObjects": [{}, "$s"]}}}');
SELECT run_command('exprtype', '{"find": "t", "projection": {"x": {"$setField": {"field": 1, "input": {}, "value": 1}}}}');
SELECT run_command('exprtype', '{"find": "t", "projection": {"x": {"$arrayToObject": "$s"}}}');

SELECT run_command('exprtype', '{"dropDatabase": 1}');
