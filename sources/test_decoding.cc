#include "sources/test_decoding.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace pgwarden {
namespace {

constexpr size_t kQuoteLimit = 120;
constexpr size_t kWatchCacheLimit = 10000;

absl::Status Malformed(absl::string_view line, absl::string_view why) {
  std::string shown(line.substr(0, kQuoteLimit));
  if (line.size() > kQuoteLimit) shown += "...";
  return absl::InvalidArgumentError(
      absl::StrCat("malformed test_decoding line (", why, "): \"", shown, "\""));
}

bool IsBareChar(char c) {
  // quote_identifier leaves [a-z_][a-z0-9_]* bare; accept any other byte
  // that cannot end the name, for robustness (e.g. upper case, '$').
  return c != '.' && c != ':' && c != ',' && c != ' ' && c != '"';
}

// ParseXid reads the unsigned 32-bit xid at the start of `text` and
// returns the rest.
bool ParseXid(absl::string_view text, uint32_t* xid, absl::string_view* rest) {
  size_t n = 0;
  while (n < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[n]))) ++n;
  if (n == 0 || !absl::SimpleAtoi(text.substr(0, n), xid)) return false;
  *rest = text.substr(n);
  return true;
}

// ParseCommit reads "COMMIT xid" and an optional " (at TIMESTAMP)".
absl::StatusOr<DecodedLine> ParseCommit(absl::string_view line, absl::string_view rest) {
  DecodedLine out;
  out.kind = DecodedKind::kCommit;
  if (rest.empty()) return out;
  if (!absl::ConsumePrefix(&rest, " ")) return Malformed(line, "expected a space after COMMIT");
  if (!absl::StartsWith(rest, "(") && !ParseXid(rest, &out.xid, &rest)) {
    return Malformed(line, "bad xid");
  }
  if (rest.empty()) return out;
  if (!absl::ConsumePrefix(&rest, " ") || !absl::ConsumePrefix(&rest, "(at ") ||
      !absl::ConsumeSuffix(&rest, ")")) {
    return Malformed(line, "expected (at TIMESTAMP) after the xid");
  }
  std::string err;
  if (!absl::ParseTime("%Y-%m-%d %H:%M:%E*S%Ez", rest, &out.commit_time, &err)) {
    return Malformed(line, absl::StrCat("bad commit timestamp: ", err));
  }
  return out;
}

bool ParseQualified(absl::string_view text, size_t* pos, DecodedTable* out) {
  if (!ParseQuotedIdentifier(text, pos, &out->schema)) return false;
  if (*pos >= text.size() || text[*pos] != '.') return false;
  ++*pos;
  return ParseQuotedIdentifier(text, pos, &out->table);
}

// ParseTableLine reads "table NAME[, NAME...]: OP: ...".
absl::StatusOr<DecodedLine> ParseTableLine(absl::string_view line) {
  DecodedLine out;
  absl::string_view text = line.substr(6);  // after "table "
  size_t pos = 0;
  while (true) {
    DecodedTable t;
    if (!ParseQualified(text, &pos, &t)) return Malformed(line, "bad table name");
    out.tables.push_back(std::move(t));
    if (text.substr(pos, 2) != ", ") break;
    pos += 2;
  }
  absl::string_view op = text.substr(pos);
  if (absl::StartsWith(op, ": INSERT:")) {
    out.kind = DecodedKind::kInsert;
  } else if (absl::StartsWith(op, ": UPDATE:")) {
    out.kind = DecodedKind::kUpdate;
  } else if (absl::StartsWith(op, ": DELETE:")) {
    out.kind = DecodedKind::kDelete;
  } else if (absl::StartsWith(op, ": TRUNCATE:")) {
    out.kind = DecodedKind::kTruncate;
  } else {
    return Malformed(line, "expected INSERT, UPDATE, DELETE or TRUNCATE after the table name");
  }
  if (out.kind != DecodedKind::kTruncate && out.tables.size() != 1) {
    return Malformed(line, "a row change names one table");
  }
  return out;
}

}  // namespace

bool ParseQuotedIdentifier(absl::string_view text, size_t* pos, std::string* out) {
  out->clear();
  size_t i = *pos;
  if (i >= text.size()) return false;
  if (text[i] != '"') {
    while (i < text.size() && IsBareChar(text[i])) out->push_back(text[i++]);
    if (out->empty()) return false;
    *pos = i;
    return true;
  }
  ++i;
  while (i < text.size()) {
    if (text[i] == '"') {
      if (i + 1 < text.size() && text[i + 1] == '"') {
        out->push_back('"');
        i += 2;
        continue;
      }
      *pos = i + 1;
      return !out->empty();
    }
    out->push_back(text[i++]);
  }
  return false;  // no closing quote
}

