-- nosql: document, key-value, coordination, time-series and change-stream
-- workloads inside PostgreSQL.  This file is the single source of the install
-- script; the build copies it to nosql--<version>.sql.
\echo Use "CREATE EXTENSION nosql" to load this file. \quit

---------------------------------------------------------------------------
-- Foundation
---------------------------------------------------------------------------

-- Types and functions are for every role; data objects carry their own grants.
GRANT USAGE ON SCHEMA nosql TO PUBLIC;

CREATE FUNCTION nosql.version() RETURNS text
    AS 'MODULE_PATHNAME', 'nosql_version'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.version() IS
    'version of the loaded nosql library';

CREATE FUNCTION nosql.worker_wakeup() RETURNS boolean
    AS 'MODULE_PATHNAME', 'worker_wakeup'
    LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION nosql.worker_wakeup() IS
    'ask the nosql launcher to start this database''s background worker now; false when the library is not preloaded';
REVOKE ALL ON FUNCTION nosql.worker_wakeup() FROM PUBLIC;

-- Start this database's background worker without waiting for the launcher's
-- next round (a no-op when nosql is not in shared_preload_libraries).
SELECT nosql.worker_wakeup();
