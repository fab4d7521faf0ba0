-- The demo's target (SQLite, var/etl/demo.db): created by `make etl-demo`, or by hand with
--   sqlite3 var/etl/demo.db < conf/etl/demo/schema.sql
CREATE TABLE IF NOT EXISTS kelurahan (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kode TEXT NOT NULL UNIQUE,
    nama TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS penduduk (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    nik TEXT NOT NULL UNIQUE,
    nama TEXT NOT NULL,
    lahir DATE,
    kelurahan_id INTEGER NOT NULL REFERENCES kelurahan (id),
    sumber TEXT
);
