-- $geoNear (src/agg_geonear.c): the nearest documents first with their
-- distance (meters for a GeoJSON point, radians for a legacy pair with
-- spherical, coordinate units for a flat one), the query option, minimum
-- and maximum distances, distanceMultiplier, includeLocs, the key and the
-- index it needs, the stages after it, errors with MongoDB's codes and the
-- plan (the query's index scan under a sort by distance).
SET search_path = public, nosql;
SET max_parallel_workers_per_gather = 0;

SELECT run_command('gn', '{"createIndexes": "s", "indexes": [{"key": {"loc": "2dsphere"}, "name": "loc_2dsphere"}, {"key": {"cat": 1}, "name": "cat_1"}]}');
SELECT insert_many('gn.s', '[
  {"_id": 3, "loc": {"type": "Point", "coordinates": [3, 0]}, "cat": "a"},
  {"_id": 1, "loc": {"type": "Point", "coordinates": [1, 0]}, "cat": "b"},
  {"_id": 2, "loc": {"type": "Point", "coordinates": [2, 0]}, "cat": "a"},
  {"_id": 4, "loc": {"type": "LineString", "coordinates": [[10, 1], [10, -1]]}, "cat": "a"},
  {"_id": 5, "loc": [0.5, 0], "cat": "b"},
  {"_id": 6, "cat": "a"},
  {"_id": 7, "loc": "not a place", "cat": "a"}]');

CREATE FUNCTION gn(pipeline text) RETURNS SETOF bson LANGUAGE sql AS $$
    SELECT aggregate('gn.s', pipeline::bson)
$$;
CREATE FUNCTION gn_cmd(pipeline text) RETURNS bson LANGUAGE sql AS $$
    SELECT run_command('gn', ('{"aggregate": "s", "pipeline": ' || pipeline || ', "cursor": {}}')::bson)
$$;

-- nearest first, in meters; documents without a geometry are left out
SELECT gn('[{"$geoNear": {"near": {"type": "Point", "coordinates": [0, 0]}, "distanceField": "dist"}}]');
-- a legacy pair with spherical: radians
SELECT gn('[{"$geoNear": {"near": [0, 0], "distanceField": "d", "spherical": true}}, {"$project": {"d": 1}}]');
-- query (through the index on cat), maxDistance and minDistance (before the multiplier)
SELECT gn('[{"$geoNear": {"near": {"type": "Point", "coordinates": [0, 0]}, "distanceField": "km", "query": {"cat": "a"}, "minDistance": 100000, "maxDistance": 300000, "distanceMultiplier": 0.001}}]');
-- a constant expression as a distance
SELECT gn('[{"$geoNear": {"near": {"type": "Point", "coordinates": [0, 0]}, "distanceField": "d", "maxDistance": {"$multiply": [1000, 150]}}}, {"$project": {"d": 1}}]');
-- includeLocs and dotted output paths (a non-document on the way is replaced)
SELECT gn('[{"$geoNear": {"near": {"type": "Point", "coordinates": [10, 0]}, "distanceField": "cat.d", "includeLocs": "where.loc", "maxDistance": 200000}}]');
-- no distanceField: the documents only
SELECT gn('[{"$geoNear": {"near": {"type": "Point", "coordinates": [0, 0]}, "maxDistance": 60000}}]');
-- a multiplier of -0 gives -0
SELECT gn('[{"$geoNear": {"near": [0.5, 0], "distanceField": "d", "spherical": true, "distanceMultiplier": {"$numberDouble": "-0.0"}, "maxDistance": 0.01}}, {"$project": {"d": 1}}]');
-- the stages after it see the distance
SELECT gn('[{"$geoNear": {"near": {"type": "Point", "coordinates": [0, 0]}, "distanceField": "dist"}}, {"$match": {"dist": {"$lt": 200000}}}, {"$group": {"_id": "$cat", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]');
SELECT gn('[{"$match": {}}, {"$geoNear": {"near": {"type": "Point", "coordinates": [0, 0]}, "distanceField": "dist"}}, {"$skip": 1}, {"$limit": 2}, {"$project": {"_id": 1}}]');
-- in a $lookup pipeline
SELECT run_command('gn', '{"insert": "o", "documents": [{"_id": "x"}]}');
SELECT run_command('gn', '{"aggregate": "o", "pipeline": [{"$lookup": {"from": "s", "pipeline": [{"$geoNear": {"near": {"type": "Point", "coordinates": [0, 0]}, "distanceField": "d", "maxDistance": 60000}}], "as": "near"}}], "cursor": {}}');

-- a 2d index: flat distances, and it is preferred to the 2dsphere index
SELECT run_command('gn', '{"createIndexes": "f", "indexes": [{"key": {"p": "2d"}, "name": "p_2d"}, {"key": {"q": "2dsphere"}, "name": "q_2dsphere"}]}');
SELECT insert_many('gn.f', '[{"_id": 1, "p": [3, 4], "q": [3, 4]}, {"_id": 2, "p": [1, 1], "q": [1, 1]}, {"_id": 3, "p": {"x": -1, "y": 0}}]');
SELECT aggregate('gn.f', '[{"$geoNear": {"near": [0, 0], "distanceField": "d"}}]');
-- key chooses the field
SELECT aggregate('gn.f', '[{"$geoNear": {"near": {"type": "Point", "coordinates": [0, 0]}, "distanceField": "d", "key": "q"}}, {"$project": {"d": 1}}]');

-- errors: the specification
SELECT gn_cmd('[{"$geoNear": 1}]');
SELECT gn_cmd('[{"$geoNear": [1, 2]}]');
SELECT gn_cmd('[{"$geoNear": {"distanceField": "d"}}]');
SELECT gn_cmd('[{"$geoNear": {"near": null}}]');
SELECT gn_cmd('[{"$geoNear": {"near": "$loc"}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [1]}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [{"$numberDouble": "NaN"}, 0]}}]');
SELECT gn_cmd('[{"$geoNear": {"near": {"type": "LineString", "coordinates": [0, 0]}}}]');
SELECT gn_cmd('[{"$geoNear": {"near": {"type": "Point", "coordinates": [0, 91]}}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "distanceField": 1}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "distanceField": "a."}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "includeLocs": true}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "includeLocs": ""}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "key": 1}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "key": ""}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "key": "$loc"}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "maxDistance": "far"}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "maxDistance": -1}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "maxDistance": "$far"}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "minDistance": {"$add": ["$far", 1]}}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "minDistance": {"$numberDecimal": "NaN"}}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "distanceMultiplier": null}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "distanceMultiplier": -2}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "query": 1}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "query": {"loc": {"$near": [0, 0]}}}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "query": {"$text": {"$search": "x"}}}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "bogus": 1}}]');
-- errors: the position, the collection, the index
SELECT gn_cmd('[{"$match": {"cat": "a"}}, {"$geoNear": {"near": [0, 0], "spherical": true}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "spherical": true}}, {"$geoNear": {"near": [0, 0], "spherical": true}}]');
SELECT run_command('gn', '{"aggregate": "nothing", "pipeline": [{"$geoNear": {"near": [0, 0]}}], "cursor": {}}');
SELECT run_command('gn', '{"aggregate": "o", "pipeline": [{"$geoNear": {"near": [0, 0]}}], "cursor": {}}');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "spherical": false}}]');
SELECT gn_cmd('[{"$geoNear": {"near": [0, 0], "key": "cat", "spherical": true}}]');
SELECT run_command('gn', '{"aggregate": "f", "pipeline": [{"$geoNear": {"near": [181, 0]}}], "cursor": {}}');
SELECT run_command('gn', '{"createIndexes": "f", "indexes": [{"key": {"r": "2d"}, "name": "r_2d"}]}');
SELECT run_command('gn', '{"aggregate": "f", "pipeline": [{"$geoNear": {"near": [0, 0]}}], "cursor": {}}');
SELECT run_command('gn', '{"aggregate": "s", "pipeline": [{"$geoNear": {"near": [0, 0], "spherical": true}}], "hint": {"$natural": 1}, "cursor": {}}');

