// lmdb: under a shared lock as Postfix's own readers take it (postmap rewrites the file in place
// under an exclusive one); cdb: files are replaced by rename, so a plain read is consistent.
#include "engine/config/indexed_table.hh"

#include <cdb.h>
#include <fcntl.h>
#include <lmdb.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "engine/config/config.hh"

namespace ringrelay::engine {
namespace {

std::string without_null(const char* data, std::size_t size) {
  if (size > 0 && data[size - 1] == '\0') --size;
  return std::string(data, size);
}

class FileDescriptor {
 public:
  FileDescriptor(const std::string& path, const std::string& spec)
      : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0) {
      throw ConfigError(spec + ": cannot open " + path + ": " + std::strerror(errno) +
                        " (build it with postmap " + spec + ")");
    }
  }
  ~FileDescriptor() { ::close(fd_); }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

void check_lmdb(int rc, const std::string& spec, const char* what) {
  if (rc != MDB_SUCCESS) {
    throw ConfigError(spec + ": " + what + ": " + ::mdb_strerror(rc));
  }
}

}  // namespace

std::vector<TableEntry> read_lmdb_table(const std::string& path) {
  const std::string spec = "lmdb:" + path, file = path + ".lmdb";
  FileDescriptor lock(file, spec);
  if (::flock(lock.get(), LOCK_SH) != 0) {
    throw ConfigError(spec + ": cannot lock " + file + ": " + std::strerror(errno));
  }
  MDB_env* raw_env = nullptr;
  check_lmdb(::mdb_env_create(&raw_env), spec, "mdb_env_create");
  std::unique_ptr<MDB_env, decltype(&::mdb_env_close)> env(raw_env, &::mdb_env_close);
  // Postfix opens its tables without lmdb's lock file and locks the file itself (above).
  check_lmdb(::mdb_env_open(env.get(), file.c_str(), MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK, 0644),
             spec, ("cannot open " + file).c_str());
  MDB_txn* raw_txn = nullptr;
  check_lmdb(::mdb_txn_begin(env.get(), nullptr, MDB_RDONLY, &raw_txn), spec, "mdb_txn_begin");
  std::unique_ptr<MDB_txn, decltype(&::mdb_txn_abort)> txn(raw_txn, &::mdb_txn_abort);
  MDB_dbi dbi = 0;
  check_lmdb(::mdb_dbi_open(txn.get(), nullptr, 0, &dbi), spec, "mdb_dbi_open");
  MDB_cursor* raw_cursor = nullptr;
  check_lmdb(::mdb_cursor_open(txn.get(), dbi, &raw_cursor), spec, "mdb_cursor_open");
  std::unique_ptr<MDB_cursor, decltype(&::mdb_cursor_close)> cursor(raw_cursor,
                                                                    &::mdb_cursor_close);
  std::vector<TableEntry> entries;
  MDB_val key{}, value{};
  int rc = ::mdb_cursor_get(cursor.get(), &key, &value, MDB_FIRST);
  while (rc == MDB_SUCCESS) {
    entries.push_back({without_null(static_cast<const char*>(key.mv_data), key.mv_size),
                       without_null(static_cast<const char*>(value.mv_data), value.mv_size), file});
    rc = ::mdb_cursor_get(cursor.get(), &key, &value, MDB_NEXT);
  }
  if (rc != MDB_NOTFOUND) check_lmdb(rc, spec, "reading");
  return entries;
}

std::vector<TableEntry> read_cdb_table(const std::string& path) {
  const std::string spec = "cdb:" + path, file = path + ".cdb";
  FileDescriptor fd(file, spec);
  struct cdb db {};
  if (::cdb_init(&db, fd.get()) != 0) {
    throw ConfigError(spec + ": " + file + " is not a cdb file");
  }
  std::unique_ptr<struct cdb, decltype(&::cdb_free)> owner(&db, &::cdb_free);
  std::vector<TableEntry> entries;
  unsigned position = 0;
  cdb_seqinit(&position, &db);
  int rc = 0;
  while ((rc = ::cdb_seqnext(&position, &db)) > 0) {
    const char* key = static_cast<const char*>(cdb_get(&db, cdb_keylen(&db), cdb_keypos(&db)));
    const char* value = static_cast<const char*>(cdb_get(&db, cdb_datalen(&db), cdb_datapos(&db)));
    if (!key || !value) break;
    entries.push_back(
        {without_null(key, cdb_keylen(&db)), without_null(value, cdb_datalen(&db)), file});
  }
  if (rc < 0) throw ConfigError(spec + ": " + file + " is damaged");
  return entries;
}

}  // namespace ringrelay::engine
