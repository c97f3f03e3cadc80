-- $lookup (src/agg_lookup.c, src/agg_pipeline.c): the equality form (array
-- local values, null and missing), the pipeline form, both together, the
-- "as" path, errors, and the plan of an indexed foreignField (a nested
-- loop over index scans of the foreign table).
SET search_path = public, nosql;
SET max_parallel_workers_per_gather = 0;

SELECT insert_many('lk.orders', '[
  {"_id": 1, "c": 10, "items": [{"p": "a"}, {"p": "b"}]},
  {"_id": 2, "c": [10, 11]},
  {"_id": 3, "c": null},
  {"_id": 4},
  {"_id": 5, "c": 12, "x": 5}]');
SELECT insert_many('lk.cust', '[
  {"_id": 10, "name": "ann"},
  {"_id": 11, "name": "bob"},
  {"_id": 12, "name": "cy", "ref": null},
  {"_id": 13, "name": "dee", "ref": 10}]');

-- equality form: arrays match any element, null/missing match null/missing
SELECT aggregate('lk.orders', '[{"$lookup": {"from": "cust", "localField": "c", "foreignField": "_id", "as": "cust"}}]');
SELECT aggregate('lk.orders', '[{"$lookup": {"from": "cust", "localField": "c", "foreignField": "ref", "as": "r"}}]');
-- through an array of documents; "as" replacing a dotted path
SELECT aggregate('lk.orders', '[{"$match": {"_id": 1}}, {"$lookup": {"from": "cust", "localField": "items.p", "foreignField": "name", "as": "x.y"}}]');
SELECT aggregate('lk.orders', '[{"$match": {"_id": 5}}, {"$lookup": {"from": "cust", "localField": "c", "foreignField": "_id", "as": "x.y"}}]');
-- a missing foreign collection
SELECT aggregate('lk.orders', '[{"$match": {"_id": 1}}, {"$lookup": {"from": "nope", "localField": "c", "foreignField": "_id", "as": "j"}}]');
-- pipeline form, and both together
SELECT aggregate('lk.orders', '[{"$match": {"_id": 1}}, {"$lookup": {"from": "cust", "pipeline": [{"$match": {"_id": {"$gt": 11}}}, {"$project": {"name": 1}}], "as": "j"}}]');
SELECT aggregate('lk.orders', '[{"$match": {"_id": 2}}, {"$lookup": {"from": "cust", "localField": "c", "foreignField": "_id", "pipeline": [{"$project": {"_id": 0, "name": 1}}], "as": "j"}}]');

-- errors
SELECT run_command('lk', '{"aggregate": "orders", "pipeline": [{"$lookup": "x"}], "cursor": {}}');
SELECT run_command('lk', '{"aggregate": "orders", "pipeline": [{"$lookup": {"localField": "a", "foreignField": "b", "as": "j"}}], "cursor": {}}');
SELECT run_command('lk', '{"aggregate": "orders", "pipeline": [{"$lookup": {"from": "cust", "localField": "a", "as": "j"}}], "cursor": {}}');
SELECT run_command('lk', '{"aggregate": "orders", "pipeline": [{"$lookup": {"from": "cust", "localField": "a", "foreignField": "b"}}], "cursor": {}}');
SELECT run_command('lk', '{"aggregate": "orders", "pipeline": [{"$lookup": {"from": "cust", "localField": "a", "foreignField": "b", "as": "$j"}}], "cursor": {}}');
SELECT run_command('lk', '{"aggregate": "orders", "pipeline": [{"$lookup": {"from": "cust", "localField": "a", "foreignField": "b", "as": "j", "z": 1}}], "cursor": {}}');
SELECT run_command('lk', '{"aggregate": "orders", "pipeline": [{"$lookup": {"from": "cust", "pipeline": [{"$out": "o"}], "as": "j"}}], "cursor": {}}');

-- plans: an indexed foreignField is read by index for each document
SELECT create_index('lk.cust', '{"ref": 1}');
ANALYZE nosql_data."lk.cust";
CREATE FUNCTION lk_plan(pipeline text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    l text;
BEGIN
    SET LOCAL enable_seqscan = off;
    FOR l IN SELECT jsonb_array_elements_text(run_command('lk', format('{"aggregate": "orders", "pipeline": %s, "explain": true}', pipeline)::bson)::jsonb->'postgres'->'plan')
    LOOP
        RETURN NEXT regexp_replace(l, 'nosql_([ih])x_[0-9]+_[0-9a-f]+_([a-z])[0-9a-f]+', 'nosql_\1x_\2', 'g');
    END LOOP;
END
$$;
SELECT lk_plan('[{"$lookup": {"from": "cust", "localField": "c", "foreignField": "ref", "as": "r"}}]');
SELECT lk_plan('[{"$lookup": {"from": "cust", "localField": "c", "foreignField": "_id", "as": "r"}}]');
SELECT aggregate('lk.orders', '[{"$lookup": {"from": "cust", "localField": "c", "foreignField": "ref", "as": "r"}}]');

DROP FUNCTION lk_plan(text);
SELECT drop_collection('lk.orders'), drop_collection('lk.cust');
