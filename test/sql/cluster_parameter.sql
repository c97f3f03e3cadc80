-- Cluster parameters: getClusterParameter and setClusterParameter on
-- admin, stored in nosql.cluster_parameter, and the effect of
-- changeStreamOptions' preAndPostImages.expireAfterSeconds on change
-- streams' pre-images.  Setting times depend on the clock: listings mask
-- them, checks compare them.
SET search_path = public, nosql;
SET client_min_messages = warning;

CREATE FUNCTION cp(c text, db text DEFAULT 'admin') RETURNS bson
    LANGUAGE sql AS $$ SELECT nosql.run_command(db, c::bson) $$;
-- the reply without the setting times (Timestamp(0, 0): never set)
CREATE FUNCTION cp_mask(reply bson) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(reply::text,
        '"\$timestamp": \{"t": [1-9][0-9]*, "i": [1-9][0-9]*\}', '<set>', 'g')
$$;
-- an error reply's code and message
CREATE FUNCTION cp_err(reply bson) RETURNS text LANGUAGE sql AS $$
    SELECT (reply ->> 'code') || ' ' || (reply ->> 'codeName') || ': ' || (reply ->> 'errmsg')
$$;

-- The table is in the extension's dump
SELECT 'nosql.cluster_parameter'::regclass = ANY (extconfig) AS dumped
  FROM pg_extension WHERE extname = 'nosql';

-- Defaults: every parameter, Timestamp(0, 0) when never set
SELECT cp('{"getClusterParameter": "*"}');
SELECT cp('{"getClusterParameter": "changeStreamOptions"}');
SELECT cp('{"getClusterParameter": ["pauseMigrationsDuringMultiUpdates", "changeStreams", "changeStreams"]}');
SELECT cp('{"getClusterParameter": "changeStreams", "comment": "x", "maxTimeMS": 100}') ->> 'ok' AS ok;

-- getClusterParameter's errors
SELECT cp_err(cp('{"getClusterParameter": "*"}', 'test'));
SELECT cp_err(cp('{"getClusterParameter": {"a": 1}}'));
SELECT cp_err(cp('{"getClusterParameter": null}'));
SELECT cp_err(cp('{"getClusterParameter": true}'));
SELECT cp_err(cp('{"getClusterParameter": {"$numberLong": "1"}}'));
SELECT cp_err(cp('{"getClusterParameter": "unknownParam"}'));
SELECT cp_err(cp('{"getClusterParameter": ""}'));
SELECT cp_err(cp('{"getClusterParameter": ["*"]}'));
SELECT cp_err(cp('{"getClusterParameter": ["changeStreamOptions", "logLevel"]}'));
SELECT cp_err(cp('{"getClusterParameter": []}'));
SELECT cp_err(cp('{"getClusterParameter": ["changeStreamOptions", 123]}'));
SELECT cp_err(cp('{"getClusterParameter": [null]}'));
SELECT cp_err(cp('{"getClusterParameter": [["changeStreamOptions"]]}'));
SELECT cp_err(cp('{"getClusterParameter": "*", "bogus": 1}'));
SELECT cp_err(cp('{"getClusterParameter": "*", "apiVersion": "1", "apiStrict": true}'));
SELECT cp_err(cp('{"getclusterparameter": "*"}'));

