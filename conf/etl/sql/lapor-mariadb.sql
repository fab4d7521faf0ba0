-- Source of conf/etl/lapor-mysql-to-postgres.yaml: a regional complaints application (MariaDB/MySQL).
--   mariadb -h 127.0.0.1 -u root < conf/etl/sql/lapor-mariadb.sql
CREATE DATABASE IF NOT EXISTS lapor CHARACTER SET utf8mb4;
USE lapor;
SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION';  -- like the old application: zero dates are allowed
CREATE TABLE IF NOT EXISTS categories (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL,
  parent_id INT NULL, active TINYINT(1) NOT NULL DEFAULT 1, FOREIGN KEY (parent_id) REFERENCES categories(id)) ENGINE=InnoDB;
CREATE TABLE IF NOT EXISTS reporters (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(120) NOT NULL, email VARCHAR(190),
  verified TINYINT(1) NOT NULL DEFAULT 0, joined_at DATETIME NULL) ENGINE=InnoDB;
CREATE TABLE IF NOT EXISTS complaints (id INT AUTO_INCREMENT PRIMARY KEY, reporter_id INT NOT NULL, category_id INT NOT NULL,
  title VARCHAR(200) NOT NULL, body MEDIUMTEXT, status ENUM('new','in_progress','closed') NOT NULL DEFAULT 'new',
  amount DECIMAL(12,2) NULL, created_at DATETIME NOT NULL, closed_on DATE NULL,
  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  FOREIGN KEY (reporter_id) REFERENCES reporters(id), FOREIGN KEY (category_id) REFERENCES categories(id)) ENGINE=InnoDB;
CREATE TABLE IF NOT EXISTS attachments (id INT AUTO_INCREMENT PRIMARY KEY, complaint_id INT NOT NULL,
  filename VARCHAR(255) NOT NULL, size_bytes BIGINT UNSIGNED, content BLOB,
  FOREIGN KEY (complaint_id) REFERENCES complaints(id)) ENGINE=InnoDB;
CREATE TABLE IF NOT EXISTS comments (id INT AUTO_INCREMENT PRIMARY KEY, complaint_id INT NOT NULL, reporter_id INT NULL,
  parent_id INT NULL, body TEXT NOT NULL, created_at DATETIME NOT NULL,
  FOREIGN KEY (complaint_id) REFERENCES complaints(id), FOREIGN KEY (reporter_id) REFERENCES reporters(id),
  FOREIGN KEY (parent_id) REFERENCES comments(id)) ENGINE=InnoDB;
INSERT IGNORE INTO categories (id, name, parent_id) VALUES (1, 'Infrastruktur', NULL), (2, 'Jalan rusak', 1),
  (3, 'Lampu jalan', 1), (4, 'Pelayanan publik', NULL), (5, 'Perizinan', 4);
INSERT IGNORE INTO reporters (id, name, email, verified, joined_at) VALUES
  (1, '  Siti Aminah ', 'siti@example.id', 1, '2024-02-01 08:30:00'),
  (2, 'Bambang', NULL, 0, '0000-00-00 00:00:00'),
  (3, 'Rina Marlina', 'rina@example.id', 1, NULL);
INSERT IGNORE INTO complaints (id, reporter_id, category_id, title, body, status, amount, created_at, closed_on) VALUES
  (1, 1, 2, 'Jalan berlubang di Jl. Asia Afrika', 'Lubang besar dekat halte.', 'in_progress', NULL, '2024-03-01 07:15:00', NULL),
  (2, 2, 3, 'Lampu jalan mati', 'Sudah dua minggu.', 'closed', 150000.00, '2024-03-02 19:40:00', '2024-03-10'),
  (3, 3, 5, 'Izin usaha lambat', NULL, 'new', NULL, '2024-03-05 10:00:00', '0000-00-00');
INSERT IGNORE INTO attachments (id, complaint_id, filename, size_bytes, content) VALUES
  (1, 1, 'lubang.jpg', 4, x'FFD8FFE0'), (2, 2, 'lampu.png', 4, x'89504E47');
INSERT IGNORE INTO comments (id, complaint_id, reporter_id, parent_id, body, created_at) VALUES
  (1, 1, 2, NULL, 'Saya juga melihatnya.', '2024-03-01 09:00:00'),
  (2, 1, 1, 1, 'Terima kasih, sudah dilaporkan.', '2024-03-01 09:30:00'),
  (3, 2, NULL, NULL, 'Sudah diperbaiki petugas.', '2024-03-10 16:00:00');
