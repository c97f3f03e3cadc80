-- The extension installs into schema nosql and reports its version.
CREATE EXTENSION nosql;
SELECT extversion = nosql.version() AS versions_match FROM pg_extension WHERE extname = 'nosql';
SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'nosql';
SELECT extrelocatable FROM pg_extension WHERE extname = 'nosql';

-- The library is preloaded here, so the launcher runs.
SELECT count(*) AS launchers FROM pg_stat_activity WHERE backend_type = 'nosql launcher';

-- Settings under the reserved prefix: known ones work, misspelled ones are refused.
SHOW nosql.database;
SET nosql.database = 'shop';
SHOW nosql.database;
RESET nosql.database;
SET nosql.no_such_setting = 1;

-- Every object of the extension has a comment.
SELECT pg_describe_object(classid, objid, objsubid) AS object_without_comment
  FROM pg_depend d
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'nosql')
   AND d.deptype = 'e'
   AND obj_description(objid, (SELECT relname FROM pg_class WHERE oid = classid)) IS NULL
   AND classid <> 'pg_amop'::regclass AND classid <> 'pg_amproc'::regclass
   AND classid <> 'pg_cast'::regclass
 ORDER BY 1;

-- The worker wake-up is not for ordinary users.
CREATE ROLE nosql_regress_user;
SET ROLE nosql_regress_user;
SELECT nosql.worker_wakeup();
RESET ROLE;
DROP ROLE nosql_regress_user;