-- setClusterParameter: the value replaces the stored one and comes back
-- as set; a number as an int when it fits
SELECT cp('{"setClusterParameter": {"changeStreamOptions": {"preAndPostImages": {"expireAfterSeconds": 7200}}}}');
SELECT cp_mask(cp('{"getClusterParameter": "changeStreamOptions"}'));
SELECT cp('{"getClusterParameter": "changeStreamOptions"}') -> 'clusterParameters' -> 0 -> 'clusterParameterTime' AS t1 \gset
SELECT cp('{"setClusterParameter": {"changeStreamOptions": {"preAndPostImages": {"expireAfterSeconds": {"$numberLong": "3000000000"}}}}}') ->> 'ok' AS ok;
SELECT cp_mask(cp('{"getClusterParameter": "changeStreamOptions"}'));
SELECT cp('{"getClusterParameter": "changeStreamOptions"}') -> 'clusterParameters' -> 0 -> 'clusterParameterTime' AS t2 \gset
SELECT :'t2'::bson > :'t1'::bson AS time_increases;
SELECT cp('{"setClusterParameter": {"changeStreamOptions": {"preAndPostImages": {"expireAfterSeconds": 3600.0}}}}') ->> 'ok' AS ok;
SELECT cp('{"getClusterParameter": "changeStreamOptions"}') -> 'clusterParameters' -> 0 -> 'preAndPostImages' AS v;
SELECT cp('{"setClusterParameter": {"changeStreamOptions": {"preAndPostImages": {"expireAfterSeconds": "off"}}}}') ->> 'ok' AS ok;
SELECT cp('{"getClusterParameter": "changeStreamOptions"}') -> 'clusterParameters' -> 0 -> 'preAndPostImages' AS v;
-- fields not given (or null) take their defaults
SELECT cp('{"setClusterParameter": {"changeStreamOptions": {"preAndPostImages": {"expireAfterSeconds": null}}}}') ->> 'ok' AS ok;
SELECT cp('{"setClusterParameter": {"changeStreamOptions": {}}}') ->> 'ok' AS ok;
SELECT cp('{"getClusterParameter": "changeStreamOptions"}') -> 'clusterParameters' -> 0 -> 'preAndPostImages' AS v;
SELECT cp('{"setClusterParameter": {"changeStreams": {"expireAfterSeconds": {"$numberDecimal": "5000"}}}}') ->> 'ok' AS ok;
SELECT cp('{"setClusterParameter": {"pauseMigrationsDuringMultiUpdates": {"enabled": true}}}') ->> 'ok' AS ok;
SELECT cp_mask(cp('{"getClusterParameter": "*"}'));
SELECT cp('{"setClusterParameter": {"changeStreams": {"expireAfterSeconds": null}}}') ->> 'ok' AS ok;
SELECT cp('{"setClusterParameter": {"pauseMigrationsDuringMultiUpdates": {}}}') ->> 'ok' AS ok;
SELECT cp_mask(cp('{"getClusterParameter": ["changeStreams", "pauseMigrationsDuringMultiUpdates"]}'));
SELECT name, value FROM nosql.cluster_parameter ORDER BY name;

