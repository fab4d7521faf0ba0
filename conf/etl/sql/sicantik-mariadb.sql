-- Source of conf/etl/perizinan-incremental.yaml: licence applications (MariaDB/MySQL).
--   mariadb -h 127.0.0.1 -u root < conf/etl/sql/sicantik-mariadb.sql
CREATE DATABASE IF NOT EXISTS sicantik CHARACTER SET utf8mb4;
USE sicantik;
CREATE TABLE IF NOT EXISTS permohonan (id INT AUTO_INCREMENT PRIMARY KEY, nomor VARCHAR(40) NOT NULL UNIQUE,
  pemohon VARCHAR(120) NOT NULL, jenis VARCHAR(80) NOT NULL, status VARCHAR(20) NOT NULL,
  updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP) ENGINE=InnoDB;
INSERT IGNORE INTO permohonan (id, nomor, pemohon, jenis, status, updated_at) VALUES
  (1, 'PRM-2024-0001', 'CV Maju Jaya', 'Izin Usaha', 'diproses', '2024-04-01 09:00:00'),
  (2, 'PRM-2024-0002', 'Toko Sinar', 'Izin Reklame', 'terbit', '2024-04-02 10:30:00'),
  (3, 'PRM-2024-0003', 'PT Sejahtera', 'Izin Bangunan', 'baru', '2024-04-03 14:15:00');