absl::StatusOr<DecodedLine> ParseTestDecodingLine(absl::string_view line) {
  absl::string_view rest = line;
  if (absl::ConsumePrefix(&rest, "BEGIN")) {
    DecodedLine out;
    out.kind = DecodedKind::kBegin;
    if (rest.empty()) return out;
    if (!absl::ConsumePrefix(&rest, " ") || !ParseXid(rest, &out.xid, &rest) || !rest.empty()) {
      return Malformed(line, "expected BEGIN XID");
    }
    return out;
  }
  if (absl::ConsumePrefix(&rest, "COMMIT")) return ParseCommit(line, rest);
  if (absl::StartsWith(line, "table ")) return ParseTableLine(line);
  if (absl::StartsWith(line, "message: ")) return DecodedLine{};
  return Malformed(line, "unknown line");
}

TxnAssembler::TxnAssembler(WatchFilter watched) : watched_(std::move(watched)) {}

void TxnAssembler::Reset() {
  open_ = false;
  xid_ = 0;
  txn_ = CommittedTxn{};
  index_.clear();
}

bool TxnAssembler::Watched(const DecodedTable& t) {
  if (!watched_) return true;
  std::string key = absl::StrCat(t.schema, absl::string_view("\0", 1), t.table);
  auto it = watch_cache_.find(key);
  if (it != watch_cache_.end()) return it->second;
  if (watch_cache_.size() >= kWatchCacheLimit) watch_cache_.clear();
  const bool w = watched_(t.schema, t.table);
  watch_cache_.emplace(std::move(key), w);
  return w;
}

TableChange* TxnAssembler::Entry(const DecodedTable& t) {
  std::string key = absl::StrCat(t.schema, absl::string_view("\0", 1), t.table);
  auto it = index_.find(key);
  if (it != index_.end()) return &txn_.tables[it->second];
  if (!Watched(t)) return nullptr;
  index_.emplace(std::move(key), txn_.tables.size());
  TableChange c;
  c.schema = t.schema;
  c.table = t.table;
  txn_.tables.push_back(std::move(c));
  return &txn_.tables.back();
}

CommittedTxn TxnAssembler::Finish(uint32_t xid, absl::Time commit_time, uint64_t lsn) {
  CommittedTxn out = std::move(txn_);
  out.xid = xid != 0 ? xid : xid_;
  out.commit_lsn = lsn;
  out.commit_time = commit_time;
  Reset();
  return out;
}

FeedResult TxnAssembler::Feed(absl::string_view line, uint64_t wal_start) {
  FeedResult r;
  absl::StatusOr<DecodedLine> d = ParseTestDecodingLine(line);
  if (!d.ok()) {
    r.error = d.status();
    // A COMMIT we cannot read still ends the transaction: its rows are not
    // merged into the next one.
    if (open_ && absl::StartsWith(line, "COMMIT")) {
      r.committed = Finish(0, absl::InfinitePast(), wal_start);
    }
    return r;
  }
  switch (d->kind) {
    case DecodedKind::kBegin:
      if (open_) {
        r.error = absl::DataLossError(absl::StrCat("BEGIN ", d->xid, " inside transaction ", xid_,
                                                   ", which never committed: its rows are lost"));
      }
      Reset();
      open_ = true;
      xid_ = d->xid;
      txn_.last_change_lsn = wal_start;
      return r;
    case DecodedKind::kCommit:
      if (!open_) {
        r.error = absl::InvalidArgumentError(
            absl::StrCat("COMMIT ", d->xid, " without BEGIN (transaction counted with no rows)"));
      }
      r.committed = Finish(d->xid, d->commit_time, wal_start);
      return r;
    case DecodedKind::kIgnored:
      return r;
    default:
      break;
  }
  if (!open_) {
    r.error = Malformed(line, "change outside a transaction");
    return r;
  }
  txn_.last_change_lsn = wal_start;
  for (const DecodedTable& t : d->tables) {
    TableChange* c = Entry(t);
    if (c == nullptr) continue;
    if (d->kind == DecodedKind::kInsert) ++c->inserted;
    if (d->kind == DecodedKind::kUpdate) ++c->updated;
    if (d->kind == DecodedKind::kDelete) ++c->deleted;
    if (d->kind == DecodedKind::kTruncate) c->truncated = true;
  }
  return r;
}

}  // namespace pgwarden
