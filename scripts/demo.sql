-- The demo database scripts/run creates: the extension, on the search path.
CREATE EXTENSION nosql;
DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I SET search_path = "$user", public, nosql', current_database());
END $$;
