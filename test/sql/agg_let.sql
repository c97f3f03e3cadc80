-- let variables (src/agg_let.c): the aggregate command's let (every
-- expression of the pipeline, $match through $expr, sub-pipelines), the
-- command's constant $$NOW, $lookup with let + pipeline (per outer
-- document, with and without localField/foreignField, nested), find's,
-- update's and delete's let, and the errors of let.
SET search_path = public, nosql;

CREATE FUNCTION lcmd(c text) RETURNS bson
    LANGUAGE sql AS $$ SELECT nosql.run_command('lt', c::bson) $$;

SELECT lcmd('{"insert": "o", "documents": [
  {"_id": 1, "x": 1, "lf": "a", "t": "apple"},
  {"_id": 2, "x": 2, "lf": "b", "t": "Apple"},
  {"_id": 3, "x": 3, "lf": "c", "arr": [1, 2]}]}');
SELECT lcmd('{"insert": "f", "documents": [
  {"_id": 10, "y": 1, "ff": "a"},
  {"_id": 11, "y": 2, "ff": "a"},
  {"_id": 12, "y": 1, "ff": "b"},
  {"_id": 13, "y": 3, "ff": "c"}]}');

-- the command's let in $addFields, $match's $expr, $group and a path
SELECT lcmd('{"aggregate": "o", "pipeline": [
  {"$match": {"$expr": {"$gte": ["$x", "$$lo"]}}},
  {"$addFields": {"k": "$$k", "d": "$$doc.a.b", "sum": {"$add": ["$x", "$$k"]}}},
  {"$sort": {"_id": 1}}], "cursor": {},
  "let": {"lo": 2, "k": {"$add": [1, 2]}, "doc": {"a": {"b": "deep"}}}}');
SELECT lcmd('{"aggregate": "o", "pipeline": [{"$group": {"_id": "$$g", "n": {"$sum": "$$one"}}}],
  "cursor": {}, "let": {"g": "all", "one": 1}}');
-- a later variable uses an earlier one; $let and $map shadow a variable
SELECT lcmd('{"aggregate": "o", "pipeline": [{"$match": {"_id": 3}},
  {"$project": {"b": "$$b",
                "shadow": {"$let": {"vars": {"a": 100}, "in": "$$a"}},
                "m": {"$map": {"input": "$arr", "as": "a", "in": {"$add": ["$$a", "$$a"]}}},
                "lit": {"$literal": "$$a"}}}],
  "cursor": {}, "let": {"a": 1, "b": {"$multiply": ["$$a", 10]}}}');
-- a variable bound to missing
SELECT lcmd('{"aggregate": "o", "pipeline": [{"$match": {"_id": 1}},
  {"$project": {"m": "$$m", "isMissing": {"$eq": [{"$type": "$$m"}, "missing"]}}}],
  "cursor": {}, "let": {"m": "$$REMOVE"}}');
-- $$NOW is one value for the whole command
SELECT lcmd('{"aggregate": "o", "pipeline": [{"$project": {"same": {"$eq": ["$$NOW", "$$NOW"]},
  "type": {"$type": "$$NOW"}}}, {"$group": {"_id": "$same", "n": {"$sum": 1}}}], "cursor": {}}');
-- the variable of a $match outside $expr is a plain string
SELECT lcmd('{"aggregate": "o", "pipeline": [{"$match": {"t": "$$k"}}], "cursor": {}, "let": {"k": "apple"}}');

-- variables reach $facet's sub-pipelines; literal-only stage arguments are not bound
SELECT lcmd('{"aggregate": "o", "pipeline": [{"$facet": {"a": [{"$match": {"$expr": {"$eq": ["$x", "$$k"]}}},
  {"$project": {"_id": 1, "k": "$$k"}}]}}], "cursor": {}, "let": {"k": 2}}');
SELECT lcmd('{"aggregate": "o", "pipeline": [{"$skip": "$$NOW"}], "cursor": {}}');
SELECT lcmd('{"aggregate": "o", "pipeline": [{"$bucketAuto": {"groupBy": "$$k", "buckets": 1, "granularity": "$$k"}}],
  "cursor": {}, "let": {"k": "R5"}}');

-- $lookup with let + pipeline: the outer document's values per row
SELECT lcmd('{"aggregate": "o", "pipeline": [
  {"$lookup": {"from": "f", "let": {"xv": "$x"},
               "pipeline": [{"$match": {"$expr": {"$eq": ["$y", "$$xv"]}}},
                            {"$project": {"_id": 1, "v": "$$xv", "k": "$$k"}}],
               "as": "j"}},
  {"$project": {"j": 1}}, {"$sort": {"_id": 1}}], "cursor": {}, "let": {"k": "cmd"}}');
-- with localField/foreignField too: both conditions
SELECT lcmd('{"aggregate": "o", "pipeline": [
  {"$lookup": {"from": "f", "localField": "lf", "foreignField": "ff", "let": {"xv": "$x"},
               "pipeline": [{"$match": {"$expr": {"$eq": ["$y", "$$xv"]}}}], "as": "j"}},
  {"$project": {"j._id": 1}}, {"$sort": {"_id": 1}}], "cursor": {}}');
