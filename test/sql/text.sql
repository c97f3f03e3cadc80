-- The $text query operator: MongoDB's text search over a collection's
-- text index, matched with PostgreSQL's text search (stemming, stop
-- words).  Parsing and placement rules are unit-tested in
-- test/unit/test_text.c.
SET search_path = public, nosql;

-- without a text index, $text is IndexNotFound (27)
SELECT run_command('txt', '{"insert": "notes", "documents": [{"_id": 0, "title": "coffee"}]}');
SELECT run_command('txt', '{"find": "notes", "filter": {"$text": {"$search": "coffee"}}}');

SELECT run_command('txt', '{"createIndexes": "notes", "indexes": [
  {"key": {"title": "text", "body": "text"}, "name": "notes_text", "weights": {"title": 10}}]}');
SELECT run_command('txt', '{"insert": "notes", "documents": [
  {"_id": 1, "title": "Coffee", "body": "the quick brown fox"},
  {"_id": 2, "title": "Tea", "body": "I run every morning"},
  {"_id": 3, "title": "Café", "body": "the brown dog and the fox"},
  {"_id": 4, "title": "Blueberries", "body": ["well-known", "fruit"], "other": "coffee"},
  {"_id": 5, "title": 42, "tags": "running"}]}');

-- terms are ORed and stemmed; fields outside the index are not searched
SELECT run_command('txt', '{"find": "notes", "filter": {"$text": {"$search": "coffee blueberry"}}, "sort": {"_id": 1}}');
SELECT run_command('txt', '{"count": "notes", "query": {"$text": {"$search": "running"}}}');
-- stop words are ignored
SELECT run_command('txt', '{"count": "notes", "query": {"$text": {"$search": "the and"}}}');
-- phrases must all appear; negated terms exclude
SELECT run_command('txt', '{"find": "notes", "filter": {"$text": {"$search": "\"brown fox\""}}, "projection": {"_id": 1}}');
SELECT run_command('txt', '{"find": "notes", "filter": {"$text": {"$search": "fox -dog"}}, "projection": {"_id": 1}}');
SELECT run_command('txt', '{"count": "notes", "query": {"$text": {"$search": "-fox"}}}');
-- hyphens inside a word separate terms
SELECT run_command('txt', '{"find": "notes", "filter": {"$text": {"$search": "well-known"}}, "projection": {"_id": 1}}');
-- case and diacritics
SELECT run_command('txt', '{"find": "notes", "filter": {"$text": {"$search": "cafe"}}, "projection": {"_id": 1}, "sort": {"_id": 1}}');
SELECT run_command('txt', '{"find": "notes", "filter": {"$text": {"$search": "café", "$diacriticSensitive": true}}, "projection": {"_id": 1}}');
SELECT run_command('txt', '{"count": "notes", "query": {"$text": {"$search": "COFFEE", "$caseSensitive": true}}}');
-- with other conditions, distinct, and $or of $text alone
SELECT run_command('txt', '{"count": "notes", "query": {"$text": {"$search": "fox"}, "_id": {"$gt": 1}}}');
SELECT run_command('txt', '{"distinct": "notes", "key": "title", "query": {"$text": {"$search": "fox"}}}');
SELECT run_command('txt', '{"count": "notes", "query": {"$or": [{"$text": {"$search": "tea"}}]}}');
-- languages: "none" keeps stop words; French stems
SELECT run_command('txt', '{"count": "notes", "query": {"$text": {"$search": "the", "$language": "none"}}}');
SELECT run_command('txt', '{"count": "notes", "query": {"$text": {"$search": "x", "$language": "klingon"}}}');

-- errors
SELECT run_command('txt', '{"find": "notes", "filter": {"$text": {}}}');
SELECT run_command('txt', '{"find": "notes", "filter": {"$text": {"$search": 1}}}');
SELECT run_command('txt', '{"find": "notes", "filter": {"$text": {"$search": "a", "$caseSensitive": 1}}}');
SELECT run_command('txt', '{"find": "notes", "filter": {"$text": {"$search": "a", "$x": 1}}}');
SELECT run_command('txt', '{"find": "notes", "filter": {"$and": [{"$text": {"$search": "a"}}, {"$text": {"$search": "b"}}]}}');
SELECT run_command('txt', '{"find": "notes", "filter": {"$nor": [{"$text": {"$search": "a"}}]}}');
SELECT run_command('txt', '{"find": "notes", "filter": {"$or": [{"$text": {"$search": "a"}}, {"title": "Tea"}]}}');
SELECT run_command('txt', '{"find": "notes", "filter": {"$text": {"$search": "a"}}, "sort": {"$natural": 1}}');

-- "$**" searches every string; default_language applies
SELECT run_command('txt', '{"createIndexes": "wild", "indexes": [{"key": {"$**": "text"}, "name": "all", "default_language": "french"}]}');
SELECT run_command('txt', '{"insert": "wild", "documents": [{"_id": 1, "a": {"b": ["je cours tous les jours"]}}, {"_id": 2, "c": "nager"}]}');
SELECT run_command('txt', '{"find": "wild", "filter": {"$text": {"$search": "courant"}}}');

-- the SQL function
SELECT bson_matches_text('{"t": "Running late"}', '{"$text": {"$search": "run"}}', '{"key": {"t": "text"}}');
SELECT bson_matches_text('{"t": "Running late"}', '{"$text": {"$search": "run -late"}}', '{"key": {"t": "text"}}');

-- clean up
SELECT run_command('txt', '{"dropDatabase": 1}');
