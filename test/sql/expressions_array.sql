-- Array and set expression operators ($map, $filter, $reduce, $zip,
-- $sortArray, $setUnion, ...) evaluated by find projections.  Each
-- operator's cases, errors included, are unit-tested in
-- test/unit/test_expr_array.c.
SET search_path = public, nosql;

SELECT run_command('arr', '{"insert": "c", "documents": [
  {"_id": 1, "a": [3, 1, 2], "b": [2, 4], "s": ["b", "A", "a"], "n": null},
  {"_id": 2, "a": [], "b": [1], "s": [], "n": 5}]}');

-- access, shape and search
SELECT run_command('arr', '{"find": "c", "projection": {"e": {"$arrayElemAt": ["$a", -1]},
  "f": {"$first": "$a"}, "l": {"$last": "$a"}, "sz": {"$size": "$a"}, "isa": {"$isArray": "$n"},
  "in": {"$in": [2, "$a"]}, "idx": {"$indexOfArray": ["$a", 2]}, "rev": {"$reverseArray": "$a"},
  "cat": {"$concatArrays": ["$a", "$b", [9]]}, "rng": {"$range": [0, {"$size": "$a"}]}}, "sort": {"_id": 1}}');
-- $slice nested in another expression (a top-level $slice is the projection''s own)
SELECT run_command('arr', '{"find": "c", "filter": {"_id": 1}, "projection": {"_id": 0,
  "s2": {"$size": {"$slice": ["$a", -2]}}, "s3": {"$concatArrays": [{"$slice": ["$a", 1, 5]}]}}}');
-- variables: $map, $filter (with limit), $reduce, nested
SELECT run_command('arr', '{"find": "c", "filter": {"_id": 1}, "projection": {"_id": 0,
  "m": {"$map": {"input": "$a", "as": "x", "in": {"$multiply": ["$$x", 10]}}},
  "f": {"$filter": {"input": "$a", "cond": {"$gte": ["$$this", 2]}, "limit": 1}},
  "r": {"$reduce": {"input": "$a", "initialValue": 0, "in": {"$add": ["$$value", "$$this"]}}},
  "nested": {"$map": {"input": "$b", "as": "o", "in": {"$filter": {"input": "$a", "cond": {"$lt": ["$$this", "$$o"]}}}}}}}');
-- $zip and $sortArray
SELECT run_command('arr', '{"find": "c", "filter": {"_id": 1}, "projection": {"_id": 0,
  "z": {"$zip": {"inputs": ["$a", "$b"]}},
  "zl": {"$zip": {"inputs": ["$a", "$b"], "useLongestLength": true, "defaults": [0, -1]}},
  "sa": {"$sortArray": {"input": "$a", "sortBy": -1}},
  "sd": {"$sortArray": {"input": [{"k": 2}, {"k": 1}], "sortBy": {"k": 1}}}}}');
-- set operators; strings compare under the command''s collation
SELECT run_command('arr', '{"find": "c", "filter": {"_id": 1}, "projection": {"_id": 0,
  "u": {"$setUnion": ["$a", "$b"]}, "i": {"$setIntersection": ["$a", "$b"]},
  "d": {"$setDifference": ["$a", "$b"]}, "eq": {"$setEquals": ["$a", [1, 2, 3, 3]]},
  "sub": {"$setIsSubset": ["$b", "$a"]}, "any": {"$anyElementTrue": [[0, null, "$n"]]},
  "all": {"$allElementsTrue": ["$a"]}}}');
SELECT run_command('arr', '{"find": "c", "filter": {"_id": 1}, "projection": {"_id": 0,
  "u": {"$setUnion": ["$s"]}, "in": {"$in": ["B", "$s"]}}, "collation": {"locale": "en", "strength": 2}}');
-- null and missing inputs make null
SELECT run_command('arr', '{"find": "c", "filter": {"_id": 1}, "projection": {"_id": 0,
  "m": {"$map": {"input": "$nope", "in": 1}}, "u": {"$setUnion": ["$a", "$n"]},
  "z": {"$zip": {"inputs": ["$a", "$nope"]}}, "e": {"$arrayElemAt": ["$a", "$nope"]}}}');

