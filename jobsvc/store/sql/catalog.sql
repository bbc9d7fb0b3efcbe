-- What the migrations built, read back from PostgreSQL's catalog object by object, so
-- that two databases can be compared and schema.sql drawn (jobsvc/store/schema_dump.py).
-- Only the current schema, where the migrations ran, is read; names come quoted where SQL
-- needs them to be, one-letter codes ("char") as text. Never run by the service.

-- name: catalog_relations
-- Tables, views, sequences... in the order they were created (indexes are read below,
-- standalone composite types with the types); a partitioned table with its partition key.
SELECT c.oid, quote_ident(c.relname) AS name, c.relkind::text AS kind, c.relpersistence::text AS persistence,
       coalesce(array_to_string(c.reloptions, ', '), '') AS options,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) ELSE '' END AS partition_key
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind NOT IN ('i', 'I', 't', 'c')
ORDER BY c.oid;

-- name: catalog_columns
-- The columns of every table, in their order (the order SELECT * and %ROWTYPE see).
SELECT a.attrelid AS table_oid, quote_ident(a.attname) AS name, format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default_value,
       a.attidentity::text AS identity, a.attgenerated::text AS generated,
       CASE WHEN a.attcollation <> t.typcollation THEN quote_ident(co.collname) END AS collation
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum;

-- name: catalog_constraints
-- Primary keys, unique, check, foreign key and exclusion constraints, by table and name
-- (PostgreSQL 18 also keeps NOT NULL here: that is the column's not_null above).
SELECT con.conrelid AS table_oid, quote_ident(con.conname) AS name, pg_get_constraintdef(con.oid, true) AS definition
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND con.contype <> 'n'
ORDER BY con.conrelid, con.conname;

-- name: catalog_indexes
-- Every index by name; made_by_constraint: a primary key's or unique constraint's own.
SELECT quote_ident(i.relname) AS name, quote_ident(t.relname) AS table_name, pg_get_indexdef(i.oid) AS definition,
       EXISTS (SELECT 1 FROM pg_constraint con
               WHERE con.conindid = i.oid AND con.conrelid = t.oid AND con.contype IN ('p', 'u', 'x'))
           AS made_by_constraint
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = current_schema()
ORDER BY i.relname;

-- name: catalog_functions
-- Functions and procedures with their full definitions (aggregates by signature only),
-- leaving out those an extension installed.
SELECT quote_ident(p.proname) AS name, pg_get_function_identity_arguments(p.oid) AS arguments, p.prokind::text AS kind,
       CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) END AS definition
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = current_schema()
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY p.proname, arguments;

-- name: catalog_triggers
SELECT quote_ident(t.tgname) AS name, quote_ident(c.relname) AS table_name, pg_get_triggerdef(t.oid, true) AS definition
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND NOT t.tgisinternal
ORDER BY c.relname, t.tgname;

-- name: catalog_types
-- Types made by CREATE TYPE or CREATE DOMAIN (a table's row type is its table's).
SELECT quote_ident(t.typname) AS name, t.typtype::text AS kind,
       CASE t.typtype
           WHEN 'e' THEN (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                          FROM pg_enum e WHERE e.enumtypid = t.oid)
           WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod)
           ELSE ''
       END AS detail
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_class c ON c.oid = t.typrelid
WHERE n.nspname = current_schema() AND t.typtype IN ('e', 'd', 'r', 'm', 'c') AND (t.typtype <> 'c' OR c.relkind = 'c')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
ORDER BY t.typname;

-- name: catalog_extensions
SELECT extname AS name FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY extname;
