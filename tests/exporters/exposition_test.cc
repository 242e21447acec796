#include "exporters/exposition.h"

#include <zlib.h>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "catch2/catch.hpp"
#include "exporters/http_server.h"
#include "prometheus/gauge.h"

namespace pgwarden {
namespace {

std::string Gunzip(const std::string& in) {
  z_stream z{};
  REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
  std::string out(in.size() * 20 + 1024, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(inflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

std::shared_ptr<TableLines> Lines(const std::string& table, double rows) {
  auto l = std::make_shared<TableLines>();
  const std::string prefix = SeriesPrefix({{"target", "main"}, {"table", table}});
  AppendSample(&l->text[0], TableFamily::kRows, prefix, "", rows);
  AppendSample(&l->text[3], TableFamily::kScore, prefix, ",signal=\"rows\"", 0.25);
  return l;
}

}  // namespace

TEST_CASE("Exposition: per-table lines join their family - one HELP and TYPE each", "[exporters]") {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& score =
      prometheus::BuildGauge().Name("pgwarden_anomaly_score").Help("h").Register(*registry);
  score.Add({{"target", "main"}, {"signal", "rollback_ratio"}}).Set(0.5);
  Exposition e(registry, absl::Seconds(60));
  e.Publish("main", Lines("orders", 1234567));
  const std::string text = *e.Text(false);
  INFO(text);
  // Integers exactly (a 7-digit count never as 1.23457e+06).
  CHECK(absl::StrContains(text, "pgwarden_table_rows{table=\"orders\",target=\"main\"} 1234567\n"));
  CHECK(absl::StrContains(
      text, "pgwarden_anomaly_score{table=\"orders\",target=\"main\",signal=\"rows\"} 0.25\n"));
  // The registry's sample and the table's share one family block.
  const size_t type = text.find("# TYPE pgwarden_anomaly_score gauge");
  REQUIRE(type != std::string::npos);
  CHECK(text.find("# TYPE pgwarden_anomaly_score", type + 1) == std::string::npos);
  CHECK(text.find("signal=\"rows\"") > type);
  CHECK(absl::StrContains(text, "# TYPE pgwarden_table_rows gauge"));
}

TEST_CASE("Exposition: a published change is served at once - the cache never outlives a tick",
          "[exporters]") {
  auto registry = std::make_shared<prometheus::Registry>();
  Exposition e(registry, absl::Hours(1));
  e.Publish("main", Lines("orders", 10));
  auto first = e.Text(false);
  CHECK(e.Text(false) == first);  // cached: the same document, not rendered again
  e.Publish("main", Lines("orders", 11));
  const std::string second = *e.Text(false);
  CHECK(absl::StrContains(second, "target=\"main\"} 11\n"));
  e.Publish("main", nullptr);
  CHECK_FALSE(absl::StrContains(*e.Text(false), "orders"));
}

TEST_CASE("Exposition: the registry's own samples are re-read after max_age", "[exporters]") {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& up = prometheus::BuildGauge().Name("pgwarden_up").Help("h").Register(*registry);
  prometheus::Gauge& g = up.Add({{"target", "main"}});
  g.Set(0);
  Exposition e(registry, absl::Milliseconds(20));
  CHECK(absl::StrContains(*e.Text(false), "pgwarden_up{target=\"main\"} 0"));
  g.Set(1);
  absl::SleepFor(absl::Milliseconds(30));
  CHECK(absl::StrContains(*e.Text(false), "pgwarden_up{target=\"main\"} 1"));
}

TEST_CASE("Exposition: the gzip document decompresses to the text one", "[exporters]") {
  auto registry = std::make_shared<prometheus::Registry>();
  Exposition e(registry, absl::Hours(1));
  auto lines = std::make_shared<TableLines>();
  for (int i = 0; i < 2000; ++i) {
    const std::string prefix =
        SeriesPrefix({{"target", "main"}, {"table", "t" + std::to_string(i)}});
    AppendSample(&lines->text[0], TableFamily::kRows, prefix, "", i);
  }
  e.Publish("main", lines);
  const std::string text = *e.Text(false);
  const std::string gz = *e.Text(true);
  CHECK(gz.size() * 5 < text.size());
  CHECK(Gunzip(gz) == text);
}

TEST_CASE("Exposition: label values are escaped - a hostile table name stays one label",
          "[exporters]") {
  const std::string prefix = SeriesPrefix({{"table", "a\"b\\c\nd"}});
  CHECK(prefix == "{table=\"a\\\"b\\\\c\\nd\"");
}

TEST_CASE("AcceptsGzip: listed - any case or q - but not q=0", "[exporters]") {
  CHECK(AcceptsGzip("gzip"));
  CHECK(AcceptsGzip("deflate, GZIP;q=0.5"));
  CHECK(AcceptsGzip("br,gzip"));
  CHECK_FALSE(AcceptsGzip(""));
  CHECK_FALSE(AcceptsGzip("identity"));
  CHECK_FALSE(AcceptsGzip("gzip;q=0"));
  CHECK_FALSE(AcceptsGzip("xgzip"));
}

}  // namespace pgwarden