-- errors, with MongoDB's codes
SELECT run_command('arr', '{"find": "c", "projection": {"v": {"$size": "$n"}}}');
SELECT run_command('arr', '{"find": "c", "projection": {"v": {"$map": {"input": "$a"}}}}');
SELECT run_command('arr', '{"find": "c", "projection": {"v": {"$filter": {"input": "$a", "as": "X", "cond": true}}}}');
SELECT run_command('arr', '{"find": "c", "projection": {"v": {"$reduce": {"input": "$a", "in": 1}}}}');
SELECT run_command('arr', '{"find": "c", "projection": {"v": {"$map": {"input": "$a", "in": "$$value"}}}}');
SELECT run_command('arr', '{"find": "c", "projection": {"v": {"$indexOfArray": ["$a", 1, -1]}}}');
SELECT run_command('arr', '{"find": "c", "projection": {"v": {"$range": [0, 1, 0]}}}');
SELECT run_command('arr', '{"find": "c", "projection": {"v": {"$range": [-2147483648, 2147483647]}}}');
SELECT run_command('arr', '{"find": "c", "projection": {"v": {"$zip": {"inputs": ["$a"], "defaults": [1]}}}}');
SELECT run_command('arr', '{"find": "c", "projection": {"v": {"$sortArray": {"input": "$a", "sortBy": {"k": 0}}}}}');
SELECT run_command('arr', '{"find": "c", "projection": {"v": {"$setEquals": ["$a", "x"]}}}');
SELECT run_command('arr', '{"find": "c", "projection": {"v": {"$setDifference": ["$a", 1]}}}');
SELECT run_command('arr', '{"find": "c", "projection": {"v": {"$slice": ["$a", 0, 0]}}}');
SELECT run_command('arr', '{"find": "c", "projection": {"v": {"$in": [1, "$n"]}}}');

-- $firstN $lastN $maxN $minN $median $percentile over arrays
SELECT run_command('arr', '{"aggregate": 1, "pipeline": [{"$documents": [{"a": [3, 1, null, 2, "x"]}]}, {"$project": {"f": {"$firstN": {"input": "$a", "n": 2}}, "l": {"$lastN": {"input": "$a", "n": 2}}, "mx": {"$maxN": {"input": "$a", "n": 3}}, "mn": {"$minN": {"input": "$a", "n": 2}}, "md": {"$median": {"input": "$a", "method": "approximate"}}, "pc": {"$percentile": {"input": "$a", "p": [0.1, 0.9], "method": "continuous"}}, "all": {"$firstN": {"input": "$a", "n": 10}}}}], "cursor": {}}')::jsonb->'cursor'->'firstBatch';
SELECT run_command('arr', '{"aggregate": 1, "pipeline": [{"$documents": [{"a": ["a", "B", "c", "D"]}]}, {"$project": {"_id": 0, "r": {"$minN": {"n": 2, "input": "$a"}}}}], "cursor": {}, "collation": {"locale": "en", "strength": 1}}')::jsonb->'cursor'->'firstBatch';
SELECT run_command('arr', '{"aggregate": 1, "pipeline": [{"$documents": [{"a": 5}]}, {"$project": {"f": {"$firstN": {"input": "$a", "n": 2}}}}], "cursor": {}}');
SELECT run_command('arr', '{"aggregate": 1, "pipeline": [{"$documents": [{"a": [1]}]}, {"$project": {"f": {"$lastN": {"input": "$a", "n": 0}}}}], "cursor": {}}');
SELECT run_command('arr', '{"aggregate": 1, "pipeline": [{"$documents": [{"a": [1]}]}, {"$project": {"f": {"$maxN": {"input": "$a"}}}}], "cursor": {}}');
SELECT run_command('arr', '{"aggregate": 1, "pipeline": [{"$documents": [{"a": [1]}]}, {"$project": {"f": {"$median": {"input": "$a"}}}}], "cursor": {}}');
SELECT run_command('arr', '{"aggregate": 1, "pipeline": [{"$documents": [{"a": [1]}]}, {"$project": {"f": {"$percentile": {"input": "$a", "p": [2], "method": "approximate"}}}}], "cursor": {}}');

SELECT run_command('arr', '{"dropDatabase": 1}');