-- setClusterParameter's errors (nothing is stored)
SELECT cp_err(cp('{"setClusterParameter": {"changeStreams": {"expireAfterSeconds": 10}}}', 'test'));
SELECT cp_err(cp('{"setClusterParameter": "hello"}'));
SELECT cp_err(cp('{"setClusterParameter": [1]}'));
SELECT cp_err(cp('{"setClusterParameter": 1}'));
SELECT cp_err(cp('{"setClusterParameter": null}'));
SELECT cp_err(cp('{"setClusterParameter": {}}'));
SELECT cp_err(cp('{"setClusterParameter": {"changeStreams": {"expireAfterSeconds": 10}, "changeStreamOptions": {}}}'));
SELECT cp_err(cp('{"setClusterParameter": {"": {"x": 1}}}'));
SELECT cp_err(cp('{"setClusterParameter": {"logLevel": {"verbosity": 1}}}'));
SELECT cp_err(cp('{"setClusterParameter": {"changeStreams": {"expireAfterSeconds": 10}}, "writeConcern": {"w": 1}}'));
SELECT cp_err(cp('{"setClusterParameter": {"changeStreams": {"expireAfterSeconds": 10}}, "apiVersion": "1", "apiStrict": true}'));
SELECT cp_err(cp('{"setClusterParameter": {"changeStreams": {"expireAfterSeconds": 10}}, "bogus": 1}'));
-- changeStreamOptions: every malformed value is BadValue, but a $ field
SELECT cp_err(cp('{"setClusterParameter": {"changeStreamOptions": "invalid"}}'));
SELECT cp_err(cp('{"setClusterParameter": {"changeStreamOptions": {"$bad": 1}}}'));
SELECT cp_err(cp('{"setClusterParameter": {"changeStreamOptions": {"preAndPostImages": {"expireAfterSeconds": 7200}, "extraField": "nope"}}}'));
SELECT cp_err(cp('{"setClusterParameter": {"changeStreamOptions": {"preAndPostImages": null}}}'));
SELECT cp_err(cp('{"setClusterParameter": {"changeStreamOptions": {"preAndPostImages": 1}}}'));
SELECT cp_err(cp('{"setClusterParameter": {"changeStreamOptions": {"preAndPostImages": {"expireAfterSeconds": 1, "x": 1}}}}'));
SELECT cp_err(cp('{"setClusterParameter": {"changeStreamOptions": {"preAndPostImages": {"expireAfterSeconds": "on"}}}}'));
SELECT cp_err(cp('{"setClusterParameter": {"changeStreamOptions": {"preAndPostImages": {"expireAfterSeconds": true}}}}'));
SELECT cp_err(cp('{"setClusterParameter": {"changeStreamOptions": {"preAndPostImages": {"expireAfterSeconds": 0}}}}'));
SELECT cp_err(cp('{"setClusterParameter": {"changeStreamOptions": {"preAndPostImages": {"expireAfterSeconds": -5}}}}'));
SELECT cp_err(cp('{"setClusterParameter": {"changeStreamOptions": {"preAndPostImages": {"expireAfterSeconds": {"$numberDouble": "NaN"}}}}}'));
-- changeStreams and pauseMigrationsDuringMultiUpdates: types are TypeMismatch
SELECT cp_err(cp('{"setClusterParameter": {"changeStreams": "x"}}'));
SELECT cp_err(cp('{"setClusterParameter": {"changeStreams": {"expireAfterSeconds": "hello"}}}'));
SELECT cp_err(cp('{"setClusterParameter": {"changeStreams": {"expireAfterSeconds": -1}}}'));
SELECT cp_err(cp('{"setClusterParameter": {"changeStreams": {"other": 1}}}'));
SELECT cp_err(cp('{"setClusterParameter": {"changeStreams": {"$x": 1}}}'));
SELECT cp_err(cp('{"setClusterParameter": {"pauseMigrationsDuringMultiUpdates": {"enabled": 1}}}'));
SELECT cp_err(cp('{"setClusterParameter": {"pauseMigrationsDuringMultiUpdates": {"enabled": true, "other": 1}}}'));
SELECT name, value FROM nosql.cluster_parameter ORDER BY name;

