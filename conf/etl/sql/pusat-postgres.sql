-- Target of conf/etl/perizinan-incremental.yaml (its XML source is conf/etl/data/dokumen.xml).
--   createdb -h 127.0.0.1 -U postgres pusat && psql -h 127.0.0.1 -U postgres -d pusat -f conf/etl/sql/pusat-postgres.sql
CREATE TABLE IF NOT EXISTS permohonan (id serial PRIMARY KEY, nomor varchar(40) NOT NULL UNIQUE,
    pemohon text NOT NULL, jenis text NOT NULL, status text NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS dokumen (nomor varchar(40) PRIMARY KEY, permohonan_id integer NOT NULL REFERENCES permohonan(id),
    judul text NOT NULL);