-- the plan: the query's index, the distance computed once, PostgreSQL's sort
SELECT regexp_replace(jsonb_array_elements_text(run_command('gn', '{"aggregate": "s", "explain": true, "pipeline": [{"$geoNear": {"near": {"type": "Point", "coordinates": [0, 0]}, "distanceField": "d", "query": {"cat": "b"}, "maxDistance": 1000000}}, {"$limit": 1}]}')::jsonb->'postgres'->'plan'), 'nosql_ix_\w+', 'nosql_ix_N') AS plan;
SELECT run_command('gn', '{"aggregate": "s", "explain": true, "pipeline": [{"$geoNear": {"near": [0, 0], "spherical": true, "distanceField": "d", "minDistance": 0.01}}]}')::jsonb->'postgres'->>'sql' AS sql;

-- the distance and location as metadata
SELECT gn('[{"$geoNear": {"near": {"type": "Point", "coordinates": [0, 0]}, "distanceMultiplier": 0.001, "maxDistance": 150000}}, {"$project": {"d": {"$meta": "geoNearDistance"}, "p": {"$meta": "geoNearPoint"}}}]');
SELECT gn('[{"$geoNear": {"near": [0, 0], "spherical": true, "distanceField": "d", "maxDistance": 0.02}}, {"$sort": {"x": {"$meta": "geoNearDistance"}}}, {"$project": {"d": 1}}]');
SELECT gn_cmd('[{"$sort": {"x": {"$meta": "geoNearDistance"}}}]');
SELECT gn_cmd('[{"$sort": {"x": {"$meta": "geoNearPoint"}}}]');
