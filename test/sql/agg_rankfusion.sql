-- $rankFusion (src/agg_rankfusion.c): reciprocal rank fusion of ranked
-- input pipelines (score = sum of weight / (60 + rank), competition ranks
-- under each pipeline's last $sort, ties by _id), weights, the stages
-- after it, in a $lookup pipeline, errors with MongoDB's codes and the
-- plan (window functions per pipeline, one aggregate by _id).
SET search_path = public, nosql;
SET max_parallel_workers_per_gather = 0;

SELECT insert_many('rf.c', '[
  {"_id": 1, "a": 10, "b": 1, "t": "x"},
  {"_id": 2, "a": 5, "b": 2, "t": "y"},
  {"_id": 3, "a": 1, "b": 3, "t": "x"},
  {"_id": 4, "a": 10, "t": "y"}]');

CREATE FUNCTION rf(pipeline text) RETURNS SETOF bson LANGUAGE sql AS $$
    SELECT aggregate('rf.c', pipeline::bson)
$$;
CREATE FUNCTION rf_cmd(pipeline text) RETURNS bson LANGUAGE sql AS $$
    SELECT run_command('rf', ('{"aggregate": "c", "pipeline": ' || pipeline || ', "cursor": {}}')::bson)
$$;

-- one pipeline: its order (equal keys share a rank, ties by _id)
SELECT rf('[{"$rankFusion": {"input": {"pipelines": {"byA": [{"$sort": {"a": -1}}]}}}}]');
-- two pipelines: 1 is first in one, 3 first in the other (equal scores: by _id)
SELECT rf('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": -1}}], "p2": [{"$match": {"b": {"$exists": true}}}, {"$sort": {"b": -1}}]}}}}]');
-- weights (missing ones are 1), $limit and $skip after ranking
SELECT rf('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": -1}}], "p2": [{"$sort": {"b": -1}}, {"$limit": 1}]}}, "combination": {"weights": {"p2": 3}}, "scoreDetails": true}}]');
SELECT rf('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": 1}}, {"$skip": 1}, {"$limit": 2}]}}, "combination": null}}]');
-- the last $sort ranks
SELECT rf('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": -1}}, {"$sort": {"b": 1}}]}}}}, {"$project": {"_id": 1}}]');
-- the stages after it
SELECT rf('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": -1}}]}}}}, {"$match": {"t": "x"}}, {"$project": {"_id": 1}}]');
SELECT rf('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": -1}}]}}}}, {"$group": {"_id": "$t", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]');
-- in a $lookup pipeline
SELECT run_command('rf', '{"insert": "o", "documents": [{"_id": "x"}]}');
SELECT run_command('rf', '{"aggregate": "o", "pipeline": [{"$lookup": {"from": "c", "pipeline": [{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"b": -1}}, {"$limit": 2}]}}}}, {"$project": {"_id": 1}}], "as": "top"}}], "cursor": {}}');
-- no collection: nothing
SELECT run_command('rf', '{"aggregate": "none", "pipeline": [{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": -1}}]}}}}], "cursor": {}}');

-- errors: the specification
SELECT rf_cmd('[{"$rankFusion": 5}]');
SELECT rf_cmd('[{"$rankFusion": {}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": 5}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": 1}}]}, "x": 1}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": 1}}]}}, "other": 1}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": 1}}]}}, "combination": 5}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": 1}}]}}, "combination": {}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": 1}}]}}, "combination": {"weights": {}, "method": 1}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": 1}}]}}, "scoreDetails": 1}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": {"$sort": {"a": 1}}}}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": []}}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"": [{"$sort": {"a": 1}}]}}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"$p": [{"$sort": {"a": 1}}]}}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"a.b": [{"$sort": {"a": 1}}]}}}}]');
-- errors: the input pipelines
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [5]}}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": 1}}, {}]}}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": 1}}, {"$nope": 1}]}}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$match": {"a": 1}}, {"$limit": 1}]}}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": 1}}, {"$project": {"a": 1}}]}}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": 1}}, {"$out": "x"}]}}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$scoreFusion": {}}]}}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": 1}}, {"$rankFusion": {}}]}}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": 1}}, {"$limit": 0}]}}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {}}]}}}}]');
-- errors: the weights
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": 1}}]}}, "combination": {"weights": {"p1": "2"}}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": 1}}]}}, "combination": {"weights": {"p1": -1}}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": 1}}]}}, "combination": {"weights": {"p1": 1, "p2": 2}}}}]');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": 1}}]}}, "combination": {"weights": {"P1": 1}}}}]');
-- errors: the position
SELECT rf_cmd('[{"$match": {"a": 1}}, {"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": 1}}]}}}}]');
SELECT run_command('rf', '{"aggregate": 1, "pipeline": [{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": 1}}]}}}}], "cursor": {}}');

-- the plan: a window function per pipeline, an aggregate by _id, a sort by score
SELECT jsonb_array_elements_text(run_command('rf', '{"aggregate": "c", "explain": true, "pipeline": [{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": -1}}], "p2": [{"$match": {"t": "x"}}, {"$sort": {"b": -1}}]}}, "combination": {"weights": {"p1": 0.5}}}}]}')::jsonb->'postgres'->'plan') AS plan;

-- the score as metadata: $meta in $project/$addFields, $sort by it, gone
-- after a $group and from what the pipeline returns
SELECT rf('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": -1}}], "p2": [{"$sort": {"b": -1}}]}}, "combination": {"weights": {"p2": 2}}}}, {"$project": {"_id": 1, "score": {"$meta": "score"}}}]');
SELECT rf('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": -1}}]}}}}, {"$sort": {"s": {"$meta": "score"}, "_id": -1}}, {"$addFields": {"s": {"$meta": "score"}}}, {"$project": {"a": 0, "b": 0, "t": 0}}]');
SELECT rf('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": -1}}]}}}}, {"$unwind": "$t"}, {"$match": {"t": "x"}}, {"$set": {"s": {"$meta": "score"}}}, {"$group": {"_id": null, "docs": {"$push": "$$ROOT"}}}]');
SELECT rf('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": -1}}]}}}}, {"$project": {"m": {"$meta": "searchScore"}}}]');
SELECT run_command('rf', '{"aggregate": "o", "pipeline": [{"$lookup": {"from": "c", "pipeline": [{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"b": -1}}, {"$limit": 1}]}}}}, {"$project": {"s": {"$meta": "score"}}}], "as": "top"}}], "cursor": {}}');
SELECT rf_cmd('[{"$rankFusion": {"input": {"pipelines": {"p1": [{"$sort": {"a": -1}}]}}, "scoreDetails": false}}, {"$project": {"sd": {"$meta": "scoreDetails"}}}]');
SELECT rf_cmd('[{"$project": {"s": {"$meta": "score"}}}]');
SELECT rf_cmd('[{"$project": {"s": {"$meta": "nope"}}}]');
SELECT rf_cmd('[{"$project": {"s": {"$meta": 1}}}]');
SELECT rf_cmd('[{"$sort": {"s": {"$meta": "score"}}}]');
SELECT rf('[{"$sort": {"s": {"$meta": "searchScore"}, "_id": -1}}, {"$project": {"_id": 1}}]');
SELECT run_command('rf', '{"find": "c", "projection": {"s": {"$meta": "score"}}}');
