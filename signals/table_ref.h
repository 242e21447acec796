#ifndef PGWARDEN_SIGNALS_TABLE_REF_H_
#define PGWARDEN_SIGNALS_TABLE_REF_H_

#include <string>

namespace pgwarden {

// TableRef names a table; an empty schema means "unqualified" in SQL text
// and matches a table of that name in any schema.
struct TableRef {
  std::string schema;
  std::string table;
};

}  // namespace pgwarden

#endif  // PGWARDEN_SIGNALS_TABLE_REF_H_
