#ifndef PGWARDEN_PG_TEST_CONNECTION_H_
#define PGWARDEN_PG_TEST_CONNECTION_H_

// For tests and the demo's traffic only: a plain libpqxx connection, for the
// clients they play (a role that opens a transaction, writes, and holds it
// open), which the agent's Session deliberately cannot do.

#include <memory>
#include <pqxx/pqxx>
#include <string>

namespace pgwarden {
namespace pg {

// ClientConnection is a libpqxx connection playing a database client.
using ClientConnection = pqxx::connection;

// ConnectClient opens one (throws pqxx::broken_connection on failure).
inline std::unique_ptr<ClientConnection> ConnectClient(const std::string& dsn) {
  return std::make_unique<ClientConnection>(dsn);
}

}  // namespace pg
}  // namespace pgwarden

#endif  // PGWARDEN_PG_TEST_CONNECTION_H_
