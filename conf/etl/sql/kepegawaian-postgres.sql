-- Target of conf/etl/pegawai-csv-upsert.yaml (its source is conf/etl/data/pegawai.csv).
--   createdb -h 127.0.0.1 -U postgres kepegawaian && psql -h 127.0.0.1 -U postgres -d kepegawaian -f conf/etl/sql/kepegawaian-postgres.sql
CREATE TABLE IF NOT EXISTS pegawai (nip varchar(18) PRIMARY KEY, nama text NOT NULL, jabatan text,
    instansi text NOT NULL, dimuat_pada date NOT NULL);
