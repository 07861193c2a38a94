// FillRequest: an HttpRequest's words from a request header Beast parsed (the server's
// connections and ParseHttpRequest share it). Internal to src/http.
#pragma once

#include <boost/beast/http.hpp>

#include "http/http_message.h"

namespace georep {

// The request's words from its parsed header; false when the target is not a path or does not
// decode (req->path then holds its first 200 bytes, for the log).
bool FillRequest(const boost::beast::http::request_header<>& h, HttpRequest* req);

}  // namespace georep
