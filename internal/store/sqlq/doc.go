// Package sqlq is the SQL both of Rabta's stores run, written once: the SensorThings entity
// store (listing with keyset paging, $expand, deep insert, update, delete with the standard's
// cascades, navigation), the one ingest transaction (QC, Features of Interest, the
// datastreams' time spans, the transactional outbox), the outbox's read side for the relay,
// alerts, rules, the rule engine's state, and API keys; and the compiler of $filter and
// $orderby expressions into SQL (Compiler, over a Dialect).
//
// A store engine (package store/sqlite, package store/postgres) implements Engine: read,
// write and single-statement execution (Tx, with '?' placeholders that an engine with
// numbered ones rewrites), its SQL dialect, the kinds of its errors, and the few things it does
// its own way — how observation rows are written (SQLite: one prepared INSERT on the single
// writer; PostgreSQL: ids reserved in one run, then COPY), what must exist before a write
// (PostgreSQL's monthly partitions), how published outbox entries are remembered (a watermark
// with one writer, a set with several), and node-wide locks (a mutex; advisory locks).
// Everything else lives here, once: a new table or query is written in this package, and
// package store/storetest holds both engines to the same behaviour.
//
// The tables are written once too (ddl/*.sql, spelled for each engine by DDL); each engine's
// migrations include them by name and add only what is its own (PostgreSQL's partitioned
// observations, PostGIS functions, the id reservation function).
//
// Life cycle: an engine is opened by its package (sqlite.Open, postgres.Open), which applies
// its embedded migrations (Migrate); NewEntities, NewAuth and NewAlerts give the stores over it. They
// hold no connection of their own and are safe for concurrent use. Entities serialises this
// process's writers (so that QC sees each datastream's observations in commit order) and
// caches what QC needs to know of each datastream until a write fails or datastreams change.
// The cache is per process: with several processes on one PostgreSQL database, each checks
// spike, rate and flat line against what it has seen (see package store/postgres).
//
// Values: times are stored as microseconds since the Unix epoch (UTC) next to the exact text
// received; results as a number (result_num) or JSON text; geometries as GeoJSON text. No
// wrapped database error reaches a user: Engine.WriteErr and Engine.QueryErr give the
// constraint violations and bad values a client can cause their apperr kind and a message of
// their own.
package sqlq
