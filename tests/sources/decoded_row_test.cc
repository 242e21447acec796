#include "sources/decoded_row.h"

#include "catch2/catch.hpp"

namespace pgwarden {
namespace {

TEST_CASE("decoded row: columns of a REPLICA IDENTITY FULL delete, quotes and nulls") {
  auto cols = ParseDecodedColumns(
      " id[bigint]:5 name[text]:'it''s 5' \"E-mail\"[character varying(80)]:null "
      "tags[text[]]:'{a,b}' ok[boolean]:true bits[bit(4)]:B'0101' "
      "created_at[timestamp with time zone]:'2026-12-03 10:00:00+00'");
  REQUIRE(cols.ok());
  REQUIRE(cols->size() == 7);
  CHECK((*cols)[0].name == "id");
  CHECK((*cols)[0].type == "bigint");
  CHECK((*cols)[0].value == std::string("5"));
  CHECK((*cols)[1].value == std::string("it's 5"));
  CHECK((*cols)[2].name == "E-mail");
  CHECK((*cols)[2].type == "character varying(80)");
  CHECK_FALSE((*cols)[2].value.has_value());
  CHECK((*cols)[3].type == "text[]");
  CHECK((*cols)[3].value == std::string("{a,b}"));
  CHECK((*cols)[4].value == std::string("true"));
  CHECK((*cols)[5].value == std::string("0101"));
  CHECK((*cols)[6].type == "timestamp with time zone");
}

TEST_CASE("decoded row: no tuple data, toast not decoded, and malformed columns") {
  auto none = ParseDecodedColumns(" (no-tuple-data)");
  REQUIRE(none.ok());
  CHECK(none->empty());
  auto toast = ParseDecodedColumns(" id[integer]:1 body[text]:unchanged-toast-datum");
  REQUIRE(toast.ok());
  CHECK((*toast)[1].unchanged_toast);
  CHECK_FALSE(ParseDecodedColumns(" id[integer:1").ok());
  CHECK_FALSE(ParseDecodedColumns(" name[text]:'open").ok());
  CHECK_FALSE(ParseDecodedColumns(" id[integer]:").ok());
}

}  // namespace
}  // namespace pgwarden