-- nested: an inner let from an outer variable; let: {} and let: null as if omitted
SELECT lcmd('{"aggregate": "o", "pipeline": [{"$match": {"_id": 1}},
  {"$lookup": {"from": "f", "let": {"xv": "$x"}, "pipeline": [
     {"$match": {"$expr": {"$eq": ["$y", "$$xv"]}}},
     {"$lookup": {"from": "o", "let": {"inner": {"$add": ["$$xv", 1]}}, "pipeline": [
        {"$match": {"$expr": {"$eq": ["$x", "$$inner"]}}}, {"$project": {"_id": 1, "outer": "$$xv"}}],
      "as": "back"}},
     {"$project": {"back": 1}}], "as": "j"}}], "cursor": {}}');
SELECT lcmd('{"aggregate": "o", "pipeline": [{"$match": {"_id": 1}},
  {"$lookup": {"from": "f", "let": {}, "pipeline": [{"$count": "n"}], "as": "j"}}], "cursor": {}}');
SELECT lcmd('{"aggregate": "o", "pipeline": [{"$match": {"_id": 1}},
  {"$lookup": {"from": "f", "let": null, "pipeline": [{"$count": "n"}], "as": "j"}}], "cursor": {}}');
-- the lookup's sub-pipeline reads under the command's collation
SELECT lcmd('{"aggregate": "o", "pipeline": [{"$match": {"_id": 1}},
  {"$lookup": {"from": "o", "let": {"tv": "$t"}, "pipeline": [
     {"$match": {"$expr": {"$eq": ["$t", "$$tv"]}}}, {"$project": {"_id": 1}}], "as": "j"}}],
  "cursor": {}, "collation": {"locale": "en", "strength": 2}}');
-- its sub-pipeline is checked once, even when no document reaches it
SELECT lcmd('{"aggregate": "o", "pipeline": [{"$match": {"_id": 99}},
  {"$lookup": {"from": "f", "let": {"xv": "$x"}, "pipeline": [{"$project": {"v": "$$nope"}}], "as": "j"}}], "cursor": {}}');
SELECT lcmd('{"aggregate": "o", "pipeline": [{"$match": {"_id": 99}},
  {"$lookup": {"from": "f", "let": {"xv": "$x"}, "pipeline": [{"$out": "x"}], "as": "j"}}], "cursor": {}}');
SELECT aggregate('lt.o', '[{"$match": {"_id": 2}}, {"$lookup": {"from": "f", "let": {"xv": "$x"},
  "pipeline": [{"$match": {"$expr": {"$eq": ["$y", "$$xv"]}}}], "as": "j"}}]');

-- errors of the command's let
SELECT lcmd('{"aggregate": "o", "pipeline": [], "cursor": {}, "let": 1}');
SELECT lcmd('{"aggregate": "o", "pipeline": [], "cursor": {}, "let": {"Bad": 1}}');
SELECT lcmd('{"aggregate": "o", "pipeline": [], "cursor": {}, "let": {"NOW": 1}}');
SELECT lcmd('{"aggregate": "o", "pipeline": [], "cursor": {}, "let": {"a": "$x"}}');
SELECT lcmd('{"aggregate": "o", "pipeline": [], "cursor": {}, "let": {"a": "$$NOW"}}');
SELECT lcmd('{"aggregate": "o", "pipeline": [], "cursor": {}, "let": {"a": "$$b", "b": 1}}');
SELECT lcmd('{"aggregate": "o", "pipeline": [], "cursor": {}, "let": {"a": {"$divide": [1, 0]}}}');
SELECT lcmd('{"aggregate": "o", "pipeline": [{"$project": {"v": "$$undefinedVar"}}], "cursor": {}}');

-- find, update, delete and bulkWrite
SELECT lcmd('{"find": "o", "filter": {"$expr": {"$eq": ["$t", "$$who"]}}, "projection": {"t": 1, "w": "$$who"}, "let": {"who": "apple"}}');
SELECT lcmd('{"find": "o", "filter": {"$expr": {"$eq": ["$t", "$$who"]}}, "let": {"who": "apple"},
  "collation": {"locale": "en", "strength": 2}, "sort": {"_id": 1}}');
SELECT lcmd('{"update": "o", "updates": [{"q": {"$expr": {"$eq": ["$x", "$$target"]}},
  "u": {"$set": {"u": "set"}}}], "let": {"target": 1}}');
SELECT lcmd('{"find": "o", "filter": {"_id": 1}}');
SELECT lcmd('{"delete": "o", "deletes": [{"q": {"$expr": {"$eq": ["$x", "$$target"]}}, "limit": 1}], "let": {"target": 3}}');
SELECT lcmd('{"find": "o", "filter": {}, "projection": {"_id": 1}}');
SELECT nosql.run_command('admin', '{"bulkWrite": 1, "ops": [{"update": 0, "filter": {"$expr": {"$eq": ["$x", "$$t"]}},
  "updateMods": {"$set": {"b": 1}}}], "nsInfo": [{"ns": "lt.o"}], "let": {"t": 2}}');
SELECT lcmd('{"find": "o", "filter": {"b": 1}}');

DROP FUNCTION lcmd(text);
SELECT drop_collection('lt.o');
SELECT drop_collection('lt.f');
