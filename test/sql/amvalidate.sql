-- Every operator class and family the extension defines passes its access
-- method's validator.  Empty until the first opclass arrives; it must keep
-- passing as they do.
SELECT opc.opcname, am.amname, amvalidate(opc.oid) AS valid
  FROM pg_opclass opc
  JOIN pg_am am ON am.oid = opc.opcmethod
 WHERE opc.opcnamespace = 'nosql'::regnamespace
   AND NOT amvalidate(opc.oid);
-- the number of opclasses checked, so that this test notices when none are
SELECT count(*) > 0 AS has_opclasses FROM pg_opclass WHERE opcnamespace = 'nosql'::regnamespace;
