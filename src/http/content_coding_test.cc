#include "http/content_coding.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "http/testing/decode.h"

namespace georep {
namespace {

using testing::Gunzip;

constexpr ContentCoding kBrGzip[] = {ContentCoding::kBrotli, ContentCoding::kGzip};

ContentCoding Choose(std::string_view accept_encoding) {
  return ChooseCoding(AcceptEncoding::Parse(accept_encoding), kBrGzip);
}

std::string JsonList(size_t items) {
  std::string body = "{\"items\":[";
  for (size_t i = 0; i < items; ++i) {
    if (i > 0) body += ',';
    body += "{\"id\":\"" + std::to_string(i) + "\",\"name\":\"session " + std::to_string(i) +
            "\",\"status\":\"Active\"}";
  }
  return body + "]}";
}

TEST(AcceptEncoding, ParsesWeightsCaseAndSpacing) {
  auto a = AcceptEncoding::Parse("gzip, deflate, br, zstd");
  EXPECT_EQ(a.Weight("gzip"), 1000);
  EXPECT_EQ(a.Weight("br"), 1000);
  EXPECT_EQ(a.Weight("compress"), 0) << "not listed, no *: not acceptable";

  auto b = AcceptEncoding::Parse(" BR ;Q=0.5 ,\tgzip;q=0.25 , identity");
  EXPECT_EQ(b.Weight("br"), 500);
  EXPECT_EQ(b.Weight("gzip"), 250);
  EXPECT_TRUE(b.Accepts("identity"));

  EXPECT_EQ(AcceptEncoding::Parse("gzip;q=1.000").Weight("gzip"), 1000);
  EXPECT_EQ(AcceptEncoding::Parse("gzip;q=0.001").Weight("gzip"), 1);
  EXPECT_EQ(AcceptEncoding::Parse("gzip;q=0").Weight("gzip"), 0);
  EXPECT_EQ(AcceptEncoding::Parse("gzip;q=0.").Weight("gzip"), 0);
  EXPECT_EQ(AcceptEncoding::Parse("x-gzip").Weight("gzip"), 1000) << "RFC 9110: the same coding";
}

TEST(AcceptEncoding, StarCoversWhatIsNotListed) {
  auto a = AcceptEncoding::Parse("br;q=0, *;q=0.3");
  EXPECT_EQ(a.Weight("br"), 0);
  EXPECT_EQ(a.Weight("gzip"), 300);
  EXPECT_EQ(AcceptEncoding::Parse("*").Weight("br"), 1000);
  EXPECT_EQ(AcceptEncoding::Parse("*;q=0").Weight("gzip"), 0);
}

TEST(AcceptEncoding, ElementsThatDoNotParseAreIgnored) {
  for (const char* bad :
       {"gzip;q=2", "gzip;q=1.5", "gzip;q=0.1234", "gzip;q=", "gzip;q=abc", "gzip;q=-1",
        "gzip;level=9", "gzip;q", "gz ip", "gzip;q=0.5;q", "\"gzip\"", "gzip;;"}) {
    EXPECT_EQ(AcceptEncoding::Parse(bad).Weight("gzip"), 0) << bad;
  }
  // The rest of the list still counts.
  EXPECT_EQ(AcceptEncoding::Parse("gzip;q=7, br").Weight("br"), 1000);
  EXPECT_EQ(AcceptEncoding::Parse(",, ,gzip,").Weight("gzip"), 1000);
  EXPECT_EQ(AcceptEncoding::Parse("").Weight("gzip"), 0);
}

TEST(AcceptEncoding, TheFirstOfACodingListedTwiceCounts) {
  EXPECT_EQ(AcceptEncoding::Parse("gzip;q=0, gzip").Weight("gzip"), 0);
  EXPECT_EQ(AcceptEncoding::Parse("gzip, x-gzip;q=0").Weight("gzip"), 1000);
}

TEST(AcceptEncoding, ReadsEveryFieldOfARequest) {
  HttpRequest req;
  EXPECT_EQ(AcceptEncoding::Of(req).Weight("gzip"), 0) << "no field: identity only";
  req.headers = {{"accept-encoding", "br;q=0"}, {"Host", "x"}, {"Accept-Encoding", "gzip"}};
  auto a = AcceptEncoding::Of(req);
  EXPECT_EQ(a.Weight("br"), 0);
  EXPECT_EQ(a.Weight("gzip"), 1000);
}

TEST(ChooseCoding, BrotliFirstGzipNextQZeroRespected) {
  EXPECT_EQ(Choose("gzip, deflate, br, zstd"), ContentCoding::kBrotli) << "Chromium's";
  EXPECT_EQ(Choose("br"), ContentCoding::kBrotli);
  EXPECT_EQ(Choose("gzip"), ContentCoding::kGzip);
  EXPECT_EQ(Choose("br;q=0, gzip"), ContentCoding::kGzip);
  EXPECT_EQ(Choose("gzip;q=0, br;q=0"), ContentCoding::kIdentity);
  EXPECT_EQ(Choose("identity"), ContentCoding::kIdentity);
  EXPECT_EQ(Choose(""), ContentCoding::kIdentity);
  EXPECT_EQ(Choose("deflate, zstd"), ContentCoding::kIdentity);
  EXPECT_EQ(Choose("*"), ContentCoding::kBrotli);
  EXPECT_EQ(Choose("*;q=0"), ContentCoding::kIdentity);
  EXPECT_EQ(Choose("*;q=0, gzip"), ContentCoding::kGzip);
  // The client's weights decide; the server's order only breaks ties.
  EXPECT_EQ(Choose("br;q=0.5, gzip"), ContentCoding::kGzip);
  EXPECT_EQ(Choose("gzip;q=0.5, br;q=0.5"), ContentCoding::kBrotli);
  // Only what is offered: a file with only a gzip copy.
  constexpr ContentCoding kGzipOnly[] = {ContentCoding::kGzip};
  EXPECT_EQ(ChooseCoding(AcceptEncoding::Parse("br"), kGzipOnly), ContentCoding::kIdentity);
  EXPECT_EQ(ChooseCoding(AcceptEncoding::Parse("br, gzip"), kGzipOnly), ContentCoding::kGzip);
}

TEST(AddVary, AddsAFieldOnce) {
  HttpResponse res;
  AddVary(res, "Accept-Encoding");
  AddVary(res, "accept-encoding");
  ASSERT_EQ(res.headers.size(), 1u);
  EXPECT_EQ(res.headers[0].second, "Accept-Encoding");
  HttpResponse other;
  other.set_header("Vary", "Origin");
  AddVary(other, "Accept-Encoding");
  EXPECT_EQ(other.headers[0].second, "Origin, Accept-Encoding");
}

TEST(GzipCompress, RoundTripsThroughZlib) {
  const std::string text = JsonList(200);
  auto gz = GzipCompress(text, 5);
  ASSERT_TRUE(gz);
  EXPECT_LT(gz->size(), text.size() / 4);
  EXPECT_EQ(Gunzip(*gz), text);
  auto empty = GzipCompress("", 9);
  ASSERT_TRUE(empty);
  EXPECT_EQ(Gunzip(*empty), "");
}

HttpRequest Accepting(std::string accept_encoding) {
  HttpRequest req;
  req.method = "GET";
  req.headers = {{"Accept-Encoding", std::move(accept_encoding)}};
  return req;
}

TEST(CompressApiResponse, ALargeJsonAnswerIsGzippedForAClientThatAcceptsIt) {
  const std::string body = JsonList(100);
  ASSERT_GT(body.size(), 1400u);
  HttpResponse res;
  res.set_content(body, "application/json");
  CompressApiResponse(Accepting("gzip, deflate, br"), res);
  ASSERT_TRUE(res.has_header("Content-Encoding"));
  EXPECT_EQ(Gunzip(res.body), body);
  std::map<std::string, std::string> h(res.headers.begin(), res.headers.end());
  EXPECT_EQ(h["Content-Encoding"], "gzip");
  EXPECT_EQ(h["Vary"], "Accept-Encoding");
  EXPECT_EQ(h["Content-Type"], "application/json") << "the type is the body's";
}

// A Prometheus scrape (`Accept-Encoding: gzip`) of the metrics' text exposition: about 8 KB a
// session as is, so it pays as JSON does.
TEST(CompressApiResponse, TheMetricsTextIsGzippedToo) {
  std::string page;
  for (int i = 0; i < 200; ++i)
    page += "georep_session_lag_seconds{session=\"s" + std::to_string(i) + "\"} 0.5\n";
  HttpResponse res;
  res.set_content(page, "text/plain; version=0.0.4; charset=utf-8");
  CompressApiResponse(Accepting("gzip"), res);
  ASSERT_TRUE(res.has_header("Content-Encoding"));
  EXPECT_EQ(Gunzip(res.body), page);
  EXPECT_LT(res.body.size(), page.size() / 4);
}

TEST(CompressApiResponse, OnlyWhereItPays) {
  const std::string large = JsonList(100);
  // A client that does not take gzip: as is, but the answer says it varies.
  for (const char* ae : {"", "br", "gzip;q=0", "identity", "*;q=0"}) {
    HttpResponse res;
    res.set_content(large, "application/json");
    CompressApiResponse(Accepting(ae), res);
    EXPECT_EQ(res.body, large) << ae;
    EXPECT_FALSE(res.has_header("Content-Encoding")) << ae;
    EXPECT_TRUE(res.has_header("Vary")) << ae;
  }
  // A small answer: as is, and it does not vary.
  HttpResponse small;
  const std::string small_body = JsonList(3);
  ASSERT_LE(small_body.size(), 1400u);
  small.set_content(small_body, "application/json");
  CompressApiResponse(Accepting("gzip"), small);
  EXPECT_EQ(small.body, small_body);
  EXPECT_FALSE(small.has_header("Content-Encoding"));
  EXPECT_FALSE(small.has_header("Vary"));
  // Exactly the threshold is not over it.
  HttpResponse edge;
  edge.set_content(std::string(1400, ' '), "application/json");
  CompressApiResponse(Accepting("gzip"), edge);
  EXPECT_FALSE(edge.has_header("Content-Encoding"));
  HttpResponse over;
  over.set_content(std::string(1401, ' '), "application/json; charset=utf-8");
  CompressApiResponse(Accepting("gzip"), over);
  EXPECT_TRUE(over.has_header("Content-Encoding"));
}

TEST(CompressApiResponse, LeavesStreamsOtherTypesAndEncodedBodiesAlone) {
  const std::string large = JsonList(100);
  HttpResponse html;
  html.set_content(large, "text/html; charset=utf-8");
  CompressApiResponse(Accepting("gzip"), html);
  EXPECT_FALSE(html.has_header("Content-Encoding"));

  HttpResponse stream;
  stream.set_stream(
      "application/json", [](std::string*) { return false; }, [] {});
  stream.body = large;
  CompressApiResponse(Accepting("gzip"), stream);
  EXPECT_FALSE(stream.has_header("Content-Encoding"));
  EXPECT_FALSE(stream.has_header("Vary"));

  HttpResponse encoded;
  encoded.set_content("already", "application/json");
  encoded.body = large;
  encoded.set_header("Content-Encoding", "br");
  CompressApiResponse(Accepting("gzip"), encoded);
  EXPECT_EQ(encoded.body, large);

  HttpResponse ranged;
  ranged.set_content(large, "application/json");
  HttpRequest range_request = Accepting("gzip");
  range_request.headers.emplace_back("Range", "bytes=0-99");
  CompressApiResponse(range_request, ranged);
  EXPECT_FALSE(ranged.has_header("Content-Encoding")) << "never for a Range request";

  HttpResponse not_modified;
  not_modified.status = 304;
  not_modified.set_content(large, "application/json");
  CompressApiResponse(Accepting("gzip"), not_modified);
  EXPECT_FALSE(not_modified.has_header("Content-Encoding"));
}

}  // namespace
}  // namespace georep
