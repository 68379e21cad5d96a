package store

// situationGranulesMigration gives cop.situations an index granularity (rows per mark of
// its primary key) of 256 instead of ClickHouse's 8192. A situation's row is ~1 KB of
// payload, so GET /api/v1/situations/{id}, a look-up by the key (exercise, id), decompressed
// ~8 MB of payload per part to return one row; 256 rows are ~256 KB. A scan of a whole
// exercise reads the same bytes through 32× more marks (2M versions: 8k marks, a few
// hundred kilobytes of index in memory).
//
// It makes cop.situations again with small granules (ClickHouse
// cannot change a table's index_granularity, 18.16 has no MODIFY SETTING): the new table
// is made with the structure cop.situations has by then (AS, so columns earlier
// migrations added are kept in their order), swapped in by name, then given the old rows,
// and the old table is dropped, as migration 5 did for cop.events. Writers may keep
// writing: before the swap into the old table (copied after), after it into the new one;
// a row copied twice (a step run again after an interruption) is the same version of the
// same id, which reads fold (LIMIT 1 BY id) and merges remove.
var situationGranulesMigration = Migration{Version: 10, Name: "situations in small granules", SQL: []string{
	`CREATE TABLE IF NOT EXISTS cop.situations_fine AS cop.situations
		ENGINE = ReplacingMergeTree(version)
		PARTITION BY exercise
		ORDER BY (exercise, id)
		SETTINGS index_granularity = 256`,
	// Run again after an interruption past the swap, the RENAME finds situations_coarse
	// taken and is skipped (alreadyDone); the empty situations_fine the CREATE above made
	// then is dropped at the end.
	`RENAME TABLE cop.situations TO cop.situations_coarse, cop.situations_fine TO cop.situations`,
	`INSERT INTO cop.situations SELECT * FROM cop.situations_coarse`,
	`DROP TABLE IF EXISTS cop.situations_coarse`,
	`DROP TABLE IF EXISTS cop.situations_fine`,
}}
