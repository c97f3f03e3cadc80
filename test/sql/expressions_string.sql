-- String expression operators in find projections (the semantics in depth
-- are unit-tested in test/unit/test_expr_string.c and checked by the
-- recorded conformance cases).
SET search_path = public, nosql;
SET nosql.database = 'exprstr';

SELECT insert_many('words', '[{"_id": 1, "s": "Hello, World", "t": "  padded\t"},
  {"_id": 2, "s": "h\u00e9llo \u65e5\u672c", "t": "xxcorexx"},
  {"_id": 3, "t": null}]');

-- concatenation, lengths in bytes and code points, case
SELECT find('words', '{}', '{"c": {"$concat": ["$s", "!"]}, "b": {"$strLenBytes": {"$ifNull": ["$s", ""]}},
  "cp": {"$strLenCP": {"$ifNull": ["$s", ""]}}, "u": {"$toUpper": "$s"}, "l": {"$toLower": "$s"}}', '{"_id": 1}');
SELECT find('words', '{"_id": 1}', '{"_id": 0, "n": {"$toLower": 1000000.0}, "cmp": {"$strcasecmp": ["$s", "HELLO, world"]}}');
-- substrings, search, split
SELECT find('words', '{"_id": {"$lt": 3}}', '{"sb": {"$substrBytes": ["$s", 0, 3]}, "cp": {"$substrCP": ["$s", 1, 4]},
  "ib": {"$indexOfBytes": ["$s", "l"]}, "ic": {"$indexOfCP": ["$s", "l"]}, "sp": {"$split": ["$s", " "]}}', '{"_id": 1}');
-- trimming and replacing
SELECT find('words', '{}', '{"tr": {"$trim": {"input": "$t"}}, "lt": {"$ltrim": {"input": "$t", "chars": "x "}},
  "rt": {"$rtrim": {"input": "$t", "chars": "x\t"}}, "r1": {"$replaceOne": {"input": "$t", "find": "x", "replacement": "-"}},
  "ra": {"$replaceAll": {"input": "$t", "find": "x", "replacement": "-"}}}', '{"_id": 1}');
-- regular expressions: match, first match, every match (idx in code points)
SELECT find('words', '{"_id": {"$lt": 3}}', '{"m": {"$regexMatch": {"input": "$s", "regex": "^h", "options": "i"}},
  "f": {"$regexFind": {"input": "$s", "regex": "(l+)(o)"}},
  "a": {"$regexFindAll": {"input": "$s", "regex": {"$regularExpression": {"pattern": "[lo]", "options": ""}}}}}', '{"_id": 1}');

-- errors
SELECT find('words', '{"_id": 2}', '{"x": {"$substrBytes": ["$s", 2, 1]}}');
SELECT find('words', '{}', '{"x": {"$concat": ["a", 1]}}');
SELECT find('words', '{}', '{"x": {"$substrCP": ["a", -1, 1]}}');
SELECT find('words', '{}', '{"x": {"$indexOfBytes": ["a"]}}');
SELECT find('words', '{}', '{"x": {"$trim": {"chars": "a"}}}');
SELECT find('words', '{}', '{"x": {"$split": ["a", ""]}}');
SELECT find('words', '{}', '{"x": {"$replaceAll": {"input": "a", "find": 1, "replacement": "b"}}}');
SELECT find('words', '{}', '{"x": {"$regexFind": {"input": "a", "regex": "(a"}}}');
SELECT find('words', '{}', '{"x": {"$regexMatch": {"input": "a", "regex": "a", "options": "q"}}}');

SELECT drop_collection('words');