-- Rights: reading is for everyone, setting needs INSERT and UPDATE on the
-- table (MongoDB's clusterManager)
CREATE ROLE regress_cp_user;
SET ROLE regress_cp_user;
SELECT cp('{"getClusterParameter": "changeStreams"}') ->> 'ok' AS ok;
SELECT cp_err(cp('{"setClusterParameter": {"changeStreams": {"expireAfterSeconds": 10}}}'));
RESET ROLE;
GRANT INSERT, UPDATE ON nosql.cluster_parameter TO regress_cp_user;
SET ROLE regress_cp_user;
SELECT cp('{"setClusterParameter": {"changeStreams": {"expireAfterSeconds": 10}}}') ->> 'ok' AS ok;
RESET ROLE;
DROP OWNED BY regress_cp_user;
DROP ROLE regress_cp_user;

-- The effect: pre-images of events older than expireAfterSeconds are
-- gone for change streams: null with whenAvailable, an error with
-- required.  Events newer than that keep theirs.
CREATE FUNCTION cp_caught_up(after bson, mark int) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    last bson := after;
    e bson;
BEGIN
    FOR i IN 1..60 LOOP
        FOR e IN SELECT w FROM nosql.watch('cpw.pre', resume_after => last, max_wait_ms => 1000) w LOOP
            IF e ->> 'operationType' = 'insert' AND e -> 'documentKey' ->> '_id' = mark::text THEN
                RETURN true;
            END IF;
            last := e -> '_id';
        END LOOP;
    END LOOP;
    RETURN false;
END $$;
SELECT cp('{"create": "pre", "changeStreamPreAndPostImages": {"enabled": true}}', 'cpw') ->> 'ok' AS ok;
SELECT cp('{"insert": "pre", "documents": [{"_id": 1, "v": 1}, {"_id": 2, "v": 1}]}', 'cpw') ->> 'n' AS n;
SELECT nosql.watch_start_token() AS t0 \gset
SELECT cp('{"update": "pre", "updates": [{"q": {"_id": 1}, "u": {"$set": {"v": 2}}}]}', 'cpw') ->> 'nModified' AS n;
SELECT cp('{"insert": "pre", "documents": [{"_id": 100}]}', 'cpw') ->> 'n' AS n;
SELECT cp_caught_up(:'t0', 100);
SELECT cp('{"setClusterParameter": {"changeStreamOptions": {"preAndPostImages": {"expireAfterSeconds": 2}}}}') ->> 'ok' AS ok;
-- the first update is now more than two seconds old
SELECT pg_sleep(2.5);
SELECT nosql.watch_start_token() AS t1 \gset
SELECT cp('{"delete": "pre", "deletes": [{"q": {"_id": 2}, "limit": 1}]}', 'cpw') ->> 'n' AS n;
SELECT cp('{"insert": "pre", "documents": [{"_id": 101}]}', 'cpw') ->> 'n' AS n;
SELECT cp_caught_up(:'t1', 101);
SELECT e ->> 'operationType' AS op, e -> 'documentKey' AS key, e -> 'fullDocumentBeforeChange' AS before
  FROM nosql.watch('cpw.pre', resume_after => :'t0', full_document_before_change => 'whenAvailable') e;
-- null, and last, as the pre-image it replaces
SELECT e::text LIKE '%, "fullDocumentBeforeChange": null}' AS null_last
  FROM nosql.watch('cpw.pre', resume_after => :'t0', full_document_before_change => 'whenAvailable') e
 WHERE e ->> 'operationType' = 'update';
\set VERBOSITY terse
SELECT e ->> 'operationType' AS op
  FROM nosql.watch('cpw.pre', resume_after => :'t0', full_document_before_change => 'required') e;
-- the newer delete alone still has its pre-image
SELECT e ->> 'operationType' AS op, e -> 'fullDocumentBeforeChange' AS before
  FROM nosql.watch('cpw.pre', resume_after => :'t1', full_document_before_change => 'required') e;
-- off: no pre-images asked, no expiry looked at
SELECT count(*) FILTER (WHERE e -> 'fullDocumentBeforeChange' IS NOT NULL) AS with_before
  FROM nosql.watch('cpw.pre', resume_after => :'t0') e;
-- $changeStream reads the same way
SELECT b -> 'documentKey' AS key, b::text LIKE '%, "fullDocumentBeforeChange": null}' AS null_last
  FROM (SELECT cp(format('{"aggregate": "pre", "pipeline": [{"$changeStream": {"resumeAfter": %s, "fullDocumentBeforeChange": "whenAvailable"}}, {"$match": {"operationType": "update"}}], "cursor": {}}', :'t0'), 'cpw')
               -> 'cursor' -> 'firstBatch' -> 0 AS b) s;
SELECT cp_err(cp(format('{"aggregate": "pre", "pipeline": [{"$changeStream": {"resumeAfter": %s, "fullDocumentBeforeChange": "required"}}], "cursor": {}}', :'t0'), 'cpw'));
-- the events keep their pre-images: a longer expiry (or "off") gives them back
SELECT cp('{"setClusterParameter": {"changeStreamOptions": {"preAndPostImages": {"expireAfterSeconds": "off"}}}}') ->> 'ok' AS ok;
SELECT e ->> 'operationType' AS op, e -> 'fullDocumentBeforeChange' AS before
  FROM nosql.watch('cpw.pre', resume_after => :'t0', full_document_before_change => 'required') e
 WHERE e ->> 'operationType' <> 'insert';

SELECT cp('{"dropDatabase": 1}', 'cpw') ->> 'ok' AS ok;
DELETE FROM nosql.cluster_parameter;
DROP FUNCTION cp_caught_up(bson, int);
DROP FUNCTION cp_err(bson);
DROP FUNCTION cp_mask(bson);
DROP FUNCTION cp(text, text);
